//! Pure conversion from the registry's enterprise record to the `business.lookup` reply. No I/O.
//!
//! Every name, shape and code of the registry's wire format lives in [`wire`], so that a wrong
//! guess is corrected in one place; the simulator answers from the same table. What the mapping
//! had to leave out or guess is returned as [`Note`]s for the adapter to log: it never logs itself.

use std::borrow::Cow;

use icu_normalizer::ComposingNormalizerBorrowed;
use serde::Serialize;
use serde_json::{Value, json};
use time::format_description::BorrowedFormatItem;
use time::format_description::well_known::Rfc3339;
use time::macros::{format_description, offset};
use time::{Date, OffsetDateTime, PrimitiveDateTime, UtcOffset};

/// The registry's wire format as we know it.
///
/// `[D]` marks facts from DOMAIN.md (the registry's field names, the platform's token answer);
/// `[A]` marks our assumptions, to be confirmed against the registry's integration documents.
pub mod wire {
    use super::*;

    // Endpoints, appended to the configured `url`. [A]: the registry's transport is not published.
    pub const DEFAULT_TOKEN_ENDPOINT: &str = "/api/token";
    pub const DEFAULT_REFRESH_ENDPOINT: &str = "/api/token/refresh";
    /// The enterprise code is one more path segment: `GET /api/doanhnghiep/0101234567`. [A]
    pub const DEFAULT_LOOKUP_ENDPOINT: &str = "/api/doanhnghiep";

    // The token call `{username, password}` and its answer. [D]
    pub const USERNAME: &str = "username";
    pub const PASSWORD: &str = "password";
    pub const TOKEN: &str = "token";
    pub const REFRESH_TOKEN: &str = "refreshToken";
    pub const EXPIRY_DATE: &str = "expiryDate";
    // The renewal call's body is `{refreshToken}`; its answer is the token call's, and may leave out
    // `refreshToken` (the old one then stays). [A]
    /// Calls carry `Authorization: Bearer {token}`. [A]
    pub const BEARER: &str = "Bearer";
    /// An `expiryDate` (ISO 8601) without an offset is wall time in Vietnam, which has no daylight
    /// saving; a number is Unix time, in seconds or milliseconds. [A]
    pub const REGISTRY_OFFSET: UtcOffset = offset!(+7);
    /// A token whose `expiryDate` cannot be read is taken to last this long. [A]
    pub const ASSUMED_TOKEN_LIFETIME: std::time::Duration = std::time::Duration::from_secs(5 * 60);

    /// Refusals are JSON `{message}`; a 404 means "no such enterprise" only with such a body, since
    /// a bare 404 is more likely a wrong `lookup_endpoint` or a proxy. [A]
    pub const MESSAGE: &str = "message";

    /// The enterprise record's fields. [D]
    pub mod record {
        pub const MA_SO_DOANH_NGHIEP: &str = "maSoDoanhNghiep";
        pub const SO_GCN_DKKD: &str = "soGCNDKKD";
        pub const LOAI_HINH_DN: &str = "loaiHinhDN";
        pub const TEN_TIENG_VIET: &str = "tenTiengViet";
        pub const TEN_NUOC_NGOAI: &str = "tenNuocNgoai";
        pub const TEN_VIET_TAT: &str = "tenVietTat";
        pub const NGAY_DANG_KY_LAN_DAU: &str = "ngayDangKyLanDau";
        pub const NGAY_DANG_KY_THAY_DOI: &str = "ngayDangKyThayDoi";
        pub const SO_LAN_DANG_KY_THAY_DOI: &str = "soLanDangKyThayDoi";
        pub const TINH_TRANG_PHAP_LY: &str = "tinhTrangPhapLy";
        pub const DAI_DIEN_PHAP_LUAT: &str = "daiDienPhapLuat";
        pub const THONG_TIN_CA_NHAN: &str = "thongTinCaNhan";
        pub const DIA_CHI_TRU_SO: &str = "diaChiTruSo";
        pub const NGANH_NGHE_KINH_DOANH: &str = "nganhNgheKinhDoanh";
        pub const MA_NGANH: &str = "maNganh";
        pub const LA_NGANH_CHINH: &str = "laNganhChinh";
    }

    /// Items of `tinhTrangPhapLy`: the status history, each `{tenTinhTrang, ngayHieuLuc}` or a plain
    /// wording. The current one has the latest `ngayHieuLuc`; undated items count as the oldest,
    /// and between equals the later in the list wins. [A] all of it.
    pub mod status {
        pub const TEN_TINH_TRANG: &str = "tenTinhTrang";
        pub const NGAY_HIEU_LUC: &str = "ngayHieuLuc";
    }

