//! What an agency's one-stop system sends to the bus, as a member: a dossier's status changes,
//! its results, and the postal order that returns them to the applicant.
//!
//! Each message is about a dossier the simulator received (its `dossier.submitted`), carries a
//! `seq` that rises per dossier, and is posted to `POST {bus}/v1/messages` with a token the bus
//! issued the member (`POST {bus}/oauth2/token`, client credentials; asked again once when the
//! bus refuses it); a 503 (the bus's broker away, say) is tried again a few times after a short
//! pause, with the same envelope.

use std::sync::Arc;
use std::time::Duration;

use lgsp_bus::peer;
use lgsp_bus::simulator::lock;
use serde_json::{Value, json};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use url::Url;

use super::{SentMessage, Shared};
use crate::events;

pub const SUBMITTED: &str = "dossier.submitted";
pub const STATUS_CHANGED: &str = "dossier.status_changed";
pub const RESULT_READY: &str = "dossier.result_ready";
pub const DELIVERY_REQUESTED: &str = "postal.delivery_requested";

/// How often a 503 is tried again, after pauses of 100, 200 and 400 ms.
pub const RETRIES_ON_503: u32 = 3;
const FIRST_PAUSE: Duration = Duration::from_millis(100);

/// The national status "result returned": the dossier is complete.
const STATUS_RETURNED: u8 = 10;

/// Posts to one bus as one member. Clones share the simulator's record.
#[derive(Clone)]
pub struct OnestopSender {
    shared: Arc<Shared>,
    http: reqwest::Client,
    messages_url: String,
    token_url: String,
    member: String,
    secret: String,
    token: Arc<std::sync::Mutex<Option<String>>>,
}

/// What the bus answered to one message.
#[derive(Debug, Clone, PartialEq)]
pub struct BusAnswer {
    /// The HTTP status: 202 accepted, 200 already held, 422 refused, 503 after every retry, …
    pub status: u16,
    /// The answer's JSON (a string if it was not JSON).
    pub body: Value,
    /// The envelope as posted.
    pub envelope: Value,
    /// How many times it was posted.
    pub attempts: u32,
}

#[derive(Debug, thiserror::Error)]
pub enum SenderError {
    #[error("no dossier.submitted for {0} reached this system")]
    UnknownDossier(String),
    #[error("cannot reach the bus at {url}: {reason}")]
    Unreachable { url: String, reason: String },
    #[error("the bus gave no token: {0}")]
    NoToken(String),
}

impl OnestopSender {
    pub(super) fn new(shared: Arc<Shared>, member: &str, secret: &str, bus: &Url) -> OnestopSender {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            .user_agent(concat!("lgsp-onestop-sim/", env!("CARGO_PKG_VERSION")))
            .build()
            .expect("a plain HTTP client builds");
        let base = bus.as_str().trim_end_matches('/');
        OnestopSender {
            shared,
            http,
            messages_url: format!("{base}/v1/messages"),
            token_url: format!("{base}/oauth2/token"),
            member: member.to_string(),
            secret: secret.to_string(),
            token: Arc::default(),
        }
    }

    /// The member id the messages carry as their `source`.
    pub fn member(&self) -> &str {
        &self.member
    }

    /// An officer moved the dossier on: a `dossier.status_changed` with its full current state and
    /// the new `status` (`completed_at` set when it is 10), and the step that did it, if given.
    pub async fn advance(
        &self,
        dossier_code: &str,
        status: u8,
        progress: Option<Value>,
    ) -> Result<BusAnswer, SenderError> {
        let now = now_text();
        self.send(dossier_code, STATUS_CHANGED, |state| {
            let next = advanced(state, status, &now);
            let payload = status_changed(&next, progress);
            (Some(next), payload)
        })
        .await
    }

