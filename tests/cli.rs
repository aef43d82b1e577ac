//! The `lgsp` binary as an operator runs it.

mod common;

use std::process::{Command, Stdio};
use std::time::Duration;

use lgsp_bus::testing::{amqp_url, unique_namespace};
use lgsp_dvc::sim::Behaviour;

fn lgsp() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_lgsp"));
    command.current_dir(env!("CARGO_MANIFEST_DIR"));
    // Whatever the developer's shell exports must not leak into these runs.
    for (name, _) in std::env::vars().filter(|(name, _)| name.starts_with("LGSP")) {
        command.env_remove(name);
    }
    command
}

fn free_port() -> u16 {
    lgsp_bus::simulator::free_port().unwrap()
}

#[test]
fn check_config_lists_every_problem_with_its_key_and_fails() {
    let output = lgsp()
        .arg("check-config")
        .env("LGSP__ADAPTERS__DVC__MADONVI", "H42")
        .env("LGSP__HTTP__LISTEN", "everywhere")
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let errors = String::from_utf8_lossy(&output.stderr);
    assert!(errors.contains("http.listen"), "{errors}");

    let output = lgsp().arg("check-config").env("LGSP__ADAPTERS__DVC__MADONVI", "H42").output().unwrap();
    assert_eq!(output.status.code(), Some(2));
    let errors = String::from_utf8_lossy(&output.stderr);
    assert!(errors.contains("adapters.dvc.madonvi"), "{errors}");
    assert!(errors.contains("adapters.dvc.password") && errors.contains("LGSP__ADAPTERS__DVC__PASSWORD"), "{errors}");
}

#[test]
fn the_default_config_is_valid_as_the_sandbox_runs_it_and_with_secrets_from_the_environment() {
    let sandbox = lgsp().args(["check-config", "--sandbox"]).output().unwrap();
    assert!(sandbox.status.success(), "{}", String::from_utf8_lossy(&sandbox.stderr));
    let listing = String::from_utf8_lossy(&sandbox.stdout);
    assert!(listing.contains("adapter dvc: routes dossier.submitted.#, dossier.status_changed.#"), "{listing}");
    assert!(listing.contains("adapter population: answers citizen.verify"), "{listing}");
    assert!(listing.contains("adapter business: answers business.lookup"), "{listing}");
    assert!(!listing.contains("procedures: 0"), "the catalogue beside the config is read: {listing}");

    let production = lgsp()
        .arg("check-config")
        .env("LGSP__ADAPTERS__DVC__PASSWORD", "from-the-vault")
        .env("LGSP__ADAPTERS__BUSINESS__PASSWORD", "from-the-vault")
        .env("LGSP__ADAPTERS__ONESTOP_PROVINCE__CLIENT_SECRET", "from-the-vault")
        .env("LGSP__ADAPTERS__ONESTOP_THACHHA__CLIENT_SECRET", "from-the-vault")
        .env("LGSP__ADAPTERS__POSTAL__CONSUMER_SECRET", "from-the-vault")
        .env("LGSP__ADAPTERS__STATISTICS__AUTH__CLIENT_SECRET", "from-the-vault")
        .output()
        .unwrap();
    assert!(production.status.success(), "{}", String::from_utf8_lossy(&production.stderr));
}

#[test]
fn a_secret_written_in_the_config_file_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("lgsp.toml");
    let default = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/config/lgsp.toml")).unwrap();
    std::fs::write(&file, default.replace("madonvi = ", "password = \"hunter2\"\nmadonvi = ")).unwrap();
    let output = lgsp().arg("--config").arg(&file).arg("check-config").output().unwrap();
    assert_eq!(output.status.code(), Some(2));
    let errors = String::from_utf8_lossy(&output.stderr);
    assert!(errors.contains("adapters.dvc.password: a secret is read from the environment only"), "{errors}");
    assert!(!errors.contains("hunter2"));
}

