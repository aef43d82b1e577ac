//! Rights, cell by cell: every member of the sandbox config × every message type × agency,
//! every service × field × procedure, and every read route, is allowed or refused exactly as
//! its rights say (the expectation computed from the config by the rule, the answer from the
//! real bus); and every operator route refuses whoever lacks its role.

mod common;

use std::collections::BTreeSet;

use lgsp_bus::config::{ANY, MemberConfig, Rights, Scope};
use lgsp_bus::schema::Catalogue;
use lgsp_bus::testing::Api;
use serde_json::{Value, json};

/// An agency no right names, to see that only `*` lets it through.
const ELSEWHERE: &str = "000.00.99.H42";

fn covers(list: &[String], value: &str) -> bool {
    list.iter().any(|item| item == ANY || item == value)
}

/// The rule, from the rights alone: may this member send `message_type` for `agency`?
fn may_send(rights: &Rights, message_type: &str, agency: Option<&str>) -> bool {
    rights.send.iter().any(|right| {
        covers(&right.types, message_type) && right.agencies.iter().any(|a| a == ANY || Some(a.as_str()) == agency)
    })
}

/// May it ask `service` for `fields` about a dossier of `procedure`?
fn may_ask(rights: &Rights, service: &str, fields: &[&str], procedure: Option<&str>) -> bool {
    let rights: Vec<_> = rights.services.iter().filter(|r| r.service == ANY || r.service == service).collect();
    !rights.is_empty()
        && fields.iter().all(|field| {
            rights.iter().any(|right| {
                covers(&right.fields, field)
                    && (right.procedures.is_empty()
                        || procedure.is_some_and(|p| right.procedures.iter().any(|r| r == p)))
            })
        })
}

struct Cells {
    checked: usize,
    wrong: Vec<String>,
}

impl Cells {
    /// One cell: refused means 403 naming the missing right; allowed means anything but 401/403
    /// (and, where given, one of `allowed`).
    fn check(&mut self, cell: String, expected: bool, status: u16, body: &Value, allowed: &[u16]) {
        self.checked += 1;
        let refused = status == 403 && body["missing_right"].is_string();
        let fine = if expected {
            !refused && status != 401 && (allowed.is_empty() || allowed.contains(&status))
        } else {
            refused
        };
        if !fine {
            let what = if expected { "allowed" } else { "refused" };
            self.wrong.push(format!("{cell}: should be {what}, got {status} {body}"));
        }
    }
}

fn envelope(catalogue: &Catalogue, member: &str, message_type: &str, dossier: &str, agency: Option<&str>) -> Value {
    let mut payload = catalogue.document(&format!("{message_type}.json")).unwrap()["examples"][0].clone();
    if catalogue.is_bus_only(message_type) {
        // The bus's own (its monthly report): a valid one, which no member may send.
        let subject = catalogue.subject_of(message_type, &payload);
        return json!({
            "id": uuid::Uuid::now_v7().to_string(), "type": message_type, "source": member, "subject": subject,
            "seq": 1, "occurred_at": "2026-11-30T09:00:00+07:00", "payload": payload,
        });
    }
    payload["dossier_code"] = json!(dossier);
    match agency {
        Some(agency) => payload["agency_code"] = json!(agency),
        None => {
            payload.as_object_mut().unwrap().remove("agency_code");
        }
    }
    json!({
        "id": uuid::Uuid::now_v7().to_string(), "type": message_type, "source": member, "subject": dossier,
        "seq": 1, "occurred_at": "2026-11-30T09:00:00+07:00", "payload": payload,
    })
}

