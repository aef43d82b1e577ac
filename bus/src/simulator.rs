//! What every peer simulator needs besides its peer's contract: a record that tests can wait on
//! without polling, and a place to serve that can never be mistaken for the real peer.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use anyhow::{Context, bail};
use tokio::sync::watch;
use url::{Host, Url};

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

/// Where a simulator serves in sandbox mode: the address of the adapter's url, which must be
/// plain http on loopback, so a sandbox never answers in a real peer's place.
pub fn sandbox_address(url: &Url, simulator: &str) -> anyhow::Result<SocketAddr> {
    if url.scheme() != "http" {
        bail!("the {simulator} simulator speaks plain http; set url to http://127.0.0.1:PORT");
    }
    let ip = match url.host() {
        Some(Host::Ipv4(ip)) if ip.is_loopback() => IpAddr::V4(ip),
        Some(Host::Ipv6(ip)) if ip.is_loopback() => IpAddr::V6(ip),
        Some(Host::Domain("localhost")) => IpAddr::V4(Ipv4Addr::LOCALHOST),
        _ => bail!("the {simulator} simulator serves on loopback only, and {url} is not a loopback address"),
    };
    let port = url.port_or_known_default().context("url has no port")?;
    Ok(SocketAddr::new(ip, port))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sandbox_serves_plain_http_on_loopback_only() {
        let at = |url: &str| sandbox_address(&Url::parse(url).unwrap(), "test");
        assert_eq!(at("http://127.0.0.1:9102").unwrap().to_string(), "127.0.0.1:9102");
        assert_eq!(at("http://localhost:9102/dkkd").unwrap().to_string(), "127.0.0.1:9102");
        assert_eq!(at("http://[::1]:9102").unwrap().to_string(), "[::1]:9102");
        for elsewhere in ["http://10.0.0.5:9102", "http://registry.example:9102", "https://127.0.0.1:9102"] {
            assert!(at(elsewhere).is_err(), "{elsewhere}");
        }
    }
}