/// `lgsp serve --sandbox`, the README's first command, as a process: it accepts and delivers a
/// message, then drains and exits cleanly on SIGTERM.
#[tokio::test]
async fn serve_in_sandbox_mode_delivers_and_stops_cleanly_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let (http, portal) = (free_port(), free_port());
    let namespace = unique_namespace();
    let mut bus = lgsp()
        .args(["serve", "--sandbox"])
        .env("LGSP__HTTP__LISTEN", format!("127.0.0.1:{http}"))
        .env("LGSP__AMQP__URL", amqp_url())
        .env("LGSP__AMQP__NAMESPACE", &namespace)
        .env("LGSP__STORE__URL", format!("sqlite://{}", dir.path().join("lgsp.db").display()))
        .env("LGSP__ADAPTERS__DVC__URL", format!("http://127.0.0.1:{portal}"))
        .env("LGSP__ADAPTERS__POPULATION__URL", format!("http://127.0.0.1:{}/csdl-dan-cu", free_port()))
        .env("LGSP__ADAPTERS__BUSINESS__URL", format!("http://127.0.0.1:{}", free_port()))
        .env("LGSP__ADAPTERS__ONESTOP_PROVINCE__URL", format!("http://127.0.0.1:{}", free_port()))
        .env("LGSP__ADAPTERS__ONESTOP_THACHHA__URL", format!("http://127.0.0.1:{}", free_port()))
        .env("LGSP__ADAPTERS__POSTAL__URL", format!("http://127.0.0.1:{}", free_port()))
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let client = reqwest::Client::new();
    let base = format!("http://127.0.0.1:{http}");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while !client.get(format!("{base}/readyz")).send().await.is_ok_and(|r| r.status().is_success()) {
        assert!(tokio::time::Instant::now() < deadline, "the bus never became ready");
        assert!(bus.try_wait().unwrap().is_none(), "the bus exited");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // Sandbox mode gives every member the secret `sandbox`; without a token, nothing is taken.
    let message = common::status_changed(&common::dossier(1), 1, 2);
    let id = message["id"].as_str().unwrap();
    let response = client.post(format!("{base}/v1/messages")).json(&message).send().await.unwrap();
    assert_eq!(response.status(), 401);
    assert!(response.headers().contains_key("www-authenticate"));
    let token = lgsp_bus::testing::token(&client, &base, "onestop.sandbox", "sandbox").await;
    let response = client.post(format!("{base}/v1/messages")).bearer_auth(&token).json(&message).send().await.unwrap();
    assert_eq!(response.status(), 202);
    // The sandbox portal is a real HTTP server: ask it, as an operator would.
    let code = common::dossier(1);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let held = client.get(format!("http://127.0.0.1:{portal}/_sim/dossiers/{code}")).send().await.unwrap();
        if held.status().is_success() {
            let record: serde_json::Value = held.json().await.unwrap();
            assert_eq!(record["statuses"], serde_json::json!(["2"]));
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "the sandbox portal never got {id}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    // A registry lookup in sandbox mode: the population simulator answers; the log says who
    // asked and how it ended, with the CCCD masked.
    let verify = serde_json::json!({"cccd": "001203000001", "full_name": "Nguyễn Văn An",
        "date_of_birth": "2003-01-15", "dossier_code": code, "fields": ["permanent_address"]});
    let response = client
        .post(format!("{base}/v1/services/citizen.verify"))
        .bearer_auth(&token)
        .json(&verify)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.json::<serde_json::Value>().await.unwrap()["result"], "match");

    Command::new("kill").args(["-TERM", &bus.id().to_string()]).status().unwrap();
    let status = tokio::task::spawn_blocking(move || bus.wait_with_output()).await.unwrap().unwrap();
    let log = String::from_utf8_lossy(&status.stderr);
    assert!(status.status.success(), "{log}");
    assert!(log.contains("stopping: draining in-flight work") && log.contains("stopped"), "{log}");
    assert!(!log.contains("ERROR"), "{log}");
    // Citizen IDs never reach the log.
    assert!(log.contains("0012******01"), "the lookup is logged, masked: {log}");
    assert!(!log.contains("001203000001"), "{log}");
    let tiers = [1, 5, 30, 120, 600, 1800].map(Duration::from_secs);
    common::delete_default_namespace(&amqp_url(), &namespace, &tiers).await;
}

