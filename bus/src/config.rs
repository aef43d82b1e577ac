//! Configuration: one TOML file, every key overridable from the environment.
//!
//! `LGSP__HTTP__LISTEN=0.0.0.0:8080` overrides `[http] listen`: the path segments upper-case,
//! joined by double underscores. Secrets (keys named `password`, `secret`, `token`, …) are read
//! from the environment only, so a config file can be committed and shared.
//!
//! Loading reports every problem at once, each with its key, so `lgsp check-config` can list
//! them all rather than one per run.

use std::collections::BTreeMap;
use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer};

use crate::competence::Competence;
use crate::procedures::Procedures;

/// Prefix of the environment variables that override config keys.
pub const ENV_PREFIX: &str = "LGSP__";

/// One thing wrong with the config, and where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigProblem {
    /// Dotted path of the key, such as `adapters.dvc.url`.
    pub key: String,
    pub reason: String,
}

impl ConfigProblem {
    pub fn new(key: impl Into<String>, reason: impl Into<String>) -> Self {
        Self { key: key.into(), reason: reason.into() }
    }

    /// The same problem, seen from an enclosing table: `url` under `adapters.dvc`.
    pub fn under(mut self, prefix: &str) -> Self {
        self.key = if self.key.is_empty() { prefix.to_string() } else { format!("{prefix}.{}", self.key) };
        self
    }
}

impl fmt::Display for ConfigProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.key.is_empty() { write!(f, "{}", self.reason) } else { write!(f, "{}: {}", self.key, self.reason) }
    }
}

/// A value that must not be shown: printed as `***` in logs and debug output.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

impl<'de> Deserialize<'de> for Secret {
    /// Any scalar: an environment variable `1234` is a password, not a number.
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        match toml::Value::deserialize(deserializer)? {
            toml::Value::String(s) => Ok(Secret(s)),
            toml::Value::Integer(i) => Ok(Secret(i.to_string())),
            toml::Value::Float(f) => Ok(Secret(f.to_string())),
            toml::Value::Boolean(b) => Ok(Secret(b.to_string())),
            _ => Err(serde::de::Error::custom("expected a string")),
        }
    }
}

/// Whether a key holds a secret, which may come from the environment only.
pub fn is_secret_key(key: &str) -> bool {
    const WORDS: [&str; 5] = ["password", "secret", "token", "api_key", "private_key"];
    WORDS.iter().any(|w| key == *w || key.ends_with(&format!("_{w}")))
}

/// Durations are written the way people say them: `500ms`, `10s`, `2m`, `1h`.
pub mod duration {
    use super::*;

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Duration, D::Error> {
        parse(&String::deserialize(deserializer)?).map_err(serde::de::Error::custom)
    }

    pub fn parse(text: &str) -> Result<Duration, String> {
        humantime::parse_duration(text)
            .map_err(|e| format!("`{text}` is not a duration such as 500ms, 10s or 2m ({e})"))
    }

    /// For optional durations, written back the same way: a simulator's `token_ttl` of `"2s"`.
    pub mod optional {
        use super::*;
        use serde::Serializer;

        pub fn serialize<S: Serializer>(value: &Option<Duration>, serializer: S) -> Result<S::Ok, S::Error> {
            match value {
                Some(duration) => serializer.serialize_str(&humantime::format_duration(*duration).to_string()),
                None => serializer.serialize_none(),
            }
        }

        pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<Duration>, D::Error> {
            let text: Option<String> = Option::deserialize(deserializer)?;
            text.map(|text| parse(&text).map_err(serde::de::Error::custom)).transpose()
        }
    }

    /// For lists of durations, such as the retry tiers.
    pub mod list {
        use super::*;

        pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<Duration>, D::Error> {
            Vec::<String>::deserialize(deserializer)?
                .iter()
                .map(|text| parse(text).map_err(serde::de::Error::custom))
                .collect()
        }
    }
}

