//! Pure conversion from the canonical dossier payloads to the portal's JSON. No I/O.
//!
//! Every name and code of the portal's wire format lives in [`wire`], so that a wrong guess is
//! corrected in one place; the simulator checks requests against the same table.

use serde::Deserialize;
use serde_json::{Map, Value, json};
use time::macros::{format_description, offset};
use time::{OffsetDateTime, PrimitiveDateTime, UtcOffset};

/// The portal's wire format as we know it.
///
/// `[D]` marks facts from DOMAIN.md (the portal as OpenCPS integrates it); `[A]` marks our
/// assumptions, to be confirmed against the portal's integration documents.
pub mod wire {
    /// [A] Who a postal step names as its handler.
    pub const POSTAL_HANDLER: &str = "Bưu chính công ích";
    use super::*;

    // The request around every call. [D]
    pub const SESSION: &str = "session";
    pub const MADONVI: &str = "madonvi";
    pub const SERVICE: &str = "service";
    pub const IS_UPDATING: &str = "isUpdating";
    pub const DATA: &str = "data";
    /// `isUpdating` is a string, not a JSON boolean. [D]
    pub const TRUE: &str = "True";
    pub const FALSE: &str = "False";
    // The login call and the answers. [D]; `message` beside `error_code` is [A].
    pub const USERNAME: &str = "username";
    pub const PASSWORD: &str = "password";
    pub const ERROR_CODE: &str = "error_code";
    pub const MESSAGE: &str = "message";
    // Lookups: their parameter names are [D]; their answer under `data` is [A].
    pub const LOOKUP_DOSSIER_KEY: &str = "mahoso";
    pub const LOOKUP_PROCEDURE_KEY: &str = "maTTHC";

    /// Services. [D]
    pub const SYNC_DOSSIERS: &str = "DongBoHoSoMC";
    pub const UPDATE_PROGRESS: &str = "CapNhatTienDoHoSoMC";
    pub const LOOKUP_DOSSIER: &str = "TraCuuHoSo";
    pub const LOOKUP_PROCEDURE: &str = "LayThuTuc";

    /// `DongBoHoSoMC` item fields. [D], except where marked.
    pub mod sync {
        pub const MA_HO_SO: &str = "MaHoSo";
        pub const MA_TTHC: &str = "MaTTHC";
        pub const TEN_TTHC: &str = "TenTTHC";
        pub const MA_LINH_VUC: &str = "MaLinhVuc";
        pub const TEN_LINH_VUC: &str = "TenLinhVuc";
        pub const CHU_HO_SO: &str = "ChuHoSo";
        pub const LOAI_DOI_TUONG: &str = "LoaiDoiTuong";
        pub const MA_DOI_TUONG: &str = "MaDoiTuong";
        pub const EMAIL: &str = "Email";
        pub const SO_DIEN_THOAI: &str = "SoDienThoai";
        pub const TRICH_YEU: &str = "TrichYeuHoSo";
        pub const NGAY_TIEP_NHAN: &str = "NgayTiepNhan";
        pub const NGAY_HEN_TRA: &str = "NgayHenTra";
        pub const TRANG_THAI: &str = "TrangThaiHoSo";
        pub const NGAY_TRA: &str = "NgayTra";
        pub const HINH_THUC: &str = "HinhThuc";
        pub const DON_VI_XU_LY: &str = "DonViXuLy";
        pub const TAI_LIEU_NOP: &str = "TaiLieuNop";
        pub const LE_PHI: &str = "DanhSachLePhi";
        pub const HO_SO_BO_SUNG: &str = "DanhSachHoSoBoSung";
        pub const GIAY_TO_KET_QUA: &str = "DanhSachGiayToKetQua";
        /// The submission channel. [A]: the codes are [D], the field name is ours.
        pub const KENH_THUC_HIEN: &str = "KenhThucHien";

