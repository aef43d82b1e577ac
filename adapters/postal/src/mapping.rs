//! Pure conversion between the canonical postal payloads and the postal service's JSON. No I/O.
//!
//! Every name and code of the postal service's wire format lives in [`wire`], so that a wrong
//! guess is corrected in one place; the simulator checks requests against the same table.

use lgsp_bus::identifiers::Identifier;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use time::macros::{format_description, offset};
use time::{OffsetDateTime, PrimitiveDateTime, UtcOffset};
use uuid::Uuid;

/// The postal service's wire format as we know it.
///
/// `[D]` marks facts from DOMAIN.md (the public postal service as the national platform exposes
/// it, and as OpenCPS integrates it); `[A]` marks our assumptions, to be confirmed against the
/// postal service's integration documents.
pub mod wire {
    use super::*;

    /// The token call: consumer key and secret → `{access_token, token_type}` [D]. How they are
    /// presented is [A]: OAuth2 client credentials as the platform's API gateway (WSO2 API
    /// Manager) takes them, HTTP Basic `key:secret` and a form body with this grant.
    pub const DEFAULT_TOKEN_ENDPOINT: &str = "/token";
    pub const GRANT: &str = "grant_type=client_credentials";
    pub const ACCESS_TOKEN: &str = "access_token";
    pub const TOKEN_TYPE: &str = "token_type";
    /// Seconds the token lasts. [A], as the gateway answers it; absent means "until refused".
    pub const EXPIRES_IN: &str = "expires_in";
    /// When the answer names no `token_type`. [A]
    pub const DEFAULT_TOKEN_TYPE: &str = "Bearer";

    /// Paths of the calls. [D]; that each is a `POST` of JSON is [A].
    pub const DEFAULT_ORDER_ENDPOINT: &str = "/order/post";
    pub const DEFAULT_CANCEL_ENDPOINT: &str = "/order/cancel";
    pub const DEFAULT_TRACKING_ENDPOINT: &str = "/order/tracking";

    /// `/order/post` fields. [D] the names; which are required is [A].
    pub mod order {
        pub const CUSTOMER_CODE: &str = "customerCode";
        pub const ORDER_NUMBER: &str = "orderNumber";
        pub const COD_AMOUNT: &str = "codAmount";
        pub const SENDER_PROVINCE: &str = "senderProvince";
        pub const SENDER_DISTRICT: &str = "senderDistrict";
        pub const SENDER_ADDRESS: &str = "senderAddress";
        pub const SENDER_NAME: &str = "senderName";
        pub const SENDER_EMAIL: &str = "senderEmail";
        pub const SENDER_TEL: &str = "senderTel";
        pub const SENDER_DESC: &str = "senderDesc";
        pub const DESCRIPTION: &str = "description";
        pub const RECEIVER_NAME: &str = "receiverName";
        pub const RECEIVER_ADDRESS: &str = "receiverAddress";
        pub const RECEIVER_TEL: &str = "receiverTel";
        pub const RECEIVER_PROVINCE: &str = "receiverProvince";
        pub const RECEIVER_DISTRICT: &str = "receiverDistrict";
        pub const RECEIVER_EMAIL: &str = "receiverEmail";
        pub const GOV_AGENCY_CODE: &str = "govAgencyCode";

        /// Every field, in the order DOMAIN.md lists them.
        pub const FIELDS: [&str; 18] = [
            CUSTOMER_CODE,
            ORDER_NUMBER,
            COD_AMOUNT,
            SENDER_PROVINCE,
            SENDER_DISTRICT,
            SENDER_ADDRESS,
            SENDER_NAME,
            SENDER_EMAIL,
            SENDER_TEL,
            SENDER_DESC,
            DESCRIPTION,
            RECEIVER_NAME,
            RECEIVER_ADDRESS,
            RECEIVER_TEL,
            RECEIVER_PROVINCE,
            RECEIVER_DISTRICT,
            RECEIVER_EMAIL,
            GOV_AGENCY_CODE,
        ];

