//! Pure conversion between `citizen.verify` and the registry's SOAP messages. No I/O.
//!
//! Every tag, namespace, code and format of the registry's wire format lives in [`wire`], so that
//! a wrong guess is corrected in one place; the simulator reads and writes with the same table.
//! XML is only ever written with quick-xml's writer (user data is escaped, never formatted in)
//! and read with [`xml::parse`], which refuses DOCTYPEs and expands no entity.

pub mod xml;

use std::io;

use icu_normalizer::ComposingNormalizerBorrowed;
use lgsp_bus::identifiers::Identifier;
use lgsp_bus::privacy::redact;
use lgsp_bus::{Failure, ServiceError};
use quick_xml::Writer;
use quick_xml::events::{BytesDecl, BytesText, Event};
use serde::{Deserialize, Deserializer};
use serde_json::{Map, Value, json};
use time::Date;
use time::macros::format_description;

use xml::{Element, XmlError};

/// The registry's wire format as we know it.
///
/// `[D]` marks facts from DOMAIN.md (public material about the registry); `[S]` facts from the
/// SOAP 1.1/1.2 standards; `[A]` our assumptions, to be confirmed against the integration
/// platform's documents for the service. Data elements are matched by local name, whatever
/// their namespace prefix. [A]
pub mod wire {
    use time::format_description::BorrowedFormatItem;

    use super::{Field, Gender, format_description};

    // The envelope. [S]
    pub const SOAP11_NS: &str = "http://schemas.xmlsoap.org/soap/envelope/";
    pub const SOAP12_NS: &str = "http://www.w3.org/2003/05/soap-envelope";
    pub const SOAP_PREFIX: &str = "soap";
    pub const ENVELOPE: &str = "Envelope";
    pub const BODY: &str = "Body";
    pub const FAULT: &str = "Fault";
    /// SOAP 1.1 fault children (unqualified). [S]
    pub const FAULTCODE: &str = "faultcode";
    pub const FAULTSTRING: &str = "faultstring";
    /// SOAP 1.2 fault children: `Code/Value` and `Reason/Text`. [S]
    pub const CODE: &str = "Code";
    pub const VALUE: &str = "Value";
    pub const REASON: &str = "Reason";
    pub const TEXT: &str = "Text";
    /// Fault codes that blame the caller's input (1.1 `Client`, 1.2 `Sender`, with or without a
    /// `.Subcode`); any other code blames the registry. [S]
    pub const CALLER_FAULTS: [&str; 2] = ["Client", "Sender"];
    pub const CLIENT_FAULT: &str = "soap:Client";
    pub const SERVER_FAULT: &str = "soap:Server";

    /// The service's namespace: the default of .NET web services, which many government SOAP
    /// services keep. [A]
    pub const NAMESPACE: &str = "http://tempuri.org/";
    /// The operation element in the Body, and the default `SOAPAction`. [A]
    pub const OPERATION: &str = "TraCuuThongTinCongDan";
    /// The answer's wrapper in the Body; the reader does not rely on it. [A]
    pub const RESPONSE: &str = "TraCuuThongTinCongDanResponse";

