//! The schema catalogue: `schemas/*.json`, embedded at build time, compiled once.
//!
//! `envelope.json` checks the envelope, `<type>.json` each message type's payload, and
//! `common.json` holds the shared definitions (identifiers, dates, the dossier). Every violation is
//! reported with a JSON pointer into the submitted document and a reason a member's developer can
//! act on; the reason quotes the failing definition's `description` (or its `x-lgsp-reason`).

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use jsonschema::{ValidationError, Validator, error::ValidationErrorKind};
use serde::Serialize;
use serde_json::Value;

use crate::envelope::Envelope;

mod embedded {
    include!(concat!(env!("OUT_DIR"), "/schemas.rs"));
}

/// The text of an embedded schema file, such as `common.json`.
pub(crate) fn embedded_text(name: &str) -> Option<&'static str> {
    embedded::SCHEMAS.iter().find(|(file, _)| *file == name).map(|(_, text)| *text)
}

/// A schema file that does not compile: the binary was built with a broken contract.
#[derive(Debug, thiserror::Error)]
#[error("schemas/{file}: {reason}")]
pub struct SchemaError {
    file: String,
    reason: String,
}

impl SchemaError {
    fn new(file: &str, reason: impl ToString) -> SchemaError {
        SchemaError { file: file.to_string(), reason: reason.to_string() }
    }
}

/// One thing wrong with a submitted document.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, utoipa::ToSchema)]
pub struct Violation {
    /// JSON pointer (RFC 6901) to the offending value, such as `/payload/applicant/id`.
    pub pointer: String,
    pub reason: String,
}

impl Violation {
    pub fn new(pointer: impl Into<String>, reason: impl Into<String>) -> Self {
        Self { pointer: pointer.into(), reason: reason.into() }
    }
}

struct MessageType {
    validator: Validator,
    /// Pointer into the payload whose value the envelope's subject must equal.
    subject_pointer: Option<String>,
    /// `x-lgsp-state`: a message of this type carries its subject's whole state, so a newer one
    /// supersedes it. Other types are events or commands: each one counts.
    state: bool,
    /// `x-lgsp-sender: "bus"`: only the bus itself sends it (its monthly report, say); a member
    /// or an adapter that tries is refused.
    bus_only: bool,
}

/// A request/reply service's contract: its request and reply schemas, and what its lookups
/// record. The catalogue's come from `schemas/`; an agency's from the schemas it uploaded.
#[derive(Debug)]
pub struct ServiceSchema {
    request: Validator,
    reply: Validator,
    /// Pointers (`x-lgsp-subject`, `x-lgsp-purpose`, `x-lgsp-fields`) to what a lookup's audit
    /// records: whose data, for which dossier, which parts.
    subject: Option<String>,
    purpose: Option<String>,
    fields: Option<String>,
    /// `x-lgsp-fields-absent: "all"`: a request that names no fields asks for all of them (as
    /// documents.lookup without `types`), so its rights check and audit see `*`.
    all_when_absent: bool,
    /// Pointer (`x-lgsp-returned` of the reply schema) to the personal data an answer holds.
    returned: Option<String>,
}

/// What a lookup's audit record says about one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LookupFacts {
    /// Whose data: a CCCD or an MST.
    pub subject: String,
    /// The dossier the lookup is for.
    pub dossier_code: String,
    /// The parts of the record asked for.
    pub fields: Vec<String>,
}

pub struct Catalogue {
    envelope: Validator,
    message_types: BTreeMap<String, MessageType>,
    /// Request/reply services: `<service>.request.json` and `<service>.reply.json`.
    services: BTreeMap<String, Arc<ServiceSchema>>,
    /// Every schema document by file name.
    documents: BTreeMap<String, Value>,
    /// File name by `$id`, to find the definition a violation comes from.
    files_by_id: HashMap<String, String>,
}

impl Catalogue {
    /// The schemas this binary was built with.
    pub fn embedded() -> Result<Self, SchemaError> {
        Self::from_documents(embedded::SCHEMAS)
    }

