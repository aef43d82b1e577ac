//! Command line: `lgsp serve | sandbox | check-config | routes | bench | chaos | dead-letters |
//! members | adapters | hash-secret | audit | openapi`.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};
use lgsp_bus::auth::grants::unknown_in_members;
use lgsp_bus::competence::Competence;
use lgsp_bus::config::Config;
use lgsp_bus::routing::{agency_word, matches, routing_key};
use lgsp_bus::schema::Catalogue;
use lgsp_bus::{registry, server};
use tracing_subscriber::EnvFilter;

use crate::adapters::{self, AdaptersArgs};
use crate::audit::{self, AuditArgs};
use crate::dead_letters::{self, DeadLettersArgs};
use crate::members::{self, MembersArgs};
use crate::reports::{self, ReportsArgs};
use crate::{adapter_kinds, bench, chaos};

/// lgsp — the provincial integration bus.
#[derive(Parser)]
#[command(name = "lgsp", version, about)]
struct Cli {
    /// The config file.
    #[arg(long, short, global = true, env = "LGSP_CONFIG", default_value = "config/lgsp.toml")]
    config: PathBuf,
    /// Log lines as text or JSON. The level comes from LGSP_LOG (default: info).
    #[arg(long, global = true, value_enum, env = "LGSP_LOG_FORMAT", default_value = "text")]
    log_format: LogFormat,
    #[command(subcommand)]
    command: Command,
}

#[derive(Clone, Copy, ValueEnum)]
enum LogFormat {
    Text,
    Json,
}

#[derive(Subcommand)]
enum Command {
    /// Run the bus.
    Serve {
        /// Also run the peers' simulators where the adapters' URLs point (loopback only), and
        /// use their credentials for whatever the environment does not set.
        #[arg(long)]
        sandbox: bool,
    },
    /// Run only the peers' simulators, where the adapters' URLs point.
    Sandbox,
    /// Check the config file and the environment; list every problem with its key.
    CheckConfig {
        /// Check it as `serve --sandbox` runs it (the simulators' credentials fill what is unset).
        #[arg(long)]
        sandbox: bool,
    },
    /// Measure the bus end to end against the broker's own limit, on the same broker.
    Bench(bench::Args),
    /// Check the delivery promises under faults: RabbitMQ restarts, `kill -9` of the bus, a
    /// failing portal; prints one figure a line and fails unless nothing was lost, duplicated
    /// or left at a wrong final state, and the message log is intact, sealed and complete. Runs
    /// on a private RabbitMQ node of its own.
    Chaos(chaos::Args),
    /// The competence tables: which agency receives which dossier.
    #[command(subcommand)]
    Routes(RoutesCommand),
    /// The dead-letter archive of a running bus: list, show, replay, purge.
    DeadLetters(DeadLettersArgs),
    /// Print the OpenAPI document of the HTTP API (what `GET /v1/openapi.json` serves).
    Openapi,
    /// The message log: verify its chain and seals, export, search, archive.
    Audit(AuditArgs),
    /// Members and their rights on a running bus (an admin's): list, show, add, grant, revoke,
    /// rotate-secret, remove.
    Members(MembersArgs),
    /// The adapters of a running bus: list, show, register, update, approve, reject, pause,
    /// resume, remove.
    Adapters(AdaptersArgs),
    /// The province's dossier reports from a running bus: monthly, quarterly, yearly, the late
    /// list, and sending a month's report upward now.
    Reports(ReportsArgs),
    /// Read a secret or password from standard input and print its argon2 hash, for the config.
    HashSecret,
}

#[derive(Subcommand)]
enum RoutesCommand {
    /// Check a unit catalogue and competence rules before the bus takes them (by default the
    /// files [routing] names); list every problem, and agencies no adapter receives.
    Check {
        /// The unit catalogue to check.
        #[arg(long)]
        units: Option<PathBuf>,
        /// The competence rules to check.
        #[arg(long)]
        rules: Option<PathBuf>,
    },
    /// Show which agency a dossier of PROCEDURE in UNIT goes to, and why.
    Decide { procedure: String, unit: String },
}

pub fn main() -> ExitCode {
    let cli = Cli::parse();
    // The bench prints its figures; its simulators' and adapters' logs would drown them.
    let quiet = matches!(cli.command, Command::Bench(_) | Command::Chaos(_));
    init_logs(cli.log_format, if quiet { "warn" } else { "info,lapin=warn" });
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("tokio runtime");
    runtime.block_on(run(cli))
}

