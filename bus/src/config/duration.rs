//! Durations are written the way people say them: `500ms`, `10s`, `2m`, `1h`. Use with
//! `#[serde(with = "duration")]` (or `duration::optional`, `duration::list`).

use std::time::Duration;

use serde::{Deserialize, Deserializer};

/// A text that is not a duration.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{text}` is not a duration such as 500ms, 10s or 2m ({reason})")]
pub struct NotADuration {
    text: String,
    reason: String,
}

pub fn parse(text: &str) -> Result<Duration, NotADuration> {
    humantime::parse_duration(text).map_err(|e| NotADuration { text: text.to_string(), reason: e.to_string() })
}

pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Duration, D::Error> {
    parse(&String::deserialize(deserializer)?).map_err(serde::de::Error::custom)
}

/// For optional durations, written back the same way: a simulator's `token_ttl` of `"2s"`.
pub mod optional {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(value: &Option<Duration>, serializer: S) -> Result<S::Ok, S::Error> {
        match value {
            Some(duration) => serializer.serialize_str(&humantime::format_duration(*duration).to_string()),
            None => serializer.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<Duration>, D::Error> {
        let text: Option<String> = Option::deserialize(deserializer)?;
        text.map(|text| super::parse(&text).map_err(serde::de::Error::custom)).transpose()
    }
}

/// For lists of durations, such as the retry tiers.
pub mod list {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer};

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<Duration>, D::Error> {
        Vec::<String>::deserialize(deserializer)?
            .iter()
            .map(|text| super::parse(text).map_err(serde::de::Error::custom))
            .collect()
    }
}