        /// Text fields the postal service cannot do without. [A]: who, where (province and
        /// line), how to call them, what, and for which agency.
        pub const REQUIRED: [&str; 12] = [
            CUSTOMER_CODE,
            ORDER_NUMBER,
            SENDER_NAME,
            SENDER_TEL,
            SENDER_ADDRESS,
            SENDER_PROVINCE,
            RECEIVER_NAME,
            RECEIVER_TEL,
            RECEIVER_ADDRESS,
            RECEIVER_PROVINCE,
            DESCRIPTION,
            GOV_AGENCY_CODE,
        ];
    }

    /// `/order/tracking` request: `pagesize` and `lastId` [D]; `customerCode` beside them is [A].
    pub const PAGE_SIZE: &str = "pagesize";
    pub const LAST_ID: &str = "lastId";

    /// One tracking item, in the feed and in a webhook call. [A] every name; the status codes are [D].
    pub mod item {
        /// Rises with every item of the feed: the cursor `lastId` is the last one read.
        pub const ID: &str = "id";
        pub const ORDER_NUMBER: &str = "orderNumber";
        /// A collection status code (see [`super::STATUSES`]), a number or a numeric text.
        pub const STATUS: &str = "status";
        /// The postal service's wording of the status; not read.
        pub const STATUS_NAME: &str = "statusName";
        /// When the postal service recorded it (see [`super::TIME_FORMATS`]).
        pub const TIME: &str = "time";
        /// What the postman or counter noted, if anything.
        pub const NOTE: &str = "note";
    }

    /// Every answer is JSON `{code, message}`, with `data` where there is some. [A]
    pub const CODE: &str = "code";
    pub const MESSAGE: &str = "message";
    pub const DATA: &str = "data";

    /// The answer codes and what the adapter does about each. [A] all of them, to be replaced by
    /// the postal service's own table.
    pub const ANSWER_CODES: [(&str, Verdict, &str); 7] = [
        (OK, Verdict::Accepted, "success"),
        (INVALID, Verdict::Invalid, "missing or invalid field (the message names it)"),
        (ORDER_EXISTS, Verdict::AlreadyExists, "an order with this orderNumber exists already"),
        (NO_SUCH_ORDER, Verdict::UnknownOrder, "no order with this orderNumber"),
        (NOT_CANCELLABLE, Verdict::NotCancellable, "the order is being collected or was delivered"),
        (ALREADY_CANCELLED, Verdict::AlreadyCancelled, "the order is cancelled already"),
        (INTERNAL_ERROR, Verdict::Transient, "internal error at the postal service"),
    ];
    pub const OK: &str = "00";
    pub const INVALID: &str = "01";
    pub const ORDER_EXISTS: &str = "02";
    pub const NO_SUCH_ORDER: &str = "03";
    pub const NOT_CANCELLABLE: &str = "04";
    pub const ALREADY_CANCELLED: &str = "05";
    pub const INTERNAL_ERROR: &str = "99";
    /// An answer whose code is not in the table but says this is read as `ORDER_EXISTS`. [A]
    pub const EXISTS_WORDINGS: [&str; 2] = ["already exists", "đã tồn tại"];

    /// The collection statuses: code, canonical word, the postal service's wording. [D] the codes
    /// and their meaning (0 is "not used", never a tracking item's status).
    pub const STATUSES: [(u8, &str, &str); 4] = [
        (REGISTERED, "registered", "Đăng ký sử dụng dịch vụ"),
        (COLLECTING, "collecting", "Đang đi gom hồ sơ"),
        (DELIVERED, "delivered", "Đã giao hồ sơ"),
        (CANCELLED, "cancelled", "Hủy gom hồ sơ"),
    ];
    pub const REGISTERED: u8 = 1;
    pub const COLLECTING: u8 = 2;
    pub const DELIVERED: u8 = 3;
    pub const CANCELLED: u8 = 4;