async fn run(cli: Cli) -> ExitCode {
    let command = match cli.command {
        // These speak to a running bus: the config is read only to find it, when --bus does not say.
        Command::DeadLetters(args) => {
            return dead_letters::run(args, || load(&cli.config).map(|config| bus_url(&config.http))).await;
        }
        Command::Members(args) => {
            return members::run(args, || load(&cli.config).map(|config| bus_url(&config.http))).await;
        }
        Command::Adapters(args) => {
            return adapters::run(args, || load(&cli.config).map(|config| bus_url(&config.http))).await;
        }
        Command::Reports(args) => {
            return reports::run(args, || load(&cli.config).map(|config| bus_url(&config.http))).await;
        }
        Command::HashSecret => return members::hash_secret(),
        // The chaos run writes a config of its own.
        Command::Chaos(args) => return chaos::run(args).await,
        Command::Openapi => return openapi(),
        command => command,
    };
    let kinds = adapter_kinds();
    let config = match load(&cli.config) {
        Ok(config) => config,
        Err(code) => return code,
    };
    match command {
        Command::CheckConfig { sandbox } => check_config(&cli.config, &config, sandbox),
        Command::Serve { sandbox } => match server::start(config, &kinds, sandbox).await {
            Ok(bus) => {
                bus.run_until_signal().await;
                ExitCode::SUCCESS
            }
            Err(e) => fail(&format!("{e:#}")),
        },
        Command::Sandbox => sandbox(&config).await,
        Command::Bench(args) => match bench::run(&cli.config, &config, args).await {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => fail(&format!("bench: {e:#}")),
        },
        Command::Routes(RoutesCommand::Check { units, rules }) => routes_check(&config, units, rules),
        Command::Routes(RoutesCommand::Decide { procedure, unit }) => routes_decide(&config, &procedure, &unit),
        Command::Audit(args) => audit::run(&config, args),
        Command::DeadLetters(_)
        | Command::Members(_)
        | Command::Adapters(_)
        | Command::Reports(_)
        | Command::HashSecret
        | Command::Chaos(_)
        | Command::Openapi => {
            unreachable!("handled before the config is loaded")
        }
    }
}

fn openapi() -> ExitCode {
    match Catalogue::embedded() {
        Ok(catalogue) => {
            let document = lgsp_bus::http::document(&catalogue);
            println!("{}", serde_json::to_string_pretty(&document).expect("the document serialises"));
            ExitCode::SUCCESS
        }
        Err(e) => fail(&e.to_string()),
    }
}

/// Where the bus listening on `listen` is reached from this machine.
fn bus_url(http: &lgsp_bus::config::HttpConfig) -> String {
    let mut addr = http.listen;
    if addr.ip().is_unspecified() {
        let loopback: std::net::IpAddr =
            if addr.is_ipv4() { std::net::Ipv4Addr::LOCALHOST.into() } else { std::net::Ipv6Addr::LOCALHOST.into() };
        addr.set_ip(loopback);
    }
    let scheme = if http.tls.is_some() { "https" } else { "http" };
    format!("{scheme}://{addr}")
}

fn load(path: &Path) -> Result<Config, ExitCode> {
    Config::load(path, std::env::vars()).map_err(|problems| {
        eprintln!("{}: {} problem{}:", path.display(), problems.len(), plural(problems.len()));
        for problem in problems {
            eprintln!("  {problem}");
        }
        ExitCode::from(2)
    })
}

fn check_config(path: &Path, config: &Config, sandbox: bool) -> ExitCode {
    let mut problems: Vec<String> = Vec::new();
    let built = registry::build(config, &adapter_kinds(), sandbox, None)
        .map_err(|errors| problems.extend(errors.iter().map(ToString::to_string)))
        .unwrap_or_default();
    // The config's own adapters' services; those registered at run time are in the store.
    let agency_services: Vec<String> = built.iter().flat_map(|b| b.runtime.services.iter().cloned()).collect();
    match Catalogue::embedded() {
        Ok(catalogue) => problems
            .extend(unknown_in_members(&config.members, &catalogue, &agency_services).iter().map(ToString::to_string)),
        Err(e) => problems.push(e.to_string()),
    }
    if !problems.is_empty() {
        eprintln!("{}: {} problem{}:", path.display(), problems.len(), plural(problems.len()));
        for problem in problems {
            eprintln!("  {problem}");
        }
        return ExitCode::from(2);
    }
    println!("{}: OK", path.display());
    println!("  http: {}", config.http.listen);
    println!("  broker: {} (namespace {})", config.amqp.url, config.amqp.namespace);
    println!("  store: {}", config.store.url);
    println!("  members: {}", config.members.keys().cloned().collect::<Vec<_>>().join(", "));
    println!("  procedures: {} in the catalogue", config.procedures.len());
    for adapter in built {
        let runtime = &adapter.runtime;
        let mut roles = Vec::new();
        if !runtime.routes.is_empty() {
            roles.push(format!("routes {}", runtime.routes.join(", ")));
        }
        if !runtime.services.is_empty() {
            roles.push(format!("answers {}", runtime.services.join(", ")));
        }
        println!("  adapter {}: {}", runtime.id, roles.join("; "));
    }
    ExitCode::SUCCESS
}