    /// Request fields, in the order they are written (the order is [A]). [D]
    pub mod request {
        pub const MA_YEU_CAU: &str = "MaYeuCau";
        pub const MA_DVC: &str = "MaDVC";
        pub const MA_TICH_HOP: &str = "MaTichHop";
        pub const MA_CAN_BO: &str = "MaCanBo";
        pub const MA_HO_SO: &str = "MaHoSo";
        pub const SO_DINH_DANH: &str = "SoDinhDanh";
        /// Not sent: `citizen.verify` carries no old ID number. [D]
        pub const SO_CMND: &str = "SoCMND";
        pub const HO_VA_TEN: &str = "HoVaTen";
        pub const NGAY_THANG_NAM: &str = "NgayThangNam";
    }
    /// `NgayThangNam` in a request: `yyyyMMdd`, like the portal's compact dates. [A]
    pub const REQUEST_DATE: &[BorrowedFormatItem<'static>] = format_description!("[year][month][day]");

    /// The answer: `congdanCollection/congDan` somewhere in the Body. [D]
    pub const COLLECTION: &str = "congdanCollection";
    pub const CITIZEN: &str = "congDan";

    /// Elements of a `congDan`. [D], except where marked.
    pub mod citizen {
        pub const HO_VA_TEN: &str = "hoVaTen";
        pub const HO: &str = "ho";
        pub const CHU_DEM: &str = "chuDem";
        pub const TEN: &str = "ten";
        pub const NGAY_THANG_NAM_SINH: &str = "ngayThangNamSinh";
        /// The year of birth, `yyyy`: alone when the day is not known. [A] its meaning.
        pub const NAM: &str = "nam";
        /// The full date of birth, in one of [`super::ANSWER_DATES`]. [A] its format.
        pub const NGAY_THANG_NAM: &str = "ngayThangNam";
        pub const GIOI_TINH: &str = "gioiTinh";
        pub const DAN_TOC: &str = "danToc";
        pub const TON_GIAO: &str = "tonGiao";
        pub const QUOC_TICH: &str = "quocTich";
        pub const TINH_TRANG_HON_NHAN: &str = "tinhTrangHonNhan";
        pub const NHOM_MAU: &str = "nhomMau";
        pub const SO_DINH_DANH: &str = "soDinhDanh";
        pub const SO_CMND: &str = "soCMND";
        pub const SO_SO_HO_KHAU: &str = "soSoHoKhau";
        pub const NOI_DANG_KY_KHAI_SINH: &str = "noiDangKyKhaiSinh";
        pub const QUE_QUAN: &str = "queQuan";
        pub const THUONG_TRU: &str = "thuongTru";
        pub const NOI_O_HIEN_TAI: &str = "noiOHienTai";
        pub const CHA: &str = "cha";
        pub const ME: &str = "me";
        pub const VO_CHONG: &str = "voChong";
        /// Read, never returned: the canonical reply has no field for it.
        pub const NGUOI_DAI_DIEN: &str = "nguoiDaiDien";
        pub const CHU_HO: &str = "chuHo";
        /// In `chuHo`: the citizen's relation to the head of household ("Con", "Vợ", …). [D] the
        /// tag; [A] whose relation it is.
        pub const QUAN_HE: &str = "quanHe";
    }

    /// Elements of an address. `maTinhThanh` and `chiTiet` [D]; the district and commune
    /// codes [A]. Codes are passed on as the registry writes them.
    pub mod address {
        pub const MA_TINH_THANH: &str = "maTinhThanh";
        pub const MA_QUAN_HUYEN: &str = "maQuanHuyen";
        pub const MA_PHUONG_XA: &str = "maPhuongXa";
        pub const CHI_TIET: &str = "chiTiet";
    }
    // A relative (`cha`, `me`, `voChong`, `nguoiDaiDien`, `chuHo`) holds `hoVaTen` and
    // `soDinhDanh` [A]; its `hoVaTen` is read as text or as `{ho, chuDem, ten}` [A], and written
    // as text.

    /// Formats of `ngayThangNam` in answers, tried in order. [A]
    pub const ANSWER_DATES: [&[BorrowedFormatItem<'static>]; 3] = [
        format_description!("[year][month][day]"),
        format_description!("[day]/[month]/[year]"),
        format_description!("[year]-[month]-[day]"),
    ];
    /// A record holding only the year of birth matches a date of birth in that year. [A] a policy
    /// choice: such records are common for older citizens.
    pub const YEAR_ONLY_MATCHES_ON_YEAR: bool = true;

    /// `gioiTinh` values, compared case-insensitively; any other value is not passed on. [A]
    pub const GENDERS: [(&str, Gender); 6] = [
        ("1", Gender::Male),
        ("2", Gender::Female),
        ("3", Gender::Other),
        ("Nam", Gender::Male),
        ("Nữ", Gender::Female),
        ("Khác", Gender::Other),
    ];

    /// Where each canonical field of the reply comes from in a `congDan`. [D] the tags.
    /// `ethnicity`, `religion`, `nationality`, `marital_status` and `blood_type` are passed on as
    /// the registry writes them, codes or names. [A]
    pub const FIELDS: [(Field, &str); 16] = [
        (Field::Gender, citizen::GIOI_TINH),
        (Field::Ethnicity, citizen::DAN_TOC),
        (Field::Religion, citizen::TON_GIAO),
        (Field::Nationality, citizen::QUOC_TICH),
        (Field::MaritalStatus, citizen::TINH_TRANG_HON_NHAN),
        (Field::BloodType, citizen::NHOM_MAU),
        (Field::PlaceOfBirth, citizen::NOI_DANG_KY_KHAI_SINH),
        (Field::Hometown, citizen::QUE_QUAN),
        (Field::PermanentAddress, citizen::THUONG_TRU),
        (Field::CurrentAddress, citizen::NOI_O_HIEN_TAI),
        (Field::OldIdNumber, citizen::SO_CMND),
        (Field::HouseholdBookNumber, citizen::SO_SO_HO_KHAU),
        (Field::Father, citizen::CHA),
        (Field::Mother, citizen::ME),
        (Field::Spouse, citizen::VO_CHONG),
        (Field::HeadOfHousehold, citizen::CHU_HO),
    ];
}

// ---------------------------------------------------------------------------------------------
// The canonical side.

/// A part of the record a procedure may ask for: `fields` in `citizen.verify`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Field {
    Gender,
    Ethnicity,
    Religion,
    Nationality,
    MaritalStatus,
    BloodType,
    PlaceOfBirth,
    Hometown,
    PermanentAddress,
    CurrentAddress,
    OldIdNumber,
    HouseholdBookNumber,
    Father,
    Mother,
    Spouse,
    HeadOfHousehold,
}

impl Field {
    pub const ALL: [Field; 16] = [
        Field::Gender,
        Field::Ethnicity,
        Field::Religion,
        Field::Nationality,
        Field::MaritalStatus,
        Field::BloodType,
        Field::PlaceOfBirth,
        Field::Hometown,
        Field::PermanentAddress,
        Field::CurrentAddress,
        Field::OldIdNumber,
        Field::HouseholdBookNumber,
        Field::Father,
        Field::Mother,
        Field::Spouse,
        Field::HeadOfHousehold,
    ];

    /// The name in the reply schema.
    pub fn name(self) -> &'static str {
        match self {
            Field::Gender => "gender",
            Field::Ethnicity => "ethnicity",
            Field::Religion => "religion",
            Field::Nationality => "nationality",
            Field::MaritalStatus => "marital_status",
            Field::BloodType => "blood_type",
            Field::PlaceOfBirth => "place_of_birth",
            Field::Hometown => "hometown",
            Field::PermanentAddress => "permanent_address",
            Field::CurrentAddress => "current_address",
            Field::OldIdNumber => "old_id_number",
            Field::HouseholdBookNumber => "household_book_number",
            Field::Father => "father",
            Field::Mother => "mother",
            Field::Spouse => "spouse",
            Field::HeadOfHousehold => "head_of_household",
        }
    }

