//! End-to-end harness: the default config file, the built-in adapters, the portal simulator,
//! and a real RabbitMQ broker (the shared one, or a private node for tests that restart it).

#![allow(dead_code)]

use std::path::Path;
use std::time::Duration;

use lgsp_bus::config::Config;
use lgsp_bus::server::{self, RunningBus};
use lgsp_bus::testing::{Api, amqp_url, delete_namespace, queue_depth, unique_namespace, with_test_secrets};
#[allow(unused_imports)]
pub use lgsp_bus::testing::{dossier, status_changed};
use lgsp_business::BusinessSim;
use lgsp_dvc::sim::{PortalSim, SimOptions};
use lgsp_http::HttpSim;
use lgsp_onestop::OnestopSim;
use lgsp_population::PopulationSim;
use lgsp_postal::PostalSim;

fn localhost() -> std::net::SocketAddr {
    "127.0.0.1:0".parse().unwrap()
}

pub const PASSWORD: &str = "test-secret";
const TIERS: [Duration; 2] = [Duration::from_millis(100), Duration::from_millis(300)];

pub struct Harness {
    pub bus: Option<RunningBus>,
    /// As the sandbox member `onestop.sandbox`.
    pub api: Api,
    /// As the operator `operator`.
    pub operator: Api,
    pub portal: PortalSim,
    pub population: PopulationSim,
    pub registry: BusinessSim,
    /// The one-stop system of the provincial agencies (Sở Tư pháp, phường Thành Sen).
    pub province: OnestopSim,
    /// The one-stop system of Xã Thạch Hà.
    pub thachha: OnestopSim,
    pub post: PostalSim,
    /// The national portal's statistics service, which takes the monthly report.
    pub statistics: HttpSim,
    pub namespace: String,
    /// The members of the config the bus started with (the sandbox's rights).
    pub members: std::collections::BTreeMap<String, lgsp_bus::config::MemberConfig>,
    /// What the bus started with, to start it again on the same store.
    config: Config,
    amqp: String,
    _dir: tempfile::TempDir,
}

impl Harness {
    /// The bus on config/lgsp.toml, pointed by environment overrides at the shared test broker,
    /// a portal simulator on an ephemeral port, a fresh store, and short retry tiers.
    pub async fn start() -> Harness {
        Self::start_on(&amqp_url()).await
    }

    pub async fn start_on(amqp: &str) -> Harness {
        Self::start_with(amqp, Vec::new()).await
    }

