//! Writing the registry's SOAP messages, only ever with quick-xml's writer: user data is
//! escaped, never formatted in.

use std::io;

use quick_xml::Writer;
use quick_xml::events::{BytesDecl, BytesText, Event};

use super::*;

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
