//! Reading the registry's SOAP messages with [`super::xml::parse`], which refuses DOCTYPEs and
//! expands no entity.

use xml::{Element, XmlError};

use super::*;

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