    /// The registry's tag for it, from [`wire::FIELDS`].
    pub fn tag(self) -> &'static str {
        wire::FIELDS.iter().find(|(field, _)| *field == self).map(|(_, tag)| *tag).expect("every field is in the table")
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Gender {
    Male,
    Female,
    Other,
}

impl Gender {
    pub fn name(self) -> &'static str {
        match self {
            Gender::Male => "male",
            Gender::Female => "female",
            Gender::Other => "other",
        }
    }
}

/// A `citizen.verify` request, as the bus validated it against its schema.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VerifyRequest {
    pub cccd: String,
    pub full_name: String,
    #[serde(deserialize_with = "canonical_date")]
    pub date_of_birth: Date,
    pub dossier_code: String,
    #[serde(default)]
    pub fields: Vec<Field>,
}

impl VerifyRequest {
    /// Reads a request body; the error is safe to show (citizen IDs masked).
    pub fn from_body(body: &Value) -> Result<VerifyRequest, String> {
        VerifyRequest::deserialize(body).map_err(|e| redact(&format!("not a citizen.verify request: {e}")))
    }
}

fn canonical_date<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Date, D::Error> {
    let text = String::deserialize(deserializer)?;
    Date::parse(&text, format_description!("[year]-[month]-[day]"))
        .map_err(|_| serde::de::Error::custom("date_of_birth is not a date YYYY-MM-DD"))
}

/// What a lookup found, for the log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Match,
    Mismatch,
    NotFound,
}

impl Outcome {
    pub fn name(self) -> &'static str {
        match self {
            Outcome::Match => "match",
            Outcome::Mismatch => "mismatch",
            Outcome::NotFound => "not_found",
        }
    }
}

/// The reply to a request, and what it is about.
#[derive(Debug, Clone, PartialEq)]
pub struct Decision {
    /// Valid against `schemas/citizen.verify.reply.json`.
    pub reply: Value,
    pub outcome: Outcome,
    /// Requested fields the record holds in a form the reply cannot carry (an unknown gender
    /// code, an old ID that is not 9 digits, …): left out, and worth a warning.
    pub unusable: Vec<Field>,
}

// ---------------------------------------------------------------------------------------------
// The registry's side.

/// A lookup as the registry receives it. Written by [`request_envelope`], read back by
/// [`read_request`] (the simulator's side); a field missing from the XML reads as "".
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Lookup {
    pub ma_yeu_cau: String,
    pub ma_dvc: String,
    pub ma_tich_hop: String,
    pub ma_can_bo: String,
    pub ma_ho_so: String,
    pub so_dinh_danh: String,
    pub ho_va_ten: String,
    /// `yyyyMMdd`, see [`wire::REQUEST_DATE`].
    pub ngay_thang_nam: String,
}

impl Lookup {
    /// The lookup for a canonical request; `ma_can_bo` is the member asking, `ma_yeu_cau` fresh.
    pub fn new(request: &VerifyRequest, ma_dvc: &str, ma_tich_hop: &str, ma_can_bo: &str, ma_yeu_cau: &str) -> Lookup {
        Lookup {
            ma_yeu_cau: ma_yeu_cau.into(),
            ma_dvc: ma_dvc.into(),
            ma_tich_hop: ma_tich_hop.into(),
            ma_can_bo: ma_can_bo.into(),
            ma_ho_so: request.dossier_code.clone(),
            so_dinh_danh: request.cccd.clone(),
            ho_va_ten: request.full_name.clone(),
            ngay_thang_nam: request.date_of_birth.format(wire::REQUEST_DATE).expect("a date formats as yyyyMMdd"),
        }
    }

    fn fields(&self) -> [(&'static str, &str); 8] {
        use wire::request::*;
        [
            (MA_YEU_CAU, &self.ma_yeu_cau),
            (MA_DVC, &self.ma_dvc),
            (MA_TICH_HOP, &self.ma_tich_hop),
            (MA_CAN_BO, &self.ma_can_bo),
            (MA_HO_SO, &self.ma_ho_so),
            (SO_DINH_DANH, &self.so_dinh_danh),
            (HO_VA_TEN, &self.ho_va_ten),
            (NGAY_THANG_NAM, &self.ngay_thang_nam),
        ]
    }
}

/// One `congDan` as the registry writes it: text as found (trimmed), absent when blank.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CongDan {
    pub so_dinh_danh: Option<String>,
    pub ho: Option<String>,
    pub chu_dem: Option<String>,
    pub ten: Option<String>,
    /// `ngayThangNamSinh/nam`.
    pub nam_sinh: Option<String>,
    /// `ngayThangNamSinh/ngayThangNam`.
    pub ngay_sinh: Option<String>,
    pub gioi_tinh: Option<String>,
    pub dan_toc: Option<String>,
    pub ton_giao: Option<String>,
    pub quoc_tich: Option<String>,
    pub tinh_trang_hon_nhan: Option<String>,
    pub nhom_mau: Option<String>,
    pub so_cmnd: Option<String>,
    pub so_so_ho_khau: Option<String>,
    pub noi_dang_ky_khai_sinh: Option<DiaChi>,
    pub que_quan: Option<DiaChi>,
    pub thuong_tru: Option<DiaChi>,
    pub noi_o_hien_tai: Option<DiaChi>,
    pub cha: Option<NguoiThan>,
    pub me: Option<NguoiThan>,
    pub vo_chong: Option<NguoiThan>,
    pub nguoi_dai_dien: Option<NguoiThan>,
    pub chu_ho: Option<NguoiThan>,
}