#[tokio::test]
async fn every_cell_of_the_sandbox_rights_is_enforced() {
    let h = common::Harness::start().await;
    let catalogue = Catalogue::embedded().unwrap();
    let members: Vec<(String, MemberConfig)> = h.members.clone().into_iter().collect();
    let mut agencies: BTreeSet<String> = members
        .iter()
        .flat_map(|(_, m)| m.rights.send.iter().flat_map(|r| r.agencies.clone()).chain(m.rights.read.dossiers.clone()))
        .filter(|a| a != ANY)
        .collect();
    agencies.insert(ELSEWHERE.to_string());
    let types: Vec<String> = catalogue.message_types().map(String::from).collect();
    let mut cells = Cells { checked: 0, wrong: Vec::new() };
    let mut serial = 0;
    let mut next_dossier = |agency: &str| {
        serial += 1;
        format!("{agency}-261130-{serial:04}")
    };

    // Sending: type × agency (or none, for types whose payload names none).
    let mut sent_by = Vec::new();
    for (id, member) in &members {
        let api = h.api.as_(id).await;
        for message_type in &types {
            let names_agency = catalogue.document(&format!("{message_type}.json")).unwrap()["examples"][0]
                .get("agency_code")
                .is_some();
            let cases: Vec<Option<&str>> =
                if names_agency { agencies.iter().map(|a| Some(a.as_str())).collect() } else { vec![None] };
            for agency in cases {
                let dossier = next_dossier(agency.unwrap_or("000.00.01.H42"));
                let message = envelope(&catalogue, id, message_type, &dossier, agency);
                let (status, body) = api.post(&message).await;
                let expected = !catalogue.is_bus_only(message_type) && may_send(&member.rights, message_type, agency);
                cells.check(format!("{id} sends {message_type} for {agency:?}"), expected, status, &body, &[202, 422]);
                if status == 422 {
                    assert_eq!(
                        body["type"], "https://lgsp.local/problems/unroutable",
                        "only routing may refuse: {body}"
                    );
                }
                if status == 202 {
                    sent_by.push((id.clone(), message["id"].as_str().unwrap().to_string()));
                }
            }
        }
    }

    // Asking: service × field × procedure (a dossier of 1.001234, of 1.001193, or unknown).
    let sandbox = h.api.as_("onestop.sandbox").await;
    let mut dossiers_of = Vec::new();
    for procedure in ["1.001234", "1.001193"] {
        let dossier = next_dossier("000.00.01.H42");
        let mut known =
            envelope(&catalogue, "onestop.sandbox", "dossier.status_changed", &dossier, Some("000.00.01.H42"));
        known["payload"]["procedure_code"] = json!(procedure);
        let (status, body) = sandbox.post(&known).await;
        assert_eq!(status, 202, "{body}");
        dossiers_of.push((Some(procedure), dossier));
    }
    dossiers_of.push((None, next_dossier("000.00.01.H42")));
    for (id, member) in &members {
        let api = h.api.as_(id).await;
        for service in catalogue.services() {
            let example = catalogue.document(&format!("{service}.request.json")).unwrap()["examples"][0].clone();
            let fields = catalogue.service_fields(service);
            // Each field alone and none; a service without a list: its example, and without any.
            let asks: Vec<Option<Vec<&str>>> = match &fields {
                Some(fields) => {
                    std::iter::once(Some(Vec::new())).chain(fields.iter().map(|f| Some(vec![f.as_str()]))).collect()
                }
                None => vec![None, Some(Vec::new())],
            };
            for (procedure, dossier) in &dossiers_of {
                for asked in &asks {
                    let mut request = example.clone();
                    request["dossier_code"] = json!(dossier);
                    match (&fields, asked) {
                        (Some(_), Some(asked)) => request["fields"] = json!(asked),
                        (None, Some(_)) => {
                            if let Some(pointer) =
                                catalogue.document(&format!("{service}.request.json")).unwrap()["x-lgsp-fields"]
                                    .as_str()
                            {
                                request.as_object_mut().unwrap().remove(pointer.trim_start_matches('/'));
                            }
                        }
                        _ => {}
                    }
                    let (status, body) = call(&api, service, &request).await;
                    // What the request asks, as the audit records it (documents.lookup: its types).
                    let asked = catalogue.service(service).unwrap().lookup_facts(&request).fields;
                    let asked: Vec<&str> = asked.iter().map(String::as_str).collect();
                    let expected = may_ask(&member.rights, service, &asked, *procedure);
                    cells.check(
                        format!("{id} asks {service} {asked:?} for {procedure:?}"),
                        expected,
                        status,
                        &body,
                        &[],
                    );
                }
            }
        }
    }

    // Reading: a message of each sender, each dossier's agency, lookups, reports.
    for (id, member) in &members {
        let api = h.api.as_(id).await;
        let read = &member.rights.read;
        for (sender, message) in
            sent_by.iter().filter(|(sender, _)| sender == id || sender == "onestop.sandbox").take(40)
        {
            let (status, body) = api.get(&format!("/v1/messages/{message}")).await;
            let expected = read.messages == Scope::All || (read.messages == Scope::Own && sender == id);
            cells.check(format!("{id} reads a message of {sender}"), expected, status, &body, &[200]);
        }
        for agency in &agencies {
            let dossier = next_dossier(agency);
            let changed = envelope(&catalogue, "onestop.sandbox", "dossier.status_changed", &dossier, Some(agency));
            assert_eq!(sandbox.post(&changed).await.0, 202);
            let (status, body) = api.get(&format!("/v1/dossiers/{dossier}")).await;
            cells.check(
                format!("{id} reads a dossier of {agency}"),
                covers(&read.dossiers, agency),
                status,
                &body,
                &[200],
            );
        }
        let (status, body) = api.get("/v1/lookups").await;
        cells.check(format!("{id} reads lookups"), read.lookups != Scope::None, status, &body, &[200]);
        let (status, body) = api.get("/v1/reports/reuse?from=2026-11-01&to=2026-11-30").await;
        cells.check(format!("{id} reads reports"), read.reports, status, &body, &[200]);
    }

    assert!(
        cells.wrong.is_empty(),
        "{} of {} cells wrong:\n{}",
        cells.wrong.len(),
        cells.checked,
        cells.wrong.join("\n")
    );
    assert!(cells.checked > 300, "{} cells", cells.checked);
    h.stop().await;
}