    /// The result is issued, digitised and signed: a `dossier.result_ready` for the applicant.
    /// The documents (`common.json#/$defs/result_document`) also become the dossier's `results`.
    pub async fn result_ready(&self, dossier_code: &str, documents: Vec<Value>) -> Result<BusAnswer, SenderError> {
        let now = now_text();
        self.send(dossier_code, RESULT_READY, |state| {
            (Some(with_results(state, &documents)), result_ready(state, documents, &now))
        })
        .await
    }

    /// Return the result by post: a `postal.delivery_requested` from the agency to the applicant.
    pub async fn request_delivery(
        &self,
        dossier_code: &str,
        order_number: &str,
        cod_amount: u64,
    ) -> Result<BusAnswer, SenderError> {
        self.send(dossier_code, DELIVERY_REQUESTED, |state| (None, delivery_requested(state, order_number, cod_amount)))
            .await
    }

    /// Moves the dossier on with `change` (its new state, if any, and the payload), takes the
    /// dossier's next seq and posts the message.
    async fn send(
        &self,
        dossier_code: &str,
        message_type: &str,
        change: impl FnOnce(&Value) -> (Option<Value>, Value),
    ) -> Result<BusAnswer, SenderError> {
        let (seq, payload) = {
            let mut state = lock(&self.shared.state);
            let unknown = || SenderError::UnknownDossier(dossier_code.to_string());
            let record = state.dossiers.get_mut(dossier_code).ok_or_else(unknown)?;
            let current = record.state.clone().ok_or_else(unknown)?;
            let (next, payload) = change(&current);
            if next.is_some() {
                record.state = next;
            }
            record.seq += 1;
            (record.seq, payload)
        };
        let envelope = envelope(&self.member, dossier_code, message_type, seq, &now_text(), payload);
        let (status, body, attempts) = self.post(&envelope).await?;
        let id = envelope["id"].as_str().unwrap_or_default().to_string();
        events::sim_sent(&self.member, &id, message_type, dossier_code, seq, status, attempts);
        {
            let mut state = lock(&self.shared.state);
            let sent = SentMessage { id, message_type: message_type.to_string(), seq, status, attempts };
            state.dossiers.entry(dossier_code.to_string()).or_default().sent.push(sent);
        }
        self.shared.changes.bump();
        Ok(BusAnswer { status, body, envelope, attempts })
    }

    async fn post(&self, envelope: &Value) -> Result<(u16, Value, u32), SenderError> {
        let mut attempts = 0;
        let mut renewed = false;
        loop {
            attempts += 1;
            let token = self.token().await?;
            let request = self.http.post(&self.messages_url).bearer_auth(token).json(envelope);
            let response = request.send().await.map_err(|e| self.unreachable(&e))?;
            let status = response.status().as_u16();
            if status == 401 && !renewed {
                // The token expired, or the bus restarted with a new key: one new token.
                renewed = true;
                *lock(&self.token) = None;
                attempts -= 1;
                continue;
            }
            if status == 503 && attempts <= RETRIES_ON_503 {
                tokio::time::sleep(FIRST_PAUSE * 2u32.pow(attempts - 1)).await;
                continue;
            }
            let text = response.text().await.unwrap_or_default();
            let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
            return Ok((status, body, attempts));
        }
    }
}

impl OnestopSender {
    /// The member's token, asked for when it has none.
    async fn token(&self) -> Result<String, SenderError> {
        if let Some(token) = lock(&self.token).clone() {
            return Ok(token);
        }
        let form = [("grant_type", "client_credentials"), ("client_id", &self.member), ("client_secret", &self.secret)];
        let response = self.http.post(&self.token_url).form(&form).send().await.map_err(|e| self.unreachable(&e))?;
        let status = response.status();
        let body: Value = response.json().await.unwrap_or(Value::Null);
        let token = body["access_token"].as_str().ok_or_else(|| SenderError::NoToken(format!("{status} {body}")))?;
        *lock(&self.token) = Some(token.to_string());
        Ok(token.to_string())
    }

    fn unreachable(&self, error: &reqwest::Error) -> SenderError {
        SenderError::Unreachable { url: self.messages_url.clone(), reason: peer::root_cause(error) }
    }
}

