//! The canonical side: `citizen.verify` as members ask it and as the bus answers it.

use lgsp_bus::privacy::redact;
use serde::{Deserialize, Deserializer};
use serde_json::Value;
use time::Date;
use time::macros::format_description;

use super::*;

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