    /// Times without an offset are wall time in Vietnam, which has no daylight saving. [A]
    pub const POSTAL_OFFSET: UtcOffset = offset!(+7);
    /// What the feed's `time` may look like besides RFC 3339. [A]; the simulator writes the first.
    pub const TIME_FORMATS: [&[time::format_description::BorrowedFormatItem<'static>]; 3] = [
        format_description!("[year]-[month]-[day] [hour]:[minute]:[second]"),
        format_description!("[day]/[month]/[year] [hour]:[minute]:[second]"),
        format_description!("[year][month][day][hour][minute][second]"),
    ];

    /// A webhook call carries `X-Signature: sha256=<hex HMAC-SHA256 of the raw body>`. [A]
    pub const SIGNATURE_HEADER: &str = "x-signature";
    pub const SIGNATURE_PREFIX: &str = "sha256=";
}

/// What the adapter does about an answer code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Accepted,
    /// An order with this number exists: a retry after a lost answer, so the order is there.
    AlreadyExists,
    /// The order is cancelled: a retried cancel, so it is done.
    AlreadyCancelled,
    /// The postal service does not know the order (yet: its creation may be on its way). Transient.
    UnknownOrder,
    /// The order can no longer be cancelled. Permanent.
    NotCancellable,
    /// The request itself is refused. Permanent.
    Invalid,
    /// Trouble at the postal service: retry later.
    Transient,
}

impl Verdict {
    /// The verdict on an answer's `code` (and `message`, for the "already exists" wordings);
    /// None for a code not in the table.
    pub fn of(code: &str, message: &str) -> Option<Verdict> {
        if let Some((_, verdict, _)) = wire::ANSWER_CODES.iter().find(|(c, _, _)| *c == code) {
            return Some(*verdict);
        }
        let message = message.to_lowercase();
        wire::EXISTS_WORDINGS.iter().any(|w| message.contains(w)).then_some(Verdict::AlreadyExists)
    }

    /// Whether the call did what was asked (or it was done before).
    pub fn is_success(self) -> bool {
        matches!(self, Verdict::Accepted | Verdict::AlreadyExists | Verdict::AlreadyCancelled)
    }

    pub fn is_transient(self) -> bool {
        matches!(self, Verdict::UnknownOrder | Verdict::Transient)
    }
}

/// Why a payload or an item cannot be mapped.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct MappingError(pub String);

/// Which way an order carries papers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    /// The citizen's dossier, from the citizen (sender) to the agency (receiver).
    Pickup,
    /// The result, from the agency (sender) to the citizen (receiver).
    Delivery,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Pickup => "pickup",
            Kind::Delivery => "delivery",
        }
    }
}