/// `lgsp dead-letters` against a running bus: a dossier the portal refuses is listed with the
/// portal's reason, a bad filter is named, and once the portal takes it again `replay --all`
/// hands it back and it is delivered.
#[tokio::test]
async fn dead_letters_are_listed_and_replayed_from_the_command_line() {
    let h = common::Harness::start().await;
    let refused = common::dossier(7);
    h.portal.set_behaviour(Behaviour { refuse_dossiers: vec![refused.clone()], ..Default::default() });
    let poison = common::status_changed(&refused, 1, 4);
    assert_eq!(h.api.post(&poison).await.0, 202);
    let id = poison["id"].as_str().unwrap();
    h.operator.wait_dead_letter(id, "dvc", "dead").await;

    // The bus answers on this runtime: the CLI runs as a child process, awaited.
    let cli = |args: &[&str]| {
        let mut command = lgsp();
        command.arg("dead-letters").args(args).args(["--bus", &h.api.base, "--operator", "operator"]);
        command.env("LGSP_OPERATOR_PASSWORD", lgsp_bus::testing::SECRET);
        async move {
            let output = tokio::process::Command::from(command).output().await.unwrap();
            let text = |bytes: &[u8]| String::from_utf8_lossy(bytes).into_owned();
            (output.status.code(), text(&output.stdout), text(&output.stderr))
        }
    };
    let (code, listed, errors) = cli(&["list", "--adapter", "dvc"]).await;
    assert_eq!(code, Some(0), "{errors}");
    let row = listed.lines().find(|line| line.starts_with(id)).unwrap_or_else(|| panic!("{id} not listed: {listed}"));
    assert!(row.contains("dvc") && row.contains(&refused) && row.contains(" dead ") && row.contains("03"), "{row}");
    assert!(listed.ends_with("1 of 1 shown\n"), "{listed}");

    let (code, _, errors) = cli(&["list", "--since", "yesterday"]).await;
    assert_eq!(code, Some(1));
    assert!(errors.contains("400") && errors.contains("--since:"), "{errors}");

    h.portal.set_behaviour(Behaviour::default());
    let (code, replayed, errors) = cli(&["replay", "--all", "--adapter", "dvc"]).await;
    assert_eq!(code, Some(0), "{errors}");
    assert!(replayed.contains("replayed 1 of 1"), "{replayed}");
    h.api.wait_state(id, "delivered").await;
    h.wait_portal_has(id).await;
    assert!(cli(&["list"]).await.1.ends_with("0 of 0 shown\n"));
    h.stop().await;
}

/// Runs `lgsp` with `args` and `env`, feeding `stdin`: (exit code, stdout, stderr).
async fn run_lgsp(args: &[&str], env: &[(&str, &str)], stdin: &str) -> (Option<i32>, String, String) {
    let mut command = lgsp();
    command.args(args).envs(env.iter().copied()).stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped());
    let mut child = tokio::process::Command::from(command).spawn().unwrap();
    let mut input = child.stdin.take().unwrap();
    tokio::io::AsyncWriteExt::write_all(&mut input, stdin.as_bytes()).await.unwrap();
    drop(input);
    let output = child.wait_with_output().await.unwrap();
    let text = |bytes: &[u8]| String::from_utf8_lossy(bytes).into_owned();
    (output.status.code(), text(&output.stdout), text(&output.stderr))
}