        /// What the portal needs in every item.
        pub const REQUIRED: [&str; 9] = [
            MA_HO_SO,
            MA_TTHC,
            CHU_HO_SO,
            LOAI_DOI_TUONG,
            MA_DOI_TUONG,
            NGAY_TIEP_NHAN,
            NGAY_HEN_TRA,
            TRANG_THAI,
            DON_VI_XU_LY,
        ];
        pub const DATES: [&str; 3] = [NGAY_TIEP_NHAN, NGAY_HEN_TRA, NGAY_TRA];
        pub const LISTS: [&str; 4] = [TAI_LIEU_NOP, LE_PHI, HO_SO_BO_SUNG, GIAY_TO_KET_QUA];
    }

    /// Items of `TaiLieuNop` and `DanhSachGiayToKetQua`. [A] all three names.
    pub mod document {
        pub const CODE: &str = "MaGiayTo";
        pub const NAME: &str = "TenGiayTo";
        pub const FILE_URL: &str = "DuongDanTepTin";
    }

    /// Items of `DanhSachLePhi`. [A] all three names; the amount is a number of VND.
    pub mod fee {
        pub const CODE: &str = "MaLePhi";
        pub const NAME: &str = "TenLePhi";
        pub const AMOUNT: &str = "SoTien";
    }

    /// `CapNhatTienDoHoSoMC` item fields. [D]
    pub mod progress {
        pub const MA_HO_SO: &str = "MaHoSo";
        pub const NGUOI_XU_LY: &str = "NguoiXuLy";
        pub const CHUC_DANH: &str = "ChucDanh";
        pub const THOI_DIEM_XU_LY: &str = "ThoiDiemXuLy";
        pub const PHONG_BAN_XU_LY: &str = "PhongBanXuLy";
        pub const NOI_DUNG_XU_LY: &str = "NoiDungXuLy";
        pub const TRANG_THAI: &str = "TrangThai";
        pub const NGAY_BAT_DAU: &str = "NgayBatDau";
        pub const NGAY_KET_THUC: &str = "NgayKetThucTheoQuyDinh";

        pub const REQUIRED: [&str; 6] =
            [MA_HO_SO, NGUOI_XU_LY, THOI_DIEM_XU_LY, PHONG_BAN_XU_LY, NOI_DUNG_XU_LY, TRANG_THAI];
        pub const DATES: [&str; 3] = [THOI_DIEM_XU_LY, NGAY_BAT_DAU, NGAY_KET_THUC];
    }

    /// `LoaiDoiTuong`. [D]
    pub const APPLICANT_CITIZEN: &str = "1";
    pub const APPLICANT_BUSINESS: &str = "2";
    /// `HinhThuc`: how the result goes back. [D]
    pub const RETURN_AT_COUNTER: &str = "0";
    pub const RETURN_BY_POST: &str = "1";
    /// `KenhThucHien` values. [D]
    pub const CHANNEL_COUNTER: &str = "1";
    pub const CHANNEL_ONLINE: &str = "2";
    pub const CHANNEL_POST: &str = "3";
    /// `TrangThaiHoSo` runs from 1 (newly registered) to 10 (result returned), sent as text. [D]
    pub const STATUSES: std::ops::RangeInclusive<u8> = 1..=10;
    /// A `dossier.submitted` without a status is newly registered. [D]
    pub const STATUS_NEW: u8 = 1;
    /// The status that requires `NgayTra`. [A], mirroring the canonical schema.
    pub const STATUS_RETURNED: u8 = 10;