    /// Items of `daiDienPhapLuat`: `{chucDanh, thongTinCaNhan: [{hoTen, …}]}`; the first
    /// `thongTinCaNhan` is the person. Its other fields (birth date, ID number, address) are
    /// personal data the reply never carries. [A] except the two list names.
    pub mod representative {
        pub const CHUC_DANH: &str = "chucDanh";
        pub const HO_TEN: &str = "hoTen";
    }

    /// Items of `diaChiTruSo`: the first is the current office. Unit codes as in the population
    /// database's addresses, `chiTiet` the full line; without it the line is made of the parts. [A]
    pub mod address {
        pub const MA_TINH_THANH: &str = "maTinhThanh";
        pub const MA_QUAN_HUYEN: &str = "maQuanHuyen";
        pub const MA_PHUONG_XA: &str = "maPhuongXa";
        pub const CHI_TIET: &str = "chiTiet";
        /// Joined with ", " when there is no `chiTiet`.
        pub const PARTS: [&str; 4] = ["soNhaDuongPho", "tenPhuongXa", "tenQuanHuyen", "tenTinhThanh"];
    }

    /// The name of a business line, when the record carries one; else [`BUSINESS_LINES`]. [A]
    pub const TEN_NGANH: &str = "tenNganh";
    /// `laNganhChinh` is a JSON boolean, or one of these (compared in lower case). [A]
    pub const TRUE_WORDS: [&str; 2] = ["true", "1"];