/// The adapter's view of a `postal.pickup_requested` or `postal.delivery_requested` payload.
/// Unit tests make it strict, so a schema field it does not know fails the fixture tests.
#[derive(Debug, Clone, Deserialize)]
#[cfg_attr(test, serde(deny_unknown_fields))]
pub struct OrderRequest {
    pub dossier_code: String,
    pub order_number: String,
    pub sender: Party,
    pub receiver: Party,
    pub description: String,
    pub cod_amount: Option<u64>,
    pub note: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[cfg_attr(test, serde(deny_unknown_fields))]
pub struct Party {
    pub name: String,
    pub phone: String,
    pub email: Option<String>,
    pub address: Address,
    pub agency_code: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[cfg_attr(test, serde(deny_unknown_fields))]
pub struct Address {
    pub province_code: Option<String>,
    /// Before July 2025 only.
    pub district_code: Option<String>,
    pub commune_code: Option<String>,
    pub detail: String,
}

/// The adapter's view of a `postal.cancel_requested` payload.
#[derive(Debug, Clone, Deserialize)]
#[cfg_attr(test, serde(deny_unknown_fields))]
pub struct CancelRequest {
    pub dossier_code: String,
    pub order_number: String,
    /// Not sent: the cancel call has only `customerCode` and `orderNumber` [D]. Logged.
    pub reason: String,
}

/// What the adapter remembers about an order it placed: the tracking feed names only the order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderRecord {
    pub dossier_code: String,
    pub kind: Kind,
    /// The agency at the other end (the order's `govAgencyCode`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agency_code: Option<String>,
    /// The id of the message that asked for the order: the statuses' `correlation_id`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
}

/// The `/order/post` body for a pickup or delivery request.
///
/// The canonical addresses have two levels since July 2025 (province, commune) while the order
/// has province and district: `senderDistrict` / `receiverDistrict` carry the district code of an
/// older address, else the commune code. [A] until the postal service says which it wants.
pub fn order_body(kind: Kind, request: &OrderRequest, customer_code: &str) -> Result<Value, MappingError> {
    use wire::order::*;
    let (sender, receiver) = (&request.sender, &request.receiver);
    let mut body = Map::new();
    let mut put = |field: &str, value: Value| {
        body.insert(field.to_string(), value);
    };
    put(CUSTOMER_CODE, customer_code.into());
    put(ORDER_NUMBER, request.order_number.clone().into());
    put(COD_AMOUNT, request.cod_amount.unwrap_or(0).into());
    put(SENDER_PROVINCE, province(sender).into());
    put(SENDER_DISTRICT, district(sender).into());
    put(SENDER_ADDRESS, sender.address.detail.clone().into());
    put(SENDER_NAME, sender.name.clone().into());
    put(SENDER_EMAIL, sender.email.clone().unwrap_or_default().into());
    put(SENDER_TEL, sender.phone.clone().into());
    // [A] the request's note is for the postman at the sender's: where to ring, when to come.
    put(SENDER_DESC, request.note.clone().unwrap_or_default().into());
    put(DESCRIPTION, request.description.clone().into());
    put(RECEIVER_NAME, receiver.name.clone().into());
    put(RECEIVER_ADDRESS, receiver.address.detail.clone().into());
    put(RECEIVER_TEL, receiver.phone.clone().into());
    put(RECEIVER_PROVINCE, province(receiver).into());
    put(RECEIVER_DISTRICT, district(receiver).into());
    put(RECEIVER_EMAIL, receiver.email.clone().unwrap_or_default().into());
    put(GOV_AGENCY_CODE, agency_code(kind, request).into());
    let body = Value::Object(body);
    if let Some(missing) = missing_field(&body) {
        return Err(MappingError(format!(
            "order {} of dossier {} has no {}: {missing} is required by the postal service",
            request.order_number,
            request.dossier_code,
            canonical_name(missing)
        )));
    }
    Ok(body)
}

/// The first required field that is absent or blank, if any.
pub fn missing_field(body: &Value) -> Option<&'static str> {
    wire::order::REQUIRED
        .into_iter()
        .find(|field| body.get(*field).and_then(Value::as_str).is_none_or(|text| text.trim().is_empty()))
}

/// Where a required order field comes from, for a refusal the sender understands.
fn canonical_name(field: &str) -> &'static str {
    use wire::order::*;
    match field {
        SENDER_PROVINCE => "sender.address.province_code",
        RECEIVER_PROVINCE => "receiver.address.province_code",
        SENDER_NAME => "sender.name",
        RECEIVER_NAME => "receiver.name",
        SENDER_TEL => "sender.phone",
        RECEIVER_TEL => "receiver.phone",
        SENDER_ADDRESS => "sender.address.detail",
        RECEIVER_ADDRESS => "receiver.address.detail",
        DESCRIPTION => "description",
        _ => "value",
    }
}

fn province(party: &Party) -> String {
    party.address.province_code.clone().unwrap_or_default()
}

fn district(party: &Party) -> String {
    let address = &party.address;
    address.district_code.clone().or_else(|| address.commune_code.clone()).unwrap_or_default()
}

