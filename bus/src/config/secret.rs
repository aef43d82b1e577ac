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

/// Whether a key holds a secret, which may come from the environment only. A dotted key
/// (`auth.token`) is judged by its last part.
pub fn is_secret_key(key: &str) -> bool {
    const WORDS: [&str; 6] = ["password", "secret", "token", "api_key", "private_key", "signing_key"];
    let key = key.rsplit('.').next().unwrap_or(key);
    WORDS.iter().any(|w| key == *w || key.ends_with(&format!("_{w}")))
}

/// The secrets a table holds, at any depth: (dotted path, value).
pub fn secret_values(table: &toml::Table) -> Vec<(String, String)> {
    let mut found = Vec::new();
    for (key, value) in table {
        match value {
            toml::Value::Table(inner) => {
                found.extend(secret_values(inner).into_iter().map(|(path, secret)| (format!("{key}.{path}"), secret)))
            }
            toml::Value::String(secret) if is_secret_key(key) => found.push((key.clone(), secret.clone())),
            _ => {}
        }
    }
    found
}

/// Fills in, at any depth, what `settings` lacks from `defaults` (a simulator's sandbox
/// settings): what the operator set is never overridden.
pub fn fill_in(settings: &mut toml::Table, defaults: toml::Table) {
    for (key, default) in defaults {
        match (settings.get_mut(&key), default) {
            (Some(toml::Value::Table(set)), toml::Value::Table(inner)) => fill_in(set, inner),
            (Some(_), _) => {}
            (None, default) => {
                settings.insert(key, default);
            }
        }
    }
}

/// Sets a value at a dotted path, making the tables on the way.
pub fn set_path(table: &mut toml::Table, path: &str, value: toml::Value) {
    match path.split_once('.') {
        None => {
            table.insert(path.to_string(), value);
        }
        Some((first, rest)) => {
            let inner = table.entry(first).or_insert_with(|| toml::Value::Table(toml::Table::new()));
            if let toml::Value::Table(inner) = inner {
                set_path(inner, rest, value);
            }
        }
    }
}

/// Removes the value at a dotted path.
pub fn remove_path(table: &mut toml::Table, path: &str) -> Option<toml::Value> {
    match path.split_once('.') {
        None => table.remove(path),
        Some((first, rest)) => match table.get_mut(first) {
            Some(toml::Value::Table(inner)) => remove_path(inner, rest),
            _ => None,
        },
    }
}
