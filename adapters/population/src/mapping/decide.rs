//! Deciding the reply: whether the record matches what was asked, and which of its parts go back.

use icu_normalizer::ComposingNormalizerBorrowed;
use lgsp_bus::identifiers::Identifier;
use serde_json::{Map, Value, json};
use time::Date;

use super::*;

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

pub(super) fn gender(text: &str) -> Result<Value, ()> {
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