/// The agency the order is for: the receiver of a pickup, the sender of a delivery (or whichever
/// party is an agency), else the agency whose code opens the dossier code. [A] that the postal
/// service wants the agency identifier code (`000.00.01.H42`) as `govAgencyCode`.
pub fn agency_code(kind: Kind, request: &OrderRequest) -> String {
    let (first, second) = match kind {
        Kind::Pickup => (&request.receiver, &request.sender),
        Kind::Delivery => (&request.sender, &request.receiver),
    };
    first
        .agency_code
        .clone()
        .or_else(|| second.agency_code.clone())
        .unwrap_or_else(|| request.dossier_code.split('-').next().unwrap_or_default().to_string())
}

/// What to remember about the order `request` places.
pub fn order_record(kind: Kind, request: &OrderRequest, request_id: &str) -> OrderRecord {
    let agency = agency_code(kind, request);
    OrderRecord {
        dossier_code: request.dossier_code.clone(),
        kind,
        agency_code: Identifier::AgencyCode.is_valid(&agency).then_some(agency),
        request_id: Some(request_id.to_string()),
    }
}

/// The `/order/cancel` body. [D]
pub fn cancel_body(customer_code: &str, order_number: &str) -> Value {
    json!({ wire::order::CUSTOMER_CODE: customer_code, wire::order::ORDER_NUMBER: order_number })
}

/// The `/order/tracking` body: the page after `last_id`.
pub fn tracking_body(customer_code: &str, last_id: u64, page_size: usize) -> Value {
    json!({ wire::order::CUSTOMER_CODE: customer_code, wire::PAGE_SIZE: page_size, wire::LAST_ID: last_id })
}

/// One tracking item, read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrackingItem {
    pub id: u64,
    pub order_number: String,
    pub status_code: u8,
    pub at: OffsetDateTime,
    pub note: Option<String>,
}

/// The largest `seq` an envelope may carry (JavaScript's safe integers).
const MAX_SEQ: u64 = 9_007_199_254_740_991;
/// The canonical `note` is at most this long.
const MAX_NOTE_CHARS: usize = 500;

/// A tracking item's id alone, so that even an item that cannot be read moves the cursor.
pub fn item_id(item: &Value) -> Option<u64> {
    let id = match item.get(wire::item::ID)? {
        Value::Number(n) => n.as_u64()?,
        Value::String(s) => s.trim().parse().ok()?,
        _ => return None,
    };
    (1..=MAX_SEQ).contains(&id).then_some(id)
}

/// Reads one tracking item of the feed or of a webhook call.
pub fn tracking_item(item: &Value) -> Result<TrackingItem, MappingError> {
    use wire::item::*;
    let unreadable =
        |why: String| MappingError(format!("tracking item {}: {why}", item.get(ID).unwrap_or(&Value::Null)));
    if !item.is_object() {
        return Err(MappingError("a tracking item is not a JSON object".into()));
    }
    let id = item_id(item).ok_or_else(|| unreadable(format!("no {ID} between 1 and {MAX_SEQ}")))?;
    let order_number = item
        .get(ORDER_NUMBER)
        .and_then(Value::as_str)
        .filter(|n| !n.trim().is_empty())
        .ok_or_else(|| unreadable(format!("no {ORDER_NUMBER}")))?
        .to_string();
    let status_code = match item.get(STATUS) {
        Some(Value::Number(n)) => n.as_u64(),
        Some(Value::String(s)) => s.trim().parse().ok(),
        _ => None,
    }
    .and_then(|code| u8::try_from(code).ok())
    .filter(|code| status_word(*code).is_some())
    .ok_or_else(|| {
        unreadable(format!("{STATUS} {} is not a collection status 1 to 4", item.get(STATUS).unwrap_or(&Value::Null)))
    })?;
    let at = item
        .get(TIME)
        .and_then(Value::as_str)
        .and_then(parse_time)
        .ok_or_else(|| unreadable(format!("{TIME} {} is not a time", item.get(TIME).unwrap_or(&Value::Null))))?;
    let note = item.get(NOTE).and_then(Value::as_str).map(str::trim).filter(|n| !n.is_empty()).map(|note| {
        // Cut at a character, never inside one.
        note.chars().take(MAX_NOTE_CHARS).collect::<String>()
    });
    Ok(TrackingItem { id, order_number, status_code, at, note })
}