/// Now, in Vietnam, to the second: how the system dates what it does.
pub fn now_text() -> String {
    let now = OffsetDateTime::now_utc().to_offset(time::macros::offset!(+7));
    now.replace_nanosecond(0).expect("0 is a nanosecond").format(&Rfc3339).expect("a date-time formats")
}

/// A canonical envelope from `member` about a dossier.
pub fn envelope(member: &str, dossier_code: &str, message_type: &str, seq: u64, at: &str, payload: Value) -> Value {
    json!({
        "id": uuid::Uuid::now_v7().to_string(),
        "type": message_type,
        "source": member,
        "subject": dossier_code,
        "seq": seq,
        "occurred_at": at,
        "payload": payload,
    })
}

/// The dossier with its new status; once it is 10, when its result was returned.
pub fn advanced(state: &Value, status: u8, now: &str) -> Value {
    let mut next = state.clone();
    next["status"] = status.into();
    if status == STATUS_RETURNED && next.get("completed_at").is_none() {
        next["completed_at"] = now.into();
    }
    next
}

/// A `dossier.status_changed` payload: the whole state, and the step that changed it.
pub fn status_changed(state: &Value, progress: Option<Value>) -> Value {
    let mut payload = state.clone();
    if let Some(step) = progress {
        payload["progress"] = step;
    }
    payload
}

/// A `dossier.result_ready` payload: the documents, held by the applicant.
pub fn result_ready(state: &Value, documents: Vec<Value>, now: &str) -> Value {
    let applicant = &state["applicant"];
    let mut holder = json!({"kind": applicant["kind"], "id": applicant["id"]});
    if let Some(name) = applicant.get("name") {
        holder["name"] = name.clone();
    }
    json!({
        "dossier_code": state["dossier_code"],
        "procedure_code": state["procedure_code"],
        "agency_code": state["agency_code"],
        "holder": holder,
        "documents": documents,
        "completed_at": state.get("completed_at").cloned().unwrap_or_else(|| now.into()),
    })
}

/// The dossier with its result papers listed as `results` (`{code, name, file_url}`).
pub fn with_results(state: &Value, documents: &[Value]) -> Value {
    let results: Vec<Value> = documents
        .iter()
        .map(|document| {
            let mut result = json!({});
            if let Some(kind) = document.get("type") {
                result["code"] = kind.clone();
            }
            result["name"] = document.get("name").or_else(|| document.get("type")).cloned().unwrap_or("Kết quả".into());
            if let Some(url) = document.get("file_url") {
                result["file_url"] = url.clone();
            }
            result
        })
        .collect();
    let mut next = state.clone();
    next["results"] = results.into();
    next
}

/// An agency's return address for postal orders.
#[derive(Debug, Clone, Copy)]
pub struct AgencyAddress {
    pub code: &'static str,
    pub name: &'static str,
    pub phone: &'static str,
    pub province_code: &'static str,
    pub commune_code: &'static str,
    pub detail: &'static str,
}

/// Made up for the sandbox: the real addresses come from the agency catalogue.
pub const AGENCIES: [AgencyAddress; 3] = [
    AgencyAddress {
        code: "000.00.01.H42",
        name: "Sở Tư pháp tỉnh Hà Tĩnh",
        phone: "02393855555",
        province_code: "42",
        commune_code: "18100",
        detail: "Số 1 đường Nguyễn Du, phường Thành Sen, Hà Tĩnh",
    },
    AgencyAddress {
        code: "000.00.31.H42",
        name: "Ủy ban nhân dân xã Thạch Hà",
        phone: "02393845678",
        province_code: "42",
        commune_code: "18073",
        detail: "Trụ sở UBND xã Thạch Hà, Hà Tĩnh",
    },
    AgencyAddress {
        code: "000.00.32.H42",
        name: "Ủy ban nhân dân phường Thành Sen",
        phone: "02393845679",
        province_code: "42",
        commune_code: "18100",
        detail: "Trụ sở UBND phường Thành Sen, Hà Tĩnh",
    },
];