    /// As [`Harness::start_on`], with more environment overrides.
    pub async fn start_with(amqp: &str, overrides: Vec<(&str, String)>) -> Harness {
        // LGSP_TEST_LOG=debug (a filter) shows the bus's log while a test runs.
        if let Ok(filter) = std::env::var("LGSP_TEST_LOG") {
            let _ = tracing_subscriber::fmt().with_env_filter(filter).with_test_writer().try_init();
        }
        let portal = PortalSim::start(
            "127.0.0.1:0".parse().unwrap(),
            SimOptions { username: "lgsp.hatinh".into(), password: PASSWORD.into(), ..Default::default() },
        )
        .await
        .unwrap();
        let population = PopulationSim::start("127.0.0.1:0".parse().unwrap(), Default::default()).await.unwrap();
        let registry = BusinessSim::start(
            "127.0.0.1:0".parse().unwrap(),
            lgsp_business::SimOptions {
                username: "lgsp.hatinh".into(),
                password: PASSWORD.into(),
                ..Default::default()
            },
        )
        .await
        .unwrap();
        let onestop = |client_id: &str| lgsp_onestop::SimOptions {
            client_id: client_id.into(),
            client_secret: PASSWORD.into(),
            ..Default::default()
        };
        let province = OnestopSim::start(localhost(), onestop("lgsp-h42")).await.unwrap();
        let thachha = OnestopSim::start(localhost(), onestop("lgsp-thachha")).await.unwrap();
        let post = PostalSim::start(
            localhost(),
            lgsp_postal::SimOptions {
                consumer_key: "h42-lgsp-consumer".into(),
                consumer_secret: PASSWORD.into(),
                customer_code: "LGSP42".into(),
                ..Default::default()
            },
        )
        .await
        .unwrap();
        let statistics = statistics_service().await;
        let dir = tempfile::tempdir().unwrap();
        let namespace = unique_namespace();
        let mut env = vec![
            ("LGSP__HTTP__LISTEN", "127.0.0.1:0".to_string()),
            ("LGSP__AMQP__URL", amqp.to_string()),
            ("LGSP__AMQP__NAMESPACE", namespace.clone()),
            ("LGSP__STORE__URL", format!("sqlite://{}", dir.path().join("lgsp.db").display())),
            ("LGSP__ADAPTERS__DVC__URL", portal.url().to_string()),
            ("LGSP__ADAPTERS__DVC__PASSWORD", PASSWORD.to_string()),
            ("LGSP__ADAPTERS__DVC__DELIVERY__RETRY_TIERS", r#"["100ms", "300ms"]"#.to_string()),
            ("LGSP__ADAPTERS__DVC__DELIVERY__MAX_ATTEMPTS", "100".to_string()),
            ("LGSP__ADAPTERS__POPULATION__URL", population.url().to_string()),
            ("LGSP__ADAPTERS__POPULATION__REQUESTS__TIMEOUT", "2s".to_string()),
            ("LGSP__ADAPTERS__BUSINESS__URL", registry.url().to_string()),
            ("LGSP__ADAPTERS__BUSINESS__PASSWORD", PASSWORD.to_string()),
            ("LGSP__ADAPTERS__ONESTOP_PROVINCE__URL", province.url().to_string()),
            ("LGSP__ADAPTERS__ONESTOP_PROVINCE__CLIENT_SECRET", PASSWORD.to_string()),
            ("LGSP__ADAPTERS__ONESTOP_THACHHA__URL", thachha.url().to_string()),
            ("LGSP__ADAPTERS__ONESTOP_THACHHA__CLIENT_SECRET", PASSWORD.to_string()),
            ("LGSP__ADAPTERS__ONESTOP_THACHHA__DELIVERY__RETRY_TIERS", r#"["100ms", "300ms"]"#.to_string()),
            ("LGSP__ADAPTERS__ONESTOP_PROVINCE__DELIVERY__RETRY_TIERS", r#"["100ms", "300ms"]"#.to_string()),
            ("LGSP__ADAPTERS__POSTAL__URL", post.url().to_string()),
            ("LGSP__ADAPTERS__POSTAL__CONSUMER_SECRET", PASSWORD.to_string()),
            ("LGSP__ADAPTERS__POSTAL__POLL_EVERY", "200ms".to_string()),
            ("LGSP__ADAPTERS__POSTAL__DELIVERY__RETRY_TIERS", r#"["100ms", "300ms"]"#.to_string()),
            ("LGSP__ADAPTERS__STATISTICS__URL", statistics.url().as_str().trim_end_matches('/').to_string()),
            ("LGSP__ADAPTERS__STATISTICS__AUTH__CLIENT_SECRET", PASSWORD.to_string()),
            ("LGSP__ADAPTERS__STATISTICS__DELIVERY__RETRY_TIERS", r#"["100ms", "300ms"]"#.to_string()),
        ];
        // Last month's report goes up at start only where a test asks for it.
        let scheduled = overrides.iter().any(|(key, _)| *key == "LGSP__BUS__SEND_MONTHLY_REPORT_ON");
        env.extend(overrides);
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("config/lgsp.toml");
        let mut config = Config::load(&path, env.into_iter().map(|(k, v)| (k.to_string(), v))).unwrap();
        with_test_secrets(&mut config);
        if !scheduled {
            config.bus.send_monthly_report_on = None;
        }
        let members = config.members.clone();
        let bus = server::start(config.clone(), &lgsp::adapter_kinds(), false).await.unwrap();
        let api = Api::new(&bus).await;
        api.wait_ready(&bus).await;
        let operator = api.as_("operator").await;
        Harness {
            bus: Some(bus),
            api,
            operator,
            portal,
            population,
            registry,
            province,
            thachha,
            post,
            statistics,
            namespace,
            members,
            config,
            amqp: amqp.to_string(),
            _dir: dir,
        }
    }

    /// Asks a service as `member`.
    pub async fn ask(&self, service: &str, member: &str, body: &serde_json::Value) -> (u16, serde_json::Value) {
        let api = if member == self.api.who { None } else { Some(self.api.as_(member).await) };
        let api = api.as_ref().unwrap_or(&self.api);
        let response = api.http.post(format!("{}/v1/services/{service}", api.base)).json(body).send().await.unwrap();
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or_default())
    }

    pub async fn queue_depth(&self, suffix: &str) -> u32 {
        queue_depth(&self.amqp, &self.namespace, suffix).await
    }

    /// Waits until the portal holds `id` (delivered by DongBoHoSoMC or CapNhatTienDoHoSoMC).
    pub async fn wait_portal_has(&self, id: &str) {
        let found = self
            .portal
            .wait_until(Duration::from_secs(30), |s| s.delivered_message_ids().iter().any(|m| m == id))
            .await;
        assert!(found, "the portal never received {id}; it has {:?}", self.portal.delivered_message_ids());
    }

    /// Stops the bus (its log sealed and closed) and keeps its queues; `stop` removes them.
    pub async fn halt(&mut self) {
        if let Some(bus) = self.bus.take() {
            bus.shutdown().await;
        }
    }

    /// Stops the bus and starts it again on the same config and store.
    pub async fn restart(&mut self) {
        self.halt().await;
        let bus = server::start(self.config.clone(), &lgsp::adapter_kinds(), false).await.unwrap();
        self.api = Api::new(&bus).await;
        self.api.wait_ready(&bus).await;
        self.operator = self.api.as_("operator").await;
        self.bus = Some(bus);
    }

    /// Stops the bus and removes its queues, those of the adapters registered meanwhile too.
    pub async fn stop(mut self) {
        let roster = self.bus.as_ref().map(|bus| bus.fleet.adapters().current());
        let ids: Vec<String> = roster.iter().flat_map(|r| r.adapters().map(|a| a.id.clone())).collect();
        self.halt().await;
        delete_default_namespace(&self.amqp, &self.namespace, &TIERS).await;
        let registered: Vec<(&str, &[Duration])> = ids.iter().map(|id| (id.as_str(), &[][..])).collect();
        delete_namespace(&self.amqp, &self.namespace, &registered).await;
    }
}

/// The statistics service as `[adapters.statistics]` of config/lgsp.toml describes it.
async fn statistics_service() -> HttpSim {
    let text = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("config/lgsp.toml")).unwrap();
    let config: toml::Table = text.parse().unwrap();
    let mut settings = config["adapters"]["statistics"].as_table().unwrap().clone();
    // The keys the bus owns, not the adapter's.
    for key in ["kind", "routes", "delivery"] {
        settings.remove(key);
    }
    settings["auth"].as_table_mut().unwrap().insert("client_secret".into(), PASSWORD.into());
    let options = lgsp_http::SimOptions::from_settings(&settings).unwrap();
    HttpSim::start(localhost(), options).await.unwrap()
}

/// Deletes what a bus on config/lgsp.toml declared under `namespace`, its delivering adapters'
/// retry queues having `tiers`.
pub async fn delete_default_namespace(amqp: &str, namespace: &str, tiers: &[Duration]) {
    let adapters: [(&str, &[Duration]); 7] = [
        ("dvc", tiers),
        ("population", &[]),
        ("business", &[]),
        ("onestop_province", tiers),
        ("onestop_thachha", tiers),
        ("postal", tiers),
        ("statistics", tiers),
    ];
    delete_namespace(amqp, namespace, &adapters).await;
}
