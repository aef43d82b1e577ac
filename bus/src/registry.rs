//! The adapters this bus runs, built from `[adapters.*]` by the kinds the binary registered.

use std::sync::Arc;

use crate::adapter::{Adapter, AdapterKind, BuildContext, Simulator};
use crate::config::{AdapterSection, Config, ConfigProblem};
use crate::engine::AdapterRuntime;
use crate::engine::guard::PeerGuard;
use crate::memory::{Memory, Remember};
use crate::routing::check_pattern;

/// A configured adapter, and its peer's simulator when running in sandbox mode.
pub struct Built {
    pub runtime: Arc<AdapterRuntime>,
    /// The simulator and the settings it must accept (the adapter's own).
    pub sandbox: Option<SandboxPeer>,
}

/// A kind's simulator, and the settings it must accept.
pub type SandboxPeer = (Arc<dyn Simulator>, toml::Table);

/// An adapter a kind built, and in sandbox mode its peer's simulator.
pub type KindBuilt = (Arc<dyn Adapter>, Option<SandboxPeer>);

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
    let kind = kind_named(kinds, &section.kind).map_err(|problem| vec![problem])?;
    let (adapter, sandbox) = build_adapter(kind, id, &section.settings, sandbox, memory)?;
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
    Ok(Built { runtime: Arc::new(runtime), sandbox })
}

/// The kind called `name`, or the problem naming the kinds this build has.
pub fn kind_named<'a>(
    kinds: &'a [Arc<dyn AdapterKind>],
    name: &str,
) -> Result<&'a Arc<dyn AdapterKind>, ConfigProblem> {
    kinds.iter().find(|k| k.name() == name).ok_or_else(|| {
        let known: Vec<&str> = kinds.iter().map(|k| k.name()).collect();
        ConfigProblem::new("kind", format!("unknown kind `{name}`; this build has: {}", known.join(", ")))
    })
}

/// The adapter a kind builds from its settings; in sandbox mode the kind's simulator fills in
/// what the settings leave unset, and comes back with the settings it must accept.
pub fn build_adapter(
    kind: &Arc<dyn AdapterKind>,
    id: &str,
    settings: &toml::Table,
    sandbox: bool,
    memory: Option<Arc<dyn Remember>>,
) -> Result<KindBuilt, Vec<ConfigProblem>> {
    let mut settings = settings.clone();
    let simulator = if sandbox { kind.simulator() } else { None };
    if let Some(simulator) = &simulator {
        crate::config::fill_in(&mut settings, simulator.sandbox_settings());
    }
    let context = match memory {
        Some(backend) => BuildContext { memory: Memory::new(id, backend) },
        None => BuildContext::ephemeral(id),
    };
    let adapter = kind.build(id, &settings, &context)?;
    Ok((adapter, simulator.map(|s| (s, settings))))
}