/// The whole configuration of one bus instance.
#[derive(Debug, Clone)]
pub struct Config {
    pub bus: BusConfig,
    pub http: HttpConfig,
    pub amqp: AmqpConfig,
    pub store: StoreConfig,
    /// Members (agencies' systems) that may send messages, by id such as `onestop.sandbox`.
    pub members: BTreeMap<String, MemberConfig>,
    /// Adapters by id; the id names the adapter's queues, so it is `[a-z][a-z0-9_]*`.
    pub adapters: BTreeMap<String, AdapterSection>,
    /// The procedure catalogue `bus.procedures` points to.
    pub procedures: Procedures,
    pub routing: RoutingConfig,
    /// The competence tables `[routing]` points to; without them every dossier is routed to the
    /// province as a whole.
    pub competence: Option<Competence>,
}

/// `[routing]`: routing dossiers to the competent agency.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RoutingConfig {
    /// The administrative unit catalogue (relative to this config file).
    #[serde(default)]
    pub units: Option<PathBuf>,
    /// The competence rules: procedure × unit → agency (relative to this config file).
    #[serde(default)]
    pub rules: Option<PathBuf>,
    /// How often the two files are checked for changes (a changed, valid table is taken at once).
    #[serde(default = "default_reload_every", with = "duration")]
    pub reload_every: Duration,
}

const fn default_reload_every() -> Duration {
    Duration::from_secs(5)
}

/// `[bus]`: the bus instance itself.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BusConfig {
    /// Code of the province this bus serves (such as `42`); the routing suffix of every message.
    #[serde(default = "default_province_code")]
    pub province_code: String,
    /// How long a stopping bus waits for in-flight deliveries before it closes anyway.
    #[serde(default = "default_drain_timeout", with = "duration")]
    pub drain_timeout: Duration,
    /// The procedure catalogue (a file, relative to this config file): what papers each
    /// procedure needs, for document reuse. None: no procedure needs any.
    #[serde(default)]
    pub procedures: Option<PathBuf>,
}

fn default_province_code() -> String {
    "42".into()
}
const fn default_drain_timeout() -> Duration {
    Duration::from_secs(20)
}

/// `[http]`: the API members and operators call.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpConfig {
    /// Address to listen on.
    #[serde(default = "default_listen")]
    pub listen: SocketAddr,
    /// Largest request body accepted for one message; bigger ones get 413.
    #[serde(default = "default_max_body_bytes")]
    pub max_body_bytes: usize,
    /// Most messages in one `POST /v1/messages/batch`.
    #[serde(default = "default_max_batch_messages")]
    pub max_batch_messages: usize,
    /// Largest body of one `POST /v1/messages/batch`.
    #[serde(default = "default_max_batch_bytes")]
    pub max_batch_bytes: usize,
}

fn default_listen() -> SocketAddr {
    "127.0.0.1:8080".parse().expect("a valid address")
}
const fn default_max_body_bytes() -> usize {
    256 * 1024
}
const fn default_max_batch_messages() -> usize {
    500
}
const fn default_max_batch_bytes() -> usize {
    16 * 1024 * 1024
}

/// `[amqp]`: the RabbitMQ broker.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AmqpConfig {
    /// Broker URL, without a password (set `LGSP__AMQP__PASSWORD`); without a user, guest is used.
    #[serde(default = "default_amqp_url")]
    pub url: url::Url,
    /// Broker user; overrides the URL's.
    #[serde(default)]
    pub username: Option<String>,
    /// Broker password, from the environment only.
    #[serde(default)]
    pub password: Option<Secret>,
    /// Prefix of every exchange and queue name, so several buses (or tests) can share a broker.
    #[serde(default = "default_namespace")]
    pub namespace: String,
    /// How long a publish waits for the broker's confirm before the caller gets 503.
    #[serde(default = "default_confirm_timeout", with = "duration")]
    pub confirm_timeout: Duration,
    /// Longest wait between two attempts to reconnect to the broker.
    #[serde(default = "default_reconnect_max", with = "duration")]
    pub reconnect_max: Duration,
    /// Longest a connection to the broker, and declaring the topology on it, may take before
    /// the attempt is given up and made again: a broker that accepts connections but does not
    /// answer (still booting, or half dead) must not hold the bus back for good.
    #[serde(default = "default_connect_timeout", with = "duration")]
    pub connect_timeout: Duration,
}