    /// Dates are `yyyyMMddHHmmss` wall time in Asia/Ho_Chi_Minh, which has no daylight saving. [D]
    pub const PORTAL_OFFSET: UtcOffset = offset!(+7);
    pub const DATE_FORMAT: &[time::format_description::BorrowedFormatItem<'static>] =
        format_description!("[year][month][day][hour][minute][second]");

    /// The portal's `error_code`s and what the adapter does about each. Only `00` is [D]; the rest
    /// is [A], to be replaced by the portal's own table.
    pub const ANSWER_CODES: [(&str, Verdict, &str); 7] = [
        ("00", Verdict::Accepted, "success"),
        ("01", Verdict::Transient, "wrong username or password"),
        ("02", Verdict::RenewSession, "session unknown or expired"),
        ("03", Verdict::RefusedData, "invalid or missing data (the message names the dossier and field)"),
        ("04", Verdict::UnknownDossier, "dossier (or procedure) not found"),
        ("05", Verdict::Transient, "madonvi is not a unit of this account"),
        ("99", Verdict::Transient, "internal error at the portal"),
    ];
    pub const OK: &str = "00";
    pub const WRONG_CREDENTIALS: &str = "01";
    pub const SESSION_INVALID: &str = "02";
    pub const INVALID_DATA: &str = "03";
    pub const NOT_FOUND: &str = "04";
    pub const WRONG_UNIT: &str = "05";
    pub const INTERNAL_ERROR: &str = "99";
}

/// What the adapter does about a portal answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// The call was accepted.
    Accepted,
    /// Log in again and resend once.
    RenewSession,
    /// The data itself is refused: permanent for the items at fault, so a batch is resent item by
    /// item to find them.
    RefusedData,
    /// The portal does not know the dossier yet (its sync may still be on its way): transient for
    /// the items at fault, found as for `RefusedData`.
    UnknownDossier,
    /// Trouble at the portal or with our account: retry later. Also any code not in the table,
    /// since retrying an unknown refusal only delays its dead-lettering, while dead-lettering an
    /// unknown hiccup loses a message.
    Transient,
}

impl Verdict {
    pub fn of(error_code: &str) -> Verdict {
        wire::ANSWER_CODES.iter().find(|(code, _, _)| *code == error_code).map_or(Verdict::Transient, |(_, v, _)| *v)
    }

    /// Whether the fault lies with some items of the call rather than the call as a whole.
    pub fn blames_items(self) -> bool {
        matches!(self, Verdict::RefusedData | Verdict::UnknownDossier)
    }
}

/// The adapter's view of a `dossier.submitted` or `dossier.status_changed` payload: the fields it
/// reads. Unit tests make it strict, so a schema field it does not know fails the fixture tests.
#[derive(Debug, Clone, Deserialize)]
#[cfg_attr(test, serde(deny_unknown_fields))]
pub struct DossierView {
    pub dossier_code: String,
    pub procedure_code: String,
    pub procedure_name: Option<String>,
    pub sector_code: Option<String>,
    pub sector_name: Option<String>,
    pub agency_code: String,
    pub status: Option<u8>,
    #[serde(with = "time::serde::rfc3339")]
    pub received_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub due_at: OffsetDateTime,
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub completed_at: Option<OffsetDateTime>,
    pub applicant: ApplicantView,
    pub summary: Option<String>,
    pub channel: Option<Channel>,
    pub return_method: Option<ReturnMethod>,
    #[serde(default)]
    pub documents: Vec<DocumentView>,
    #[serde(default)]
    pub fees: Vec<FeeView>,
    #[serde(default)]
    pub results: Vec<DocumentView>,
    /// Only in `dossier.status_changed`: the step that caused the change.
    pub progress: Option<ProgressView>,
    /// The unit the dossier falls under: the bus routes by it; the portal's record has no field
    /// for it (DonViXuLy is the agency), so it is not sent.
    #[allow(dead_code)]
    pub unit_code: Option<String>,
    /// Where the result goes by post: the postal order carries it; the portal's record has no
    /// field for it (HinhThuc says "by post"), so it is not sent.
    #[allow(dead_code)]
    pub return_address: Option<Value>,
    /// Why the dossier is late and the apology sent: the bus keeps them for the province's late
    /// list; the portal's record (as DOMAIN.md knows it) has no field for them, so they are not sent.
    #[allow(dead_code)]
    pub late: Option<Value>,
}

