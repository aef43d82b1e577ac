//! What every peer simulator needs besides its peer's contract: a server running in the
//! background, the controls tests turn (behaviour, clock), a record that tests can wait on without
//! polling, and a place to serve that can never be mistaken for the real peer.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde::Serialize;
use serde::de::DeserializeOwned;
use time::OffsetDateTime;
use tokio::sync::watch;
use url::{Host, Url};

use crate::config::ConfigProblem;

/// Why a simulator does not serve.
#[derive(Debug, thiserror::Error)]
pub enum SimulatorError {
    /// The adapter's settings do not describe a peer it can stand in for.
    #[error("settings: {0}")]
    Settings(ConfigProblem),
    #[error("a simulator speaks plain http; set url to http://127.0.0.1:PORT instead of {0}")]
    NotPlainHttp(Url),
    #[error("a simulator serves on loopback only, and {0} is not a loopback address")]
    NotLoopback(Url),
    #[error("cannot listen on {addr}: {source}")]
    Listen { addr: SocketAddr, source: std::io::Error },
    #[error("cannot serve: {0}")]
    Serve(std::io::Error),
}

/// What a simulator serves on: plain TCP, or TLS (in tests, with a certificate from a private
/// CA).
pub type SimListener = crate::listener::Listener;

/// Longer than any client waits: a "timeout" is a call that is never answered.
pub const HANG: Duration = Duration::from_secs(3600);

/// What a simulator told to misbehave does to a call instead of answering it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// The peer is down: every call is refused (`down`).
    Down,
    /// The call is never answered in time (a `timeout_rate` share of calls): see [`hang`].
    Hang,
    /// The call fails inside the peer (an `error_rate` share of calls).
    Error,
}

/// The misbehaviour every behaviour has, as every simulator shows it: after `latency_ms`, the
/// peer is [`Fault::Down`] if `down`; otherwise it leaves a `timeout_rate` share of calls hanging,
/// then fails an `error_rate` share of the others. `None`: the call is answered as usual.
pub async fn fault(latency_ms: u64, down: bool, error_rate: f64, timeout_rate: f64) -> Option<Fault> {
    if latency_ms > 0 {
        tokio::time::sleep(Duration::from_millis(latency_ms)).await;
    }
    if down {
        return Some(Fault::Down);
    }
    if timeout_rate > 0.0 && fastrand::f64() < timeout_rate {
        return Some(Fault::Hang);
    }
    if error_rate > 0.0 && fastrand::f64() < error_rate {
        return Some(Fault::Error);
    }
    None
}

/// A [`Fault::Hang`]: no answer for longer than any client waits, and then a 504.
pub async fn hang() -> Response {
    tokio::time::sleep(HANG).await;
    StatusCode::GATEWAY_TIMEOUT.into_response()
}

/// The check every behaviour shares: its `error_rate` and `timeout_rate` are shares of calls.
pub fn check_rates(error_rate: f64, timeout_rate: f64) -> Result<(), ConfigProblem> {
    for (name, rate) in [("error_rate", error_rate), ("timeout_rate", timeout_rate)] {
        if !(0.0..=1.0).contains(&rate) {
            return Err(ConfigProblem::new(name, "must be between 0 and 1"));
        }
    }
    Ok(())
}

/// Where a running simulator serves. It serves until the runtime stops, whoever holds this.
#[derive(Debug, Clone, Copy)]
pub struct Served {
    addr: SocketAddr,
    scheme: &'static str,
}

impl Served {
    /// Serves `app` on `listener` (plain TCP, or one that speaks TLS) in the background; `scheme`
    /// is what [`Self::url`] says, and `simulator` names it if the server fails.
    pub fn spawn<L>(listener: L, scheme: &'static str, app: Router, simulator: &'static str) -> std::io::Result<Served>
    where
        L: axum::serve::Listener<Addr = SocketAddr>,
    {
        let addr = listener.local_addr()?;
        tokio::spawn(async move {
            if let Err(e) = axum::serve(listener, app).await {
                crate::events::simulator_stopped(simulator, &e);
            }
        });
        Ok(Served { addr, scheme })
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The base URL to configure: `http://127.0.0.1:PORT`.
    pub fn url(&self) -> Url {
        Url::parse(&format!("{}://{}", self.scheme, self.addr)).expect("a socket address makes a url")
    }
}

/// What tests and sandbox users turn on a running simulator: how it misbehaves (`B`, each
/// simulator's own), and how far its clock runs ahead of the real one, so that tokens and sessions
/// expire without waiting.
#[derive(Debug, Default)]
pub struct Controls<B> {
    behaviour: Mutex<B>,
    clock_offset: Mutex<Duration>,
}

impl<B: Clone + Default> Controls<B> {
    pub fn behaviour(&self) -> B {
        lock(&self.behaviour).clone()
    }