/// Stands in for what the dossier does not say about the applicant (made up, sandbox only).
const UNKNOWN_PHONE: &str = "0900000000";

/// The agency as the sender of a postal order: from [`AGENCIES`], or made up from its code.
fn agency_party(code: &str) -> Value {
    match AGENCIES.iter().find(|agency| agency.code == code) {
        Some(agency) => json!({
            "name": agency.name,
            "phone": agency.phone,
            "address": {
                "province_code": agency.province_code,
                "commune_code": agency.commune_code,
                "detail": agency.detail,
            },
            "agency_code": agency.code,
        }),
        // An agency code ends with its province: 000.00.01.H42 is in province 42.
        None => json!({
            "name": format!("Cơ quan {code}"),
            "phone": UNKNOWN_PHONE,
            "address": {"province_code": code.get(code.len().saturating_sub(2)..).unwrap_or_default(),
                        "detail": format!("Trụ sở cơ quan {code}")},
            "agency_code": code,
        }),
    }
}

/// A `postal.delivery_requested` payload: the result from the agency to the applicant, with the
/// applicant's name, phone, e-mail and address where the dossier has them.
pub fn delivery_requested(state: &Value, order_number: &str, cod_amount: u64) -> Value {
    let code = state["dossier_code"].as_str().unwrap_or_default();
    let applicant = &state["applicant"];
    // Where the citizen asked the result to go; else the applicant's address line alone.
    let address = state.get("return_address").cloned().unwrap_or_else(|| {
        json!({"detail": applicant.get("address").cloned().unwrap_or_else(|| format!("Địa chỉ ghi trong hồ sơ {code}").into())})
    });
    let mut receiver = json!({
        "name": applicant["name"],
        "phone": applicant.get("phone").cloned().unwrap_or_else(|| UNKNOWN_PHONE.into()),
        "address": address,
    });
    if let Some(email) = applicant.get("email") {
        receiver["email"] = email.clone();
    }
    json!({
        "dossier_code": code,
        "order_number": order_number,
        "sender": agency_party(state["agency_code"].as_str().unwrap_or_default()),
        "receiver": receiver,
        "description": description(state),
        "cod_amount": cod_amount,
    })
}

/// What the parcel holds: the dossier's result papers, at most 500 characters.
fn description(state: &Value) -> String {
    let code = state["dossier_code"].as_str().unwrap_or_default();
    let names: Vec<&str> = state["results"]
        .as_array()
        .map(|results| results.iter().filter_map(|r| r["name"].as_str()).collect())
        .unwrap_or_default();
    let text = if names.is_empty() {
        format!("Kết quả giải quyết hồ sơ {code}")
    } else {
        format!("Kết quả giải quyết hồ sơ {code}: {}", names.join(", "))
    };
    text.chars().take(500).collect()
}

#[cfg(test)]
mod tests {
    use lgsp_bus::schema::Catalogue;
    use lgsp_bus::testing::adapter::example;

    use super::*;

    fn check(message_type: &str, payload: Value) -> Value {
        let catalogue = Catalogue::embedded().unwrap();
        let code = payload["dossier_code"].as_str().unwrap().to_string();
        let envelope = envelope("onestop.sandbox", &code, message_type, 1, &now_text(), payload.clone());
        if let Err(violations) = catalogue.check_envelope(envelope) {
            panic!("{message_type} is not valid: {violations:#?}\n{payload:#}");
        }
        payload
    }

    fn document() -> Value {
        example(RESULT_READY, 0)["documents"][0].clone()
    }