fn default_amqp_url() -> url::Url {
    url::Url::parse("amqp://127.0.0.1:5672/%2f").expect("a valid url")
}
fn default_namespace() -> String {
    "lgsp".into()
}
const fn default_connect_timeout() -> Duration {
    Duration::from_secs(20)
}
const fn default_confirm_timeout() -> Duration {
    Duration::from_secs(5)
}
const fn default_reconnect_max() -> Duration {
    Duration::from_secs(5)
}

impl AmqpConfig {
    /// The URL to connect with, credentials included.
    pub fn connect_url(&self) -> url::Url {
        let mut url = self.url.clone();
        if let Some(user) = &self.username {
            let _ = url.set_username(user);
        }
        if let Some(password) = &self.password {
            let _ = url.set_password(Some(password.expose()));
        }
        url
    }
}

/// `[store]`: where message states, dedup keys and projections are kept.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StoreConfig {
    /// `sqlite://PATH` (relative paths from the working directory).
    #[serde(default = "default_store_url")]
    pub url: String,
}

fn default_store_url() -> String {
    "sqlite://data/lgsp.db".into()
}

impl StoreConfig {
    /// The SQLite file this config points to.
    pub fn sqlite_path(&self) -> Result<PathBuf, String> {
        match self.url.strip_prefix("sqlite://") {
            Some(path) if !path.is_empty() => Ok(PathBuf::from(path)),
            _ => Err(format!("`{}` is not sqlite://PATH (the only store this build has)", self.url)),
        }
    }
}

/// `[members.<id>]`: a system allowed to send messages.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MemberConfig {
    /// Who it is, for people reading logs and reports.
    pub name: String,
}

/// `[adapters.<id>]`: the keys the bus owns (`kind`, `routes`, `delivery`, `requests`,
/// `breaker`, `limits`); the rest
/// (`settings`) belongs to the adapter's kind.
#[derive(Debug, Clone)]
pub struct AdapterSection {
    /// Which built-in adapter this is, such as `dvc`.
    pub kind: String,
    /// Routing-key patterns to consume; the adapter's own when absent.
    pub routes: Option<Vec<String>>,
    /// How the engine delivers to it.
    pub delivery: DeliveryPolicy,
    /// How request/reply calls to it are made.
    pub requests: RequestPolicy,
    pub breaker: BreakerPolicy,
    pub limits: PeerLimits,
    /// The kind's own settings.
    pub settings: toml::Table,
}

/// `[adapters.<id>.requests]`: request/reply calls to the services the adapter answers.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RequestPolicy {
    /// How long a caller waits for the reply; then it gets 504 (and the request expires).
    #[serde(default = "default_request_timeout", with = "duration")]
    pub timeout: Duration,
    /// Requests the adapter answers at once.
    #[serde(default = "default_request_concurrency")]
    pub concurrency: u16,
}

const fn default_request_timeout() -> Duration {
    Duration::from_secs(10)
}
const fn default_request_concurrency() -> u16 {
    64
}

impl Default for RequestPolicy {
    fn default() -> Self {
        parse_section(&toml::Table::new()).expect("defaults are valid")
    }
}

impl RequestPolicy {
    fn problems(&self) -> Vec<ConfigProblem> {
        let mut problems = Vec::new();
        if self.timeout.is_zero() {
            problems.push(ConfigProblem::new("timeout", "must be more than 0"));
        }
        if self.concurrency == 0 {
            problems.push(ConfigProblem::new("concurrency", "must be at least 1"));
        }
        problems
    }
}