async fn sandbox(config: &Config) -> ExitCode {
    let built = match registry::build(config, &adapter_kinds(), true, None) {
        Ok(built) => built,
        Err(problems) => {
            let lines: Vec<String> = problems.iter().map(ToString::to_string).collect();
            return fail(&format!("invalid config:\n  {}", lines.join("\n  ")));
        }
    };
    let mut serving = 0;
    for adapter in &built {
        let Some((simulator, settings)) = &adapter.sandbox else { continue };
        match simulator.serve(settings).await {
            Ok(addr) => {
                println!("{}: simulator serving on http://{addr}", adapter.runtime.id);
                serving += 1;
            }
            Err(e) => return fail(&format!("{}: {e:#}", adapter.runtime.id)),
        }
    }
    if serving == 0 {
        return fail("no configured adapter has a simulator");
    }
    println!("simulators running; Ctrl-C to stop");
    let _ = tokio::signal::ctrl_c().await;
    ExitCode::SUCCESS
}

fn routes_check(config: &Config, units: Option<PathBuf>, rules: Option<PathBuf>) -> ExitCode {
    let (Some(units), Some(rules)) = (units.or(config.routing.units.clone()), rules.or(config.routing.rules.clone()))
    else {
        return fail("no tables to check: give --units and --rules, or set [routing] units and rules in the config");
    };
    let tables = match Competence::load(&units, &rules) {
        Ok(tables) => tables,
        Err(problems) => {
            eprintln!(
                "{} + {}: {} problem{}:",
                units.display(),
                rules.display(),
                problems.len(),
                plural(problems.len())
            );
            for problem in problems {
                eprintln!("  {problem}");
            }
            return ExitCode::from(2);
        }
    };
    let catalogue = tables.units();
    println!("{} + {}: OK (version {})", units.display(), rules.display(), tables.version);
    println!(
        "  units: {} provinces, {} communes, {} old districts; rules: {}",
        catalogue.provinces.len(),
        catalogue.communes.len(),
        catalogue.districts.len(),
        tables.rule_count()
    );
    // Who receives each agency's dossiers (a warning, not a failure: adapters may come later).
    let built = registry::build(config, &adapter_kinds(), true, None).unwrap_or_default();
    let mut agencies: Vec<&str> = tables.agencies().collect();
    agencies.sort_unstable();
    agencies.dedup();
    for agency in agencies {
        let key = routing_key("dossier.submitted", &config.bus.province_code, Some(agency));
        let receivers: Vec<&str> = built
            .iter()
            .filter(|b| {
                b.runtime.routes.iter().any(|route| route.ends_with(&agency_word(agency)) && matches(route, &key))
            })
            .map(|b| b.runtime.id.as_str())
            .collect();
        if receivers.is_empty() {
            println!("  warning: no adapter receives the dossiers of agency {agency} (only the national portal would)");
        } else {
            println!("  agency {agency}: {}", receivers.join(", "));
        }
    }
    ExitCode::SUCCESS
}

fn routes_decide(config: &Config, procedure: &str, unit: &str) -> ExitCode {
    let Some(tables) = &config.competence else {
        return fail("the config has no [routing] tables: every dossier goes to the province as a whole");
    };
    match tables.decide(procedure, unit) {
        Ok(decision) => {
            println!("{}", decision.agency);
            println!("  {}", decision.reason);
            ExitCode::SUCCESS
        }
        Err(why) => {
            eprintln!("no agency: {why}");
            ExitCode::from(2)
        }
    }
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}

fn fail(message: &str) -> ExitCode {
    tracing::error!("{message}");
    eprintln!("lgsp: {message}");
    ExitCode::FAILURE
}

fn init_logs(format: LogFormat, default: &str) {
    let filter = EnvFilter::try_from_env("LGSP_LOG").unwrap_or_else(|_| EnvFilter::new(default));
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_ansi(ansi).with_writer(std::io::stderr);
    match format {
        LogFormat::Text => builder.init(),
        LogFormat::Json => builder.json().init(),
    }
}