/// `lgsp members` as an admin on a running bus, then `lgsp audit` on its log: every change
/// there, the chain verified, an export checked with the public key alone, a change found.
#[tokio::test]
async fn members_are_changed_and_the_message_log_checked_from_the_command_line() {
    let mut h = common::Harness::start().await;
    let base = h.api.base.clone();
    let members = |who: &'static str, args: &[&str]| {
        let mut all = vec!["members"];
        all.extend_from_slice(args);
        all.extend_from_slice(&["--bus", &base, "--operator", who]);
        let all: Vec<String> = all.into_iter().map(String::from).collect();
        async move {
            let args: Vec<&str> = all.iter().map(String::as_str).collect();
            run_lgsp(&args, &[("LGSP_OPERATOR_PASSWORD", lgsp_bus::testing::SECRET)], "").await
        }
    };
    let (code, secret, errors) = members("admin", &["add", "onestop.kyanh", "--name", "Một cửa Kỳ Anh"]).await;
    assert_eq!(code, Some(0), "{errors}");
    assert!(errors.contains("shown once"), "{errors}");
    let secret = secret.trim().to_string();
    let (code, shown, errors) =
        members("admin", &["grant", "onestop.kyanh", "--send", "dossier.status_changed", "--agency", "000.00.01.H42"])
            .await;
    assert_eq!(code, Some(0), "{errors}");
    assert!(shown.contains("\"dossier.status_changed\""), "{shown}");
    let receive = ["grant", "onestop.kyanh", "--receive", "dossier.submitted", "--agency", "000.00.31.H42"];
    let (code, shown, errors) = members("admin", &receive).await;
    assert_eq!(code, Some(0), "{errors}");
    assert!(shown.contains("\"receive\"") && shown.contains("000.00.31.H42"), "{shown}");
    let (code, shown, errors) = members("admin", &["grant", "onestop.kyanh", "--offer", "land.parcel_lookup"]).await;
    assert_eq!(code, Some(0), "{errors}");
    assert!(shown.contains("\"offer\"") && shown.contains("land.parcel_lookup"), "{shown}");
    let (code, _, errors) =
        members("admin", &["grant", "onestop.kyanh", "--service", "citizen.verify", "--field", "adress"]).await;
    assert_eq!(code, Some(1));
    assert!(errors.contains("422") && errors.contains("adress"), "{errors}");
    let (code, _, errors) = members("viewer", &["list"]).await;
    assert_eq!(code, Some(1));
    assert!(errors.contains("missing right: role admin"), "{errors}");
    let (code, listed, _) = members("admin", &["list"]).await;
    assert_eq!(code, Some(0));
    assert!(listed.lines().any(|l| l.starts_with("onestop.kyanh\t")), "{listed}");
    assert!(h.api.as_with("onestop.kyanh", &secret).await.is_some(), "the printed secret signs in");

    let (code, hash, errors) = run_lgsp(&["hash-secret"], &[], "a secret long enough\n").await;
    assert_eq!(code, Some(0), "{errors}");
    assert!(lgsp_bus::auth::passwords::verify("a secret long enough", hash.trim()), "{hash}");

    let log = h.bus.as_ref().unwrap().log.path().unwrap().to_path_buf();
    h.halt().await;
    let log_text = log.display().to_string();
    let audit = |args: &[&str]| {
        let mut all = vec!["audit"];
        all.extend_from_slice(args);
        let all: Vec<String> = all.into_iter().map(String::from).collect();
        let env = [("LGSP__AUDIT__PATH", log_text.clone())];
        async move {
            let args: Vec<&str> = all.iter().map(String::as_str).collect();
            let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
            run_lgsp(&args, &env, "").await
        }
    };
    let (code, verdict, errors) = audit(&["verify"]).await;
    assert_eq!(code, Some(0), "{errors}");
    assert!(verdict.starts_with("ok: ") && verdict.contains("sealed to entry"), "{verdict}");
    let (code, found, _) = audit(&["search", "--actor", "admin", "--kind", "directory.change"]).await;
    assert_eq!(code, Some(0));
    assert_eq!(found.lines().count(), 4, "an add and three grants; the refused grant changed nothing: {found}");

    let (_, key, _) = audit(&["public-key"]).await;
    let key = key.split_whitespace().next().unwrap().to_string();
    let export = log.with_extension("export.jsonl");
    let (code, _, errors) = audit(&["export", "--out", &export.display().to_string()]).await;
    assert_eq!(code, Some(0), "{errors}");
    let (code, verdict, _) = audit(&["verify", "--file", &export.display().to_string(), "--public-key", &key]).await;
    assert_eq!(code, Some(0), "{verdict}");

    let conn = rusqlite::Connection::open(&log).unwrap();
    conn.execute("UPDATE entries SET actor = 'someone' WHERE seq = 3", []).unwrap();
    let (code, verdict, _) = audit(&["verify"]).await;
    assert_eq!(code, Some(1));
    assert!(verdict.starts_with("FAILED: ") && verdict.contains("entry 3: altered"), "{verdict}");
    h.stop().await;
}

