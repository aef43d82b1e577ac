//! Who is competent for a dossier: routing regardless of administrative boundary.
//!
//! A dossier received anywhere (any commune, the portal online, by post) goes to the agency
//! competent for its procedure in the unit it falls under. Two tables decide it, both data in
//! `config/`: the unit catalogue (provinces and communes, two levels since 1 July 2025, and the
//! old district codes older dossiers still carry, each mapped to the unit that took over its
//! competence) and the competence rules (procedure × unit → agency; a commune's rule wins over
//! its province's). They change by decision, so they are reloaded while the bus runs: a table
//! that does not check out is refused and the one in use stays.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use serde::{Deserialize, Serialize};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use crate::config::problem::{ConfigProblem, parse_section};
use crate::envelope::sha256_hex;
use crate::events;
use crate::identifiers::Identifier;

/// The unit catalogue.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Units {
    /// Provinces by their 2-digit code.
    #[serde(default)]
    pub provinces: BTreeMap<String, Province>,
    /// Communes (xã, phường, đặc khu) by their 5-digit code.
    #[serde(default)]
    pub communes: BTreeMap<String, Commune>,
    /// Districts abolished on 1 July 2025, by their 3-digit code, still on older dossiers.
    #[serde(default)]
    pub districts: BTreeMap<String, District>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Province {
    pub name: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Commune {
    pub name: String,
    /// The province it belongs to.
    pub province: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct District {
    pub name: String,
    pub province: String,
    /// The unit (a commune or the province) competent now for what the district handled.
    pub now: String,
}

/// `[[rule]]` of the competence table.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rule {
    /// The procedure code (mã TTHC).
    pub procedure: String,
    /// The unit (a province or a commune) the rule covers.
    pub unit: String,
    /// The competent agency's code.
    pub agency: String,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RuleFile {
    #[serde(default)]
    rule: Vec<Rule>,
}

/// Why no agency is competent: the trail of what was looked at.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct Undecided(pub String);

/// Where a dossier goes, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Decision {
    pub agency: String,
    pub reason: String,
}

/// The tables in use.
#[derive(Debug, Clone, Default)]
pub struct Competence {
    units: Units,
    rules: BTreeMap<(String, String), String>,
    /// SHA-256 over both files: which version decided.
    pub version: String,
}

impl Competence {
    /// Reads and checks both tables; every problem keyed by file and entry.
    pub fn load(units: &Path, rules: &Path) -> Result<Competence, Vec<ConfigProblem>> {
        let read = |path: &Path| {
            std::fs::read_to_string(path)
                .map_err(|e| vec![ConfigProblem::new(path.display().to_string(), format!("cannot read: {e}"))])
        };
        let (units_text, rules_text) = (read(units)?, read(rules)?);
        Self::from_toml(&units_text, &rules_text).map_err(|problems| {
            problems
                .into_iter()
                .map(|p| {
                    let file = if p.key.starts_with("rule") { rules } else { units };
                    p.under(&file.display().to_string())
                })
                .collect()
        })
    }

    pub fn from_toml(units_text: &str, rules_text: &str) -> Result<Competence, Vec<ConfigProblem>> {
        let table = |text: &str| text.parse::<toml::Table>().map_err(|e| vec![ConfigProblem::new("", e.to_string())]);
        let units: Units = parse_section(&table(units_text)?).map_err(|p| vec![p])?;
        let file: RuleFile = parse_section(&table(rules_text)?).map_err(|p| vec![p])?;
        let mut problems = Vec::new();
        for (code, commune) in &units.communes {
            if !is_unit_code(code, 5) {
                problems.push(ConfigProblem::new(format!("communes.{code}"), "a commune code is 5 digits"));
            }
            if !units.provinces.contains_key(&commune.province) {
                problems.push(ConfigProblem::new(
                    format!("communes.{code}.province"),
                    format!("`{}` is not a province of the catalogue", commune.province),
                ));
            }
        }
        for code in units.provinces.keys().filter(|code| !is_unit_code(code, 2)) {
            problems.push(ConfigProblem::new(format!("provinces.{code}"), "a province code is 2 digits"));
        }
        for (code, district) in &units.districts {
            if !is_unit_code(code, 3) {
                problems.push(ConfigProblem::new(format!("districts.{code}"), "a district code is 3 digits"));
            }
            if !units.provinces.contains_key(&district.province) {
                problems.push(ConfigProblem::new(
                    format!("districts.{code}.province"),
                    format!("`{}` is not a province of the catalogue", district.province),
                ));
            }
            if !units.provinces.contains_key(&district.now) && !units.communes.contains_key(&district.now) {
                problems.push(ConfigProblem::new(
                    format!("districts.{code}.now"),
                    format!("`{}` is neither a province nor a commune of the catalogue", district.now),
                ));
            }
        }
        if file.rule.is_empty() {
            // Most likely a file caught half-written: it would refuse every dossier.
            problems.push(ConfigProblem::new("rule", "there is no [[rule]]: every dossier would be refused"));
        }
        let mut rules = BTreeMap::new();
        for (index, rule) in file.rule.iter().enumerate() {
            let key = format!("rule[{index}]");
            if let Err(invalid) = Identifier::ProcedureCode.check(&rule.procedure) {
                problems.push(ConfigProblem::new(format!("{key}.procedure"), invalid.to_string()));
            }
            if !units.provinces.contains_key(&rule.unit) && !units.communes.contains_key(&rule.unit) {
                problems.push(ConfigProblem::new(
                    format!("{key}.unit"),
                    format!("`{}` is neither a province nor a commune of the catalogue", rule.unit),
                ));
            }
            if let Err(invalid) = Identifier::AgencyCode.check(&rule.agency) {
                problems.push(ConfigProblem::new(format!("{key}.agency"), invalid.to_string()));
            }
            let slot = (rule.procedure.clone(), rule.unit.clone());
            if let Some(earlier) = rules.insert(slot, rule.agency.clone())
                && earlier != rule.agency
            {
                problems.push(ConfigProblem::new(
                    key,
                    format!("procedure {} in unit {} already goes to {earlier}", rule.procedure, rule.unit),
                ));
            }
        }
        if !problems.is_empty() {
            return Err(problems);
        }
        let version = sha256_hex(format!("{units_text}\u{0}{rules_text}"))[..16].to_string();
        Ok(Competence { units, rules, version })
    }

    pub fn units(&self) -> &Units {
        &self.units
    }

    pub fn rule_count(&self) -> usize {
        self.rules.len()
    }

    /// The agencies some rule names.
    pub fn agencies(&self) -> impl Iterator<Item = &str> {
        self.rules.values().map(String::as_str)
    }

    /// The competent agency for `procedure` in `unit` (a commune, province or old district
    /// code), or why there is none.
    pub fn decide(&self, procedure: &str, unit: &str) -> Result<Decision, Undecided> {
        let mut trail = Vec::new();
        let mut unit = unit.to_string();
        if let Some(district) = self.units.districts.get(&unit) {
            trail.push(format!("old district {unit} ({}) is now {}", district.name, district.now));
            unit = district.now.clone();
        }
        let candidates: Vec<(String, String)> = if let Some(commune) = self.units.communes.get(&unit) {
            let province = self.units.provinces.get(&commune.province).map_or("", |p| p.name.as_str());
            vec![(unit.clone(), commune.name.clone()), (commune.province.clone(), province.to_string())]
        } else if let Some(province) = self.units.provinces.get(&unit) {
            vec![(unit.clone(), province.name.clone())]
        } else {
            return Err(Undecided(format!("unit {unit} is not in the unit catalogue")));
        };
        for (code, name) in &candidates {
            if let Some(agency) = self.rules.get(&(procedure.to_string(), code.clone())) {
                trail.push(format!("procedure {procedure} in {name} ({code}) is handled by {agency}"));
                return Ok(Decision { agency: agency.clone(), reason: trail.join("; ") });
            }
        }
        let looked: Vec<String> = candidates.iter().map(|(code, name)| format!("{name} ({code})")).collect();
        trail.push(format!("no competence rule for procedure {procedure} in {}", looked.join(" or ")));
        Err(Undecided(trail.join("; ")))
    }
}

/// The competence tables in use, reloaded when their files change.
#[derive(Clone)]
pub struct Routes {
    state: Arc<watch::Sender<RoutesState>>,
}

/// What operators see of the tables: the ones in use, and the last edit that was refused.
#[derive(Clone)]
pub struct RoutesState {
    pub current: Arc<Competence>,
    pub loaded_at: SystemTime,
    /// Set when the files were changed into tables that do not check out, until they do again.
    pub refused: Option<Refusal>,
}

#[derive(Clone)]
pub struct Refusal {
    pub at: SystemTime,
    pub problems: Vec<ConfigProblem>,
}

impl Routes {
    pub fn new(competence: Competence) -> Routes {
        let state = RoutesState { current: Arc::new(competence), loaded_at: SystemTime::now(), refused: None };
        Routes { state: Arc::new(watch::channel(state).0) }
    }

    pub fn current(&self) -> Arc<Competence> {
        self.state.borrow().current.clone()
    }

    pub fn state(&self) -> RoutesState {
        self.state.borrow().clone()
    }

    /// Sees every reload and refusal, as they happen.
    pub fn subscribe(&self) -> watch::Receiver<RoutesState> {
        self.state.subscribe()
    }

    fn replace(&self, competence: Competence) {
        self.state.send_modify(|state| {
            (state.current, state.loaded_at, state.refused) = (Arc::new(competence), SystemTime::now(), None)
        });
    }

    fn refuse(&self, problems: Vec<ConfigProblem>) {
        self.state.send_modify(|state| state.refused = Some(Refusal { at: SystemTime::now(), problems }));
    }

    /// Checks the files every `every` and takes them when they changed and check out.
    pub fn watch(&self, units: PathBuf, rules: PathBuf, every: Duration, shutdown: CancellationToken) {
        let routes = self.clone();
        tokio::spawn(async move {
            let stamp = |path: &Path| std::fs::metadata(path).and_then(|m| m.modified()).ok();
            let mut seen = (stamp(&units), stamp(&rules));
            loop {
                tokio::select! {
                    _ = tokio::time::sleep(every) => {}
                    _ = shutdown.cancelled() => return,
                }
                let now = (stamp(&units), stamp(&rules));
                if now == seen {
                    continue;
                }
                seen = now;
                match Competence::load(&units, &rules) {
                    Ok(competence) if competence.version != routes.current().version => {
                        events::routing_tables_reloaded(&competence.version, competence.rule_count());
                        routes.replace(competence);
                    }
                    // Back to the tables in use, after a refused edit.
                    Ok(_) => {
                        routes.state.send_if_modified(|state| state.refused.take().is_some());
                    }
                    Err(problems) => {
                        events::routing_tables_refused(&problems);
                        routes.refuse(problems);
                    }
                }
            }
        });
    }
}

/// A unit code (`schemas/common.json`) of the length its level has.
fn is_unit_code(code: &str, len: usize) -> bool {
    code.len() == len && Identifier::UnitCode.is_valid(code)
}

#[cfg(test)]
mod tests {
    use super::*;

    const UNITS: &str = r#"
        [provinces.42]
        name = "Hà Tĩnh"
        [provinces.01]
        name = "Hà Nội"
        [communes.18073]
        name = "Xã Thạch Hà"
        province = "42"
        [communes.18100]
        name = "Phường Thành Sen"
        province = "42"
        [districts.436]
        name = "Huyện Thạch Hà"
        province = "42"
        now = "18073"
    "#;
    const RULES: &str = r#"
        [[rule]]
        procedure = "1.001193"
        unit = "18073"
        agency = "000.00.31.H42"
        [[rule]]
        procedure = "1.001234"
        unit = "42"
        agency = "000.00.20.H42"
    "#;

    #[test]
    fn a_communes_rule_wins_and_the_province_covers_the_rest() {
        let competence = Competence::from_toml(UNITS, RULES).unwrap();
        let local = competence.decide("1.001193", "18073").unwrap();
        assert_eq!(local.agency, "000.00.31.H42");
        assert!(local.reason.contains("Xã Thạch Hà (18073)"), "{}", local.reason);
        // Submitted in any commune of the province, a province-wide procedure goes to one agency.
        for unit in ["18073", "18100", "42"] {
            assert_eq!(competence.decide("1.001234", unit).unwrap().agency, "000.00.20.H42");
        }
    }

    #[test]
    fn an_old_district_code_is_mapped_and_gaps_are_explained() {
        let competence = Competence::from_toml(UNITS, RULES).unwrap();
        let old = competence.decide("1.001193", "436").unwrap();
        assert_eq!(old.agency, "000.00.31.H42");
        assert!(old.reason.starts_with("old district 436 (Huyện Thạch Hà) is now 18073"), "{}", old.reason);

        let none = competence.decide("1.001193", "18100").unwrap_err().0;
        assert!(
            none.contains("1.001193") && none.contains("Phường Thành Sen (18100)") && none.contains("Hà Tĩnh (42)"),
            "{none}"
        );
        assert!(competence.decide("1.001234", "99999").unwrap_err().0.contains("not in the unit catalogue"));
    }

    #[test]
    fn bad_tables_are_refused_with_every_problem() {
        let units = UNITS.replace("province = \"42\"\n        [districts", "province = \"43\"\n        [districts");
        let rules = format!(
            "{RULES}\n[[rule]]\nprocedure = \"TTHC\"\nunit = \"77777\"\nagency = \"H42\"\n[[rule]]\nprocedure = \"1.001193\"\nunit = \"18073\"\nagency = \"000.00.99.H42\"\n"
        );
        let problems = Competence::from_toml(&units, &rules).unwrap_err();
        let keys: Vec<&str> = problems.iter().map(|p| p.key.as_str()).collect();
        for expected in ["communes.18100.province", "rule[2].procedure", "rule[2].unit", "rule[2].agency", "rule[3]"] {
            assert!(keys.contains(&expected), "{expected} not in {problems:#?}");
        }
        // An empty rule file is an editor's half-written save, not a decision to refuse all.
        let problems = Competence::from_toml(UNITS, "").unwrap_err();
        assert_eq!(problems[0].key, "rule", "{problems:#?}");
    }

    #[test]
    fn the_repository_tables_check_out() {
        let config = Path::new(env!("CARGO_MANIFEST_DIR")).join("../config");
        let competence = Competence::load(&config.join("units.toml"), &config.join("routing.toml")).unwrap();
        assert!(competence.units().provinces.len() >= 2);
        assert!(!competence.units().districts.is_empty());
        assert!(competence.rule_count() >= 3);
    }
}
