//! The vocabulary of config problems: what is wrong and under which key, and how a serde error
//! becomes one. A leaf: every table the bus reads (the config file, the routing tables, the
//! procedure catalogue, an adapter's settings) reports through it.

use std::fmt;

use serde::de::DeserializeOwned;

/// One thing wrong with the config, and where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigProblem {
    /// Dotted path of the key, such as `adapters.dvc.url`.
    pub key: String,
    pub reason: String,
}

impl ConfigProblem {
    pub fn new(key: impl Into<String>, reason: impl Into<String>) -> Self {
        Self { key: key.into(), reason: reason.into() }
    }

    /// The same problem, seen from an enclosing table: `url` under `adapters.dvc`.
    pub fn under(mut self, prefix: &str) -> Self {
        self.key = if self.key.is_empty() { prefix.to_string() } else { format!("{prefix}.{}", self.key) };
        self
    }

    /// Its key as a JSON pointer into the same settings sent as JSON: `rights.send[0].types`
    /// is `/rights/send/0/types`, `schemas."land.lookup".request` is `/schemas/land.lookup/request`.
    pub fn pointer(&self) -> String {
        let mut pointer = String::new();
        let mut quoted = false;
        let mut segment = String::new();
        let flush = |segment: &mut String, pointer: &mut String| {
            if !segment.is_empty() {
                pointer.push('/');
                pointer.push_str(&segment.replace('~', "~0").replace('/', "~1"));
                segment.clear();
            }
        };
        for c in self.key.chars() {
            match c {
                '"' => quoted = !quoted,
                '.' | '[' | ']' if !quoted => flush(&mut segment, &mut pointer),
                c => segment.push(c),
            }
        }
        flush(&mut segment, &mut pointer);
        pointer
    }
}

impl fmt::Display for ConfigProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.key.is_empty() { write!(f, "{}", self.reason) } else { write!(f, "{}: {}", self.key, self.reason) }
    }
}

/// Parses one section with serde, reporting the path of the offending key.
pub fn parse_section<T: DeserializeOwned>(table: &toml::Table) -> Result<T, ConfigProblem> {
    let value = toml::Value::Table(table.clone());
    serde_path_to_error::deserialize(value).map_err(|e| {
        let path = e.path().to_string();
        let key = if path == "." { String::new() } else { path };
        // The TOML deserializer appends "in `key`" lines; the path already says where.
        let reason = e.into_inner().to_string();
        let reason = reason.lines().next().unwrap_or_default();
        // serde says "missing field `url`" about the table; the operator looks for it under `url`.
        match reason.strip_prefix("missing field `").and_then(|rest| rest.split('`').next()) {
            Some(field) => {
                let key = if key.is_empty() { field.to_string() } else { format!("{key}.{field}") };
                ConfigProblem::new(key, "is required")
            }
            None => ConfigProblem::new(key, reason),
        }
    })
}

/// Keeps a parsed section, or records its problem under `prefix`.
pub(crate) fn keep<T>(problems: &mut Vec<ConfigProblem>, prefix: &str, parsed: Result<T, ConfigProblem>) -> Option<T> {
    parsed.map_err(|p| problems.push(p.under(prefix))).ok()
}