    pub fn set_behaviour(&self, behaviour: B) {
        *lock(&self.behaviour) = behaviour;
    }

    /// Moves the simulator's clock on.
    pub fn advance_clock(&self, by: Duration) {
        *lock(&self.clock_offset) += by;
    }

    /// How far the simulator's clock is ahead of the real one.
    pub fn clock_offset(&self) -> Duration {
        *lock(&self.clock_offset)
    }

    /// The time on the simulator's clock.
    pub fn now(&self) -> OffsetDateTime {
        OffsetDateTime::now_utc() + self.clock_offset()
    }

    /// Behaves again, on the real clock.
    pub fn reset(&self) {
        self.set_behaviour(B::default());
        *lock(&self.clock_offset) = Duration::ZERO;
    }
}

/// `GET /_sim/behaviour` and `PUT /_sim/behaviour`: the behaviour over HTTP, for tests in other
/// processes and for sandbox users. A behaviour that `check` refuses is answered 400 and not taken.
pub fn behaviour_routes<B>(controls: Arc<Controls<B>>, check: fn(&B) -> Result<(), ConfigProblem>) -> Router
where
    B: Clone + Default + Serialize + DeserializeOwned + Send + Sync + 'static,
{
    let read = |State(controls): State<Arc<Controls<B>>>| async move { Json(controls.behaviour()) };
    let write = move |State(controls): State<Arc<Controls<B>>>, Json(behaviour): Json<B>| async move {
        if let Err(problem) = check(&behaviour) {
            return (StatusCode::BAD_REQUEST, problem.to_string()).into_response();
        }
        controls.set_behaviour(behaviour);
        StatusCode::NO_CONTENT.into_response()
    };
    Router::new().route("/_sim/behaviour", get(read).put(write)).with_state(controls)
}

/// Locks a simulator's state; a test that panicked holding it must not hide the record from the
/// others.
pub fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Counts changes to a simulator's record, so that tests wait for what they expect.
#[derive(Debug)]
pub struct Changes(watch::Sender<u64>);

impl Default for Changes {
    fn default() -> Self {
        Changes(watch::Sender::new(0))
    }
}

impl Changes {
    /// Marks that the record changed: wakes every `wait_until`.
    pub fn bump(&self) {
        self.0.send_modify(|n| *n += 1);
    }

