//! Configuration: one TOML file, every key overridable from the environment.
//!
//! `LGSP__HTTP__LISTEN=0.0.0.0:8080` overrides `[http] listen`: the path segments upper-case,
//! joined by double underscores. Secrets (keys named `password`, `secret`, `token`, …) are read
//! from the environment only, so a config file can be committed and shared.
//!
//! Loading reports every problem at once, each with its key, so `lgsp check-config` can list
//! them all rather than one per run.

mod adapter;
pub mod duration;
mod env;
mod members;
pub mod problem;
mod secret;
mod sections;

use std::collections::BTreeMap;
use std::path::Path;

pub use adapter::{
    AdapterSection, BreakerPolicy, DeliveryPolicy, PeerLimits, RequestPolicy, Settings, valid_adapter_id,
};
pub use env::{ENV_PREFIX, env_var_for};
pub use members::{
    ANY, CertificateBinding, MemberConfig, MessageRight, OperatorConfig, ReadRights, Rights, Role, Scope, ServiceRight,
};
pub(crate) use problem::keep;
pub use problem::{ConfigProblem, parse_section};
pub use secret::{Secret, fill_in, is_secret_key, remove_path, secret_values, set_path};
pub use sections::{AmqpConfig, AuditConfig, AuthConfig, BusConfig, HttpConfig, RoutingConfig, StoreConfig, TlsConfig};

use crate::competence::Competence;
use crate::procedures::Procedures;

/// The whole configuration of one bus instance.
#[derive(Debug, Clone)]
pub struct Config {
    pub bus: BusConfig,
    pub http: HttpConfig,
    pub amqp: AmqpConfig,
    pub store: StoreConfig,
    /// Members (agencies' systems), by id such as `onestop.sandbox`: the directory's seed.
    pub members: BTreeMap<String, MemberConfig>,
    /// Operators (people), by name: the directory's seed.
    pub operators: BTreeMap<String, OperatorConfig>,
    pub auth: AuthConfig,
    pub audit: AuditConfig,
    /// Adapters by id; the id names the adapter's queues, so it is `[a-z][a-z0-9_]*`.
    pub adapters: BTreeMap<String, AdapterSection>,
    /// The procedure catalogue `bus.procedures` points to.
    pub procedures: Procedures,
    pub routing: RoutingConfig,
    /// The competence tables `[routing]` points to; without them every dossier is routed to the
    /// province as a whole.
    pub competence: Option<Competence>,
}

