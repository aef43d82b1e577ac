//! The procedure catalogue: the province's administrative procedures (codes from the national
//! procedure database) and the papers each needs that the state may already hold. It is data
//! (`config/procedures.toml`), since procedures and their requirements change by decision. The
//! processing time of each, in working days, and the calendar of working days give due dates.

use std::collections::BTreeMap;
use std::path::Path;

use serde::Deserialize;

use crate::calendar::{Calendar, MAX_PROCESSING_DAYS};
use crate::config::problem::{ConfigProblem, parse_section};
use crate::identifiers::Identifier;

#[derive(Debug, Clone, Default)]
pub struct Procedures {
    by_code: BTreeMap<String, Procedure>,
    /// `[calendar]`: the working days due dates are reckoned in.
    pub calendar: Calendar,
}

/// `[procedures."<code>"]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Procedure {
    /// Its name, as the national procedure database words it.
    pub name: String,
    /// Document types (codes) the procedure needs that a result of another procedure can
    /// provide, such as `GKS` (birth certificate).
    #[serde(default)]
    pub requires: Vec<String>,
    /// How many working days the procedure gives the agency (its processing time in the
    /// national procedure database); a dossier's due date follows from it.
    pub processing_days: Option<u32>,
}

impl Procedures {
    /// Reads a catalogue file; every problem keyed as `procedures."<code>".<key>`.
    pub fn load(path: &Path) -> Result<Procedures, Vec<ConfigProblem>> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| vec![ConfigProblem::new("bus.procedures", format!("cannot read {}: {e}", path.display()))])?;
        Self::from_toml(&text)
    }

    pub fn from_toml(text: &str) -> Result<Procedures, Vec<ConfigProblem>> {
        let mut table: toml::Table =
            text.parse().map_err(|e: toml::de::Error| vec![ConfigProblem::new("procedures", e.to_string())])?;
        let mut problems: Vec<ConfigProblem> = table
            .keys()
            .filter(|k| !matches!(k.as_str(), "procedures" | "calendar"))
            .map(|k| ConfigProblem::new(k.as_str(), "unknown section; expected procedures or calendar"))
            .collect();
        let calendar = match table.remove("calendar") {
            Some(toml::Value::Table(calendar)) => parse_section::<Calendar>(&calendar).unwrap_or_else(|problem| {
                problems.push(problem.under("calendar"));
                Calendar::default()
            }),
            None => Calendar::default(),
            Some(_) => return Err(vec![ConfigProblem::new("calendar", "must be a table")]),
        };
        let mut by_code = BTreeMap::new();
        let entries = match table.remove("procedures") {
            Some(toml::Value::Table(entries)) => entries,
            None => toml::Table::new(),
            Some(_) => return Err(vec![ConfigProblem::new("procedures", "must be a table")]),
        };
        for (code, entry) in entries {
            let key = format!("procedures.\"{code}\"");
            if let Err(invalid) = Identifier::ProcedureCode.check(&code) {
                problems.push(ConfigProblem::new(key.clone(), invalid.to_string()));
            }
            let toml::Value::Table(entry) = entry else {
                problems.push(ConfigProblem::new(key, "must be a table"));
                continue;
            };
            match parse_section::<Procedure>(&entry) {
                Ok(procedure) => {
                    if procedure.processing_days.is_some_and(|days| days == 0 || days > MAX_PROCESSING_DAYS) {
                        let problem = format!("must be from 1 to {MAX_PROCESSING_DAYS} working days");
                        problems.push(ConfigProblem::new(format!("{key}.processing_days"), problem));
                    }
                    for kind in &procedure.requires {
                        if let Err(invalid) = Identifier::DocumentType.check(kind) {
                            problems.push(ConfigProblem::new(format!("{key}.requires"), invalid.to_string()));
                        }
                    }
                    by_code.insert(code, procedure);
                }
                Err(problem) => problems.push(problem.under(&key)),
            }
        }
        if problems.is_empty() { Ok(Procedures { by_code, calendar }) } else { Err(problems) }
    }

    pub fn get(&self, code: &str) -> Option<&Procedure> {
        self.by_code.get(code)
    }

    /// The document types a procedure needs (none for a procedure not in the catalogue).
    pub fn requires(&self, code: &str) -> &[String] {
        self.get(code).map_or(&[], |p| p.requires.as_slice())
    }

    /// When a dossier of this procedure received at `received` is due, from the catalogue's
    /// processing time; `None` for a procedure without one (its one-stop system's date stands).
    pub fn due(&self, code: &str, received: time::OffsetDateTime) -> Option<time::OffsetDateTime> {
        let days = self.get(code)?.processing_days?;
        Some(self.calendar.due(received, days))
    }

    pub fn len(&self) -> usize {
        self.by_code.len()
    }

    pub fn is_empty(&self) -> bool {
        self.by_code.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_repository_catalogue_parses() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../config/procedures.toml");
        let procedures = Procedures::load(&path).unwrap();
        assert!(procedures.len() >= 3);
        assert!(procedures.requires("1.001234").contains(&"GKS".to_string()));
        assert!(procedures.requires("9.999999").is_empty());
        let received = time::macros::datetime!(2026-11-20 08:30 +07:00);
        assert_eq!(procedures.due("1.001234", received), Some(time::macros::datetime!(2026-11-27 17:00 +07:00)));
        assert_eq!(procedures.due("9.999999", received), None);
        assert!(!procedures.calendar.holidays.is_empty());
    }

    #[test]
    fn problems_are_keyed() {
        let text = r#"
            [procedures."1.001234"]
            name = "Đăng ký thường trú"
            requires = ["gks"]
            [procedures."TTHC"]
            name = "x"
            [procedures."2.000123"]
            title = "x"
            [procedures."1.004227"]
            name = "x"
            processing_days = 0
            [calendar]
            holidays = ["2026-02-30"]
        "#;
        let problems = Procedures::from_toml(text).unwrap_err();
        let keys: Vec<&str> = problems.iter().map(|p| p.key.as_str()).collect();
        assert!(keys.contains(&"procedures.\"1.001234\".requires"), "{problems:?}");
        assert!(keys.contains(&"procedures.\"TTHC\""), "{problems:?}");
        assert!(keys.iter().any(|k| k.starts_with("procedures.\"2.000123\"")), "{problems:?}");
        assert!(keys.contains(&"procedures.\"1.004227\".processing_days"), "{problems:?}");
        assert!(keys.iter().any(|k| k.starts_with("calendar")), "{problems:?}");
    }
}