    /// Builds the catalogue from (file name, JSON text) pairs.
    pub fn from_documents(files: &[(&str, &str)]) -> Result<Self, SchemaError> {
        let mut documents = BTreeMap::new();
        let mut files_by_id = HashMap::new();
        for (name, text) in files {
            let doc: Value =
                serde_json::from_str(text).map_err(|e| SchemaError::new(name, format!("not JSON: {e}")))?;
            let id = doc["$id"].as_str().ok_or_else(|| SchemaError::new(name, "has no $id"))?;
            files_by_id.insert(id.to_string(), name.to_string());
            documents.insert(name.to_string(), doc);
        }
        let registry = jsonschema::Registry::new()
            .extend(documents.values().map(|doc| (doc["$id"].as_str().unwrap().to_string(), doc.clone())))
            .and_then(|builder| builder.prepare())
            .map_err(|e| SchemaError::new("*", e))?;
        let compile = |name: &str| -> Result<Validator, SchemaError> {
            let Some(document) = documents.get(name) else {
                return Err(SchemaError::new(name, "is required"));
            };
            jsonschema::options()
                .with_registry(&registry)
                .should_validate_formats(true)
                .build(document)
                .map_err(|e| SchemaError::new(name, e))
        };

        let envelope = compile("envelope.json")?;
        let mut message_types = BTreeMap::new();
        let mut services = BTreeMap::new();
        for (name, doc) in &documents {
            if let Some(message_type) = message_type_of(name) {
                let subject_pointer = doc.get("x-lgsp-subject").and_then(Value::as_str).map(String::from);
                let state = doc.get("x-lgsp-state").and_then(Value::as_bool).unwrap_or(false);
                let bus_only = doc.get("x-lgsp-sender").and_then(Value::as_str) == Some("bus");
                message_types.insert(
                    message_type.to_string(),
                    MessageType { validator: compile(name)?, subject_pointer, state, bus_only },
                );
            } else if let Some(service) = name.strip_suffix(".request.json") {
                let reply = format!("{service}.reply.json");
                if !documents.contains_key(&reply) {
                    return Err(SchemaError::new(name, format!("has no {reply}")));
                }
                let (request, reply) = ((compile(name)?, doc), (compile(&reply)?, &documents[&reply]));
                services.insert(service.to_string(), Arc::new(ServiceSchema::of(request, reply)));
            }
        }
        Ok(Catalogue { envelope, message_types, services, documents, files_by_id })
    }

    pub fn message_types(&self) -> impl Iterator<Item = &str> {
        self.message_types.keys().map(String::as_str)
    }

    /// The first example payload of a message type's schema.
    pub fn example(&self, message_type: &str) -> Option<&Value> {
        self.documents.get(&format!("{message_type}.json"))?.pointer("/examples/0")
    }

    /// The envelope subject a payload of this type must carry (see `x-lgsp-subject`).
    pub fn subject_of(&self, message_type: &str, payload: &Value) -> Option<String> {
        let pointer = self.message_types.get(message_type)?.subject_pointer.as_ref()?;
        payload.pointer(pointer).and_then(Value::as_str).map(String::from)
    }

    /// Whether only the bus itself sends messages of this type (see `x-lgsp-sender`).
    pub fn is_bus_only(&self, message_type: &str) -> bool {
        self.message_types.get(message_type).is_some_and(|t| t.bus_only)
    }

    /// Whether messages of this type carry their subject's state (see `x-lgsp-state`).
    pub fn is_state(&self, message_type: &str) -> bool {
        self.message_types.get(message_type).is_some_and(|t| t.state)
    }

    pub fn services(&self) -> impl Iterator<Item = &str> {
        self.services.keys().map(String::as_str)
    }

    /// The parts of the record a service may be asked for (the enum of its `x-lgsp-fields`),
    /// when its schema lists them.
    pub fn service_fields(&self, service: &str) -> Option<Vec<String>> {
        let pointer = self.services.get(service)?.fields.as_ref()?;
        let request = self.documents.get(&format!("{service}.request.json"))?;
        let listed = request.pointer(&format!("{}/items/enum", pointer.replace('/', "/properties/")))?;
        Some(listed.as_array()?.iter().filter_map(Value::as_str).map(String::from).collect())
    }

