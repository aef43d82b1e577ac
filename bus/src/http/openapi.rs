//! The API document, made from the routes and their types (utoipa) and from the canonical
//! schemas themselves, so it cannot drift from either: a route is in it because it is served,
//! and `components/schemas` carries `schemas/*.json` as the bus checks with them.

use serde_json::{Map, Value, json};
use utoipa::OpenApi;

use crate::schema::Catalogue;

/// What the routes do not say: the document's title and tags.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "lgsp — provincial integration bus",
        version = "1",
        description = "The HTTP API members (agencies' systems) and operators call. Every message is a canonical \
            envelope (components/schemas/envelope) whose payload is checked against the schema of its type \
            (components/schemas/<type>, also at GET /v1/schemas/<type>.json). Every refusal is \
            application/problem+json (RFC 9457) listing every violation with a JSON pointer."
    ),
    tags(
        (name = "messages", description = "Submitting messages and following them"),
        (name = "dossiers", description = "What the bus knows of a dossier"),
        (name = "services", description = "Request/reply lookups, audited"),
        (name = "reports", description = "Reports for the province and the audit of lookups"),
        (name = "routing", description = "The competence tables"),
        (name = "adapters", description = "The adapters and their peers"),
        (name = "dead letters", description = "The archive of messages that could not be delivered"),
        (name = "operations", description = "Health, readiness, metrics and the contract"),
    )
)]
pub struct ApiDoc;

/// The document as served: the routes' paths and types, and every canonical schema under
/// `components/schemas` by its name (`envelope`, `dossier.submitted`, `citizen.verify.request`,
/// and `common.<definition>`), its references pointing inside the document.
pub fn document(routes: utoipa::openapi::OpenApi, catalogue: &Catalogue) -> Value {
    let mut document = serde_json::to_value(routes).expect("the document serialises");
    secure(&mut document);
    for (path, operations) in document["paths"].as_object_mut().into_iter().flatten() {
        let open = OPEN.contains(&path.as_str());
        for operation in operations.as_object_mut().into_iter().flat_map(|o| o.values_mut()) {
            let Some(body) = operation.get_mut("requestBody") else { continue };
            // Every body this API takes is required (utoipa cannot tell for a body given by reference).
            body["required"] = json!(true);
            // A member's or operator's JSON body is read by one extractor (`request::ApiJson`),
            // whose refusals every such route shares; open routes (a peer's webhook) read their own.
            if open || body["content"].get("application/json").is_none() {
                continue;
            }
            let responses = operation["responses"].as_object_mut().expect("every operation has responses");
            responses.entry("400").or_insert_with(|| problem("The body is not JSON"));
            responses.entry("415").or_insert_with(|| problem("Content-Type is not JSON"));
        }
    }
    // The names a path takes come from the catalogue, as the routes check them.
    let services: Vec<&str> = catalogue.services().collect();
    let files: Vec<&str> = catalogue.documents().map(|(name, _)| name).collect();
    restrict(&mut document, "/v1/services/{service}", "post", "service", &services);
    restrict(&mut document, "/v1/schemas/{name}", "get", "name", &files);
    // A service's request and reply are those of its schemas (which may overlap: a not_found
    // reply is the same for two services).
    let any_of = |suffix: &str| {
        let schemas: Vec<Value> =
            services.iter().map(|s| json!({"$ref": format!("#/components/schemas/{s}.{suffix}")})).collect();
        json!({ "anyOf": schemas })
    };
    let call = &mut document["paths"]["/v1/services/{service}"]["post"];
    call["requestBody"]["content"]["application/json"]["schema"] = any_of("request");
    call["responses"]["200"]["content"]["application/json"]["schema"] = any_of("reply");
    let components = document["components"]["schemas"].as_object_mut().expect("the routes have schemas");
    for (file, schema) in catalogue.documents() {
        let name = file.trim_end_matches(".json");
        if name == "common" {
            for (definition, schema) in schema["$defs"].as_object().into_iter().flatten() {
                components.insert(format!("common.{definition}"), internal(schema.clone()));
            }
        } else {
            let mut schema = internal(schema.clone());
            if let Some(fields) = schema.as_object_mut() {
                fields.remove("$schema");
                fields.remove("$id");
            }
            components.insert(name.to_string(), schema);
        }
    }
    document
}

/// Routes anyone may call: health, readiness, metrics (from loopback), the contract, the token
/// endpoint and its keys, and peers' webhooks (the adapter checks the peer). Every other route
/// needs a caller who proved who they are; schemathesis's `ignored_auth` check holds each to it.
const OPEN: [&str; 9] = [
    "/healthz",
    "/readyz",
    "/metrics",
    "/v1/openapi.json",
    "/v1/schemas",
    "/v1/schemas/{name}",
    "/oauth2/token",
    "/.well-known/jwks.json",
    "/v1/adapters/{id}/webhook",
];