impl CongDan {
    /// `ho chuDem ten`, the parts present, one space apart.
    pub fn full_name(&self) -> String {
        [&self.ho, &self.chu_dem, &self.ten].into_iter().flatten().map(String::as_str).collect::<Vec<_>>().join(" ")
    }

    fn text(&self, tag: &str) -> Option<&str> {
        use wire::citizen::*;
        let value = match tag {
            GIOI_TINH => &self.gioi_tinh,
            DAN_TOC => &self.dan_toc,
            TON_GIAO => &self.ton_giao,
            QUOC_TICH => &self.quoc_tich,
            TINH_TRANG_HON_NHAN => &self.tinh_trang_hon_nhan,
            NHOM_MAU => &self.nhom_mau,
            SO_CMND => &self.so_cmnd,
            SO_SO_HO_KHAU => &self.so_so_ho_khau,
            _ => return None,
        };
        value.as_deref()
    }

    fn address(&self, tag: &str) -> Option<&DiaChi> {
        use wire::citizen::*;
        match tag {
            NOI_DANG_KY_KHAI_SINH => self.noi_dang_ky_khai_sinh.as_ref(),
            QUE_QUAN => self.que_quan.as_ref(),
            THUONG_TRU => self.thuong_tru.as_ref(),
            NOI_O_HIEN_TAI => self.noi_o_hien_tai.as_ref(),
            _ => None,
        }
    }

    fn relative(&self, tag: &str) -> Option<&NguoiThan> {
        use wire::citizen::*;
        match tag {
            CHA => self.cha.as_ref(),
            ME => self.me.as_ref(),
            VO_CHONG => self.vo_chong.as_ref(),
            NGUOI_DAI_DIEN => self.nguoi_dai_dien.as_ref(),
            CHU_HO => self.chu_ho.as_ref(),
            _ => None,
        }
    }
}

/// An address in the registry.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DiaChi {
    pub ma_tinh_thanh: Option<String>,
    pub ma_quan_huyen: Option<String>,
    pub ma_phuong_xa: Option<String>,
    pub chi_tiet: Option<String>,
}

/// A relative, the legal representative or the head of household.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NguoiThan {
    pub ho_va_ten: Option<String>,
    pub so_dinh_danh: Option<String>,
    /// Only in `chuHo`.
    pub quan_he: Option<String>,
}

/// A SOAP fault.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fault {
    /// As sent, such as `soap:Client` or `env:Sender`.
    pub code: String,
    pub string: String,
}

impl Fault {
    /// Whether the fault blames the caller's input (`Client`/`Sender`).
    pub fn blames_caller(&self) -> bool {
        let local = self.code.trim().rsplit(':').next().unwrap_or_default();
        let class = local.split('.').next().unwrap_or_default();
        wire::CALLER_FAULTS.contains(&class)
    }
}

/// What an answer holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    /// The `congDan` entries (none when no citizen has that CCCD).
    Citizens(Vec<CongDan>),
    Fault(Fault),
}

/// Why an answer could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReadError {
    #[error("{0}")]
    Xml(#[from] XmlError),
    #[error("it is not the SOAP answer expected: {0}")]
    NotSoap(String),
}

/// Why an answer gives no reply. [`AnswerError::service_error`] says what the caller is told.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AnswerError {
    /// A SOAP fault, whatever the HTTP status.
    Fault(Fault),
    /// An HTTP status other than 2xx, without a SOAP fault.
    Status(u16),
    /// A 2xx answer that is not the SOAP answer expected.
    Unreadable(ReadError),
    /// A readable answer that cannot be relied on (a record about another CCCD, say).
    Inconsistent(String),
}

/// HTTP statuses that blame our access or the moment, not the caller's input.
const STATUSES_NOT_REFUSALS: [u16; 4] = [401, 403, 408, 429];

/// Longest piece of a peer's text that goes into a reason; the whole answer goes with the failure.
const MAX_REASON_TEXT: usize = 300;

impl AnswerError {
    /// Whether the registry refused the caller's input (retrying the same request cannot help).
    pub fn is_refusal(&self) -> bool {
        match self {
            AnswerError::Fault(fault) => fault.blames_caller(),
            AnswerError::Status(status) => (400..500).contains(status) && !STATUSES_NOT_REFUSALS.contains(status),
            AnswerError::Unreadable(_) | AnswerError::Inconsistent(_) => false,
        }
    }

