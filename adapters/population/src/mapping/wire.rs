//! The registry's wire format as we know it.
//!
//! `[D]` marks facts from DOMAIN.md (public material about the registry); `[S]` facts from the
//! SOAP 1.1/1.2 standards; `[A]` our assumptions, to be confirmed against the integration
//! platform's documents for the service. Data elements are matched by local name, whatever
//! their namespace prefix. [A]

use time::format_description::BorrowedFormatItem;

use time::macros::format_description;

use super::{Field, Gender};

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