/// How callers prove who they are, and on every other route than [`OPEN`], that they must.
fn secure(document: &mut Value) {
    document["components"]["securitySchemes"] = json!({
        "bearer": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT",
                   "description": "a token from POST /oauth2/token (client credentials)"},
        "mutualTls": {"type": "mutualTLS", "description": "a client certificate bound to a member or operator"},
    });
    for (path, operations) in document["paths"].as_object_mut().into_iter().flatten() {
        if OPEN.contains(&path.as_str()) {
            continue;
        }
        for operation in operations.as_object_mut().into_iter().flat_map(|o| o.values_mut()) {
            operation["security"] = json!([{"bearer": []}, {"mutualTls": []}]);
            let responses = operation["responses"].as_object_mut().expect("every operation has responses");
            responses.entry("401").or_insert_with(|| {
                problem("The caller did not prove who they are: no credentials, or a token that is not valid")
            });
            responses.entry("403").or_insert_with(|| problem("The caller lacks the right `missing_right` names"));
        }
    }
}

/// A refusal's response: a problem document.
fn problem(description: &str) -> Value {
    json!({"description": description,
           "content": {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}})
}

/// Lists the values a path parameter takes.
fn restrict(document: &mut Value, path: &str, method: &str, parameter: &str, values: &[&str]) {
    let parameters = document["paths"][path][method]["parameters"].as_array_mut();
    for found in parameters.into_iter().flatten().filter(|p| p["name"] == parameter) {
        found["schema"]["enum"] = json!(values);
    }
}

/// A schema whose references to `common.json#/$defs/x` (or, in common.json, `#/$defs/x`) point
/// at `#/components/schemas/common.x`.
fn internal(schema: Value) -> Value {
    match schema {
        Value::Object(fields) => {
            let fields: Map<String, Value> = fields
                .into_iter()
                .map(|(key, value)| match (key.as_str(), &value) {
                    ("$ref", Value::String(target)) => {
                        let definition = target.trim_start_matches("common.json").trim_start_matches("#/$defs/");
                        (key, json!(format!("#/components/schemas/common.{definition}")))
                    }
                    _ => (key, internal(value)),
                })
                .collect();
            Value::Object(fields)
        }
        Value::Array(items) => Value::Array(items.into_iter().map(internal).collect()),
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn references(value: &Value, into: &mut Vec<String>) {
        match value {
            Value::Object(fields) => {
                for (key, field) in fields {
                    match (key.as_str(), field) {
                        ("$ref", Value::String(target)) => into.push(target.clone()),
                        _ => references(field, into),
                    }
                }
            }
            Value::Array(items) => items.iter().for_each(|item| references(item, into)),
            _ => {}
        }
    }

    #[test]
    fn every_reference_resolves_inside_the_document_and_every_schema_is_in_it() {
        let catalogue = Catalogue::embedded().unwrap();
        let document = crate::http::document(&catalogue);
        let mut targets = Vec::new();
        references(&document, &mut targets);
        assert!(targets.len() > 50, "{}", targets.len());
        for target in targets {
            let pointer = target.strip_prefix('#').unwrap_or_else(|| panic!("{target} points outside the document"));
            let pointer = pointer.replace("~1", "/");
            assert!(document.pointer(&pointer).is_some(), "{target} does not resolve");
        }
        let components = document["components"]["schemas"].as_object().unwrap();
        for message_type in catalogue.message_types() {
            assert!(components.contains_key(message_type), "{message_type} is not in the document");
        }
        for service in catalogue.services() {
            assert!(components.contains_key(&format!("{service}.request")), "{service}");
        }
    }

    #[test]
    fn every_refusal_is_a_problem() {
        let document = crate::http::document(&Catalogue::embedded().unwrap());
        for (path, operations) in document["paths"].as_object().unwrap() {
            for (method, operation) in operations.as_object().unwrap() {
                for (status, response) in operation["responses"].as_object().unwrap() {
                    let problem = &response["content"]["application/problem+json"]["schema"]["$ref"];
                    let refusal = status.starts_with('4') || status.starts_with('5');
                    // A peer's webhook is answered in the peer's own terms, the token endpoint in
                    // OAuth2's (RFC 6749 §5.2), /readyz with its state.
                    let own_terms = path.ends_with("/webhook") || path == "/oauth2/token" || path == "/readyz";
                    if refusal && !own_terms {
                        assert_eq!(problem, "#/components/schemas/Problem", "{method} {path} {status}");
                    }
                }
            }
        }
    }

    #[test]
    fn every_route_that_reads_a_json_body_documents_its_refusals() {
        let document = crate::http::document(&Catalogue::embedded().unwrap());
        let mut checked = 0;
        for (path, operations) in document["paths"].as_object().unwrap() {
            for (method, operation) in operations.as_object().unwrap() {
                let json_body = operation["requestBody"]["content"].get("application/json").is_some();
                if json_body && !OPEN.contains(&path.as_str()) {
                    for status in ["400", "415"] {
                        assert!(operation["responses"].get(status).is_some(), "{method} {path} {status}");
                    }
                    checked += 1;
                }
            }
        }
        assert!(checked >= 6, "{checked}");
    }
}