    /// What the caller is told: `Refused` for its own input, `Unavailable` otherwise. The reason
    /// names the dossier and masks citizen IDs. `peer_answer` (the answer as received) goes along,
    /// masked, for a fault or a status only: an answer we could not use may hold a record, and a
    /// record is only ever passed on field by field, on a match.
    pub fn service_error(&self, dossier: &str, peer_answer: Option<&str>) -> ServiceError {
        let reason = match self {
            AnswerError::Fault(fault) => {
                let verb = if fault.blames_caller() { "refused" } else { "failed" };
                format!("population registry {verb} the lookup for {dossier}: {}: {}", fault.code, clip(&fault.string))
            }
            AnswerError::Status(status) => {
                let text =
                    reqwest::StatusCode::from_u16(*status).map_or_else(|_| status.to_string(), |s| s.to_string());
                format!("population registry answered HTTP {text} to the lookup for {dossier}")
            }
            AnswerError::Unreadable(e) => {
                format!("population registry's answer to the lookup for {dossier} was not used: {e}")
            }
            AnswerError::Inconsistent(why) => {
                format!("population registry's answer to the lookup for {dossier} was not used: {why}")
            }
        };
        let mut failure = Failure::new(redact(&reason));
        if let Some(answer) = peer_answer
            && matches!(self, AnswerError::Fault(_) | AnswerError::Status(_))
        {
            failure = failure.with_answer(redact(answer));
        }
        if self.is_refusal() { ServiceError::Refused(failure) } else { ServiceError::Unavailable(failure) }
    }
}

fn clip(text: &str) -> String {
    let text = text.trim();
    match text.char_indices().nth(MAX_REASON_TEXT) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text.to_string(),
    }
}

// ---------------------------------------------------------------------------------------------
// Writing.

/// A character XML 1.0 can carry, escaped or not.
fn is_xml_char(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\r') || (c >= ' ' && c != '\u{FFFE}' && c != '\u{FFFF}')
}

/// The SOAP 1.1 request for a lookup. Refused when a value holds a character XML cannot carry
/// (a control character in a name, say); the error names the field.
pub fn request_envelope(lookup: &Lookup) -> Result<String, String> {
    for (tag, value) in lookup.fields() {
        if !value.chars().all(is_xml_char) {
            return Err(format!("{tag} holds a control character that XML cannot carry"));
        }
    }
    Ok(envelope(|w| {
        w.create_element(wire::OPERATION).with_attribute(("xmlns", wire::NAMESPACE)).write_inner_content(|w| {
            for (tag, value) in lookup.fields() {
                leaf(w, tag, value)?;
            }
            Ok(())
        })?;
        Ok(())
    }))
}

/// An answer holding these citizens (none: not found), as the registry writes it.
pub fn answer_envelope(citizens: &[CongDan]) -> String {
    envelope(|w| {
        w.create_element(wire::RESPONSE).with_attribute(("xmlns", wire::NAMESPACE)).write_inner_content(|w| {
            w.create_element(wire::COLLECTION).write_inner_content(|w| {
                for citizen in citizens {
                    write_citizen(w, citizen)?;
                }
                Ok(())
            })?;
            Ok(())
        })?;
        Ok(())
    })
}

/// A SOAP 1.1 fault, such as `(wire::CLIENT_FAULT, "SoDinhDanh phải gồm 12 chữ số")`.
pub fn fault_envelope(code: &str, string: &str) -> String {
    let string: String = string.chars().filter(|c| is_xml_char(*c)).collect();
    envelope(|w| {
        w.create_element(format!("{}:{}", wire::SOAP_PREFIX, wire::FAULT)).write_inner_content(|w| {
            leaf(w, wire::FAULTCODE, code)?;
            leaf(w, wire::FAULTSTRING, &string)
        })?;
        Ok(())
    })
}

type W = Writer<Vec<u8>>;

fn envelope(body: impl FnOnce(&mut W) -> io::Result<()>) -> String {
    let mut writer = Writer::new(Vec::new());
    let written: io::Result<()> = (|| {
        writer.write_event(Event::Decl(BytesDecl::new("1.0", Some("utf-8"), None)))?;
        writer
            .create_element(format!("{}:{}", wire::SOAP_PREFIX, wire::ENVELOPE))
            .with_attribute((format!("xmlns:{}", wire::SOAP_PREFIX).as_str(), wire::SOAP11_NS))
            .write_inner_content(|w| {
                w.create_element(format!("{}:{}", wire::SOAP_PREFIX, wire::BODY)).write_inner_content(body)?;
                Ok(())
            })?;
        Ok(())
    })();
    written.expect("writing to memory cannot fail");
    String::from_utf8(writer.into_inner()).expect("quick-xml writes the UTF-8 it is given")
}

/// `<tag>value</tag>`, the value escaped.
fn leaf(w: &mut W, tag: &str, value: &str) -> io::Result<()> {
    w.create_element(tag).write_text_content(BytesText::new(value))?;
    Ok(())
}

fn leaf_opt(w: &mut W, tag: &str, value: &Option<String>) -> io::Result<()> {
    match value {
        Some(value) => leaf(w, tag, value),
        None => Ok(()),
    }
}