/// `[adapters.<id>.delivery]`: retries, ordering and flow control, owned by the engine.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeliveryPolicy {
    /// Ordered lanes: how many subjects are delivered at once (one subject stays in one lane).
    #[serde(default = "default_lanes")]
    pub lanes: usize,
    /// Unacknowledged messages the broker hands over at once.
    #[serde(default = "default_prefetch")]
    pub prefetch: u16,
    /// Attempts before a message is dead-lettered.
    #[serde(default = "default_max_attempts")]
    pub max_attempts: u32,
    /// Waiting time of each retry tier; the n-th retry waits in tier n (the last one repeats).
    #[serde(default = "default_retry_tiers", with = "duration::list")]
    pub retry_tiers: Vec<Duration>,
    /// Longest one call to the adapter may take before it counts as a transient failure.
    #[serde(default = "default_delivery_timeout", with = "duration")]
    pub timeout: Duration,
    /// Failure codes dead-lettered at once even when the adapter would retry them, such as
    /// `"http:409"` (see each adapter's README for its codes).
    #[serde(default)]
    pub permanent: Vec<String>,
    /// Failure codes retried even when the adapter would dead-letter them, such as `"answer:99"`
    /// for a peer known to refuse while it is being maintained.
    #[serde(default)]
    pub transient: Vec<String>,
}

const fn default_lanes() -> usize {
    16
}
const fn default_prefetch() -> u16 {
    1000
}
const fn default_max_attempts() -> u32 {
    12
}
fn default_retry_tiers() -> Vec<Duration> {
    [1, 5, 30, 120, 600, 1800].into_iter().map(Duration::from_secs).collect()
}
const fn default_delivery_timeout() -> Duration {
    Duration::from_secs(60)
}

impl Default for DeliveryPolicy {
    fn default() -> Self {
        parse_section(&toml::Table::new()).expect("defaults are valid")
    }
}

impl DeliveryPolicy {
    fn problems(&self) -> Vec<ConfigProblem> {
        let mut problems = Vec::new();
        if self.lanes == 0 || self.lanes > 1024 {
            problems.push(ConfigProblem::new("lanes", "must be between 1 and 1024"));
        }
        if self.prefetch == 0 {
            problems.push(ConfigProblem::new("prefetch", "must be at least 1"));
        }
        if self.max_attempts == 0 {
            problems.push(ConfigProblem::new("max_attempts", "must be at least 1"));
        }
        if self.retry_tiers.is_empty() {
            problems.push(ConfigProblem::new("retry_tiers", "needs at least one tier"));
        }
        if self.retry_tiers.iter().any(|t| t.is_zero() || *t > Duration::from_secs(u32::MAX as u64 / 1000)) {
            problems.push(ConfigProblem::new("retry_tiers", "each tier must be more than 0 and at most 49 days"));
        }
        if let Some(code) = self.permanent.iter().find(|code| self.transient.contains(code)) {
            problems.push(ConfigProblem::new("permanent", format!("`{code}` is also listed in `transient`")));
        }
        problems
    }
}

/// `[adapters.<id>.breaker]`: when the bus stops calling a failing peer, and how it probes it.
/// While the breaker is open, the adapter's messages wait in its queue (their attempts are not
/// spent) and its requests are answered 503 at once; other adapters are not affected.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BreakerPolicy {
    /// Calls in a row that fail transiently (every message of the call) before the breaker
    /// opens; 0 turns the breaker off.
    #[serde(default = "default_breaker_failures")]
    pub failures: u32,
    /// How long it stays open before one probe call; doubled after each failed probe.
    #[serde(default = "default_breaker_open_for", with = "duration")]
    pub open_for: Duration,
    /// The longest it stays open between probes.
    #[serde(default = "default_breaker_max_open_for", with = "duration")]
    pub max_open_for: Duration,
}

const fn default_breaker_failures() -> u32 {
    5
}
const fn default_breaker_open_for() -> Duration {
    Duration::from_secs(5)
}
const fn default_breaker_max_open_for() -> Duration {
    Duration::from_secs(300)
}

impl Default for BreakerPolicy {
    fn default() -> Self {
        parse_section(&toml::Table::new()).expect("defaults are valid")
    }
}

impl BreakerPolicy {
    fn problems(&self) -> Vec<ConfigProblem> {
        let mut problems = Vec::new();
        if self.open_for.is_zero() {
            problems.push(ConfigProblem::new("open_for", "must be more than 0"));
        }
        if self.max_open_for < self.open_for {
            problems.push(ConfigProblem::new("max_open_for", "must be at least `open_for`"));
        }
        problems
    }
}

