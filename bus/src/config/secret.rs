//! Secrets: values that never show in logs or debug output, and that come from the environment
//! only, so a config file can be committed and shared.

use std::fmt;

use serde::{Deserialize, Deserializer};

/// A value that must not be shown: printed as `***` in logs and debug output.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

impl<'de> Deserialize<'de> for Secret {
    /// Any scalar: an environment variable `1234` is a password, not a number.
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        match toml::Value::deserialize(deserializer)? {
            toml::Value::String(s) => Ok(Secret(s)),
            toml::Value::Integer(i) => Ok(Secret(i.to_string())),
            toml::Value::Float(f) => Ok(Secret(f.to_string())),
            toml::Value::Boolean(b) => Ok(Secret(b.to_string())),
            _ => Err(serde::de::Error::custom("expected a string")),
        }
    }
}

/// Whether a key holds a secret, which may come from the environment only.
pub fn is_secret_key(key: &str) -> bool {
    const WORDS: [&str; 6] = ["password", "secret", "token", "api_key", "private_key", "signing_key"];
    WORDS.iter().any(|w| key == *w || key.ends_with(&format!("_{w}")))
}