    /// Dates: `yyyy-MM-dd`, or `dd/MM/yyyy`, or an ISO 8601 date-time (its date in Vietnam). [A]
    pub const DATE_FORMATS: [&[BorrowedFormatItem<'static>]; 2] =
        [format_description!("[year]-[month]-[day]"), format_description!("[day]/[month]/[year]")];
    pub const LOCAL_DATE_TIME: &[BorrowedFormatItem<'static>] =
        format_description!("[year]-[month]-[day]T[hour]:[minute]:[second][optional [.[subsecond]]]");

    /// The registry's wording of a legal status, and the reply's value. Compared after Unicode
    /// normalisation (NFC), in lower case, with runs of spaces as one; any other wording is `other`
    /// and logged. The first six are the ones we were told of; the spelled-out revocation is [A].
    pub const LEGAL_STATUSES: [(&str, LegalStatus); 7] = [
        ("Đang hoạt động", LegalStatus::Active),
        ("Tạm ngừng kinh doanh", LegalStatus::Suspended),
        ("Đang làm thủ tục giải thể", LegalStatus::Dissolving),
        ("Đã giải thể", LegalStatus::Dissolved),
        ("Bị thu hồi GCNĐKDN", LegalStatus::Revoked),
        ("Bị thu hồi Giấy chứng nhận đăng ký doanh nghiệp", LegalStatus::Revoked),
        ("Phá sản", LegalStatus::Bankrupt),
    ];

    /// Names of a few level-4 codes of the Vietnamese economic activity system (VSIC 2018,
    /// Decision 27/2018/QĐ-TTg), the level business registration records. A sample, not the
    /// catalogue: a code missing here and from the record leaves out `main_business_line`. [A]
    pub const BUSINESS_LINES: [(&str, &str); 12] = [
        ("1410", "May trang phục (trừ trang phục từ da lông thú)"),
        ("4101", "Xây dựng nhà để ở"),
        ("4102", "Xây dựng nhà không để ở"),
        ("4620", "Bán buôn nông, lâm sản nguyên liệu (trừ gỗ, tre, nứa) và động vật sống"),
        ("4649", "Bán buôn đồ dùng khác cho gia đình"),
        ("4719", "Bán lẻ khác trong các cửa hàng kinh doanh tổng hợp"),
        ("4933", "Vận tải hàng hóa bằng đường bộ"),
        ("5610", "Nhà hàng và các dịch vụ ăn uống phục vụ lưu động"),
        ("6201", "Lập trình máy vi tính"),
        ("6202", "Tư vấn máy vi tính và quản trị hệ thống máy vi tính"),
        ("6810", "Kinh doanh bất động sản, quyền sử dụng đất thuộc chủ sở hữu, chủ sử dụng hoặc đi thuê"),
        ("7020", "Hoạt động tư vấn quản lý"),
    ];
}

/// `legal_status` of the reply.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum LegalStatus {
    Active,
    Suspended,
    Dissolving,
    Dissolved,
    Revoked,
    Bankrupt,
    Other,
}

impl LegalStatus {
    pub const ALL: [LegalStatus; 7] = [
        LegalStatus::Active,
        LegalStatus::Suspended,
        LegalStatus::Dissolving,
        LegalStatus::Dissolved,
        LegalStatus::Revoked,
        LegalStatus::Bankrupt,
        LegalStatus::Other,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            LegalStatus::Active => "active",
            LegalStatus::Suspended => "suspended",
            LegalStatus::Dissolving => "dissolving",
            LegalStatus::Dissolved => "dissolved",
            LegalStatus::Revoked => "revoked",
            LegalStatus::Bankrupt => "bankrupt",
            LegalStatus::Other => "other",
        }
    }
}

/// `business` of the reply (`schemas/business.lookup.reply.json`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Business {
    pub mst: String,
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub foreign_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub short_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub registration_number: Option<String>,
    /// `YYYY-MM-DD`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub first_registered_on: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_changed_on: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub changes: Option<u64>,
    pub legal_status: LegalStatus,
    pub registered_office: Address,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub legal_representatives: Vec<Representative>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub main_business_line: Option<BusinessLine>,
    /// For a branch (10-3), the enterprise it belongs to.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub parent_mst: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Address {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub province_code: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub district_code: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub commune_code: Option<String>,
    pub detail: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Representative {
    pub full_name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub position: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BusinessLine {
    pub code: String,
    pub name: String,
}

/// A record mapped, and what the mapping had to leave out or guess.
#[derive(Debug, Clone, PartialEq)]
pub struct Mapped {
    pub business: Business,
    pub notes: Vec<Note>,
}

/// Something about a record an operator may want to know (and correct in [`wire`]); the reply
/// goes out regardless. Texts quoted are the registry's wordings, codes and dates, never personal data.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Note {
    #[error("legal status wording `{0}` is not in the table; answered `other`")]
    UnknownLegalStatus(String),
    #[error("the record has no legal status; answered `other`")]
    NoLegalStatus,
    #[error("{field} `{value}` is not a date in a known format; left out")]
    UnreadableDate { field: &'static str, value: String },
    #[error("{field} is longer than the reply allows; left out")]
    TooLong { field: &'static str },
    #[error("{field} was cut to {limit} characters")]
    Truncated { field: &'static str, limit: usize },
    #[error("a legal representative has no name; left out")]
    UnnamedRepresentative,
    #[error("main business line {0} has no name in the record or the code table; left out")]
    UnnamedBusinessLine(String),
}

impl Note {
    /// The event name it is logged under.
    pub fn event(&self) -> &'static str {
        match self {
            Note::UnknownLegalStatus(_) | Note::NoLegalStatus => "business_unknown_legal_status",
            Note::UnnamedBusinessLine(_) => "business_unnamed_business_line",
            _ => "business_record_field_left_out",
        }
    }
}

/// Why a record cannot become a reply: the registry answered something we cannot vouch for.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MappingError {
    #[error("the record is not a JSON object")]
    NotAnObject,
    #[error("the record is about {got}, not {asked}")]
    OtherEnterprise { asked: String, got: String },
    #[error("the record has no {0}")]
    Missing(&'static str),
}

// Limits of the reply schema (`common.json`), in characters.
const SHORT_TEXT: usize = 500;
const REGISTRATION_NUMBER: usize = 32;
const CODE: usize = 16;

/// The reply to a lookup that found `business`.
pub fn found(business: &Business) -> Value {
    json!({ "result": "found", "business": business })
}

/// The reply to a lookup of an enterprise code the registry does not know.
pub fn not_found() -> Value {
    json!({ "result": "not_found" })
}

/// Maps the registry's record of `mst` (as requested) to the reply's `business`.
pub fn business(mst: &str, record: &Value) -> Result<Mapped, MappingError> {
    use wire::record::*;
    if !record.is_object() {
        return Err(MappingError::NotAnObject);
    }
    if let Some(got) = text(record.get(MA_SO_DOANH_NGHIEP))
        && got.trim() != mst
    {
        return Err(MappingError::OtherEnterprise { asked: mst.into(), got: got.trim().into() });
    }
    let mut notes = Vec::new();
    let name = short_text(record.get(TEN_TIENG_VIET), "tenTiengViet", &mut notes)
        .ok_or(MappingError::Missing(TEN_TIENG_VIET))?;
    let registered_office =
        office(record.get(DIA_CHI_TRU_SO), &mut notes).ok_or(MappingError::Missing(DIA_CHI_TRU_SO))?;
    let (legal_status, status_note) = current_legal_status(record.get(TINH_TRANG_PHAP_LY));
    notes.extend(status_note);
    let business = Business {
        mst: mst.to_string(),
        name,
        foreign_name: short_text(record.get(TEN_NUOC_NGOAI), TEN_NUOC_NGOAI, &mut notes),
        short_name: short_text(record.get(TEN_VIET_TAT), TEN_VIET_TAT, &mut notes),
        kind: short_text(record.get(LOAI_HINH_DN), LOAI_HINH_DN, &mut notes),
        registration_number: code(record.get(SO_GCN_DKKD), SO_GCN_DKKD, REGISTRATION_NUMBER, &mut notes),
        first_registered_on: date_field(record.get(NGAY_DANG_KY_LAN_DAU), NGAY_DANG_KY_LAN_DAU, &mut notes),
        last_changed_on: date_field(record.get(NGAY_DANG_KY_THAY_DOI), NGAY_DANG_KY_THAY_DOI, &mut notes),
        changes: count(record.get(SO_LAN_DANG_KY_THAY_DOI)),
        legal_status,
        registered_office,
        legal_representatives: representatives(record.get(DAI_DIEN_PHAP_LUAT), &mut notes),
        main_business_line: main_business_line(record.get(NGANH_NGHE_KINH_DOANH), &mut notes),
        parent_mst: parent_mst(mst).map(String::from),
    };
    Ok(Mapped { business, notes })
}

/// The reply's legal status for one of the registry's wordings; `None` when it is not in the table.
pub fn legal_status(wording: &str) -> Option<LegalStatus> {
    let wording = comparable(wording);
    wire::LEGAL_STATUSES.iter().find(|(known, _)| comparable(known) == wording).map(|(_, status)| *status)
}

/// The name of a business line code, from [`wire::BUSINESS_LINES`].
pub fn business_line_name(code: &str) -> Option<&'static str> {
    wire::BUSINESS_LINES.iter().find(|(known, _)| *known == code).map(|(_, name)| *name)
}

/// The enterprise a branch code (`0101234567-001`) belongs to; `None` for an enterprise's own code.
pub fn parent_mst(mst: &str) -> Option<&str> {
    mst.split_once('-').map(|(parent, _)| parent).filter(|_| is_mst(mst))
}

/// An enterprise code: 10 digits, or 10-3 digits for a branch (`schemas/common.json`).
pub fn is_mst(text: &str) -> bool {
    lgsp_bus::identifiers::Identifier::Mst.is_valid(text)
}

/// A registry date in one of [`wire::DATE_FORMATS`], or an ISO 8601 date-time.
pub fn registry_date(text: &str) -> Option<Date> {
    let text = text.trim();
    if let Ok(at) = OffsetDateTime::parse(text, &Rfc3339) {
        return Some(at.to_offset(wire::REGISTRY_OFFSET).date());
    }
    if let Ok(at) = PrimitiveDateTime::parse(text, wire::LOCAL_DATE_TIME) {
        return Some(at.date());
    }
    wire::DATE_FORMATS.iter().find_map(|format| Date::parse(text, format).ok())
}

/// `YYYY-MM-DD`, the reply's dates.
pub fn reply_date(date: Date) -> String {
    date.format(format_description!("[year]-[month]-[day]")).expect("every Date has a year-month-day")
}

/// When a token expires, from the `expiryDate` of a token answer.
pub fn token_expiry(value: &Value) -> Option<OffsetDateTime> {
    match value {
        Value::String(text) => {
            let text = text.trim();
            OffsetDateTime::parse(text, &Rfc3339).ok().or_else(|| {
                Some(PrimitiveDateTime::parse(text, wire::LOCAL_DATE_TIME).ok()?.assume_offset(wire::REGISTRY_OFFSET))
            })
        }
        Value::Number(number) => {
            let n = number.as_i64()?;
            // Seconds reach 10^11 in the year 5138; milliseconds passed it in 1973.
            let seconds = if n.abs() >= 100_000_000_000 { n / 1000 } else { n };
            OffsetDateTime::from_unix_timestamp(seconds).ok()
        }
        _ => None,
    }
}

/// `expiryDate` as the simulator writes it: ISO 8601 in Vietnam's offset.
pub fn expiry_text(at: OffsetDateTime) -> String {
    let at = at.to_offset(wire::REGISTRY_OFFSET).replace_nanosecond(0).unwrap_or(at);
    at.format(&Rfc3339).expect("a date-time in range formats")
}

/// The token call's body.
pub fn login_body(username: &str, password: &str) -> Value {
    json!({ wire::USERNAME: username, wire::PASSWORD: password })
}

/// The renewal call's body.
pub fn refresh_body(refresh_token: &str) -> Value {
    json!({ wire::REFRESH_TOKEN: refresh_token })
}

/// The current status: the latest dated item of the history (see [`wire::status`]).
fn current_legal_status(history: Option<&Value>) -> (LegalStatus, Option<Note>) {
    let current = items(history)
        .enumerate()
        .filter_map(|(index, item)| {
            let (wording, since) = match item {
                Value::Object(_) => (
                    text(item.get(wire::status::TEN_TINH_TRANG))?,
                    text(item.get(wire::status::NGAY_HIEU_LUC)).and_then(|d| registry_date(&d)),
                ),
                _ => (text(Some(item))?, None),
            };
            Some((since.is_some(), since, index, wording))
        })
        .filter(|(.., wording)| !wording.trim().is_empty())
        .max_by_key(|(dated, since, index, _)| (*dated, *since, *index));
    match current {
        None => (LegalStatus::Other, Some(Note::NoLegalStatus)),
        Some((.., wording)) => match legal_status(&wording) {
            Some(status) => (status, None),
            None => (LegalStatus::Other, Some(Note::UnknownLegalStatus(clean(&wording).unwrap_or_default()))),
        },
    }
}

fn office(addresses: Option<&Value>, notes: &mut Vec<Note>) -> Option<Address> {
    use wire::address::*;
    let address = items(addresses).next()?;
    let detail = clean_text(address.get(CHI_TIET)).or_else(|| {
        let parts: Vec<String> = PARTS.iter().filter_map(|part| clean_text(address.get(*part))).collect();
        (!parts.is_empty()).then(|| parts.join(", "))
    })?;
    Some(Address {
        province_code: code(address.get(MA_TINH_THANH), MA_TINH_THANH, CODE, notes),
        district_code: code(address.get(MA_QUAN_HUYEN), MA_QUAN_HUYEN, CODE, notes),
        commune_code: code(address.get(MA_PHUONG_XA), MA_PHUONG_XA, CODE, notes),
        detail: truncate(detail, "diaChiTruSo", notes),
    })
}

fn representatives(list: Option<&Value>, notes: &mut Vec<Note>) -> Vec<Representative> {
    use wire::representative::*;
    let mut found = Vec::new();
    for item in items(list) {
        let person = items(item.get(wire::record::THONG_TIN_CA_NHAN)).next();
        let Some(full_name) = person.and_then(|p| short_text(p.get(HO_TEN), HO_TEN, notes)) else {
            notes.push(Note::UnnamedRepresentative);
            continue;
        };
        let position = short_text(item.get(CHUC_DANH), CHUC_DANH, notes)
            .or_else(|| person.and_then(|p| short_text(p.get(CHUC_DANH), CHUC_DANH, notes)));
        found.push(Representative { full_name, position });
    }
    found
}

fn main_business_line(lines: Option<&Value>, notes: &mut Vec<Note>) -> Option<BusinessLine> {
    use wire::record::*;
    let main = items(lines).find(|line| is_true(line.get(LA_NGANH_CHINH)))?;
    let code = code(main.get(MA_NGANH), MA_NGANH, CODE, notes)?;
    let name = short_text(main.get(wire::TEN_NGANH), wire::TEN_NGANH, notes)
        .or_else(|| business_line_name(&code).map(String::from));
    match name {
        Some(name) => Some(BusinessLine { code, name }),
        None => {
            notes.push(Note::UnnamedBusinessLine(code));
            None
        }
    }
}

/// The items of a list; a lone object or string counts as a list of one.
fn items(value: Option<&Value>) -> Box<dyn Iterator<Item = &Value> + '_> {
    match value {
        Some(Value::Array(items)) => Box::new(items.iter()),
        Some(Value::Null) | None => Box::new(std::iter::empty()),
        Some(one) => Box::new(std::iter::once(one)),
    }
}

/// A string, or a number written as one.
fn text(value: Option<&Value>) -> Option<String> {
    match value? {
        Value::String(text) => Some(text.clone()),
        Value::Number(number) => Some(number.to_string()),
        _ => None,
    }
}

fn clean_text(value: Option<&Value>) -> Option<String> {
    clean(&text(value)?)
}

/// Text as the reply carries it: NFC, trimmed, runs of white space as one space; `None` when empty.
fn clean(text: &str) -> Option<String> {
    let nfc: Cow<str> = ComposingNormalizerBorrowed::new_nfc().normalize(text);
    let cleaned = nfc.split_whitespace().collect::<Vec<_>>().join(" ");
    (!cleaned.is_empty()).then_some(cleaned)
}

/// How two wordings are compared: clean, in lower case.
fn comparable(text: &str) -> String {
    clean(text).unwrap_or_default().to_lowercase()
}

/// A `short_text` of the reply: cut to its limit (names do not lose their meaning when cut).
fn short_text(value: Option<&Value>, field: &'static str, notes: &mut Vec<Note>) -> Option<String> {
    Some(truncate(clean_text(value)?, field, notes))
}

fn truncate(text: String, field: &'static str, notes: &mut Vec<Note>) -> String {
    match text.char_indices().nth(SHORT_TEXT) {
        Some((cut, _)) => {
            notes.push(Note::Truncated { field, limit: SHORT_TEXT });
            text[..cut].to_string()
        }
        None => text,
    }
}

/// A code or number of the reply: left out when longer than `limit` (a cut code is a wrong one).
fn code(value: Option<&Value>, field: &'static str, limit: usize, notes: &mut Vec<Note>) -> Option<String> {
    let code = clean_text(value)?;
    if code.chars().count() > limit {
        notes.push(Note::TooLong { field });
        return None;
    }
    Some(code)
}

fn date_field(value: Option<&Value>, field: &'static str, notes: &mut Vec<Note>) -> Option<String> {
    let value = clean_text(value)?;
    match registry_date(&value) {
        Some(date) => Some(reply_date(date)),
        None => {
            notes.push(Note::UnreadableDate { field, value });
            None
        }
    }
}

/// A count: a non-negative integer, or its digits as text.
fn count(value: Option<&Value>) -> Option<u64> {
    match value? {
        Value::Number(number) => number.as_u64(),
        Value::String(text) => text.trim().parse().ok(),
        _ => None,
    }
}

fn is_true(value: Option<&Value>) -> bool {
    match value {
        Some(Value::Bool(flag)) => *flag,
        Some(other) => text(Some(other)).is_some_and(|t| wire::TRUE_WORDS.contains(&t.trim().to_lowercase().as_str())),
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use std::path::{Path, PathBuf};

    use lgsp_bus::schema::Catalogue;
    use time::macros::{date, datetime};

    use super::*;

    const SERVICE: &str = "business.lookup";

    fn fixtures() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures")
    }

    fn read_json(path: &Path) -> Value {
        let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
    }

    fn fixture(name: &str) -> Value {
        read_json(&fixtures().join(format!("{name}.in.json")))
    }

    fn mapped(record: &Value) -> Mapped {
        let mst = record["maSoDoanhNghiep"].as_str().unwrap();
        business(mst, record).unwrap_or_else(|e| panic!("{mst}: {e}"))
    }

    #[test]
    fn fixtures_map_to_the_expected_replies_and_every_reply_is_valid() {
        let catalogue = Catalogue::embedded().unwrap();
        let mut seen = 0;
        for entry in std::fs::read_dir(fixtures()).unwrap() {
            let path = entry.unwrap().path();
            let Some(name) = path.file_name().and_then(|n| n.to_str()).and_then(|n| n.strip_suffix(".in.json")) else {
                continue;
            };
            let reply = found(&mapped(&read_json(&path)).business);
            let expected = read_json(&fixtures().join(format!("{name}.out.json")));
            assert_eq!(reply, expected, "fixture {name}");
            catalogue.check_reply(SERVICE, &reply).unwrap_or_else(|v| panic!("fixture {name}: {v:?}"));
            seen += 1;
        }
        assert!(seen >= 5, "only {seen} fixtures found");
        catalogue.check_reply(SERVICE, &not_found()).unwrap();
    }

    #[test]
    fn the_fixtures_notes_say_what_was_guessed() {
        assert_eq!(mapped(&fixture("enterprise_active")).notes, []);
        assert_eq!(mapped(&fixture("branch")).notes, []);
        assert_eq!(mapped(&fixture("dissolved")).notes, []);
        let wording = "Ngừng hoạt động nhưng chưa hoàn thành thủ tục chấm dứt hiệu lực mã số thuế";
        assert_eq!(mapped(&fixture("unknown_status")).notes, [Note::UnknownLegalStatus(wording.into())]);
        assert_eq!(
            mapped(&fixture("odd_shapes")).notes,
            [Note::UnreadableDate { field: "ngayDangKyThayDoi", value: "sắp tới".into() }, Note::UnnamedRepresentative,]
        );
    }

    #[test]
    fn every_reply_value_of_legal_status_is_in_the_schema_and_the_other_way_round() {
        let catalogue = Catalogue::embedded().unwrap();
        let schema = catalogue.document("business.lookup.reply.json").unwrap();
        let allowed = &schema["properties"]["business"]["properties"]["legal_status"]["enum"];
        let ours: Vec<Value> = LegalStatus::ALL.iter().map(|s| serde_json::to_value(s).unwrap()).collect();
        assert_eq!(allowed.as_array().unwrap(), &ours);
        for status in LegalStatus::ALL {
            assert_eq!(serde_json::to_value(status).unwrap(), status.as_str());
        }
    }

    #[test]
    fn legal_status_wordings_are_read_through_one_table() {
        assert_eq!(legal_status("Đang hoạt động"), Some(LegalStatus::Active));
        assert_eq!(legal_status("Tạm ngừng kinh doanh"), Some(LegalStatus::Suspended));
        assert_eq!(legal_status("Đang làm thủ tục giải thể"), Some(LegalStatus::Dissolving));
        assert_eq!(legal_status("Đã giải thể"), Some(LegalStatus::Dissolved));
        assert_eq!(legal_status("Bị thu hồi GCNĐKDN"), Some(LegalStatus::Revoked));
        assert_eq!(legal_status("Phá sản"), Some(LegalStatus::Bankrupt));
        // Decomposed (NFD) text, capitals and stray spaces are the same wording.
        assert_eq!(legal_status("\u{110}ang hoa\u{323}t \u{111}o\u{323}\u{302}ng"), Some(LegalStatus::Active));
        assert_eq!(legal_status("  ĐÃ  GIẢI THỂ "), Some(LegalStatus::Dissolved));
        assert_eq!(legal_status("Đang hoạt động (đã được cấp GCN ĐKT)"), None);
        assert_eq!(legal_status(""), None);
    }

    #[test]
    fn the_current_status_is_the_latest_in_the_history() {
        let status = |history: Value| current_legal_status(Some(&history));
        let history = json!([
            {"tenTinhTrang": "Đã giải thể", "ngayHieuLuc": "2023-05-04"},
            {"tenTinhTrang": "Đang hoạt động", "ngayHieuLuc": "2010-03-02"},
            {"tenTinhTrang": "Tạm ngừng kinh doanh"},
        ]);
        assert_eq!(status(history), (LegalStatus::Dissolved, None));
        assert_eq!(status(json!(["Đang hoạt động", "Phá sản"])), (LegalStatus::Bankrupt, None));
        assert_eq!(status(json!("Đang hoạt động")), (LegalStatus::Active, None));
        assert_eq!(status(json!([])), (LegalStatus::Other, Some(Note::NoLegalStatus)));
        assert_eq!(status(json!([{"tenTinhTrang": " "}])), (LegalStatus::Other, Some(Note::NoLegalStatus)));
        assert_eq!(current_legal_status(None), (LegalStatus::Other, Some(Note::NoLegalStatus)));
    }

    #[test]
    fn the_business_line_table_is_well_formed() {
        assert_eq!(business_line_name("4649"), Some("Bán buôn đồ dùng khác cho gia đình"));
        assert_eq!(business_line_name("9999"), None);
        for (code, name) in wire::BUSINESS_LINES {
            assert!(code.len() == 4 && code.bytes().all(|b| b.is_ascii_digit()), "{code}");
            assert_eq!(clean(name).as_deref(), Some(name), "{code} is NFC and tidy");
        }
        for (wording, _) in wire::LEGAL_STATUSES {
            assert_eq!(clean(wording).as_deref(), Some(wording));
        }
    }

    #[test]
    fn a_main_line_without_a_name_is_left_out_and_noted() {
        let mut notes = Vec::new();
        let lines = json!([{"maNganh": "4649"}, {"maNganh": "9999", "laNganhChinh": "1"}]);
        assert_eq!(main_business_line(Some(&lines), &mut notes), None);
        assert_eq!(notes, [Note::UnnamedBusinessLine("9999".into())]);
        let lines = json!([{"maNganh": "9999", "laNganhChinh": true, "tenNganh": "Ngành thử"}]);
        let line = main_business_line(Some(&lines), &mut notes).unwrap();
        assert_eq!((line.code.as_str(), line.name.as_str()), ("9999", "Ngành thử"));
        assert_eq!(main_business_line(Some(&json!([{"maNganh": "4649", "laNganhChinh": false}])), &mut notes), None);
    }

    #[test]
    fn registry_dates_in_every_accepted_format() {
        assert_eq!(registry_date("2003-01-15"), Some(date!(2003 - 01 - 15)));
        assert_eq!(registry_date("15/01/2003"), Some(date!(2003 - 01 - 15)));
        assert_eq!(registry_date("2003-01-15T09:30:00"), Some(date!(2003 - 01 - 15)));
        assert_eq!(registry_date("2003-01-15T09:30:00.123"), Some(date!(2003 - 01 - 15)));
        // An instant is dated in Vietnam: 17:00 UTC is already the next day there.
        assert_eq!(registry_date("2003-01-14T17:00:00Z"), Some(date!(2003 - 01 - 15)));
        for bad in ["2003-02-30", "15-01-2003", "20030115", "1/15/2003", ""] {
            assert_eq!(registry_date(bad), None, "{bad}");
        }
        assert_eq!(reply_date(date!(2003 - 01 - 05)), "2003-01-05");
    }

    #[test]
    fn token_expiry_in_every_accepted_form() {
        let expected = datetime!(2026-11-20 10:30:00 +7);
        assert_eq!(token_expiry(&json!("2026-11-20T10:30:00+07:00")), Some(expected));
        assert_eq!(token_expiry(&json!("2026-11-20T03:30:00Z")), Some(expected));
        assert_eq!(token_expiry(&json!("2026-11-20T10:30:00")), Some(expected));
        assert_eq!(token_expiry(&json!(expected.unix_timestamp())), Some(expected));
        assert_eq!(token_expiry(&json!(expected.unix_timestamp() * 1000)), Some(expected));
        assert_eq!(token_expiry(&json!("tomorrow")), None);
        assert_eq!(token_expiry(&Value::Null), None);
        assert_eq!(expiry_text(datetime!(2026-11-20 03:30:00.25 UTC)), "2026-11-20T10:30:00+07:00");
    }

    #[test]
    fn a_record_that_cannot_be_vouched_for_is_an_error() {
        let record = fixture("enterprise_active");
        let other = business("0109999999", &record).unwrap_err();
        assert_eq!(other, MappingError::OtherEnterprise { asked: "0109999999".into(), got: "0101234567".into() });
        assert_eq!(other.to_string(), "the record is about 0101234567, not 0109999999");
        for (field, value) in [("tenTiengViet", json!("  ")), ("diaChiTruSo", json!([]))] {
            let mut broken = record.clone();
            broken[field] = value;
            assert_eq!(business("0101234567", &broken).unwrap_err(), MappingError::Missing(field));
        }
        assert_eq!(business("0101234567", &json!([])).unwrap_err(), MappingError::NotAnObject);
        // Without maSoDoanhNghiep the requested code stands.
        let mut anonymous = record.clone();
        anonymous.as_object_mut().unwrap().remove("maSoDoanhNghiep");
        assert_eq!(business("0101234567", &anonymous).unwrap().business.mst, "0101234567");
    }

    #[test]
    fn long_texts_are_cut_and_long_codes_left_out() {
        let mut record = fixture("enterprise_active");
        record["tenTiengViet"] = "Công ty ".repeat(80).into();
        record["soGCNDKKD"] = "1".repeat(33).into();
        let mapped = mapped(&record);
        assert_eq!(mapped.business.name.chars().count(), 500);
        assert_eq!(mapped.business.registration_number, None);
        assert_eq!(
            mapped.notes,
            [Note::Truncated { field: "tenTiengViet", limit: 500 }, Note::TooLong { field: "soGCNDKKD" }]
        );
        Catalogue::embedded().unwrap().check_reply(SERVICE, &found(&mapped.business)).unwrap();
    }

    #[test]
    fn enterprise_codes_and_branches() {
        assert!(is_mst("0101234567") && is_mst("0101234567-001"));
        for bad in ["010123456", "01012345678", "0101234567-01", "0101234567_001", "010123456a", "0101234567-0011"] {
            assert!(!is_mst(bad), "{bad}");
        }
        assert_eq!(parent_mst("0101234567-001"), Some("0101234567"));
        assert_eq!(parent_mst("0101234567"), None);
        assert_eq!(parent_mst("01-001"), None);
    }

    #[test]
    fn request_bodies_follow_the_contract() {
        assert_eq!(login_body("u", "p"), json!({"username": "u", "password": "p"}));
        assert_eq!(refresh_body("r"), json!({"refreshToken": "r"}));
    }
}
