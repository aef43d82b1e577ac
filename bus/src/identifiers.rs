//! The domain identifiers, checked by the patterns of `schemas/common.json` and nothing else:
//! the contract members read is the rule the bus, its config tables and its adapters apply.

use std::sync::OnceLock;

use jsonschema::Validator;
use serde_json::Value;

/// An identifier the canonical model defines in `schemas/common.json`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Identifier {
    /// A citizen ID (CCCD): 12 digits.
    Cccd,
    /// A tax code (MST): 10 digits, or 10-3 for a branch.
    Mst,
    /// An agency identifier code, such as `000.00.01.H42`.
    AgencyCode,
    /// A dossier code, such as `000.00.01.H42-261120-0001`.
    DossierCode,
    /// An administrative procedure code (mã TTHC), such as `1.001234`.
    ProcedureCode,
    /// An administrative unit code: a province (2 digits), a district before July 2025 (3) or a
    /// commune (5).
    UnitCode,
    /// A document type code from the procedure catalogue, such as `GKS`.
    DocumentType,
}

impl Identifier {
    const ALL: [Identifier; 7] = [
        Identifier::Cccd,
        Identifier::Mst,
        Identifier::AgencyCode,
        Identifier::DossierCode,
        Identifier::ProcedureCode,
        Identifier::UnitCode,
        Identifier::DocumentType,
    ];

    /// Its name under `$defs` in `schemas/common.json`.
    pub fn definition(self) -> &'static str {
        match self {
            Identifier::Cccd => "cccd",
            Identifier::Mst => "mst",
            Identifier::AgencyCode => "agency_code",
            Identifier::DossierCode => "dossier_code",
            Identifier::ProcedureCode => "procedure_code",
            Identifier::UnitCode => "unit_code",
            Identifier::DocumentType => "document_type",
        }
    }

    pub fn is_valid(self, text: &str) -> bool {
        checker(self).validator.is_valid(&Value::from(text))
    }

    /// `Ok` for a valid identifier; else what was expected, in the schema's words.
    pub fn check(self, text: &str) -> Result<(), InvalidIdentifier> {
        if self.is_valid(text) {
            Ok(())
        } else {
            Err(InvalidIdentifier { text: text.to_string(), expected: self.description() })
        }
    }

    /// The definition's `description`, such as "an agency identifier code such as 000.00.01.H42".
    pub fn description(self) -> &'static str {
        checker(self).description
    }
}

/// A text that is not the identifier it should be.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{text}` is not {expected}")]
pub struct InvalidIdentifier {
    pub text: String,
    pub expected: &'static str,
}

struct Checker {
    validator: Validator,
    description: &'static str,
}

/// The checkers, compiled once from the embedded `common.json`.
fn checker(identifier: Identifier) -> &'static Checker {
    static CHECKERS: OnceLock<Vec<Checker>> = OnceLock::new();
    let checkers = CHECKERS.get_or_init(|| {
        let text = crate::schema::embedded_text("common.json").expect("schemas/common.json is embedded");
        let common: Value = serde_json::from_str(text).expect("schemas/common.json is JSON");
        Identifier::ALL
            .iter()
            .map(|identifier| {
                let name = identifier.definition();
                let definition = &common["$defs"][name];
                let validator = jsonschema::validator_for(definition)
                    .unwrap_or_else(|e| panic!("schemas/common.json $defs/{name}: {e}"));
                let description = definition["description"]
                    .as_str()
                    .unwrap_or_else(|| panic!("schemas/common.json $defs/{name} has no description"));
                Checker { validator, description: description.to_string().leak() }
            })
            .collect()
    });
    let index = Identifier::ALL.iter().position(|i| *i == identifier).expect("every identifier is in ALL");
    &checkers[index]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identifiers_follow_the_schema() {
        let cases: [(Identifier, &[&str], &[&str]); 7] = [
            (Identifier::Cccd, &["001203000001"], &["00120300000", "0012030000011", "00120300000a"]),
            (Identifier::Mst, &["0101234567", "0101234567-001"], &["010123456", "0101234567-01", "0101234567001"]),
            (
                Identifier::AgencyCode,
                &["000.00.01.H42"],
                &[
                    "H42",
                    "000.00.01",
                    "000.00.01.h42",
                    "000.00.01.H4",
                    "00.000.01.H42",
                    "000-00-01-H42",
                    "000.00.01.H42 ",
                    "000.00.01.H42-261120",
                ],
            ),
            (Identifier::DossierCode, &["000.00.01.H42-261120-0001"], &["000.00.01.H42-261120", "H42-261120-0001"]),
            (
                Identifier::ProcedureCode,
                &["1.001234", "2.000123", "1.001234.000.00.01.H42"],
                &["TTHC", "4.001234", "1.00123", "1.001234x", "1.0012345"],
            ),
            (Identifier::UnitCode, &["42", "436", "18073"], &["4", "1807", "180733", "h42"]),
            (Identifier::DocumentType, &["GKS", "XN_CT.2"], &["gks", "", "GKS CT"]),
        ];
        for (identifier, good, bad) in cases {
            for text in good {
                assert!(identifier.is_valid(text), "{identifier:?} {text}");
            }
            for text in bad {
                assert!(!identifier.is_valid(text), "{identifier:?} {text}");
            }
        }
    }

    #[test]
    fn a_refusal_says_what_was_expected_in_the_schemas_words() {
        let refusal = Identifier::AgencyCode.check("H42").unwrap_err();
        assert_eq!(refusal.to_string(), "`H42` is not an agency identifier code such as 000.00.01.H42");
    }
}