/// `[adapters.<id>.limits]`: what the peer has agreed to take, for deliveries and requests
/// together. Unlimited when absent.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PeerLimits {
    /// Calls to the peer at once.
    pub concurrency: Option<u32>,
    /// Calls per second, on average.
    pub rate: Option<u32>,
    /// Calls that may go at once after a quiet spell, above the rate (default: one second's worth).
    pub burst: Option<u32>,
}

impl PeerLimits {
    fn problems(&self) -> Vec<ConfigProblem> {
        [("concurrency", self.concurrency), ("rate", self.rate), ("burst", self.burst)]
            .into_iter()
            .filter(|(_, value)| *value == Some(0))
            .map(|(key, _)| ConfigProblem::new(key, "must be at least 1 (leave it out for no limit)"))
            .collect()
    }
}

/// An adapter's settings: read with serde, then checked as a whole, so that every problem is
/// reported at once (serde stops at the first).
pub trait Settings: DeserializeOwned {
    /// Every problem with the settings of adapter `id`, keyed relative to its table.
    fn problems(&self, id: &str) -> Vec<ConfigProblem>;

    /// Reads the settings; the first problem serde meets.
    fn parse(settings: &toml::Table) -> Result<Self, ConfigProblem> {
        parse_section(settings)
    }

    /// Reads and checks the settings of adapter `id` (its id names its environment variables).
    fn from_settings(id: &str, settings: &toml::Table) -> Result<Self, Vec<ConfigProblem>> {
        let parsed = Self::parse(settings).map_err(|p| vec![p])?;
        let problems = parsed.problems(id);
        if problems.is_empty() { Ok(parsed) } else { Err(problems) }
    }
}

/// Parses one section with serde, reporting the path of the offending key.
pub fn parse_section<T: DeserializeOwned>(table: &toml::Table) -> Result<T, ConfigProblem> {
    let value = toml::Value::Table(table.clone());
    serde_path_to_error::deserialize(value).map_err(|e| {
        let path = e.path().to_string();
        let key = if path == "." { String::new() } else { path };
        // The TOML deserializer appends "in `key`" lines; the path already says where.
        let reason = e.into_inner().to_string();
        let reason = reason.lines().next().unwrap_or_default();
        // serde says "missing field `url`" about the table; the operator looks for it under `url`.
        match reason.strip_prefix("missing field `").and_then(|rest| rest.split('`').next()) {
            Some(field) => {
                let key = if key.is_empty() { field.to_string() } else { format!("{key}.{field}") };
                ConfigProblem::new(key, "is required")
            }
            None => ConfigProblem::new(key, reason),
        }
    })
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
        let mut problems = secrets_in_file(&file, "");
        let mut table = file;
        problems.extend(apply_env(&mut table, env));
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
        let (bus, http, amqp, store, members, adapters, routing) = (
            section("bus"),
            section("http"),
            section("amqp"),
            section("store"),
            section("members"),
            section("adapters"),
            section("routing"),
        );
        for unknown in table.keys() {
            problems.push(ConfigProblem::new(
                unknown.as_str(),
                "unknown section; expected bus, http, amqp, store, routing, members or adapters",
            ));
        }

        let bus: Option<BusConfig> = keep(&mut problems, "bus", parse_section(&bus));
        let http: Option<HttpConfig> = keep(&mut problems, "http", parse_section(&http));
        let amqp: Option<AmqpConfig> = keep(&mut problems, "amqp", parse_section(&amqp));
        let store: Option<StoreConfig> = keep(&mut problems, "store", parse_section(&store));
        let members: Option<BTreeMap<String, MemberConfig>> = keep(&mut problems, "members", parse_section(&members));
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
        if let Some(Err(reason)) = store.as_ref().map(StoreConfig::sqlite_path) {
            problems.push(ConfigProblem::new("store.url", reason));
        }
        if let Some(bus) = &bus
            && !valid_name(&bus.province_code)
        {
            problems.push(ConfigProblem::new("bus.province_code", "must be letters and digits, such as 42"));
        }

        match (bus, http, amqp, store, members, routing) {
            (Some(bus), Some(http), Some(amqp), Some(store), Some(members), Some(routing)) if problems.is_empty() => {
                Ok(Config {
                    bus,
                    http,
                    amqp,
                    store,
                    members,
                    adapters: sections,
                    procedures: Procedures::default(),
                    routing,
                    competence: None,
                })
            }
            _ => Err(problems),
        }
    }
}