#[derive(Debug, Clone, Deserialize)]
#[cfg_attr(test, serde(deny_unknown_fields))]
pub struct ApplicantView {
    pub kind: ApplicantKind,
    /// CCCD or MST: sent to the portal, never logged.
    pub id: String,
    pub name: String,
    pub email: Option<String>,
    pub phone: Option<String>,
    /// Not sent: the portal's item has no field for it.
    pub address: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ApplicantKind {
    Citizen,
    Business,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Channel {
    Counter,
    Online,
    Post,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ReturnMethod {
    Counter,
    Post,
}

#[derive(Debug, Clone, Deserialize)]
#[cfg_attr(test, serde(deny_unknown_fields))]
pub struct DocumentView {
    pub code: Option<String>,
    pub name: String,
    pub file_url: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[cfg_attr(test, serde(deny_unknown_fields))]
pub struct FeeView {
    pub code: Option<String>,
    pub name: String,
    pub amount: u64,
}

#[derive(Debug, Clone, Deserialize)]
#[cfg_attr(test, serde(deny_unknown_fields))]
pub struct ProgressView {
    pub handler: String,
    pub position: Option<String>,
    pub department: String,
    pub note: String,
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub started_at: Option<OffsetDateTime>,
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub deadline_at: Option<OffsetDateTime>,
}

/// The dvc adapter's view of a `postal.shipment_status`.
#[derive(Debug, Clone, Deserialize)]
#[cfg_attr(test, serde(deny_unknown_fields))]
pub struct ShipmentView {
    pub dossier_code: String,
    pub order_number: String,
    /// pickup or delivery.
    pub kind: String,
    pub status: String,
    #[allow(dead_code)]
    pub status_code: u8,
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
    #[allow(dead_code)]
    pub agency_code: Option<String>,
    pub note: Option<String>,
}

/// A postal shipment's move, as a step of the dossier's history at the portal. [A] The portal's
/// contract has no postal fields; a progress entry keeps what the citizen sees there complete.
/// `dossier_status` is the dossier's latest status, as the bus knows it.
pub fn shipment_progress_item(shipment: &ShipmentView, dossier_status: Option<u8>) -> Result<Value, MappingError> {
    use wire::progress::*;
    let what = match shipment.kind.as_str() {
        "pickup" => "Thu gom hồ sơ tại nhà",
        _ => "Trả kết quả qua bưu chính",
    };
    let how = match shipment.status.as_str() {
        "registered" => "đã đăng ký",
        "collecting" => "đang thu gom",
        "delivered" => "đã phát",
        _ => "đã hủy",
    };
    let mut note = format!("{what}: {how} (vận đơn {})", shipment.order_number);
    if let Some(extra) = &shipment.note {
        note = format!("{note}; {extra}");
    }
    let mut item = Map::new();
    item.insert(MA_HO_SO.into(), shipment.dossier_code.as_str().into());
    item.insert(NGUOI_XU_LY.into(), wire::POSTAL_HANDLER.into());
    item.insert(THOI_DIEM_XU_LY.into(), portal_time_of(THOI_DIEM_XU_LY, shipment.at)?.into());
    item.insert(PHONG_BAN_XU_LY.into(), wire::POSTAL_HANDLER.into());
    item.insert(NOI_DUNG_XU_LY.into(), note.into());
    item.insert(TRANG_THAI.into(), dossier_status.unwrap_or(wire::STATUS_NEW).to_string().into());
    Ok(Value::Object(item))
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MappingError {
    #[error("{field} is outside the dates the portal can be sent")]
    DateOutOfRange { field: &'static str },
}

/// One call to the integration endpoint, without the session (the client adds it per attempt).
#[derive(Debug, Clone, PartialEq)]
pub struct Call {
    pub service: Service,
    pub items: Vec<Value>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Service {
    /// `DongBoHoSoMC`: `updating` is false for new dossiers, true for changed ones.
    SyncDossiers { updating: bool },
    /// `CapNhatTienDoHoSoMC`.
    UpdateProgress,
}

impl Service {
    pub fn name(self) -> &'static str {
        match self {
            Service::SyncDossiers { .. } => wire::SYNC_DOSSIERS,
            Service::UpdateProgress => wire::UPDATE_PROGRESS,
        }
    }
}

/// The body of a call: `{session, madonvi, service, [isUpdating], data}`.
pub fn request_body(session: &str, madonvi: &str, call: &Call) -> Value {
    let mut body = Map::new();
    body.insert(wire::SESSION.into(), session.into());
    body.insert(wire::MADONVI.into(), madonvi.into());
    body.insert(wire::SERVICE.into(), call.service.name().into());
    if let Service::SyncDossiers { updating } = call.service {
        body.insert(wire::IS_UPDATING.into(), if updating { wire::TRUE } else { wire::FALSE }.into());
    }
    body.insert(wire::DATA.into(), Value::Array(call.items.clone()));
    Value::Object(body)
}

/// The body of a `TraCuuHoSo` call: `{session, madonvi, service, mahoso}`.
pub fn lookup_dossier_body(session: &str, madonvi: &str, code: &str) -> Value {
    json!({
        wire::SESSION: session,
        wire::MADONVI: madonvi,
        wire::SERVICE: wire::LOOKUP_DOSSIER,
        wire::LOOKUP_DOSSIER_KEY: code,
    })
}

/// The fields that say a dossier's state is the one an item carries: when the portal's copy
/// has them all as the item has them, sending the item again would change nothing.
const STATE_FIELDS: [&str; 6] = [
    wire::sync::MA_HO_SO,
    wire::sync::TRANG_THAI,
    wire::sync::TRICH_YEU,
    wire::sync::NGAY_HEN_TRA,
    wire::sync::NGAY_TRA,
    wire::sync::DON_VI_XU_LY,
];

/// Whether the portal's copy of a dossier (`TraCuuHoSo`'s `data`) already holds `item`'s state.
pub fn portal_holds(copy: &Value, item: &Value) -> bool {
    copy.is_object() && STATE_FIELDS.iter().all(|field| copy.get(field) == item.get(field))
}

/// The login body: `{username, password}`.
pub fn login_body(username: &str, password: &str) -> Value {
    json!({ wire::USERNAME: username, wire::PASSWORD: password })
}

/// A dossier's state as one `DongBoHoSoMC` item. Absent optional fields are left out; lists are
/// always sent, empty when there is nothing.
pub fn sync_item(dossier: &DossierView) -> Result<Value, MappingError> {
    use wire::sync::*;
    let mut item = Map::new();
    let mut put = |key: &str, value: Value| {
        item.insert(key.to_string(), value);
    };
    put(MA_HO_SO, dossier.dossier_code.as_str().into());
    put(MA_TTHC, dossier.procedure_code.as_str().into());
    put_opt(&mut put, TEN_TTHC, &dossier.procedure_name);
    put_opt(&mut put, MA_LINH_VUC, &dossier.sector_code);
    put_opt(&mut put, TEN_LINH_VUC, &dossier.sector_name);
    let applicant = &dossier.applicant;
    put(CHU_HO_SO, applicant.name.as_str().into());
    let kind = match applicant.kind {
        ApplicantKind::Citizen => wire::APPLICANT_CITIZEN,
        ApplicantKind::Business => wire::APPLICANT_BUSINESS,
    };
    put(LOAI_DOI_TUONG, kind.into());
    put(MA_DOI_TUONG, applicant.id.as_str().into());
    put_opt(&mut put, EMAIL, &applicant.email);
    put_opt(&mut put, SO_DIEN_THOAI, &applicant.phone);
    put_opt(&mut put, TRICH_YEU, &dossier.summary);
    put(NGAY_TIEP_NHAN, portal_time_of(NGAY_TIEP_NHAN, dossier.received_at)?.into());
    put(NGAY_HEN_TRA, portal_time_of(NGAY_HEN_TRA, dossier.due_at)?.into());
    put(TRANG_THAI, dossier.status.unwrap_or(wire::STATUS_NEW).to_string().into());
    if let Some(completed) = dossier.completed_at {
        put(NGAY_TRA, portal_time_of(NGAY_TRA, completed)?.into());
    }
    if let Some(method) = dossier.return_method {
        let code = match method {
            ReturnMethod::Counter => wire::RETURN_AT_COUNTER,
            ReturnMethod::Post => wire::RETURN_BY_POST,
        };
        put(HINH_THUC, code.into());
    }
    if let Some(channel) = dossier.channel {
        let code = match channel {
            Channel::Counter => wire::CHANNEL_COUNTER,
            Channel::Online => wire::CHANNEL_ONLINE,
            Channel::Post => wire::CHANNEL_POST,
        };
        put(KENH_THUC_HIEN, code.into());
    }
    put(DON_VI_XU_LY, dossier.agency_code.as_str().into());
    put(TAI_LIEU_NOP, dossier.documents.iter().map(document_item).collect());
    put(LE_PHI, dossier.fees.iter().map(fee_item).collect());
    // The canonical model has no supplementary-dossier list yet; the portal expects the key.
    put(HO_SO_BO_SUNG, Value::Array(Vec::new()));
    put(GIAY_TO_KET_QUA, dossier.results.iter().map(document_item).collect());
    Ok(Value::Object(item))
}

/// A progress step as one `CapNhatTienDoHoSoMC` item; `TrangThai` is the dossier's status.
pub fn progress_item(dossier: &DossierView, step: &ProgressView) -> Result<Value, MappingError> {
    use wire::progress::*;
    let mut item = Map::new();
    let mut put = |key: &str, value: Value| {
        item.insert(key.to_string(), value);
    };
    put(MA_HO_SO, dossier.dossier_code.as_str().into());
    put(NGUOI_XU_LY, step.handler.as_str().into());
    put_opt(&mut put, CHUC_DANH, &step.position);
    put(THOI_DIEM_XU_LY, portal_time_of(THOI_DIEM_XU_LY, step.at)?.into());
    put(PHONG_BAN_XU_LY, step.department.as_str().into());
    put(NOI_DUNG_XU_LY, step.note.as_str().into());
    put(TRANG_THAI, dossier.status.unwrap_or(wire::STATUS_NEW).to_string().into());
    if let Some(started) = step.started_at {
        put(NGAY_BAT_DAU, portal_time_of(NGAY_BAT_DAU, started)?.into());
    }
    if let Some(deadline) = step.deadline_at {
        put(NGAY_KET_THUC, portal_time_of(NGAY_KET_THUC, deadline)?.into());
    }
    Ok(Value::Object(item))
}

fn put_opt(put: &mut impl FnMut(&str, Value), key: &str, value: &Option<String>) {
    if let Some(value) = value {
        put(key, value.as_str().into());
    }
}

fn document_item(document: &DocumentView) -> Value {
    use wire::document::*;
    let mut item = Map::new();
    if let Some(code) = &document.code {
        item.insert(CODE.into(), code.as_str().into());
    }
    item.insert(NAME.into(), document.name.as_str().into());
    if let Some(url) = &document.file_url {
        item.insert(FILE_URL.into(), url.as_str().into());
    }
    Value::Object(item)
}

fn fee_item(fee: &FeeView) -> Value {
    use wire::fee::*;
    let mut item = Map::new();
    if let Some(code) = &fee.code {
        item.insert(CODE.into(), code.as_str().into());
    }
    item.insert(NAME.into(), fee.name.as_str().into());
    item.insert(AMOUNT.into(), fee.amount.into());
    Value::Object(item)
}

fn portal_time_of(field: &'static str, at: OffsetDateTime) -> Result<String, MappingError> {
    portal_time(at).ok_or(MappingError::DateOutOfRange { field })
}

/// `yyyyMMddHHmmss` wall time in UTC+7, whatever offset the instant was written with. `None` when
/// the instant has no such wall time (past year 9999).
pub fn portal_time(at: OffsetDateTime) -> Option<String> {
    at.checked_to_offset(wire::PORTAL_OFFSET)?.format(wire::DATE_FORMAT).ok()
}

/// Reads a portal date back: 14 digits that make a real date and time.
pub fn parse_portal_time(text: &str) -> Option<PrimitiveDateTime> {
    if text.len() != 14 || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    PrimitiveDateTime::parse(text, wire::DATE_FORMAT).ok()
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;
    use std::path::{Path, PathBuf};

    use super::*;

    fn view(payload: &Value) -> DossierView {
        serde_json::from_value(payload.clone()).unwrap_or_else(|e| panic!("{e}: {payload}"))
    }

    fn read_json(path: &Path) -> Value {
        let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
    }

    fn fixtures() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures")
    }

    fn schema(name: &str) -> Value {
        read_json(&Path::new(env!("CARGO_MANIFEST_DIR")).join("../../schemas").join(name))
    }

    /// Both portal items a payload becomes, as the `.out.json` fixtures write them.
    fn portal_items(payload: &Value) -> Value {
        let dossier = view(payload);
        let mut out = Map::new();
        out.insert(wire::SYNC_DOSSIERS.into(), sync_item(&dossier).unwrap());
        if let Some(step) = &dossier.progress {
            out.insert(wire::UPDATE_PROGRESS.into(), progress_item(&dossier, step).unwrap());
        }
        Value::Object(out)
    }

    #[test]
    fn fixtures_map_to_the_expected_portal_json() {
        let mut seen = 0;
        for entry in std::fs::read_dir(fixtures()).unwrap() {
            let path = entry.unwrap().path();
            let Some(name) = path.file_name().and_then(|n| n.to_str()).and_then(|n| n.strip_suffix(".in.json")) else {
                continue;
            };
            let expected = read_json(&fixtures().join(format!("{name}.out.json")));
            assert_eq!(portal_items(&read_json(&path)), expected, "fixture {name}");
            seen += 1;
        }
        assert!(seen >= 3, "only {seen} fixtures found");
    }

    #[test]
    fn the_fixtures_use_every_field_of_the_canonical_model() {
        // With the strict view, this makes a field added to the schema fail the fixture test
        // until the mapping decides what to do with it.
        let common = schema("common.json");
        let mut fields = BTreeSet::new();
        for def in ["dossier", "applicant", "document", "fee", "progress_step"] {
            fields.extend(common["$defs"][def]["properties"].as_object().unwrap().keys().cloned());
        }
        fields.extend(schema("dossier.status_changed.json")["properties"].as_object().unwrap().keys().cloned());

        let mut used = BTreeSet::new();
        for entry in std::fs::read_dir(fixtures()).unwrap() {
            let path = entry.unwrap().path();
            if path.to_string_lossy().ends_with(".in.json") {
                collect_keys(&read_json(&path), &mut used);
            }
        }
        let unused: Vec<&String> = fields.difference(&used).collect();
        assert!(unused.is_empty(), "no fixture uses {unused:?}");
    }

    fn collect_keys(value: &Value, keys: &mut BTreeSet<String>) {
        match value {
            Value::Object(map) => {
                for (key, inner) in map {
                    keys.insert(key.clone());
                    collect_keys(inner, keys);
                }
            }
            Value::Array(items) => items.iter().for_each(|inner| collect_keys(inner, keys)),
            _ => {}
        }
    }

    #[test]
    fn every_schema_example_maps() {
        for name in ["dossier.submitted.json", "dossier.status_changed.json"] {
            let examples = schema(name)["examples"].as_array().unwrap().clone();
            assert!(!examples.is_empty(), "{name} has no examples");
            for example in &examples {
                let items = portal_items(example);
                let item = &items[wire::SYNC_DOSSIERS];
                assert_eq!(item["MaHoSo"], example["dossier_code"], "{name}");
                assert_eq!(item["DonViXuLy"], example["agency_code"], "{name}");
                for list in wire::sync::LISTS {
                    assert!(item[list].is_array(), "{name}: {list} must be a list");
                }
                for field in wire::sync::REQUIRED {
                    assert!(item[field].is_string(), "{name}: {field} missing");
                }
                assert_eq!(items.get(wire::UPDATE_PROGRESS).is_some(), example.get("progress").is_some());
            }
        }
    }

    #[test]
    fn the_schema_examples_map_to_these_values() {
        let submitted = schema("dossier.submitted.json")["examples"].clone();
        let first = portal_items(&submitted[0]);
        let item = &first[wire::SYNC_DOSSIERS];
        assert_eq!(item["NgayTiepNhan"], "20261120083000");
        assert_eq!(item["NgayHenTra"], "20261127170000");
        assert_eq!(item["TrangThaiHoSo"], "1");
        assert_eq!(item["LoaiDoiTuong"], "1");
        assert_eq!(item["HinhThuc"], "1");
        assert_eq!(item["KenhThucHien"], "2");
        assert_eq!(item["TaiLieuNop"], json!([{"MaGiayTo": "TK01", "TenGiayTo": "Tờ khai thay đổi thông tin cư trú"}]));
        assert_eq!(item["DanhSachLePhi"], json!([{"TenLePhi": "Lệ phí đăng ký cư trú", "SoTien": 20000}]));

        // The second one has neither status nor return method: status 1, no HinhThuc, no nulls.
        let second = portal_items(&submitted[1]);
        let item = second[wire::SYNC_DOSSIERS].as_object().unwrap();
        assert_eq!(item["TrangThaiHoSo"], "1");
        assert_eq!(item["LoaiDoiTuong"], "2");
        assert_eq!(item["KenhThucHien"], "1");
        assert!(!item.contains_key("HinhThuc") && !item.contains_key("Email") && !item.contains_key("TenTTHC"));
        assert!(item.values().all(|v| !v.is_null()));

        let changed = schema("dossier.status_changed.json")["examples"].clone();
        let progress = &portal_items(&changed[0])[wire::UPDATE_PROGRESS];
        assert_eq!(progress["TrangThai"], "4");
        assert_eq!(progress["ThoiDiemXuLy"], "20261121090000");
        let returned = &portal_items(&changed[1])[wire::SYNC_DOSSIERS];
        assert_eq!(returned["TrangThaiHoSo"], "10");
        assert_eq!(returned["NgayTra"], "20261124153000");
        assert_eq!(returned["HinhThuc"], "0");
        assert!(returned.get("KenhThucHien").is_none());
    }

    #[test]
    fn dates_are_wall_time_in_vietnam_whatever_the_input_offset() {
        let at = |text: &str| OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339).unwrap();
        let expected = Some("20261120083000".to_string());
        assert_eq!(portal_time(at("2026-11-20T08:30:00+07:00")), expected);
        assert_eq!(portal_time(at("2026-11-20T01:30:00Z")), expected);
        assert_eq!(portal_time(at("2026-11-19T20:30:00-05:00")), expected);
        // Crossing midnight and a year end.
        assert_eq!(portal_time(at("2026-12-31T17:00:00Z")).unwrap(), "20270101000000");
        assert_eq!(portal_time(at("9999-12-31T20:00:00Z")), None);
    }

    #[test]
    fn portal_dates_are_read_back_strictly() {
        assert!(parse_portal_time("20261120083000").is_some());
        for bad in ["2026112008300", "202611200830000", "20261320083000", "20260230083000", "2026-11-20T08:3", ""] {
            assert!(parse_portal_time(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn answer_codes_decide_what_the_adapter_does() {
        assert_eq!(Verdict::of("00"), Verdict::Accepted);
        assert_eq!(Verdict::of("01"), Verdict::Transient);
        assert_eq!(Verdict::of("02"), Verdict::RenewSession);
        assert_eq!(Verdict::of("03"), Verdict::RefusedData);
        assert_eq!(Verdict::of("04"), Verdict::UnknownDossier);
        assert_eq!(Verdict::of("99"), Verdict::Transient);
        assert_eq!(Verdict::of("42"), Verdict::Transient);
        assert!(Verdict::of("03").blames_items() && !Verdict::of("99").blames_items());
    }

    #[test]
    fn request_bodies_follow_the_contract() {
        let call = Call { service: Service::SyncDossiers { updating: false }, items: vec![json!({"MaHoSo": "x"})] };
        assert_eq!(
            request_body("s1", "000.00.00.H42", &call),
            json!({"session": "s1", "madonvi": "000.00.00.H42", "service": "DongBoHoSoMC",
                   "isUpdating": "False", "data": [{"MaHoSo": "x"}]})
        );
        let call = Call { service: Service::SyncDossiers { updating: true }, items: vec![] };
        assert_eq!(request_body("s1", "m", &call)["isUpdating"], "True");
        let call = Call { service: Service::UpdateProgress, items: vec![] };
        let body = request_body("s1", "m", &call);
        assert_eq!(body["service"], "CapNhatTienDoHoSoMC");
        assert!(body.get("isUpdating").is_none());
    }
}
