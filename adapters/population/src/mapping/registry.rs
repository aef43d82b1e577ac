//! The registry's side: a lookup, the citizens it answers with, its faults, and what each
//! answer means.

use lgsp_bus::privacy::redact;
use lgsp_bus::{Failure, ServiceError};

use xml::XmlError;

use super::*;

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

    pub(super) fn fields(&self) -> [(&'static str, &str); 8] {
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

    pub(super) fn text(&self, tag: &str) -> Option<&str> {
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

    pub(super) fn address(&self, tag: &str) -> Option<&DiaChi> {
        use wire::citizen::*;
        match tag {
            NOI_DANG_KY_KHAI_SINH => self.noi_dang_ky_khai_sinh.as_ref(),
            QUE_QUAN => self.que_quan.as_ref(),
            THUONG_TRU => self.thuong_tru.as_ref(),
            NOI_O_HIEN_TAI => self.noi_o_hien_tai.as_ref(),
            _ => None,
        }
    }

    pub(super) fn relative(&self, tag: &str) -> Option<&NguoiThan> {
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