fn keep<T>(problems: &mut Vec<ConfigProblem>, prefix: &str, parsed: Result<T, ConfigProblem>) -> Option<T> {
    parsed.map_err(|p| problems.push(p.under(prefix))).ok()
}

fn valid_name(name: &str) -> bool {
    !name.is_empty() && name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-')
}

/// Adapter ids name queues and environment variables, so they are plain identifiers.
pub fn valid_adapter_id(id: &str) -> bool {
    id.bytes().next().is_some_and(|b| b.is_ascii_lowercase())
        && id.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
}

impl AdapterSection {
    fn parse(id: &str, mut table: toml::Table) -> Result<Self, Vec<ConfigProblem>> {
        let mut problems = Vec::new();
        if !valid_adapter_id(id) {
            problems.push(ConfigProblem::new(
                "",
                "an adapter id must start with a lower-case letter and hold only a-z, 0-9 and _",
            ));
        }
        let kind = match table.remove("kind") {
            Some(toml::Value::String(kind)) => Some(kind),
            Some(_) => {
                problems.push(ConfigProblem::new("kind", "must be a string such as \"dvc\""));
                None
            }
            None => {
                problems
                    .push(ConfigProblem::new("kind", "is required: which built-in adapter this is, such as \"dvc\""));
                None
            }
        };
        let routes = match table.remove("routes") {
            None => None,
            Some(value) => keep(
                &mut problems,
                "routes",
                Vec::<String>::deserialize(value).map_err(|e| ConfigProblem::new("", e.to_string())),
            ),
        };
        let delivery = subsection(&mut table, "delivery", DeliveryPolicy::problems, &mut problems);
        let requests = subsection(&mut table, "requests", RequestPolicy::problems, &mut problems);
        let breaker = subsection(&mut table, "breaker", BreakerPolicy::problems, &mut problems);
        let limits = subsection(&mut table, "limits", PeerLimits::problems, &mut problems);
        if let Some(routes) = &routes {
            for route in routes {
                if let Err(reason) = crate::routing::check_pattern(route) {
                    problems.push(ConfigProblem::new("routes", format!("`{route}`: {reason}")));
                }
            }
        }
        match (kind, delivery, requests, breaker, limits) {
            (Some(kind), Some(delivery), Some(requests), Some(breaker), Some(limits)) if problems.is_empty() => {
                Ok(AdapterSection { kind, routes, delivery, requests, breaker, limits, settings: table })
            }
            _ => Err(problems),
        }
    }
}

/// One of the tables the bus owns in `[adapters.<id>]`: its defaults when absent, else read and
/// checked with `check`.
fn subsection<T: DeserializeOwned + Default>(
    table: &mut toml::Table,
    name: &str,
    check: fn(&T) -> Vec<ConfigProblem>,
    problems: &mut Vec<ConfigProblem>,
) -> Option<T> {
    let parsed = match table.remove(name) {
        None => T::default(),
        Some(toml::Value::Table(t)) => keep(problems, name, parse_section::<T>(&t))?,
        Some(_) => {
            problems.push(ConfigProblem::new(name, "must be a table"));
            return None;
        }
    };
    let found = check(&parsed);
    if found.is_empty() {
        Some(parsed)
    } else {
        problems.extend(found.into_iter().map(|p| p.under(name)));
        None
    }
}