/// The canonical word of a collection status code.
pub fn status_word(code: u8) -> Option<&'static str> {
    wire::STATUSES.iter().find(|(c, _, _)| *c == code).map(|(_, word, _)| *word)
}

/// The postal service's wording of a collection status code.
pub fn status_wording(code: u8) -> Option<&'static str> {
    wire::STATUSES.iter().find(|(c, _, _)| *c == code).map(|(_, _, wording)| *wording)
}

/// A time as the feed writes it: RFC 3339, or wall time in Vietnam in one of [`wire::TIME_FORMATS`].
pub fn parse_time(text: &str) -> Option<OffsetDateTime> {
    let text = text.trim();
    if let Ok(at) = OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339) {
        return Some(at);
    }
    wire::TIME_FORMATS
        .iter()
        .find_map(|format| PrimitiveDateTime::parse(text, format).ok())
        .map(|wall| wall.assume_offset(wire::POSTAL_OFFSET))
}

/// A time the way the simulator's feed writes it.
pub fn postal_time(at: OffsetDateTime) -> String {
    at.to_offset(wire::POSTAL_OFFSET).format(wire::TIME_FORMATS[0]).expect("a date formats")
}

/// RFC 3339 in Vietnam time, as the canonical messages carry times.
fn canonical_time(at: OffsetDateTime) -> String {
    at.to_offset(wire::POSTAL_OFFSET)
        .format(&time::format_description::well_known::Rfc3339)
        .expect("a date after year 0 formats")
}

pub const SHIPMENT_STATUS: &str = "postal.shipment_status";

/// The namespace of the envelope ids: UUID v5 of `https://lgsp.local/adapters/postal/tracking`
/// in the URL namespace.
pub const ID_NAMESPACE: Uuid = Uuid::from_u128(0x76b05b12_7c73_5515_8149_cc321f0d4502);

/// The envelope id of one tracking item: the same item, polled or pushed, any number of times,
/// is one message.
pub fn envelope_id(order_number: &str, tracking_id: u64) -> Uuid {
    Uuid::new_v5(&ID_NAMESPACE, format!("{order_number}/{tracking_id}").as_bytes())
}