    /// The contract of one of the catalogue's services.
    pub fn service(&self, service: &str) -> Option<Arc<ServiceSchema>> {
        self.services.get(service).cloned()
    }

    /// Checks a request to a service; `None` when there is no such service.
    pub fn check_request(&self, service: &str, request: &Value) -> Option<Result<(), Vec<Violation>>> {
        Some(self.check_request_with(self.services.get(service)?, request))
    }

    /// Checks a request against a service's contract.
    pub fn check_request_with(&self, contract: &ServiceSchema, request: &Value) -> Result<(), Vec<Violation>> {
        self.check(&contract.request, request)
    }

    /// Checks an adapter's reply: the bus never passes on a reply that breaks the contract.
    pub fn check_reply(&self, service: &str, reply: &Value) -> Result<(), Vec<Violation>> {
        let Some(contract) = self.services.get(service) else {
            return Err(vec![Violation::new("", format!("no service {service}"))]);
        };
        self.check_reply_with(contract, reply)
    }

    /// Checks a reply against a service's contract.
    pub fn check_reply_with(&self, contract: &ServiceSchema, reply: &Value) -> Result<(), Vec<Violation>> {
        self.check(&contract.reply, reply)
    }

    fn check(&self, validator: &Validator, value: &Value) -> Result<(), Vec<Violation>> {
        match self.violations(validator, value, "") {
            violations if violations.is_empty() => Ok(()),
            violations => Err(violations),
        }
    }

    /// A schema document by file name, such as `dossier.status_changed.json`.
    pub fn document(&self, name: &str) -> Option<&Value> {
        self.documents.get(name)
    }

    pub fn documents(&self) -> impl Iterator<Item = (&str, &Value)> {
        self.documents.iter().map(|(name, doc)| (name.as_str(), doc))
    }

    /// Checks a submitted envelope and its payload; lists every violation.
    pub fn check_envelope(&self, value: Value) -> Result<Envelope, Vec<Violation>> {
        let mut violations = self.violations(&self.envelope, &value, "");
        let message_type = value.get("type").and_then(Value::as_str);
        let known = message_type.and_then(|t| self.message_types.get(t));
        match (message_type, known, value.get("payload")) {
            (Some(name), None, _) if !violations.iter().any(|v| v.pointer == "/type") => {
                let known: Vec<&str> = self.message_types().collect();
                violations.push(Violation::new(
                    "/type",
                    format!("unknown message type `{name}`; known: {}", known.join(", ")),
                ));
            }
            (_, Some(schema), Some(payload)) if payload.is_object() => {
                violations.extend(self.violations(&schema.validator, payload, "/payload"));
                if let Some(pointer) = &schema.subject_pointer
                    && let (Some(expected), Some(subject)) =
                        (payload.pointer(pointer).and_then(Value::as_str), value.get("subject").and_then(Value::as_str))
                    && expected != subject
                {
                    violations.push(Violation::new(
                        "/subject",
                        format!("must be the payload's {} (`{expected}`)", pointer.trim_start_matches('/')),
                    ));
                }
            }
            _ => {}
        }
        if !violations.is_empty() {
            return Err(violations);
        }
        serde_json::from_value(value).map_err(|e| vec![Violation::new("", e.to_string())])
    }

    fn violations(&self, validator: &Validator, value: &Value, prefix: &str) -> Vec<Violation> {
        if validator.is_valid(value) {
            return Vec::new();
        }
        let mut out = Vec::new();
        for error in validator.iter_errors(value) {
            self.describe(&error, prefix, &mut out);
        }
        out.sort();
        out.dedup();
        out
    }