/// `lgsp adapters` on a running bus: an agency's member registers its system from a file, an
/// admin approves it, it is listed, tested and removed; a refusal prints the API's problem.
#[tokio::test]
async fn an_adapter_is_registered_approved_and_removed_from_the_command_line() {
    let h = common::Harness::start().await;
    let base = h.api.base.clone();
    let adapters = |who: &'static str, args: &[&str]| {
        let mut all = vec!["adapters"];
        all.extend_from_slice(args);
        all.extend_from_slice(&["--bus", &base, "--member", who]);
        let all: Vec<String> = all.into_iter().map(String::from).collect();
        async move {
            let args: Vec<&str> = all.iter().map(String::as_str).collect();
            run_lgsp(&args, &[("LGSP_OPERATOR_PASSWORD", lgsp_bus::testing::SECRET)], "").await
        }
    };
    let dir = tempfile::tempdir().unwrap();
    let mut registration: serde_json::Value =
        serde_json::from_str(include_str!("../config/examples/land-registration.json")).unwrap();
    let port = lgsp_bus::simulator::free_port().unwrap();
    registration["url"] = serde_json::json!(format!("http://127.0.0.1:{port}/land"));
    let file = dir.path().join("land.json");
    std::fs::write(&file, registration.to_string()).unwrap();
    let file = file.display().to_string();

    registration["subscriptions"][0]["agencies"] = serde_json::json!(["000.00.01.H42"]);
    let elsewhere = dir.path().join("elsewhere.json");
    std::fs::write(&elsewhere, registration.to_string()).unwrap();
    let (code, _, errors) = adapters("onestop.thachha", &["register", &elsewhere.display().to_string()]).await;
    assert_eq!(code, Some(1));
    assert!(errors.contains("403") && errors.contains("receive dossier.submitted of 000.00.01.H42"), "{errors}");

    let (code, said, errors) = adapters("onestop.thachha", &["register", &file]).await;
    assert_eq!(code, Some(0), "{errors}");
    assert!(said.contains("land_thachha: pending"), "{said}");
    let (code, said, errors) = adapters("admin", &["approve", "land_thachha"]).await;
    assert_eq!(code, Some(0), "{errors}");
    assert!(said.contains("land_thachha: approved"), "{said}");
    let (code, listed, _) = adapters("viewer", &["list"]).await;
    assert_eq!(code, Some(0));
    assert!(listed.lines().any(|l| l.starts_with("land_thachha\trunning\t")), "{listed}");
    assert!(listed.lines().any(|l| l == "land_thachha\tapproved\tonestop.thachha"), "{listed}");
    // Nothing listens at its URL: the test says so, and fails the command.
    let (code, said, errors) = adapters("onestop.thachha", &["test", "land_thachha"]).await;
    assert_eq!(code, Some(1), "{said}");
    assert!(said.contains("dossier.submitted") && said.contains(": failed in "), "{said}");
    assert!(errors.contains("transient failure: ") && errors.contains("cannot connect"), "{errors}");
    let (code, _, errors) = adapters("onestop.thachha", &["remove", "land_thachha"]).await;
    assert_eq!(code, Some(0), "{errors}");
    let fleet = &h.bus.as_ref().unwrap().fleet;
    let gone =
        fleet.adapters().wait_until(std::time::Duration::from_secs(20), |r| r.get("land_thachha").is_none()).await;
    assert!(gone, "removed from the bus");
    h.stop().await;
}

#[test]
fn the_bench_runs_on_the_default_config() {
    let mut command = lgsp();
    command.env("LGSP__AMQP__URL", amqp_url());
    let output = command.args(["bench", "--messages", "300", "--dossiers", "30", "--batch", "0"]).output().unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{stdout}\n{}", String::from_utf8_lossy(&output.stderr));
    assert!(stdout.contains("(b) bus end to end, 1 message per request"), "{stdout}");
}

