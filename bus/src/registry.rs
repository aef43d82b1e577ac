//! The adapters this bus runs, built from `[adapters.*]` by the kinds the binary registered.

use std::sync::Arc;

use crate::adapter::{AdapterKind, BuildContext, Simulator};
use crate::config::{Config, ConfigProblem};
use crate::engine::AdapterRuntime;
use crate::engine::guard::PeerGuard;
use crate::memory::{Memory, Remember};
use crate::routing::check_pattern;

/// A configured adapter, and its peer's simulator when running in sandbox mode.
pub struct Built {
    pub runtime: Arc<AdapterRuntime>,
    /// The simulator and the settings it must accept (the adapter's own).
    pub sandbox: Option<(Arc<dyn Simulator>, toml::Table)>,
}

/// Builds every configured adapter, reporting every problem. In sandbox mode each adapter whose
/// kind ships a simulator gets the simulator's settings for whatever the operator left unset.
/// `memory` keeps each adapter's own memory (the store; `None` for a check that builds nothing
/// to keep).
pub fn build(
    config: &Config,
    kinds: &[Arc<dyn AdapterKind>],
    sandbox: bool,
    memory: Option<Arc<dyn Remember>>,
) -> Result<Vec<Built>, Vec<ConfigProblem>> {
    let mut built = Vec::new();
    let mut problems = Vec::new();
    for (id, section) in &config.adapters {
        let key = format!("adapters.{id}");
        let Some(kind) = kinds.iter().find(|k| k.name() == section.kind) else {
            let known: Vec<&str> = kinds.iter().map(|k| k.name()).collect();
            problems.push(ConfigProblem::new(
                format!("{key}.kind"),
                format!("unknown kind `{}`; this build has: {}", section.kind, known.join(", ")),
            ));
            continue;
        };
        let mut settings = section.settings.clone();
        let simulator = if sandbox { kind.simulator() } else { None };
        if let Some(simulator) = &simulator {
            crate::config::fill_in(&mut settings, simulator.sandbox_settings());
        }
        let context = match &memory {
            Some(backend) => BuildContext { memory: Memory::new(id, backend.clone()) },
            None => BuildContext::ephemeral(id),
        };
        match kind.build(id, &settings, &context) {
            Ok(adapter) => {
                let routes = section.routes.clone().unwrap_or_else(|| adapter.routes());
                for route in &routes {
                    if let Err(reason) = check_pattern(route) {
                        problems.push(ConfigProblem::new(format!("{key}.routes"), format!("`{route}`: {reason}")));
                    }
                }
                let services = adapter.services();
                let runtime = AdapterRuntime {
                    id: id.clone(),
                    adapter,
                    routes,
                    policy: section.delivery.clone(),
                    services,
                    requests: section.requests.clone(),
                    guard: PeerGuard::new(id, section.breaker.clone(), &section.limits),
                };
                built.push(Built { runtime: Arc::new(runtime), sandbox: simulator.map(|s| (s, settings)) });
            }
            Err(errors) => problems.extend(errors.into_iter().map(|p| p.under(&key))),
        }
    }
    if problems.is_empty() { Ok(built) } else { Err(problems) }
}
