//! Named events of the `population` adapter, following the convention of [`lgsp_bus::events`]:
//! its lookups in the population registry, by dossier and outcome, never the citizen.

use lgsp_bus::events::adapter_event;

const KIND: &str = "population";

/// A request the adapter cannot read; `reason` is redacted already.
pub fn request_unreadable(reason: &str) {
    adapter_event(KIND, "request_unreadable");
    tracing::warn!(event = "population_request_unreadable", %reason);
}

/// The registry answered: `outcome` is `match`, `mismatch` or `not_found`.
pub fn looked_up(dossier: &str, outcome: &str) {
    adapter_event(KIND, "lookup");
    tracing::info!(event = "population_lookup", dossier, outcome);
}

/// No answer: `outcome` is `refused` or `unavailable`; `reason` is the failure's, redacted already.
pub fn lookup_failed(dossier: &str, outcome: &str, reason: &str) {
    adapter_event(KIND, "lookup");
    tracing::warn!(event = "population_lookup", dossier, outcome, reason = %reason);
}

pub fn fields_unusable(dossier: &str, fields: &[&str]) {
    adapter_event(KIND, "fields_unusable");
    tracing::warn!(
        event = "population_fields_unusable",
        dossier,
        ?fields,
        "the record holds these fields in a form the reply cannot carry; left out"
    );
}
