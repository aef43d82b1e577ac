//! The mapping: a minijinja template an agency writes to turn a canonical message into the body
//! its service wants. Pure: compiled once, rendered for each delivery, no I/O.
//!
//! The template sees `envelope` (the canonical envelope as JSON: `id`, `type`, `source`,
//! `subject`, `seq`, `occurred_at`, `correlation_id` when set, `payload`) and `annotations` (what
//! the bus added at ingress, `{}` when nothing). Its output must be JSON; that JSON is the body.
//!
//! The environment is set for JSON, not HTML: no autoescape (every string goes through
//! `|tojson`), undefined values are errors (`UndefinedBehavior::Strict`, so a field the payload
//! lacks fails the message instead of sending an empty one; `is defined` and `|default` test for
//! optional fields), no includes or macros (one template, from the settings), and a fuel budget,
//! so a runaway loop fails its message instead of holding a lane.

use lgsp_bus::ConfigProblem;
use minijinja::value::{Kwargs, Serde, StringInput};
use minijinja::{AutoEscape, Environment, State, UndefinedBehavior};
use serde_json::{Value, json};

/// The template's name, as its errors give it: "(in mapping:3)".
pub const TEMPLATE_NAME: &str = "mapping";
/// Work one render may do (about one unit per instruction or per 64 bytes made): far above any
/// mapping of one message, far below what would hold a lane for long.
pub const FUEL: u64 = 1_000_000;

/// A compiled mapping.
pub struct Mapping {
    env: Environment<'static>,
}

impl std::fmt::Debug for Mapping {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Mapping")
    }
}

/// Why a template does not compile, or a message cannot be mapped. The text names the line and
/// the error, never a value the template was given (they may be personal data).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MappingError {
    #[error("line {line}: {message}")]
    Template { line: usize, message: String },
    #[error("{0}")]
    Engine(String),
    #[error("the output is not JSON: {0}")]
    NotJson(String),
}

impl From<minijinja::Error> for MappingError {
    fn from(error: minijinja::Error) -> Self {
        // Only the kind and the detail: the error's debug info would quote the template's variables.
        let message = match error.detail() {
            Some(detail) => format!("{}: {detail}", error.kind()),
            None => error.kind().to_string(),
        };
        match error.line() {
            Some(line) => MappingError::Template { line, message },
            None => MappingError::Engine(message),
        }
    }
}

impl Mapping {
    /// Compiles `source`; the error names the line.
    pub fn compile(source: &str) -> Result<Mapping, MappingError> {
        let mut env = Environment::new();
        env.set_undefined_behavior(UndefinedBehavior::Strict);
        env.set_auto_escape_callback(|_| AutoEscape::None);
        env.add_filter("tojson", strict_tojson);
        // Lets an undefined value's error name its expression (`envelope.payload.x`). The
        // variables' values it also keeps are never shown: see `From<minijinja::Error>`.
        env.set_debug(true);
        env.set_fuel(Some(FUEL));
        env.add_template_owned(TEMPLATE_NAME, source.to_string())?;
        Ok(Mapping { env })
    }

    /// The body for `envelope` (the canonical envelope as JSON) and its `annotations`.
    pub fn render(&self, envelope: &Value, annotations: &Value) -> Result<Value, MappingError> {
        let template = self.env.get_template(TEMPLATE_NAME)?;
        let context = minijinja::context! {
            envelope => minijinja::Value::from(Serde(envelope)),
            annotations => minijinja::Value::from(Serde(annotations)),
        };
        let text = template.render(context)?;
        serde_json::from_str(&text).map_err(|e| MappingError::NotJson(e.to_string()))
    }
}

/// `tojson` as the builtin, except that an undefined value is an error, as `Strict` means: the
/// builtin writes it as `null`, so a field missing from the payload would be sent as null.
fn strict_tojson(
    state: &State,
    value: &minijinja::Value,
    indent: Option<minijinja::Value>,
    kwargs: Kwargs,
) -> Result<minijinja::Value, minijinja::Error> {
    if value.is_undefined() {
        // Fails as any strict use of an undefined value does, naming the expression.
        StringInput::new(state, value)?;
    }
    minijinja::filters::tojson(value, indent, kwargs)
}

/// Checks a mapping as the bus registers it: it compiles, and each of `samples` (canonical
/// envelopes, such as [`sample_envelope`] makes of the schemas' examples) renders into JSON,
/// with empty annotations. Every problem is on key `mapping`.
pub fn check_mapping(template: &str, samples: &[Value]) -> Result<(), Vec<ConfigProblem>> {
    let mapping = Mapping::compile(template)
        .map_err(|error| vec![ConfigProblem::new("mapping", format!("does not compile: {error}"))])?;
    let annotations = json!({});
    let problems: Vec<ConfigProblem> = samples
        .iter()
        .enumerate()
        .filter_map(|(index, sample)| {
            let error = mapping.render(sample, &annotations).err()?;
            let message_type = sample.get("type").and_then(Value::as_str).unwrap_or("no type");
            let reason = format!("sample {} ({message_type}): {error}", index + 1);
            Some(ConfigProblem::new("mapping", lgsp_bus::privacy::redact(&reason)))
        })
        .collect();
    if problems.is_empty() { Ok(()) } else { Err(problems) }
}