/// The `postal.shipment_status` envelope of one tracking item of an order we placed.
///
/// Made of the item and the record only, never of the time it is made: a re-submission must be
/// byte for byte the same message, or the bus refuses it as an id reused for another message.
pub fn shipment_status(item: &TrackingItem, order: &OrderRecord, source: &str) -> Value {
    let at = canonical_time(item.at);
    let mut payload = json!({
        "dossier_code": order.dossier_code,
        "order_number": item.order_number,
        "kind": order.kind.as_str(),
        "status": status_word(item.status_code).unwrap_or_default(),
        "status_code": item.status_code,
        "at": at,
    });
    if let Some(agency) = &order.agency_code {
        payload["agency_code"] = agency.clone().into();
    }
    if let Some(note) = &item.note {
        payload["note"] = note.clone().into();
    }
    let mut envelope = json!({
        "id": envelope_id(&item.order_number, item.id).to_string(),
        "type": SHIPMENT_STATUS,
        "source": source,
        "subject": order.dossier_code,
        "seq": item.id,
        "occurred_at": at,
        "payload": payload,
    });
    if let Some(request) = &order.request_id {
        envelope["correlation_id"] = request.clone().into();
    }
    envelope
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn fixture(name: &str) -> Value {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures").join(name);
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap_or_else(|e| panic!("{name}: {e}"))
    }

    fn request(name: &str) -> OrderRequest {
        serde_json::from_value(fixture(&format!("{name}.in.json"))).unwrap()
    }

    fn schema_example(message_type: &str) -> Value {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("../../schemas/{message_type}.json"));
        let schema: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
        schema["examples"][0].clone()
    }

    #[test]
    fn a_pickup_becomes_an_order_with_every_field() {
        let body = order_body(Kind::Pickup, &request("pickup"), "LGSP42").unwrap();
        assert_eq!(body, fixture("pickup.out.json"));
        let keys: Vec<&str> = body.as_object().unwrap().keys().map(String::as_str).collect();
        let mut fields = wire::order::FIELDS.to_vec();
        fields.sort();
        assert_eq!(keys, fields, "every field of DOMAIN.md, no other");
    }

    #[test]
    fn a_delivery_is_for_the_sending_agency() {
        let body = order_body(Kind::Delivery, &request("delivery"), "LGSP42").unwrap();
        assert_eq!(body, fixture("delivery.out.json"));
    }

    #[test]
    fn an_address_from_before_july_2025_sends_its_district() {
        let body = order_body(Kind::Pickup, &request("pickup_old_address"), "LGSP42").unwrap();
        assert_eq!(body, fixture("pickup_old_address.out.json"));
    }

    #[test]
    fn the_schemas_examples_map() {
        for (message_type, kind) in
            [("postal.pickup_requested", Kind::Pickup), ("postal.delivery_requested", Kind::Delivery)]
        {
            let request: OrderRequest = serde_json::from_value(schema_example(message_type)).unwrap();
            let body = order_body(kind, &request, "LGSP42").unwrap();
            assert_eq!(body["govAgencyCode"], "000.00.01.H42", "{message_type}");
            assert_eq!(missing_field(&body), None);
        }
        let cancel: CancelRequest = serde_json::from_value(schema_example("postal.cancel_requested")).unwrap();
        assert_eq!(
            cancel_body("LGSP42", &cancel.order_number),
            json!({"customerCode": "LGSP42", "orderNumber": "PU-261120-0003"})
        );
    }

    #[test]
    fn without_an_agency_party_the_dossier_code_names_the_agency() {
        let mut request = request("pickup");
        request.receiver.agency_code = None;
        assert_eq!(agency_code(Kind::Pickup, &request), "000.00.01.H42");
        let record = order_record(Kind::Pickup, &request, "req-1");
        assert_eq!(record.agency_code.as_deref(), Some("000.00.01.H42"));
        assert_eq!(record.request_id.as_deref(), Some("req-1"));
    }

    #[test]
    fn a_party_without_a_province_is_refused_before_sending() {
        let mut request = request("pickup");
        request.sender.address.province_code = None;
        let error = order_body(Kind::Pickup, &request, "LGSP42").unwrap_err();
        assert_eq!(
            error.to_string(),
            "order PU-261120-0003 of dossier 000.00.01.H42-261120-0003 has no sender.address.province_code: \
             senderProvince is required by the postal service"
        );
    }

    #[test]
    fn a_tracking_item_becomes_a_shipment_status_envelope() {
        let item = tracking_item(&fixture("tracking_item.in.json")).unwrap();
        let record = OrderRecord {
            dossier_code: "000.00.01.H42-261120-0003".into(),
            kind: Kind::Delivery,
            agency_code: Some("000.00.01.H42".into()),
            request_id: Some("019a9e4c-7b1e-7c3a-9f7e-2d4b6a8c0e11".into()),
        };
        let envelope = shipment_status(&item, &record, "postal");
        assert_eq!(envelope, fixture("shipment_status.out.json"));
        let catalogue = lgsp_bus::schema::Catalogue::embedded().unwrap();
        catalogue.check_envelope(envelope).unwrap();
    }

    #[test]
    fn the_same_item_is_the_same_envelope() {
        let item = tracking_item(&fixture("tracking_item.in.json")).unwrap();
        let record = OrderRecord {
            dossier_code: "000.00.01.H42-261120-0003".into(),
            kind: Kind::Pickup,
            agency_code: None,
            request_id: None,
        };
        assert_eq!(shipment_status(&item, &record, "postal"), shipment_status(&item, &record, "postal"));
        assert_eq!(envelope_id("DL-261120-0003", 42), envelope_id("DL-261120-0003", 42));
        assert_ne!(envelope_id("DL-261120-0003", 42), envelope_id("DL-261120-0003", 43));
        assert_ne!(envelope_id("DL-261120-0003", 42), envelope_id("DL-261120-0004", 42));
        assert_eq!(Uuid::new_v5(&Uuid::NAMESPACE_URL, b"https://lgsp.local/adapters/postal/tracking"), ID_NAMESPACE);
    }

    #[test]
    fn tracking_items_are_read_leniently_and_refused_clearly() {
        let item = |value: Value| tracking_item(&value);
        let read =
            item(json!({"id": "7", "orderNumber": "PU-1234", "status": "2", "time": "26/11/2026 10:05:00"})).unwrap();
        assert_eq!((read.id, read.status_code, read.note), (7, 2, None));
        assert_eq!(canonical_time(read.at), "2026-11-26T10:05:00+07:00");
        let rfc =
            item(json!({"id": 8, "orderNumber": "PU-1234", "status": 3, "time": "2026-11-26T03:05:00Z"})).unwrap();
        assert_eq!(canonical_time(rfc.at), "2026-11-26T10:05:00+07:00");
        let compact = item(json!({"id": 9, "orderNumber": "PU-1234", "status": 4, "time": "20261126100500"})).unwrap();
        assert_eq!(compact.at, read.at);

        let refusal = |value: Value| item(value).unwrap_err().to_string();
        assert_eq!(
            refusal(json!({"id": 7, "orderNumber": "PU-1234", "status": 0, "time": "2026-11-26 10:05:00"})),
            "tracking item 7: status 0 is not a collection status 1 to 4"
        );
        assert!(refusal(json!({"orderNumber": "PU-1234", "status": 1})).contains("no id"));
        assert!(refusal(json!({"id": 7, "status": 1})).contains("no orderNumber"));
        assert!(
            refusal(json!({"id": 7, "orderNumber": "PU-1234", "status": 1, "time": "soon"})).contains("not a time")
        );
        assert!(refusal(json!([1])).contains("not a JSON object"));
        assert_eq!(item_id(&json!({"id": 0})), None);
        assert_eq!(item_id(&json!({"id": -3})), None);
        assert_eq!(item_id(&json!({"id": 9_007_199_254_740_992u64})), None);
    }

    #[test]
    fn a_long_note_is_cut_at_a_character() {
        let note = "ồ".repeat(600);
        let read = tracking_item(
            &json!({"id": 1, "orderNumber": "PU-1234", "status": 1, "time": "2026-11-26 10:05:00", "note": note}),
        )
        .unwrap();
        assert_eq!(read.note.unwrap().chars().count(), 500);
    }

    #[test]
    fn answer_codes_decide_what_happens() {
        assert_eq!(Verdict::of("00", ""), Some(Verdict::Accepted));
        assert_eq!(Verdict::of("02", ""), Some(Verdict::AlreadyExists));
        assert_eq!(Verdict::of("E17", "Order PU-1 already exists"), Some(Verdict::AlreadyExists));
        assert_eq!(Verdict::of("E17", "Mã đơn hàng PU-1 ĐÃ TỒN TẠI"), Some(Verdict::AlreadyExists));
        assert_eq!(Verdict::of("E17", "something else"), None);
        assert!(Verdict::of("03", "").unwrap().is_transient());
        assert!(!Verdict::of("04", "").unwrap().is_transient());
        assert!(Verdict::of("05", "").unwrap().is_success());
    }

    #[test]
    fn every_status_has_a_word_the_schema_knows() {
        let schema = lgsp_bus::schema::Catalogue::embedded().unwrap();
        let words = &schema.document("postal.shipment_status.json").unwrap()["properties"]["status"]["enum"];
        for (code, word, _) in wire::STATUSES {
            assert!(words.as_array().unwrap().iter().any(|w| w == word), "{word}");
            assert_eq!(status_word(code), Some(word));
        }
        assert_eq!(status_word(0), None);
    }
}
