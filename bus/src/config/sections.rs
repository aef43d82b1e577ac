//! The sections of the config file the bus itself owns: `[bus]`, `[http]`, `[amqp]`, `[store]`,
//! `[routing]` and `[members.<id>]`.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;

use super::{ConfigProblem, Secret, duration};

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
    /// From this day of each month (1 to 28), last month's dossier report is sent upward as a
    /// `report.monthly` message, once. None: only when asked (`lgsp reports send`).
    #[serde(default)]
    pub send_monthly_report_on: Option<u8>,
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
    /// HTTPS; without it, plain HTTP, which only a bus listening on loopback may serve.
    #[serde(default)]
    pub tls: Option<TlsConfig>,
}

/// `[http.tls]`: the bus's certificate, and the CA whose client certificates it takes.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TlsConfig {
    /// The certificate chain (PEM), leaf first.
    pub cert: PathBuf,
    /// Its private key (PEM, PKCS#8 or SEC1 or PKCS#1).
    pub key: PathBuf,
    /// The CA (PEM) that issues members' and operators' client certificates. Without it, no
    /// client certificate is asked for: callers prove who they are with tokens only.
    #[serde(default)]
    pub client_ca: Option<PathBuf>,
}

/// `[auth]`: how callers prove who they are.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuthConfig {
    /// Whether every route but health, readiness and the contract needs a caller who proved who
    /// they are. Only a bus listening on loopback may turn it off.
    #[serde(default = "yes")]
    pub required: bool,
    /// How long a token the bus issues is valid.
    #[serde(default = "default_token_ttl", with = "duration")]
    pub token_ttl: Duration,
    /// The Ed25519 key (PKCS#8 PEM) the bus signs its tokens with. Without it (and without
    /// `LGSP__AUTH__SIGNING_KEY`), a key made at start: tokens then last no longer than the process.
    #[serde(default)]
    pub signing_key_file: Option<PathBuf>,
    /// The same key as PEM text, from the environment only.
    #[serde(default)]
    pub signing_key: Option<Secret>,
    /// Gives every member and operator without a secret the secret `sandbox`, as `serve
    /// --sandbox` does: for trying the bus out and for load runs on one machine. Only a bus
    /// listening on loopback may.
    #[serde(default)]
    pub sandbox_secrets: bool,
}

const fn yes() -> bool {
    true
}
const fn default_token_ttl() -> Duration {
    Duration::from_secs(300)
}

impl Default for AuthConfig {
    fn default() -> Self {
        super::parse_section(&toml::Table::new()).expect("defaults are valid")
    }
}

/// `[audit]`: the message log, the signed record of every exchange.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuditConfig {
    /// Off only to measure what the log costs (`lgsp bench --trust off`): a bus that serves
    /// members keeps its log.
    #[serde(default = "yes")]
    pub enabled: bool,
    /// The log's file (SQLite), apart from the store's; by default `audit.db` beside it.
    #[serde(default)]
    pub path: Option<PathBuf>,
    /// The Ed25519 key (PKCS#8 PEM) the chain's head is signed with. Without it (and without
    /// `LGSP__AUDIT__SIGNING_KEY`), one is made at the first start and kept beside the log
    /// (`<path>.key`, readable by its owner only): keep it elsewhere in production.
    #[serde(default)]
    pub signing_key_file: Option<PathBuf>,
    /// The same key as PEM text, from the environment only.
    #[serde(default)]
    pub signing_key: Option<Secret>,
    /// How often the chain's head is signed; also at every shutdown.
    #[serde(default = "default_sign_every", with = "duration")]
    pub sign_every: Duration,
    /// Entries waiting to be written, at most. Past it the log falls behind: traffic goes on,
    /// `/readyz` and `lgsp_audit_dropped_total` say so, and the chain records the gap.
    #[serde(default = "default_audit_queue")]
    pub queue: usize,
    /// Keep each message's payload in the log, not only its digest.
    #[serde(default)]
    pub keep_payloads: bool,
    /// How long entries stay in the log's file; older ones move to archive files.
    #[serde(default = "default_audit_keep", with = "duration")]
    pub keep: Duration,
    /// Where archive files go; by default `audit-archive/` beside the log.
    #[serde(default)]
    pub archive: Option<PathBuf>,
}

const fn default_sign_every() -> Duration {
    Duration::from_secs(1)
}
const fn default_audit_queue() -> usize {
    100_000
}
const fn default_audit_keep() -> Duration {
    Duration::from_secs(90 * 24 * 3600)
}

impl AuditConfig {
    /// Settings out of range.
    pub fn problems(&self) -> Vec<ConfigProblem> {
        let mut problems = Vec::new();
        if !(1_000..=10_000_000).contains(&self.queue) {
            problems.push(ConfigProblem::new("queue", "is 1000 to 10000000 entries"));
        }
        if !(Duration::from_millis(100)..=Duration::from_secs(60)).contains(&self.sign_every) {
            problems.push(ConfigProblem::new("sign_every", "is 100ms to 60s"));
        }
        if self.keep < Duration::from_secs(24 * 3600) {
            problems.push(ConfigProblem::new("keep", "is a day at least: archives keep what is older"));
        }
        problems
    }

    /// The log's file: the configured one, or `audit.db` beside the store's file.
    pub fn path(&self, store: &StoreConfig) -> Result<PathBuf, ConfigProblem> {
        match &self.path {
            Some(path) => Ok(path.clone()),
            None => Ok(beside(&store.sqlite_path()?, "audit.db")),
        }
    }

    /// Where archives go: the configured folder, or `audit-archive/` beside the log.
    pub fn archive_folder(&self, log: &std::path::Path) -> PathBuf {
        self.archive.clone().unwrap_or_else(|| beside(log, "audit-archive"))
    }
}

fn beside(file: &std::path::Path, name: &str) -> PathBuf {
    file.parent().map(|folder| folder.join(name)).unwrap_or_else(|| PathBuf::from(name))
}

impl Default for AuditConfig {
    fn default() -> Self {
        super::parse_section(&toml::Table::new()).expect("defaults are valid")
    }
}

impl Default for HttpConfig {
    fn default() -> Self {
        super::parse_section(&toml::Table::new()).expect("defaults are valid")
    }
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
    pub fn sqlite_path(&self) -> Result<PathBuf, ConfigProblem> {
        match self.url.strip_prefix("sqlite://") {
            Some(path) if !path.is_empty() => Ok(PathBuf::from(path)),
            _ => Err(ConfigProblem::new(
                "store.url",
                format!("`{}` is not sqlite://PATH (the only store this build has)", self.url),
            )),
        }
    }
}
