//! The adapters this bus runs, built from `[adapters.*]` by the kinds the binary registered.

use std::sync::Arc;

use crate::adapter::{AdapterKind, BuildContext, Simulator};
use crate::config::{AdapterSection, Config, ConfigProblem};
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
        match build_one(id, section, kinds, sandbox, memory.clone()) {
            Ok(adapter) => built.push(adapter),
            Err(errors) => problems.extend(errors.into_iter().map(|p| p.under(&format!("adapters.{id}")))),
        }
    }
    if problems.is_empty() { Ok(built) } else { Err(problems) }
}

/// Builds one adapter from its section, reporting every problem keyed relative to the section.
pub fn build_one(
    id: &str,
    section: &AdapterSection,
    kinds: &[Arc<dyn AdapterKind>],
    sandbox: bool,
    memory: Option<Arc<dyn Remember>>,
) -> Result<Built, Vec<ConfigProblem>> {
    let Some(kind) = kinds.iter().find(|k| k.name() == section.kind) else {
        let known: Vec<&str> = kinds.iter().map(|k| k.name()).collect();
        let reason = format!("unknown kind `{}`; this build has: {}", section.kind, known.join(", "));
        return Err(vec![ConfigProblem::new("kind", reason)]);
    };
    let mut settings = section.settings.clone();
    let simulator = if sandbox { kind.simulator() } else { None };
    if let Some(simulator) = &simulator {
        crate::config::fill_in(&mut settings, simulator.sandbox_settings());
    }
    let context = match memory {
        Some(backend) => BuildContext { memory: Memory::new(id, backend) },
        None => BuildContext::ephemeral(id),
    };
    let adapter = kind.build(id, &settings, &context)?;
    let routes = section.routes_or(|| adapter.routes());
    let problems: Vec<ConfigProblem> = routes
        .iter()
        .filter_map(|route| Some(ConfigProblem::new("routes", format!("`{route}`: {}", check_pattern(route).err()?))))
        .collect();
    if !problems.is_empty() {
        return Err(problems);
    }
    let services = adapter.services();
    let runtime = AdapterRuntime {
        id: id.to_string(),
        adapter,
        routes,
        policy: section.delivery.clone(),
        services,
        requests: section.requests.clone(),
        contracts: section.schemas.clone(),
        guard: PeerGuard::new(id, section.breaker.clone(), &section.limits),
    };
    Ok(Built { runtime: Arc::new(runtime), sandbox: simulator.map(|s| (s, settings)) })
}