impl Config {
    /// Reads the file, applies `LGSP__…` overrides from `env`, and checks everything.
    pub fn load(path: &Path, env: impl IntoIterator<Item = (String, String)>) -> Result<Config, Vec<ConfigProblem>> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| vec![ConfigProblem::new("", format!("cannot read {}: {e}", path.display()))])?;
        let mut config = Self::from_toml(&text, env)?;
        let beside = |file: &Path| path.parent().unwrap_or(Path::new(".")).join(file);
        if let Some(file) = &config.bus.procedures {
            config.procedures = Procedures::load(&beside(file))?;
        }
        match (config.routing.units.take(), config.routing.rules.take()) {
            (Some(units), Some(rules)) => {
                let (units, rules) = (beside(&units), beside(&rules));
                config.competence = Some(Competence::load(&units, &rules)?);
                (config.routing.units, config.routing.rules) = (Some(units), Some(rules));
            }
            (None, None) => {}
            _ => return Err(vec![ConfigProblem::new("routing", "needs both units and rules, or neither")]),
        }
        Ok(config)
    }

    pub fn from_toml(
        text: &str,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Config, Vec<ConfigProblem>> {
        let file: toml::Table =
            text.parse().map_err(|e: toml::de::Error| vec![ConfigProblem::new("", e.to_string())])?;
        let mut problems = env::secrets_in_file(&file, "");
        let mut table = file;
        problems.extend(env::apply_env(&mut table, env));
        match Self::from_table(table) {
            Ok(config) if problems.is_empty() => Ok(config),
            Ok(_) => Err(problems),
            Err(more) => {
                problems.extend(more);
                Err(problems)
            }
        }
    }

    fn from_table(mut table: toml::Table) -> Result<Config, Vec<ConfigProblem>> {
        let mut problems = Vec::new();
        let mut section = |name: &str| match table.remove(name) {
            None => toml::Table::new(),
            Some(toml::Value::Table(t)) => t,
            Some(_) => {
                problems.push(ConfigProblem::new(name, "must be a table"));
                toml::Table::new()
            }
        };
        let (bus, http, amqp, store, members, operators, auth, audit, adapters, routing) = (
            section("bus"),
            section("http"),
            section("amqp"),
            section("store"),
            section("members"),
            section("operators"),
            section("auth"),
            section("audit"),
            section("adapters"),
            section("routing"),
        );
        for unknown in table.keys() {
            problems.push(ConfigProblem::new(
                unknown.as_str(),
                "unknown section; expected bus, http, amqp, store, routing, auth, audit, members, operators or adapters",
            ));
        }

        let bus: Option<BusConfig> = keep(&mut problems, "bus", parse_section(&bus));
        let http: Option<HttpConfig> = keep(&mut problems, "http", parse_section(&http));
        let amqp: Option<AmqpConfig> = keep(&mut problems, "amqp", parse_section(&amqp));
        let store: Option<StoreConfig> = keep(&mut problems, "store", parse_section(&store));
        let members: Option<BTreeMap<String, MemberConfig>> = keep(&mut problems, "members", parse_section(&members));
        let operators: Option<BTreeMap<String, OperatorConfig>> =
            keep(&mut problems, "operators", parse_section(&operators));
        let auth: Option<AuthConfig> = keep(&mut problems, "auth", parse_section(&auth));
        let audit: Option<AuditConfig> = keep(&mut problems, "audit", parse_section(&audit));
        problems.extend(audit.iter().flat_map(AuditConfig::problems).map(|p| p.under("audit")));
        for (id, member) in members.iter().flatten() {
            let key = format!("members.\"{id}\"");
            if !valid_member_id(id) {
                problems.push(ConfigProblem::new(
                    key.clone(),
                    "a member id is lower-case words joined by dots, such as onestop.hatinh",
                ));
            }
            problems.extend(member.rights.problems().into_iter().map(|p| p.under(&key)));
            problems.extend(member.certificate.iter().flat_map(CertificateBinding::problems).map(|p| p.under(&key)));
            problems.extend(members::hash_problem("secret_hash", member.secret_hash.as_ref()).map(|p| p.under(&key)));
        }
        for (name, operator) in operators.iter().flatten() {
            let key = format!("operators.{name}");
            if !valid_name(name) {
                problems
                    .push(ConfigProblem::new(key.clone(), "an operator's name is lower-case letters, digits, _ or -"));
            }
            if operator.roles.is_empty() {
                problems.push(ConfigProblem::new(
                    format!("{key}.roles"),
                    "names at least one role: viewer, operator, admin, auditor",
                ));
            }
            problems.extend(operator.certificate.iter().flat_map(CertificateBinding::problems).map(|p| p.under(&key)));
            problems
                .extend(members::hash_problem("password_hash", operator.password_hash.as_ref()).map(|p| p.under(&key)));
        }
        let routing: Option<RoutingConfig> = keep(&mut problems, "routing", parse_section(&routing));

        let mut sections = BTreeMap::new();
        for (id, value) in adapters {
            let key = format!("adapters.{id}");
            let toml::Value::Table(t) = value else {
                problems.push(ConfigProblem::new(key, "must be a table"));
                continue;
            };
            match AdapterSection::parse(&id, t) {
                Ok(section) => {
                    sections.insert(id, section);
                }
                Err(errs) => problems.extend(errs.into_iter().map(|p| p.under(&key))),
            }
        }

        if let Some(amqp) = &amqp {
            if !["amqp", "amqps"].contains(&amqp.url.scheme()) {
                problems.push(ConfigProblem::new("amqp.url", "must start with amqp:// or amqps://"));
            }
            if !valid_name(&amqp.namespace) {
                problems.push(ConfigProblem::new("amqp.namespace", "must be lower-case letters, digits, _ or -"));
            }
        }
        if let Some(Err(problem)) = store.as_ref().map(StoreConfig::sqlite_path) {
            problems.push(problem);
        }
        if let Some(bus) = &bus
            && !valid_name(&bus.province_code)
        {
            problems.push(ConfigProblem::new("bus.province_code", "must be letters and digits, such as 42"));
        }
        if let Some(day) = bus.as_ref().and_then(|b| b.send_monthly_report_on).filter(|day| !(1..=28).contains(day)) {
            let reason = format!("is {day}; must be a day from 1 to 28, which every month has");
            problems.push(ConfigProblem::new("bus.send_monthly_report_on", reason));
        }

        match (bus, http, amqp, store, members, operators, auth, audit, routing) {
            (
                Some(bus),
                Some(http),
                Some(amqp),
                Some(store),
                Some(members),
                Some(operators),
                Some(auth),
                Some(audit),
                Some(routing),
            ) if problems.is_empty() => Ok(Config {
                bus,
                http,
                amqp,
                store,
                members,
                operators,
                auth,
                audit,
                adapters: sections,
                procedures: Procedures::default(),
                routing,
                competence: None,
            }),
            _ => Err(problems),
        }
    }
}