fn write_citizen(w: &mut W, c: &CongDan) -> io::Result<()> {
    use wire::citizen::*;
    w.create_element(wire::CITIZEN).write_inner_content(|w| {
        leaf_opt(w, SO_DINH_DANH, &c.so_dinh_danh)?;
        w.create_element(HO_VA_TEN).write_inner_content(|w| {
            leaf_opt(w, HO, &c.ho)?;
            leaf_opt(w, CHU_DEM, &c.chu_dem)?;
            leaf_opt(w, TEN, &c.ten)
        })?;
        w.create_element(NGAY_THANG_NAM_SINH).write_inner_content(|w| {
            leaf_opt(w, NAM, &c.nam_sinh)?;
            leaf_opt(w, NGAY_THANG_NAM, &c.ngay_sinh)
        })?;
        for (tag, value) in [
            (GIOI_TINH, &c.gioi_tinh),
            (DAN_TOC, &c.dan_toc),
            (TON_GIAO, &c.ton_giao),
            (QUOC_TICH, &c.quoc_tich),
            (TINH_TRANG_HON_NHAN, &c.tinh_trang_hon_nhan),
            (NHOM_MAU, &c.nhom_mau),
            (SO_CMND, &c.so_cmnd),
            (SO_SO_HO_KHAU, &c.so_so_ho_khau),
        ] {
            leaf_opt(w, tag, value)?;
        }
        for tag in [NOI_DANG_KY_KHAI_SINH, QUE_QUAN, THUONG_TRU, NOI_O_HIEN_TAI] {
            if let Some(address) = c.address(tag) {
                use wire::address::*;
                w.create_element(tag).write_inner_content(|w| {
                    leaf_opt(w, MA_TINH_THANH, &address.ma_tinh_thanh)?;
                    leaf_opt(w, MA_QUAN_HUYEN, &address.ma_quan_huyen)?;
                    leaf_opt(w, MA_PHUONG_XA, &address.ma_phuong_xa)?;
                    leaf_opt(w, CHI_TIET, &address.chi_tiet)
                })?;
            }
        }
        for tag in [CHA, ME, VO_CHONG, NGUOI_DAI_DIEN, CHU_HO] {
            if let Some(person) = c.relative(tag) {
                w.create_element(tag).write_inner_content(|w| {
                    leaf_opt(w, QUAN_HE, &person.quan_he)?;
                    leaf_opt(w, HO_VA_TEN, &person.ho_va_ten)?;
                    leaf_opt(w, SO_DINH_DANH, &person.so_dinh_danh)
                })?;
            }
        }
        Ok(())
    })?;
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Reading.

/// The Body of a SOAP envelope (1.1 or 1.2).
fn soap_body(text: &str) -> Result<Element, ReadError> {
    let mut root = xml::parse(text)?;
    let soap_ns = root.namespace.clone().filter(|ns| ns == wire::SOAP11_NS || ns == wire::SOAP12_NS);
    if root.name != wire::ENVELOPE || soap_ns.is_none() {
        return Err(ReadError::NotSoap(format!("its root is <{}>, not a SOAP Envelope", root.name)));
    }
    let at = root.children.iter().position(|c| c.name == wire::BODY && c.namespace == soap_ns);
    match at {
        Some(at) => Ok(root.children.swap_remove(at)),
        None => Err(ReadError::NotSoap("its Envelope has no Body".into())),
    }
}

/// Reads an answer: the `congDan` entries, or the SOAP fault.
pub fn read_answer(text: &str) -> Result<Answer, ReadError> {
    let body = soap_body(text)?;
    if let Some(fault) = body.child(wire::FAULT) {
        // 1.1: faultcode/faultstring; 1.2: Code/Value and Reason/Text.
        let code = fault
            .text_of(wire::FAULTCODE)
            .or_else(|| fault.child(wire::CODE).and_then(|c| c.text_of(wire::VALUE)))
            .unwrap_or_default();
        let string = fault
            .text_of(wire::FAULTSTRING)
            .or_else(|| fault.child(wire::REASON).and_then(|r| r.text_of(wire::TEXT)))
            .unwrap_or_default();
        return Ok(Answer::Fault(Fault { code, string }));
    }
    let collection = body
        .descendant(wire::COLLECTION)
        .ok_or_else(|| ReadError::NotSoap(format!("its Body holds no {}", wire::COLLECTION)))?;
    Ok(Answer::Citizens(collection.children_named(wire::CITIZEN).map(read_citizen).collect()))
}

/// What an HTTP answer (status and body) says: the citizens found, or why there are none to go by.
pub fn judge(status: u16, body: &str) -> Result<Vec<CongDan>, AnswerError> {
    let success = (200..300).contains(&status);
    match read_answer(body) {
        Ok(Answer::Fault(fault)) => Err(AnswerError::Fault(fault)),
        Ok(Answer::Citizens(citizens)) if success => Ok(citizens),
        Err(e) if success => Err(AnswerError::Unreadable(e)),
        _ => Err(AnswerError::Status(status)),
    }
}

fn read_citizen(element: &Element) -> CongDan {
    use wire::citizen::*;
    let name = element.child(HO_VA_TEN);
    let born = element.child(NGAY_THANG_NAM_SINH);
    CongDan {
        so_dinh_danh: element.text_of(SO_DINH_DANH),
        ho: name.and_then(|n| n.text_of(HO)),
        chu_dem: name.and_then(|n| n.text_of(CHU_DEM)),
        ten: name.and_then(|n| n.text_of(TEN)),
        nam_sinh: born.and_then(|b| b.text_of(NAM)),
        ngay_sinh: born.and_then(|b| b.text_of(NGAY_THANG_NAM)),
        gioi_tinh: element.text_of(GIOI_TINH),
        dan_toc: element.text_of(DAN_TOC),
        ton_giao: element.text_of(TON_GIAO),
        quoc_tich: element.text_of(QUOC_TICH),
        tinh_trang_hon_nhan: element.text_of(TINH_TRANG_HON_NHAN),
        nhom_mau: element.text_of(NHOM_MAU),
        so_cmnd: element.text_of(SO_CMND),
        so_so_ho_khau: element.text_of(SO_SO_HO_KHAU),
        noi_dang_ky_khai_sinh: read_address(element, NOI_DANG_KY_KHAI_SINH),
        que_quan: read_address(element, QUE_QUAN),
        thuong_tru: read_address(element, THUONG_TRU),
        noi_o_hien_tai: read_address(element, NOI_O_HIEN_TAI),
        cha: read_person(element, CHA),
        me: read_person(element, ME),
        vo_chong: read_person(element, VO_CHONG),
        nguoi_dai_dien: read_person(element, NGUOI_DAI_DIEN),
        chu_ho: read_person(element, CHU_HO),
    }
}

/// The address under `tag`; absent when the element is, or holds nothing (`xsi:nil`, say).
fn read_address(citizen: &Element, tag: &str) -> Option<DiaChi> {
    use wire::address::*;
    let element = citizen.child(tag)?;
    let address = DiaChi {
        ma_tinh_thanh: element.text_of(MA_TINH_THANH),
        ma_quan_huyen: element.text_of(MA_QUAN_HUYEN),
        ma_phuong_xa: element.text_of(MA_PHUONG_XA),
        chi_tiet: element.text_of(CHI_TIET),
    };
    Some(address).filter(|a| *a != DiaChi::default())
}

/// The person under `tag`; absent when the element is, or holds nothing.
fn read_person(citizen: &Element, tag: &str) -> Option<NguoiThan> {
    use wire::citizen::*;
    let element = citizen.child(tag)?;
    // The name as text, or in parts like the citizen's own.
    let name = element.child(HO_VA_TEN).and_then(|name| {
        let parts: Vec<String> = [HO, CHU_DEM, TEN].iter().filter_map(|part| name.text_of(part)).collect();
        let text = if parts.is_empty() { name.text.trim().to_string() } else { parts.join(" ") };
        Some(text).filter(|t| !t.is_empty())
    });
    let person =
        NguoiThan { ho_va_ten: name, so_dinh_danh: element.text_of(SO_DINH_DANH), quan_he: element.text_of(QUAN_HE) };
    Some(person).filter(|p| *p != NguoiThan::default())
}

/// Reads a request as the registry would (the simulator's side). The error says why in plain words.
pub fn read_request(text: &str) -> Result<Lookup, RequestError> {
    let root = xml::parse(text).map_err(RequestError::Xml)?;
    if root.name != wire::ENVELOPE || root.namespace.as_deref() != Some(wire::SOAP11_NS) {
        return Err(RequestError::NotSoap11);
    }
    let body = root
        .children
        .iter()
        .find(|c| c.name == wire::BODY && c.namespace.as_deref() == Some(wire::SOAP11_NS))
        .ok_or(RequestError::Missing(wire::BODY))?;
    let operation = body.children.first().ok_or(RequestError::Missing(wire::OPERATION))?;
    if operation.name != wire::OPERATION {
        return Err(RequestError::UnknownOperation(operation.name.clone()));
    }
    let get = |tag: &str| operation.text_of(tag).unwrap_or_default();
    use wire::request::*;
    Ok(Lookup {
        ma_yeu_cau: get(MA_YEU_CAU),
        ma_dvc: get(MA_DVC),
        ma_tich_hop: get(MA_TICH_HOP),
        ma_can_bo: get(MA_CAN_BO),
        ma_ho_so: get(MA_HO_SO),
        so_dinh_danh: get(SO_DINH_DANH),
        ho_va_ten: operation.child(HO_VA_TEN).map(|e| e.text.clone()).unwrap_or_default(),
        ngay_thang_nam: get(NGAY_THANG_NAM),
    })
}

/// Why a request is not one the registry reads.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RequestError {
    #[error("{0}")]
    Xml(XmlError),
    #[error("not a SOAP 1.1 Envelope")]
    NotSoap11,
    #[error("missing {0}")]
    Missing(&'static str),
    #[error("unknown operation {0}")]
    UnknownOperation(String),
}

// ---------------------------------------------------------------------------------------------
// Deciding.

/// The reply to `request` given the citizens the registry found with its CCCD.
pub fn decide(request: &VerifyRequest, citizens: &[CongDan]) -> Result<Decision, AnswerError> {
    if citizens.is_empty() {
        return Ok(Decision {
            reply: json!({"result": "not_found"}),
            outcome: Outcome::NotFound,
            unusable: Vec::new(),
        });
    }
    // A record that names another CCCD is not about this citizen, whatever else it says.
    let about: Vec<&CongDan> =
        citizens.iter().filter(|c| c.so_dinh_danh.as_deref().is_none_or(|id| id == request.cccd)).collect();
    let record = match about.as_slice() {
        [record] => *record,
        [] => return Err(AnswerError::Inconsistent("it is about another citizen ID".into())),
        several => {
            return Err(AnswerError::Inconsistent(format!("it holds {} records for one citizen ID", several.len())));
        }
    };

    let registry_name = record.full_name();
    if registry_name.is_empty() {
        return Err(AnswerError::Inconsistent("the record holds no name".into()));
    }
    let mut mismatched = Vec::new();
    if normalise_name(&registry_name) != normalise_name(&request.full_name) {
        mismatched.push("full_name");
    }
    if !birth_matches(record, request.date_of_birth)? {
        mismatched.push("date_of_birth");
    }
    if !mismatched.is_empty() {
        // Which fields differ, and nothing of what the registry holds.
        return Ok(Decision {
            reply: json!({"result": "mismatch", "mismatched": mismatched}),
            outcome: Outcome::Mismatch,
            unusable: Vec::new(),
        });
    }

    let mut reply = Map::new();
    reply.insert("result".into(), "match".into());
    let mut unusable = Vec::new();
    if !request.fields.is_empty() {
        let mut citizen = Map::new();
        for field in &request.fields {
            match field_value(record, *field) {
                Ok(Some(value)) => {
                    citizen.insert(field.name().into(), value);
                }
                Ok(None) => {}
                Err(()) => unusable.push(*field),
            }
        }
        reply.insert("citizen".into(), Value::Object(citizen));
    }
    Ok(Decision { reply: Value::Object(reply), outcome: Outcome::Match, unusable })
}

/// Names compare after Unicode normalisation (NFC), trimming, collapsing spaces and case folding.
pub fn normalise_name(name: &str) -> String {
    let collapsed = name.split_whitespace().collect::<Vec<_>>().join(" ");
    let nfc = ComposingNormalizerBorrowed::new_nfc();
    // Lower-casing a decomposed letter may leave it decomposed: normalise on both sides.
    nfc.normalize(&nfc.normalize(&collapsed).to_lowercase()).into_owned()
}

fn birth_matches(record: &CongDan, asked: Date) -> Result<bool, AnswerError> {
    if let Some(text) = &record.ngay_sinh {
        let date = wire::ANSWER_DATES.iter().find_map(|format| Date::parse(text, format).ok());
        return match date {
            Some(date) => Ok(date == asked),
            None => Err(AnswerError::Inconsistent("the record's date of birth is not in a known format".into())),
        };
    }
    match record.nam_sinh.as_deref().map(|year| (year.len() == 4, year.parse::<i32>())) {
        Some((true, Ok(year))) if wire::YEAR_ONLY_MATCHES_ON_YEAR => Ok(year == asked.year()),
        Some(_) => Err(AnswerError::Inconsistent("the record's year of birth is not a year".into())),
        None => Err(AnswerError::Inconsistent("the record holds no date of birth".into())),
    }
}

/// One field of the reply: `Ok(None)` when the record does not hold it, `Err` when it holds it in
/// a form the reply schema cannot carry.
fn field_value(record: &CongDan, field: Field) -> Result<Option<Value>, ()> {
    let tag = field.tag();
    match field {
        Field::Gender => record.text(tag).map(gender).transpose(),
        Field::Ethnicity | Field::Religion | Field::Nationality | Field::MaritalStatus => {
            record.text(tag).map(|text| short_text(text).map(Value::from)).transpose()
        }
        Field::BloodType => record.text(tag).map(|text| bounded(text, 8).map(Value::from)).transpose(),
        Field::HouseholdBookNumber => record.text(tag).map(|text| bounded(text, 32).map(Value::from)).transpose(),
        Field::OldIdNumber => {
            record.text(tag).map(|text| if is_digits(text, 9) { Ok(Value::from(text)) } else { Err(()) }).transpose()
        }
        Field::PlaceOfBirth | Field::Hometown | Field::PermanentAddress | Field::CurrentAddress => {
            record.address(tag).map(address).transpose()
        }
        Field::Father | Field::Mother | Field::Spouse | Field::HeadOfHousehold => {
            record.relative(tag).map(|person| relative(person, field == Field::HeadOfHousehold)).transpose()
        }
    }
}

fn gender(text: &str) -> Result<Value, ()> {
    let text = normalise_name(text);
    wire::GENDERS.iter().find(|(code, _)| normalise_name(code) == text).map(|(_, g)| g.name().into()).ok_or(())
}

fn short_text(text: &str) -> Result<String, ()> {
    bounded(text, 500)
}

fn bounded(text: &str, max: usize) -> Result<String, ()> {
    let text = text.trim();
    if text.is_empty() || text.chars().count() > max { Err(()) } else { Ok(text.to_string()) }
}

fn is_digits(text: &str, count: usize) -> bool {
    text.len() == count && text.bytes().all(|b| b.is_ascii_digit())
}

fn address(address: &DiaChi) -> Result<Value, ()> {
    let mut out = Map::new();
    for (key, code) in [
        ("province_code", &address.ma_tinh_thanh),
        ("district_code", &address.ma_quan_huyen),
        ("commune_code", &address.ma_phuong_xa),
    ] {
        if let Some(code) = code {
            out.insert(key.into(), bounded(code, 16)?.into());
        }
    }
    let detail = address.chi_tiet.as_deref().ok_or(())?;
    out.insert("detail".into(), short_text(detail)?.into());
    Ok(Value::Object(out))
}

fn relative(person: &NguoiThan, with_relationship: bool) -> Result<Value, ()> {
    let mut out = Map::new();
    out.insert("full_name".into(), short_text(person.ho_va_ten.as_deref().ok_or(())?)?.into());
    // A malformed ID is left out; the name still says who it is.
    if let Some(id) = person.so_dinh_danh.as_deref().filter(|id| Identifier::Cccd.is_valid(id)) {
        out.insert("cccd".into(), id.into());
    }
    if with_relationship && let Some(relationship) = person.quan_he.as_deref().and_then(|r| short_text(r).ok()) {
        out.insert("relationship".into(), relationship.into());
    }
    Ok(Value::Object(out))
}

#[cfg(test)]
mod tests;