/// Secrets written in the file, which must come from the environment instead.
fn secrets_in_file(table: &toml::Table, prefix: &str) -> Vec<ConfigProblem> {
    let mut problems = Vec::new();
    for (key, value) in table {
        let path = if prefix.is_empty() { key.clone() } else { format!("{prefix}.{key}") };
        match value {
            toml::Value::Table(inner) => problems.extend(secrets_in_file(inner, &path)),
            _ if is_secret_key(key) => problems.push(ConfigProblem::new(
                path.clone(),
                format!("a secret is read from the environment only: set {} instead", env_var_for(&path)),
            )),
            toml::Value::String(text)
                if key == "url" && url::Url::parse(text).is_ok_and(|u| u.password().is_some()) =>
            {
                problems.push(ConfigProblem::new(
                    path.clone(),
                    format!(
                        "holds a password: remove it and set {} instead",
                        env_var_for(&path.replace(".url", ".password"))
                    ),
                ));
            }
            _ => {}
        }
    }
    problems
}

/// The environment variable that overrides a dotted key.
pub fn env_var_for(key: &str) -> String {
    format!("{ENV_PREFIX}{}", key.replace('.', "__").to_uppercase())
}

/// Applies `LGSP__A__B=value` overrides. A value replaces the file's value of the same type (an
/// integer key takes `8`); a new key takes the TOML value the text spells, else the text.
fn apply_env(table: &mut toml::Table, env: impl IntoIterator<Item = (String, String)>) -> Vec<ConfigProblem> {
    let mut problems = Vec::new();
    let mut overrides: Vec<(String, String)> =
        env.into_iter().filter(|(name, _)| name.starts_with(ENV_PREFIX)).collect();
    overrides.sort();
    for (name, text) in overrides {
        let path: Vec<String> = name[ENV_PREFIX.len()..].split("__").map(str::to_lowercase).collect();
        let key = path.join(".");
        if path.iter().any(String::is_empty) {
            problems.push(ConfigProblem::new(key, format!("{name}: empty path segment")));
            continue;
        }
        if let Err(reason) = set_path(table, &path, &text) {
            problems.push(ConfigProblem::new(key, format!("{name}: {reason}")));
        }
    }
    problems
}

fn set_path(table: &mut toml::Table, path: &[String], text: &str) -> Result<(), String> {
    let (first, rest) = path.split_first().expect("at least one segment");
    if rest.is_empty() {
        let value = match table.get(first) {
            Some(existing) => typed_like(existing, text)?,
            None if is_secret_key(first) => toml::Value::String(text.to_string()),
            None => spelled(text),
        };
        table.insert(first.clone(), value);
        return Ok(());
    }
    match table.entry(first.clone()).or_insert_with(|| toml::Value::Table(toml::Table::new())) {
        toml::Value::Table(inner) => set_path(inner, rest, text),
        _ => Err(format!("`{first}` is not a table")),
    }
}

fn typed_like(existing: &toml::Value, text: &str) -> Result<toml::Value, String> {
    Ok(match existing {
        toml::Value::String(_) => toml::Value::String(text.to_string()),
        toml::Value::Integer(_) => {
            toml::Value::Integer(text.trim().parse().map_err(|_| format!("`{text}` is not an integer"))?)
        }
        toml::Value::Float(_) => {
            toml::Value::Float(text.trim().parse().map_err(|_| format!("`{text}` is not a number"))?)
        }
        toml::Value::Boolean(_) => {
            toml::Value::Boolean(text.trim().parse().map_err(|_| format!("`{text}` is not true or false"))?)
        }
        _ => {
            let parsed = spelled(text);
            if std::mem::discriminant(&parsed) != std::mem::discriminant(existing) {
                return Err(format!("`{text}` is not a TOML {}", existing.type_str()));
            }
            parsed
        }
    })
}

fn spelled(text: &str) -> toml::Value {
    format!("v = {text}")
        .parse::<toml::Table>()
        .ok()
        .and_then(|mut t| t.remove("v"))
        .unwrap_or_else(|| toml::Value::String(text.to_string()))
}

#[cfg(test)]
mod tests {
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
        for key in ["username", "url", "secretary", "token_endpoint"] {
            assert!(!is_secret_key(key), "{key}");
        }
    }
}