/// A member id, as an envelope's `source` (`schemas/envelope.json`): lower-case words and dots.
pub fn valid_member_id(id: &str) -> bool {
    !id.is_empty() && id.len() <= 128 && id.split('.').all(valid_name)
}

fn valid_name(name: &str) -> bool {
    !name.is_empty() && name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-')
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;
    use std::time::Duration;

    use super::*;

    fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn defaults_fill_an_empty_file() {
        let config = Config::from_toml("", env(&[])).unwrap();
        assert_eq!(config.http.listen.to_string(), "127.0.0.1:8080");
        assert_eq!(config.store.sqlite_path().unwrap(), PathBuf::from("data/lgsp.db"));
        assert_eq!(config.amqp.namespace, "lgsp");
    }

    #[test]
    fn environment_overrides_keep_the_files_types() {
        let file = r#"
            [http]
            listen = "127.0.0.1:8080"
            max_body_bytes = 1000
            [adapters.dvc]
            kind = "dvc"
            url = "http://127.0.0.1:9101"
            [adapters.dvc.delivery]
            lanes = 4
        "#;
        let config = Config::from_toml(
            file,
            env(&[
                ("LGSP__HTTP__LISTEN", "0.0.0.0:9000"),
                ("LGSP__HTTP__MAX_BODY_BYTES", "2048"),
                ("LGSP__ADAPTERS__DVC__URL", "https://portal.example"),
                ("LGSP__ADAPTERS__DVC__PASSWORD", "12345"),
                ("LGSP__ADAPTERS__DVC__DELIVERY__LANES", "8"),
                ("LGSP__AMQP__PASSWORD", "s3cret"),
                ("OTHER", "ignored"),
            ]),
        )
        .unwrap();
        assert_eq!(config.http.listen.to_string(), "0.0.0.0:9000");
        assert_eq!(config.http.max_body_bytes, 2048);
        let dvc = &config.adapters["dvc"];
        assert_eq!(dvc.settings["url"].as_str(), Some("https://portal.example"));
        // A numeric-looking password stays a string.
        assert_eq!(dvc.settings["password"].as_str(), Some("12345"));
        assert_eq!(dvc.delivery.lanes, 8);
        assert_eq!(config.amqp.connect_url().password(), Some("s3cret"));
        assert_eq!(format!("{:?}", config.amqp.password), "Some(***)");
    }

    #[test]
    fn every_problem_is_reported_with_its_key() {
        let file = r#"
            [http]
            listen = "not an address"
            max_body_bytes = 1000
            [amqp]
            url = "amqp://guest:guest@127.0.0.1:5672/%2f"
            [store]
            url = "postgres://db"
            [adapters.dvc]
            kind = "dvc"
            password = "in the file"
            [adapters.dvc.delivery]
            lanes = 0
            retry_tiers = ["1s", "soon"]
            [adapters.Bad]
            url = "x"
            [extra]
        "#;
        let problems = Config::from_toml(file, env(&[("LGSP__HTTP__MAX_BODY_BYTES", "lots")])).unwrap_err();
        let keys: Vec<&str> = problems.iter().map(|p| p.key.as_str()).collect();
        for expected in [
            "http.listen",
            "amqp.url",
            "store.url",
            "adapters.dvc.password",
            "adapters.dvc.delivery.retry_tiers",
            "adapters.Bad",
            "adapters.Bad.kind",
            "extra",
            "http.max_body_bytes",
        ] {
            assert!(keys.contains(&expected), "{expected} missing from {problems:#?}");
        }
        let secret = problems.iter().find(|p| p.key == "adapters.dvc.password").unwrap();
        assert!(secret.reason.contains("LGSP__ADAPTERS__DVC__PASSWORD"), "{secret}");
    }

    #[test]
    fn delivery_policy_is_checked() {
        let file = "[adapters.dvc]\nkind = \"dvc\"\n[adapters.dvc.delivery]\nlanes = 0\n";
        let problems = Config::from_toml(file, env(&[])).unwrap_err();
        assert_eq!(problems, vec![ConfigProblem::new("adapters.dvc.delivery.lanes", "must be between 1 and 1024")]);
    }

    #[test]
    fn breaker_limits_and_failure_codes_are_checked_each_under_its_key() {
        let file = r#"
            [adapters.dvc]
            kind = "dvc"
            [adapters.dvc.delivery]
            permanent = ["http:409"]
            transient = ["http:409"]
            [adapters.dvc.breaker]
            open_for = "10s"
            max_open_for = "5s"
            [adapters.dvc.limits]
            rate = 0
            "#;
        let problems = Config::from_toml(file, env(&[])).unwrap_err();
        let keys: Vec<&str> = problems.iter().map(|p| p.key.as_str()).collect();
        assert_eq!(
            keys,
            ["adapters.dvc.delivery.permanent", "adapters.dvc.breaker.max_open_for", "adapters.dvc.limits.rate"]
        );

        let file = "[adapters.dvc]\nkind = \"dvc\"\n[adapters.dvc.limits]\nconcurrency = 4\nrate = 20\n";
        let config = Config::from_toml(file, env(&[("LGSP__ADAPTERS__DVC__BREAKER__FAILURES", "0")])).unwrap();
        let dvc = &config.adapters["dvc"];
        assert_eq!((dvc.limits.concurrency, dvc.limits.rate, dvc.limits.burst), (Some(4), Some(20), None));
        assert_eq!(dvc.breaker.failures, 0, "the environment turns the breaker off");
        assert_eq!(dvc.breaker.open_for, Duration::from_secs(5));
    }

    #[test]
    fn secret_keys_are_recognised() {
        for key in ["password", "client_secret", "token", "api_key", "consumer_secret"] {
            assert!(is_secret_key(key), "{key}");
        }
        for key in ["username", "url", "secretary", "token_endpoint", "token.url"] {
            assert!(!is_secret_key(key), "{key}");
        }
        assert!(is_secret_key("auth.token"), "a dotted key is judged by its last part");
    }

    #[test]
    fn sandbox_settings_fill_in_at_any_depth_and_never_override() {
        let mut settings: toml::Table = toml::from_str("url = \"x\"\n[auth]\ntype = \"bearer\"").unwrap();
        let defaults: toml::Table =
            toml::from_str("url = \"y\"\nuser = \"u\"\n[auth]\ntype = \"hmac\"\ntoken = \"t\"").unwrap();
        fill_in(&mut settings, defaults);
        assert_eq!(settings["url"].as_str(), Some("x"));
        assert_eq!(settings["user"].as_str(), Some("u"));
        assert_eq!(settings["auth"]["type"].as_str(), Some("bearer"));
        assert_eq!(secret_values(&settings), vec![("auth.token".to_string(), "t".to_string())]);
        assert_eq!(
            remove_path(&mut settings, "auth.token").and_then(|v| v.as_str().map(String::from)),
            Some("t".into())
        );
        set_path(&mut settings, "auth.secret", "s".into());
        assert_eq!(settings["auth"]["secret"].as_str(), Some("s"));
    }
}
