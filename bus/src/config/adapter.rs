//! `[adapters.<id>]`: the keys the bus owns (how the engine delivers, calls and guards the peer)
//! and the [`Settings`] trait through which an adapter kind reads the rest.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use serde::Deserialize;
use serde::de::DeserializeOwned;

use super::{ANY, ConfigProblem, MessageRight, duration, keep, parse_section};
use crate::routing::agency_word;
use crate::schema::ServiceSchema;

/// `[adapters.<id>]`: the keys the bus owns (`kind`, `routes`, `subscriptions`, `schemas`,
/// `delivery`, `requests`, `breaker`, `limits`); the rest
/// (`settings`) belongs to the adapter's kind.
#[derive(Debug, Clone)]
pub struct AdapterSection {
    /// Which built-in adapter this is, such as `dvc`.
    pub kind: String,
    /// Routing-key patterns to consume; the adapter's own when absent (and no subscriptions).
    pub routes: Option<Vec<String>>,
    /// Message types to consume, and of which agencies: routes said as an agency would.
    pub subscriptions: Vec<MessageRight>,
    /// The contracts of services it answers that the bus's catalogue does not hold (an agency's
    /// own, such as `land.parcel_lookup`): `schemas."<service>" = { request = {...}, reply = {...} }`.
    pub schemas: BTreeMap<String, Arc<ServiceSchema>>,
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

/// Adapter ids name queues and environment variables, so they are plain identifiers.
pub fn valid_adapter_id(id: &str) -> bool {
    id.bytes().next().is_some_and(|b| b.is_ascii_lowercase())
        && id.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
}

impl AdapterSection {
    /// The keys the bus owns; the rest are the kind's settings.
    pub const KEYS: [&'static str; 8] =
        ["kind", "routes", "subscriptions", "schemas", "delivery", "requests", "breaker", "limits"];

    pub fn parse(id: &str, mut table: toml::Table) -> Result<Self, Vec<ConfigProblem>> {
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
        let subscriptions = match table.remove("subscriptions") {
            None => Some(Vec::new()),
            Some(value) => keep(
                &mut problems,
                "subscriptions",
                Vec::<MessageRight>::deserialize(value).map_err(|e| ConfigProblem::new("", e.to_string())),
            ),
        };
        for (index, subscription) in subscriptions.iter().flatten().enumerate() {
            if subscription.types.is_empty() || subscription.agencies.is_empty() {
                let key = format!("subscriptions[{index}]");
                problems.push(ConfigProblem::new(key, "names at least one type and one agency (or *)"));
            }
            for agency in subscription.agencies.iter().filter(|a| *a != ANY) {
                if let Err(invalid) = crate::identifiers::Identifier::AgencyCode.check(agency) {
                    problems.push(ConfigProblem::new(format!("subscriptions[{index}].agencies"), invalid.to_string()));
                }
            }
        }
        let schemas = table.remove("schemas").map(|schemas| contracts(schemas, &mut problems)).unwrap_or_default();
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
        match (kind, subscriptions, delivery, requests, breaker, limits) {
            (Some(kind), Some(subscriptions), Some(delivery), Some(requests), Some(breaker), Some(limits))
                if problems.is_empty() =>
            {
                Ok(AdapterSection {
                    kind,
                    routes,
                    subscriptions,
                    schemas,
                    delivery,
                    requests,
                    breaker,
                    limits,
                    settings: table,
                })
            }
            _ => Err(problems),
        }
    }

    /// The routing-key patterns the adapter consumes: `routes` and those of `subscriptions`, or
    /// the adapter's own (`own`) when neither is set.
    pub fn routes_or(&self, own: impl FnOnce() -> Vec<String>) -> Vec<String> {
        if self.routes.is_none() && self.subscriptions.is_empty() {
            return own();
        }
        let mut routes = self.routes.clone().unwrap_or_default();
        for subscription in &self.subscriptions {
            for message_type in &subscription.types {
                for agency in &subscription.agencies {
                    let route = match agency.as_str() {
                        ANY => format!("{message_type}.#"),
                        agency => format!("{message_type}.*.{}", agency_word(agency)),
                    };
                    if !routes.contains(&route) {
                        routes.push(route);
                    }
                }
            }
        }
        routes
    }
}

/// `schemas`: each service's request and reply schemas, compiled; every problem noted.
fn contracts(schemas: toml::Value, problems: &mut Vec<ConfigProblem>) -> BTreeMap<String, Arc<ServiceSchema>> {
    let toml::Value::Table(schemas) = schemas else {
        problems.push(ConfigProblem::new("schemas", "must be a table of services, each with `request` and `reply`"));
        return BTreeMap::new();
    };
    let mut compiled = BTreeMap::new();
    for (service, entry) in schemas {
        let key = format!("schemas.\"{service}\"");
        let document = |which: &str| entry.get(which).and_then(|doc| serde_json::to_value(doc).ok());
        let (Some(request), Some(reply)) = (document("request"), document("reply")) else {
            problems.push(ConfigProblem::new(key, "needs a `request` and a `reply` schema"));
            continue;
        };
        match ServiceSchema::compile(&request, &reply) {
            Ok(contract) => {
                compiled.insert(service, Arc::new(contract));
            }
            Err(errors) => problems
                .extend(errors.into_iter().map(|(which, why)| ConfigProblem::new(format!("{key}.{which}"), why))),
        }
    }
    compiled
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