    #[test]
    fn status_changes_carry_the_whole_state_and_complete_at_status_10() {
        for index in [0, 1] {
            let submitted = example(SUBMITTED, index);
            let progress = example(STATUS_CHANGED, 0)["progress"].clone();
            let payload = check(STATUS_CHANGED, status_changed(&advanced(&submitted, 4, &now_text()), Some(progress)));
            assert_eq!(payload["status"], 4);
            assert_eq!(payload["applicant"], submitted["applicant"]);
            assert_eq!(payload["progress"]["handler"], "Lê Thị Hoa");
            assert!(payload.get("completed_at").is_none());

            let done = advanced(&submitted, 10, "2026-11-24T15:30:00+07:00");
            let payload = check(STATUS_CHANGED, status_changed(&done, None));
            assert_eq!(payload["completed_at"], "2026-11-24T15:30:00+07:00");
            // Returned once: a later status keeps when.
            assert_eq!(advanced(&done, 10, "2026-12-01T00:00:00+07:00")["completed_at"], "2026-11-24T15:30:00+07:00");
        }
    }

    #[test]
    fn results_are_held_by_the_applicant_and_listed_in_the_state() {
        let submitted = example(SUBMITTED, 0);
        let payload = check(RESULT_READY, result_ready(&submitted, vec![document()], "2026-11-24T15:30:00+07:00"));
        assert_eq!(payload["holder"], json!({"kind": "citizen", "id": "001203000001", "name": "Nguyễn Văn An"}));
        assert_eq!(payload["completed_at"], "2026-11-24T15:30:00+07:00");
        let business = check(RESULT_READY, result_ready(&example(SUBMITTED, 1), vec![document()], &now_text()));
        assert_eq!(business["holder"]["id"], "0101234567-001");

        let state = with_results(&submitted, &[document()]);
        assert_eq!(
            state["results"],
            json!([{"code": "GKS", "name": "Giấy khai sinh", "file_url": "https://onestop.example/files/gks-123.pdf"}])
        );
        check(STATUS_CHANGED, status_changed(&advanced(&state, 9, &now_text()), None));
    }

    #[test]
    fn postal_orders_go_from_the_agency_to_the_applicant() {
        let submitted = with_results(&example(SUBMITTED, 0), &[document()]);
        let payload = check(DELIVERY_REQUESTED, delivery_requested(&submitted, "DL-261120-0001", 8000));
        assert_eq!(payload["sender"]["name"], "Sở Tư pháp tỉnh Hà Tĩnh");
        assert_eq!(payload["sender"]["agency_code"], "000.00.01.H42");
        assert_eq!(payload["receiver"]["name"], "Nguyễn Văn An");
        assert_eq!(payload["receiver"]["phone"], "0912345678");
        assert_eq!(payload["description"], "Kết quả giải quyết hồ sơ 000.00.01.H42-261120-0001: Giấy khai sinh");
        assert_eq!(payload["cod_amount"], 8000);

        // The address the citizen asked the result to go to wins; else the applicant's own.
        assert_eq!(payload["receiver"]["address"], submitted["return_address"]);
        let mut full = example(SUBMITTED, 0);
        full.as_object_mut().unwrap().remove("return_address");
        full["applicant"]["address"] = "Số 5, phường Bắc Hà, Hà Tĩnh".into();
        full["applicant"]["email"] = "an.nguyen@example.vn".into();
        let payload = check(DELIVERY_REQUESTED, delivery_requested(&full, "DL-0001", 0));
        assert_eq!(payload["receiver"]["address"], json!({"detail": "Số 5, phường Bắc Hà, Hà Tĩnh"}));
        assert_eq!(payload["receiver"]["email"], "an.nguyen@example.vn");

        // Without a phone, and for an agency outside the table, stand-ins keep the order valid.
        let mut sparse = example(SUBMITTED, 1);
        sparse["agency_code"] = "000.33.44.H42".into();
        let payload = check(DELIVERY_REQUESTED, delivery_requested(&sparse, "DL-0002", 0));
        assert_eq!(payload["sender"]["name"], "Cơ quan 000.33.44.H42");
        assert_eq!(payload["receiver"]["phone"], UNKNOWN_PHONE);
    }

    #[test]
    fn times_are_vietnamese_to_the_second() {
        let now = now_text();
        assert!(now.ends_with("+07:00") && now.len() == 25, "{now}");
    }
}