    fn describe(&self, error: &ValidationError, prefix: &str, out: &mut Vec<Violation>) {
        let at = format!("{prefix}{}", error.instance_path().as_str());
        let custom = self.annotation(error, "x-lgsp-reason");
        match error.kind() {
            ValidationErrorKind::Required { property } => {
                let name = property.as_str().unwrap_or_default();
                out.push(Violation::new(child(&at, name), custom.unwrap_or_else(|| "is required".into())));
            }
            ValidationErrorKind::AdditionalProperties { unexpected }
            | ValidationErrorKind::UnevaluatedProperties { unexpected } => {
                for name in unexpected {
                    out.push(Violation::new(child(&at, name), "is not a field of this message"));
                }
            }
            _ => {
                let reason = match custom.or_else(|| self.annotation(error, "description")) {
                    Some(expected) => format!("{error}: expected {expected}"),
                    None => error.to_string(),
                };
                out.push(Violation::new(at, reason));
            }
        }
    }

    /// A keyword of the schema object holding the failing keyword, such as its description.
    fn annotation(&self, error: &ValidationError, keyword: &str) -> Option<String> {
        let location = error.absolute_keyword_location()?.as_str();
        let (base, fragment) = location.split_once('#')?;
        let doc = self.documents.get(self.files_by_id.get(base)?)?;
        let parent = fragment.rsplit_once('/').map_or("", |(parent, _)| parent);
        doc.pointer(parent)?.get(keyword)?.as_str().map(String::from)
    }
}

impl ServiceSchema {
    fn of((request, request_doc): (Validator, &Value), (reply, reply_doc): (Validator, &Value)) -> ServiceSchema {
        let pointer = |doc: &Value, key: &str| doc.get(key).and_then(Value::as_str).map(String::from);
        ServiceSchema {
            request,
            reply,
            subject: pointer(request_doc, "x-lgsp-subject"),
            purpose: pointer(request_doc, "x-lgsp-purpose"),
            fields: pointer(request_doc, "x-lgsp-fields"),
            all_when_absent: pointer(request_doc, "x-lgsp-fields-absent").as_deref() == Some("all"),
            returned: pointer(reply_doc, "x-lgsp-returned"),
        }
    }

    /// An agency's service, from the request and reply schemas it uploaded; each one that is not
    /// a JSON Schema is named (`request` or `reply`) with why. Such a schema stands alone: it
    /// refers to no other document.
    pub fn compile(request: &Value, reply: &Value) -> Result<ServiceSchema, Vec<(&'static str, String)>> {
        let compile = |doc: &Value| {
            if !doc.is_object() {
                return Err("is not a JSON Schema: a schema is an object, such as {\"type\": \"object\"}".to_string());
            }
            jsonschema::options()
                .should_validate_formats(true)
                .build(doc)
                .map_err(|e| format!("is not a JSON Schema: {e}"))
        };
        match (compile(request), compile(reply)) {
            (Ok(request_validator), Ok(reply_validator)) => {
                Ok(ServiceSchema::of((request_validator, request), (reply_validator, reply)))
            }
            (request_error, reply_error) => Err([("request", request_error.err()), ("reply", reply_error.err())]
                .into_iter()
                .filter_map(|(which, error)| Some((which, error?)))
                .collect()),
        }
    }

    /// Whose data a (valid) request asks for, for which dossier, and which parts.
    pub fn lookup_facts(&self, request: &Value) -> LookupFacts {
        let text = |pointer: Option<&String>| {
            pointer.and_then(|p| request.pointer(p)).and_then(Value::as_str).unwrap_or_default().to_string()
        };
        let asked = self.fields.as_ref().and_then(|p| request.pointer(p)).and_then(Value::as_array);
        let fields = match asked {
            Some(items) => items.iter().filter_map(Value::as_str).map(String::from).collect(),
            None if self.all_when_absent => vec![crate::config::ANY.to_string()],
            None => Vec::new(),
        };
        LookupFacts { subject: text(self.subject.as_ref()), dossier_code: text(self.purpose.as_ref()), fields }
    }

    /// The parts of the record a (valid) reply holds, for the audit: the keys of an object, or
    /// the `type` of each item of a list.
    pub fn returned_fields(&self, reply: &Value) -> Vec<String> {
        match self.returned.as_ref().and_then(|p| reply.pointer(p)) {
            Some(Value::Object(parts)) => parts.keys().cloned().collect(),
            Some(Value::Array(items)) => {
                items.iter().filter_map(|item| item.get("type").and_then(Value::as_str).map(String::from)).collect()
            }
            _ => Vec::new(),
        }
    }
}