    /// Waits until `state` satisfies `predicate`, checking again after each change; false if it
    /// does not within `timeout`.
    pub async fn wait_until<S>(&self, state: &Mutex<S>, timeout: Duration, predicate: impl Fn(&S) -> bool) -> bool {
        let deadline = tokio::time::Instant::now() + timeout;
        let mut changes = self.0.subscribe();
        loop {
            changes.borrow_and_update();
            if predicate(&lock(state)) {
                return true;
            }
            if tokio::time::timeout_at(deadline, changes.changed()).await.is_err() {
                return predicate(&lock(state));
            }
        }
    }
}

/// Where a simulator serves in sandbox mode: the address of the adapter's `url`, which must be
/// plain http on loopback, so a sandbox never answers in a real peer's place.
pub fn sandbox_address(settings: &toml::Table) -> Result<SocketAddr, SimulatorError> {
    let url = settings
        .get("url")
        .and_then(toml::Value::as_str)
        .and_then(|text| Url::parse(text).ok())
        .ok_or_else(|| SimulatorError::Settings(ConfigProblem::new("url", "is required: where the peer is")))?;
    if url.scheme() != "http" {
        return Err(SimulatorError::NotPlainHttp(url));
    }
    let ip = match url.host() {
        Some(Host::Ipv4(ip)) if ip.is_loopback() => IpAddr::V4(ip),
        Some(Host::Ipv6(ip)) if ip.is_loopback() => IpAddr::V6(ip),
        Some(Host::Domain("localhost")) => IpAddr::V4(Ipv4Addr::LOCALHOST),
        _ => return Err(SimulatorError::NotLoopback(url)),
    };
    let port = url.port_or_known_default().unwrap_or(80);
    Ok(SocketAddr::new(ip, port))
}

/// A `dossier.status_changed` as a one-stop system sends it, its `seq`-th to `status`, for load
/// runs and tests; `summary` is what the portal shows as the dossier's `TrichYeuHoSo`.
pub fn status_changed(
    id: uuid::Uuid,
    source: &str,
    dossier: &str,
    seq: u64,
    status: u8,
    summary: Option<&str>,
) -> serde_json::Value {
    let mut envelope = serde_json::json!({
        "id": id,
        "type": "dossier.status_changed",
        "source": source,
        "subject": dossier,
        "seq": seq,
        "occurred_at": "2026-11-20T09:15:00+07:00",
        "payload": {
            "dossier_code": dossier,
            "procedure_code": "1.001234",
            "procedure_name": "Đăng ký thường trú",
            "agency_code": "000.00.01.H42",
            "status": status,
            "received_at": "2026-11-20T08:30:00+07:00",
            "due_at": "2026-11-27T17:00:00+07:00",
            "applicant": {"kind": "citizen", "id": "001203000001", "name": "Nguyễn Văn An"},
            "channel": "online",
        }
    });
    if let Some(summary) = summary {
        envelope["payload"]["summary"] = summary.into();
    }
    envelope
}

/// A loopback port that is free now, for a server that will bind it later or bind it again after
/// a restart (a broker, a bus, a peer that a test takes down). It is taken below the kernel's
/// ephemeral range: a port from that range can meanwhile become the source port of any outgoing
/// connection, or of a connection to itself while nothing listens, and the server can then no
/// longer bind it.
pub fn free_port() -> std::io::Result<u16> {
    let ephemeral_from = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|range| range.split_whitespace().next()?.parse::<u16>().ok())
        .unwrap_or(32768);
    if ephemeral_from > 11_000 {
        for _ in 0..200 {
            let port = fastrand::u16(10_000..ephemeral_from);
            if std::net::TcpListener::bind((Ipv4Addr::LOCALHOST, port)).is_ok() {
                return Ok(port);
            }
        }
    }
    // No room below the ephemeral range on this machine: any free port is the best left.
    Ok(std::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?.local_addr()?.port())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn down_comes_before_a_hang_and_a_hang_before_an_error() {
        assert_eq!(fault(0, true, 1.0, 1.0).await, Some(Fault::Down));
        assert_eq!(fault(0, false, 1.0, 1.0).await, Some(Fault::Hang));
        assert_eq!(fault(0, false, 1.0, 0.0).await, Some(Fault::Error));
        assert_eq!(fault(0, false, 0.0, 0.0).await, None);
    }

    #[test]
    fn a_sandbox_serves_plain_http_on_loopback_only() {
        let at = |url: &str| {
            let mut settings = toml::Table::new();
            settings.insert("url".into(), url.into());
            sandbox_address(&settings)
        };
        assert_eq!(at("http://127.0.0.1:9102").unwrap().to_string(), "127.0.0.1:9102");
        assert_eq!(at("http://localhost:9102/dkkd").unwrap().to_string(), "127.0.0.1:9102");
        assert_eq!(at("http://[::1]:9102").unwrap().to_string(), "[::1]:9102");
        for elsewhere in ["http://10.0.0.5:9102", "http://registry.example:9102", "https://127.0.0.1:9102"] {
            assert!(at(elsewhere).is_err(), "{elsewhere}");
        }
    }

    #[test]
    fn a_free_port_is_never_one_an_outgoing_connection_could_take() {
        let range = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range").unwrap();
        let ephemeral_from: u16 = range.split_whitespace().next().unwrap().parse().unwrap();
        for _ in 0..50 {
            let port = free_port().unwrap();
            if ephemeral_from > 11_000 {
                assert!(port < ephemeral_from, "{port} is in the ephemeral range {range}");
            }
            std::net::TcpListener::bind((Ipv4Addr::LOCALHOST, port)).unwrap();
        }
    }
}