/// A canonical envelope around `payload`, to check a mapping with: what a member would send of
/// `message_type`, its subject the payload's dossier code when it has one.
pub fn sample_envelope(message_type: &str, payload: Value) -> Value {
    let subject = payload.get("dossier_code").and_then(Value::as_str).unwrap_or("sample").to_string();
    json!({
        "id": "019a9e4c-7b1e-7c3a-9f7e-2d4b6a8c0e11",
        "type": message_type,
        "source": "sample.member",
        "subject": subject,
        "seq": 1,
        "occurred_at": "2026-11-20T09:15:00+07:00",
        "payload": payload,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn envelope() -> Value {
        sample_envelope(
            "dossier.submitted",
            json!({
                "dossier_code": "000.00.31.H42-261120-0001",
                "applicant": {"kind": "citizen", "id": "001203000001", "name": "Nguyễn Văn \"An\""},
                "documents": [{"code": "TK01"}, {"code": "GCN"}],
                "fees": [],
            }),
        )
    }

    #[test]
    fn a_template_maps_field_by_field_into_json() {
        let mapping = Mapping::compile(
            r#"{
              "maHoSo": {{ envelope.payload.dossier_code | tojson }},
              "hoTen": {{ envelope.payload.applicant.name | tojson }},
              "giayTo": [{% for d in envelope.payload.documents %}{{ d.code | tojson }}{% if not loop.last %},{% endif %}{% endfor %}],
              "phiDauTien": {{ (envelope.payload.fees | first | default(none)) | tojson }},
              "ghiChu": {{ envelope.payload.note | default("") | tojson }},
              "coQuan": {{ (annotations.routing.agency if annotations.routing is defined else none) | tojson }},
              "loai": {{ envelope.type | tojson }}
            }"#,
        )
        .unwrap();
        let body = mapping.render(&envelope(), &json!({})).unwrap();
        assert_eq!(
            body,
            json!({
                "maHoSo": "000.00.31.H42-261120-0001",
                "hoTen": "Nguyễn Văn \"An\"",
                "giayTo": ["TK01", "GCN"],
                "phiDauTien": null,
                "ghiChu": "",
                "coQuan": null,
                "loai": "dossier.submitted",
            })
        );
        let annotated = mapping.render(&envelope(), &json!({"routing": {"agency": "000.00.31.H42"}})).unwrap();
        assert_eq!(annotated["coQuan"], "000.00.31.H42");
    }

    #[test]
    fn a_missing_field_fails_and_names_the_expression_not_its_values() {
        let mapping = Mapping::compile("{\n\"x\": {{ envelope.payload.parcel.number | tojson }}\n}").unwrap();
        let error = mapping.render(&envelope(), &json!({})).unwrap_err();
        let MappingError::Template { line, message } = &error else { panic!("{error:?}") };
        assert_eq!(*line, 2);
        assert!(message.starts_with("undefined value"), "{message}");
        assert!(message.contains("envelope.payload.parcel"), "{message}");
        assert!(!error.to_string().contains("001203000001"), "{error}");
    }

    #[test]
    fn output_that_is_not_json_is_refused() {
        let mapping = Mapping::compile("{\"name\": {{ envelope.payload.applicant.name }}}").unwrap();
        let error = mapping.render(&envelope(), &json!({})).unwrap_err();
        assert!(matches!(error, MappingError::NotJson(_)), "{error:?}");
        assert!(!error.to_string().contains("Nguyễn"), "{error}");
    }

    #[test]
    fn html_is_not_escaped() {
        let mapping = Mapping::compile("{{ \"<a & b>\" | tojson }}").unwrap();
        assert_eq!(mapping.render(&envelope(), &json!({})).unwrap(), json!("<a & b>"));
    }

    #[test]
    fn a_template_that_does_not_compile_names_its_line() {
        let error = Mapping::compile("{\n  \"a\": {{ envelope.id | tojson }},\n  \"b\": {% if %}\n}").unwrap_err();
        let MappingError::Template { line, message } = error else { panic!() };
        assert_eq!(line, 3);
        assert!(message.starts_with("syntax error"), "{message}");
        assert!(Mapping::compile("{% include \"other\" %}").is_err(), "one template, no includes");
        // Filters are looked up as the template runs: check_mapping's samples find an unknown one.
        let unknown = Mapping::compile("{{ envelope | nosuchfilter }}").unwrap();
        let error = unknown.render(&envelope(), &json!({})).unwrap_err();
        assert!(error.to_string().starts_with("line 1: unknown filter"), "{error}");
    }

    #[test]
    fn a_runaway_template_runs_out_of_fuel() {
        let mapping =
            Mapping::compile("[{% for i in range(100000) %}{% for j in range(100000) %}0,{% endfor %}{% endfor %}0]")
                .unwrap();
        let error = mapping.render(&envelope(), &json!({})).unwrap_err();
        assert!(error.to_string().contains("fuel"), "{error}");
    }

    #[test]
    fn check_mapping_reports_each_sample_that_fails() {
        let template = "{\"parcel\": {{ envelope.payload.parcel | tojson }}}";
        let with_parcel = sample_envelope("land.registered", json!({"parcel": "12/345"}));
        assert_eq!(check_mapping(template, std::slice::from_ref(&with_parcel)), Ok(()));
        let problems = check_mapping(template, &[with_parcel, envelope()]).unwrap_err();
        assert_eq!(problems.len(), 1);
        assert_eq!(problems[0].key, "mapping");
        assert!(
            problems[0].reason.starts_with("sample 2 (dossier.submitted): line 1: undefined value"),
            "{}",
            problems[0]
        );

        let problems = check_mapping("{{ envelope.id ", &[]).unwrap_err();
        assert_eq!(problems.len(), 1);
        assert!(problems[0].reason.starts_with("does not compile: line 1: syntax error"), "{}", problems[0]);
    }
}