/// `dossier.status_changed.json` → `dossier.status_changed`; shared and service schemas are not types.
fn message_type_of(file: &str) -> Option<&str> {
    let stem = file.strip_suffix(".json")?;
    let shared = ["common", "envelope"].contains(&stem);
    let service = stem.ends_with(".request") || stem.ends_with(".reply");
    (!shared && !service && stem.contains('.')).then_some(stem)
}

fn child(pointer: &str, name: &str) -> String {
    format!("{pointer}/{}", name.replace('~', "~0").replace('/', "~1"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn catalogue() -> Catalogue {
        Catalogue::embedded().expect("the repository's schemas compile")
    }

    fn pointers(violations: &[Violation]) -> Vec<&str> {
        violations.iter().map(|v| v.pointer.as_str()).collect()
    }

    /// Every example a schema carries is valid against it: the docs cannot drift from the contract.
    #[test]
    fn every_schema_example_is_valid() {
        let catalogue = catalogue();
        let envelope_examples = catalogue.document("envelope.json").unwrap()["examples"].as_array().unwrap();
        for example in envelope_examples {
            catalogue.check_envelope(example.clone()).unwrap();
        }
        let mut checked = 0;
        for message_type in catalogue.message_types() {
            let doc = catalogue.document(&format!("{message_type}.json")).unwrap();
            for payload in doc["examples"].as_array().expect("every message schema has examples") {
                let subject = catalogue.subject_of(message_type, payload);
                let envelope = json!({
                    "id": uuid::Uuid::now_v7(), "type": message_type, "source": "onestop.sandbox",
                    "subject": subject, "seq": 1, "occurred_at": "2026-11-20T09:15:00+07:00", "payload": payload
                });
                if let Err(violations) = catalogue.check_envelope(envelope) {
                    panic!("{message_type} example {payload}: {violations:#?}");
                }
                checked += 1;
            }
        }
        assert!(checked >= 4);
    }

    #[test]
    fn every_service_example_is_valid_and_bad_requests_are_explained() {
        let catalogue = catalogue();
        let services: Vec<&str> = catalogue.services().collect();
        assert_eq!(services, ["business.lookup", "citizen.verify", "documents.lookup"]);
        for service in services {
            for (file, check) in [("request", true), ("reply", false)] {
                let doc = catalogue.document(&format!("{service}.{file}.json")).unwrap();
                for example in doc["examples"].as_array().expect("every service schema has examples") {
                    let result = if check {
                        catalogue.check_request(service, example).unwrap()
                    } else {
                        catalogue.check_reply(service, example)
                    };
                    assert!(result.is_ok(), "{service} {file} example {example}: {result:?}");
                }
            }
        }
        let bad = json!({"cccd": "0012030000", "full_name": "An", "date_of_birth": "15/01/2003", "fields": ["salary"]});
        let violations = catalogue.check_request("citizen.verify", &bad).unwrap().unwrap_err();
        assert_eq!(pointers(&violations), ["/cccd", "/date_of_birth", "/dossier_code", "/fields/0"], "{violations:#?}");
        assert!(catalogue.check_request("citizen.teleport", &bad).is_none());
        let asked = json!({"cccd": "001203000001", "full_name": "Nguyễn Văn An", "date_of_birth": "2003-01-15",
                           "dossier_code": "000.00.01.H42-261120-0001", "fields": ["permanent_address", "gender"]});
        let facts = catalogue.service("citizen.verify").unwrap().lookup_facts(&asked);
        assert_eq!(facts.subject, "001203000001");
        assert_eq!(facts.dossier_code, "000.00.01.H42-261120-0001");
        assert_eq!(facts.fields, ["permanent_address", "gender"]);
        let documents =
            json!({"holder": {"kind": "business", "id": "0101234567"}, "dossier_code": "000.00.01.H42-261120-0002"});
        assert_eq!(catalogue.service("documents.lookup").unwrap().lookup_facts(&documents).subject, "0101234567");
        let reply = json!({"result": "match", "citizen": {"gender": "male", "permanent_address": {"detail": "x"}}});
        assert_eq!(
            catalogue.service("citizen.verify").unwrap().returned_fields(&reply),
            ["gender", "permanent_address"]
        );
        assert!(
            catalogue.service("citizen.verify").unwrap().returned_fields(&json!({"result": "not_found"})).is_empty()
        );
        // A mismatch never carries the registry's data.
        let leaky = json!({"result": "mismatch", "mismatched": ["full_name"], "citizen": {"gender": "male"}});
        assert!(catalogue.check_reply("citizen.verify", &leaky).is_err());
    }

    #[test]
    fn every_violation_is_listed_with_its_pointer_and_a_reason() {
        let catalogue = catalogue();
        let bad = json!({
            "id": "not-a-uuid",
            "type": "dossier.status_changed",
            "source": "onestop.sandbox",
            "subject": "000.00.01.H42-261120-0001",
            "seq": -1,
            "occurred_at": "yesterday",
            "extra": true,
            "payload": {
                "dossier_code": "000.00.01.H42-261120-0001",
                "procedure_code": "1.001234",
                "agency_code": "000.00.01.H42",
                "status": 11,
                "received_at": "2026-11-20 08:30",
                "applicant": { "kind": "citizen", "id": "12345", "name": "Nguyễn Văn An" },
                "colour": "blue"
            }
        });
        let violations = catalogue.check_envelope(bad).unwrap_err();
        let found = pointers(&violations);
        for expected in [
            "/id",
            "/seq",
            "/occurred_at",
            "/extra",
            "/payload/status",
            "/payload/received_at",
            "/payload/due_at",
            "/payload/applicant/id",
            "/payload/colour",
        ] {
            assert!(found.contains(&expected), "{expected} not in {violations:#?}");
        }
        let cccd = violations.iter().find(|v| v.pointer == "/payload/applicant/id").unwrap();
        assert!(cccd.reason.contains("CCCD") && cccd.reason.contains("12 digits"), "{cccd:?}");
        let status = violations.iter().find(|v| v.pointer == "/payload/status").unwrap();
        assert!(status.reason.contains("10 result returned"), "{status:?}");
        let due = violations.iter().find(|v| v.pointer == "/payload/due_at").unwrap();
        assert_eq!(due.reason, "is required");
    }

    #[test]
    fn a_business_needs_a_tax_code_and_a_returned_result_a_completion_date() {
        let catalogue = catalogue();
        let mut envelope = catalogue.document("envelope.json").unwrap()["examples"][0].clone();
        envelope["payload"]["applicant"] = json!({"kind": "business", "id": "001203000001", "name": "X"});
        envelope["payload"]["status"] = json!(10);
        let violations = catalogue.check_envelope(envelope.clone()).unwrap_err();
        assert_eq!(pointers(&violations), ["/payload/applicant/id", "/payload/completed_at"], "{violations:#?}");
        assert!(violations[0].reason.contains("MST"));
        assert!(violations[1].reason.contains("status 10"), "{violations:?}");

        envelope["payload"]["applicant"]["id"] = json!("0101234567-001");
        envelope["payload"]["completed_at"] = json!("2026-11-24T15:30:00+07:00");
        catalogue.check_envelope(envelope.clone()).unwrap();
    }

    #[test]
    fn unknown_types_and_mismatched_subjects_are_refused() {
        let catalogue = catalogue();
        let mut envelope = catalogue.document("envelope.json").unwrap()["examples"][0].clone();
        envelope["subject"] = json!("000.00.01.H42-261120-9999");
        let violations = catalogue.check_envelope(envelope.clone()).unwrap_err();
        assert_eq!(pointers(&violations), ["/subject"]);
        assert!(violations[0].reason.contains("000.00.01.H42-261120-0001"));

        envelope["type"] = json!("dossier.teleported");
        let violations = catalogue.check_envelope(envelope.clone()).unwrap_err();
        assert_eq!(pointers(&violations), ["/type"]);
        assert!(violations[0].reason.contains("dossier.status_changed"), "{violations:?}");
    }
}