async fn call(api: &Api, service: &str, request: &Value) -> (u16, Value) {
    let response = api.http.post(format!("{}/v1/services/{service}", api.base)).json(request).send().await.unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

/// Every route an operator's role guards, and the role: an operator without it, and every
/// member, gets 403 naming it; one with it gets past the check.
#[tokio::test]
async fn every_operator_route_refuses_whoever_lacks_its_role() {
    let h = common::Harness::start().await;
    let id = uuid::Uuid::now_v7();
    let routes = [
        ("GET", "/v1/adapters".to_string(), "viewer"),
        // An adapter that does not exist: the role is checked before the adapter is looked for.
        ("GET", "/v1/adapters/nobody".to_string(), "viewer"),
        ("POST", "/v1/adapters/nobody/pause".to_string(), "operator"),
        ("POST", "/v1/adapters/nobody/resume".to_string(), "operator"),
        // Or the registration's owner: a member that registered nothing of that id is refused.
        ("POST", "/v1/adapters/nobody/test".to_string(), "operator"),
        ("DELETE", "/v1/adapters/nobody".to_string(), "admin"),
        ("POST", "/v1/adapters/nobody/approve".to_string(), "admin"),
        ("POST", "/v1/adapters/nobody/reject".to_string(), "admin"),
        ("GET", "/v1/dead-letters".to_string(), "viewer"),
        ("GET", format!("/v1/dead-letters/{id}"), "viewer"),
        ("POST", format!("/v1/dead-letters/{id}/replay"), "operator"),
        ("DELETE", format!("/v1/dead-letters/{id}"), "operator"),
        ("GET", "/v1/members".to_string(), "admin"),
        ("POST", "/v1/members".to_string(), "admin"),
        ("GET", "/v1/members/onestop.sandbox".to_string(), "admin"),
        ("DELETE", "/v1/members/onestop.nobody".to_string(), "admin"),
        ("POST", "/v1/members/onestop.nobody/grant".to_string(), "admin"),
        ("POST", "/v1/members/onestop.nobody/revoke".to_string(), "admin"),
        ("POST", "/v1/members/onestop.nobody/rotate-secret".to_string(), "admin"),
        ("GET", "/v1/audit".to_string(), "auditor"),
        ("GET", "/v1/lookups".to_string(), "auditor"),
        ("POST", "/v1/reports/monthly/send".to_string(), "operator"),
    ];
    // Every guarded route of the API document is in the table.
    let (_, document) = h.api.get("/v1/openapi.json").await;
    for path in document["paths"].as_object().unwrap().keys() {
        let guarded = ["/v1/adapters", "/v1/dead-letters", "/v1/members", "/v1/audit", "/v1/reports/monthly/send"];
        if guarded.iter().any(|g| path.starts_with(g)) && !path.ends_with("/webhook") {
            let template = |p: &str| {
                p.replace(&id.to_string(), "{id}")
                    .replace("onestop.nobody", "{id}")
                    .replace("onestop.sandbox", "{id}")
                    .replace("/adapters/nobody", "/adapters/{id}")
            };
            assert!(routes.iter().any(|(_, p, _)| template(p) == *path), "{path} is not in the table");
        }
    }
    let mut wrong = Vec::new();
    for who in ["viewer", "operator", "admin", "auditor", "onestop.thachha"] {
        let api = h.api.as_(who).await;
        for (method, path, role) in &routes {
            let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
            let response =
                api.http.request(method.clone(), format!("{}{path}", api.base)).json(&json!({})).send().await.unwrap();
            let status = response.status().as_u16();
            let body: Value = response.json().await.unwrap_or(Value::Null);
            // Every operator is a viewer; a member reads its own lookups, if its rights say so.
            let has = who == *role
                || (*role == "viewer" && who != "onestop.thachha")
                || (*path == "/v1/lookups" && who == "onestop.thachha");
            let refused = status == 403 && body["missing_right"].is_string();
            if has == refused {
                wrong.push(format!("{who} {method} {path}: {status} {body}"));
            }
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
    h.stop().await;
}

/// A member cannot speak in another's name, even for an agency both serve.
#[tokio::test]
async fn a_forged_source_is_refused_and_nothing_is_accepted() {
    let h = common::Harness::start().await;
    let thachha = h.api.as_("onestop.thachha").await;
    let catalogue = Catalogue::embedded().unwrap();
    let dossier = "000.00.31.H42-261130-0001";
    let forged = envelope(&catalogue, "onestop.province", "dossier.status_changed", dossier, Some("000.00.31.H42"));
    let (status, problem) = thachha.post(&forged).await;
    assert_eq!((status, problem["missing_right"].as_str()), (403, Some("send as onestop.province")), "{problem}");
    let id = forged["id"].as_str().unwrap();
    assert_eq!(h.api.get(&format!("/v1/messages/{id}")).await.0, 404, "nothing accepted");
    let own = envelope(&catalogue, "onestop.thachha", "dossier.status_changed", dossier, Some("000.00.31.H42"));
    assert_eq!(thachha.post(&own).await.0, 202);
    h.stop().await;
}