#[test]
fn the_fan_out_bench_registers_agency_systems_and_carries_their_messages() {
    let mut command = lgsp();
    command.env("LGSP__AMQP__URL", amqp_url());
    let args = ["bench", "--mode", "fanout", "--adapters", "5", "--messages", "100", "--dossiers", "10"];
    let output = command.args(args).output().unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{stdout}\n{}", String::from_utf8_lossy(&output.stderr));
    assert!(stdout.contains("registration, POST to running: p50 ") && stdout.contains("(5 in "), "{stdout}");
    assert!(stdout.contains("each delivered to its agency's system (100 taken)"), "{stdout}");
    assert!(stdout.contains("MB with 5 adapters"), "{stdout}");
    // The broker's figures, or why not (a broker without its Prometheus plugin).
    assert!(stdout.contains("broker: "), "{stdout}");
}

/// An operator's client certificate is all the CLI needs against a bus that takes them; a
/// member's certificate gets the member's rights, no more.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cli_proves_an_operator_by_a_client_certificate() {
    use lgsp_bus::auth::certificates::ClientCertificate;
    use lgsp_bus::testing::tls::PrivateCa;

    let (ca, clients) = (PrivateCa::new("Province CA"), PrivateCa::new("Province clients CA"));
    let (alice, bob) = (clients.client("alice", false), clients.client("onestop.bob", false));
    let dir = tempfile::tempdir().unwrap();
    let write = |name: &str, text: &str| {
        let path = dir.path().join(name);
        std::fs::write(&path, text).unwrap();
        path.display().to_string()
    };
    let server = ca.server();
    let pin = |issued: &lgsp_bus::testing::tls::Issued| ClientCertificate::from_der(&issued.der).unwrap().spki_sha256;
    let text = format!(
        r#"
        [http]
        listen = "127.0.0.1:0"
        [http.tls]
        cert = "{cert}"
        key = "{key}"
        client_ca = "{client_ca}"
        [amqp]
        url = "{amqp}"
        namespace = "{namespace}"
        [store]
        url = "sqlite://{store}"
        [operators.alice]
        roles = ["viewer"]
        certificate = {{ spki_sha256 = "{alice}" }}
        [members."onestop.bob"]
        name = "Bob's one-stop system"
        certificate = {{ spki_sha256 = "{bob}" }}
        "#,
        cert = write("server.pem", &server.cert_pem),
        key = write("server.key", &server.key_pem),
        client_ca = write("clients.pem", &clients.pem()),
        amqp = amqp_url(),
        namespace = unique_namespace(),
        store = dir.path().join("lgsp.db").display(),
        alice = pin(&alice),
        bob = pin(&bob),
    );
    let path = dir.path().join("lgsp.toml");
    std::fs::write(&path, text).unwrap();
    let mut config = lgsp_bus::config::Config::load(&path, Vec::new()).unwrap();
    lgsp_bus::testing::with_test_secrets(&mut config);
    let bus = lgsp_bus::server::start(config, &[], false).await.unwrap();
    let ca_file = write("ca.pem", &ca.pem());
    let run = |who: &lgsp_bus::testing::tls::Issued, name: &str| {
        let mut command = lgsp();
        command.args(["reports", "monthly", "--month", "2026-10", "--bus", &bus.base_url, "--ca-file", &ca_file]);
        command.args(["--client-cert", &write(&format!("{name}.pem"), &who.cert_pem)]);
        command.args(["--client-key", &write(&format!("{name}.key"), &who.key_pem)]);
        command.output().unwrap()
    };

    let as_alice = run(&alice, "alice");
    assert!(as_alice.status.success(), "{}", String::from_utf8_lossy(&as_alice.stderr));
    assert!(String::from_utf8_lossy(&as_alice.stdout).contains("\"period\": \"2026-10\""));
    let as_bob = run(&bob, "bob");
    assert!(!as_bob.status.success(), "a member without the right to read reports");
    let refusal = String::from_utf8_lossy(&as_bob.stderr);
    assert!(refusal.contains("403") && refusal.contains("missing right: read reports"), "{refusal}");
    bus.shutdown().await;
}
