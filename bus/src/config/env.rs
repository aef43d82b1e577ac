//! Environment overrides: `LGSP__HTTP__LISTEN=0.0.0.0:8080` overrides `[http] listen`; secrets
//! come from the environment only.

use super::ConfigProblem;
use super::secret::is_secret_key;

/// Prefix of the environment variables that override config keys.
pub const ENV_PREFIX: &str = "LGSP__";

/// The environment variable that overrides a dotted key.
pub fn env_var_for(key: &str) -> String {
    format!("{ENV_PREFIX}{}", key.replace('.', "__").to_uppercase())
}

/// Applies `LGSP__A__B=value` overrides. A value replaces the file's value of the same type (an
/// integer key takes `8`); a new key takes the TOML value the text spells, else the text.
pub(super) fn apply_env(
    table: &mut toml::Table,
    env: impl IntoIterator<Item = (String, String)>,
) -> Vec<ConfigProblem> {
    let mut problems = Vec::new();
    let mut overrides: Vec<(String, String)> =
        env.into_iter().filter(|(name, _)| name.starts_with(ENV_PREFIX)).collect();
    overrides.sort();
    for (name, text) in overrides {
        let path: Vec<String> = name[ENV_PREFIX.len()..].split("__").map(str::to_lowercase).collect();
        let key = path.join(".");
        if path.iter().any(String::is_empty) {
            problems.push(ConfigProblem::new(key, format!("{name}: empty path segment")));
            continue;
        }
        if let Err(reason) = set_path(table, &path, &text) {
            problems.push(ConfigProblem::new(key, format!("{name}: {reason}")));
        }
    }
    problems
}

/// Why an override cannot be applied.
#[derive(Debug, thiserror::Error)]
enum Unusable {
    #[error("`{0}` is not a table")]
    NotATable(String),
    #[error("`{text}` is not {expected}")]
    NotA { text: String, expected: String },
}

fn set_path(table: &mut toml::Table, path: &[String], text: &str) -> Result<(), Unusable> {
    let (first, rest) = path.split_first().expect("at least one segment");
    if rest.is_empty() {
        let value = match table.get(first) {
            Some(existing) => typed_like(existing, text)?,
            None if is_secret_key(first) => toml::Value::String(text.to_string()),
            None => spelled(text),
        };
        table.insert(first.clone(), value);
        return Ok(());
    }
    match table.entry(first.clone()).or_insert_with(|| toml::Value::Table(toml::Table::new())) {
        toml::Value::Table(inner) => set_path(inner, rest, text),
        _ => Err(Unusable::NotATable(first.clone())),
    }
}

fn typed_like(existing: &toml::Value, text: &str) -> Result<toml::Value, Unusable> {
    let not_a = |expected: &str| Unusable::NotA { text: text.to_string(), expected: expected.to_string() };
    Ok(match existing {
        toml::Value::String(_) => toml::Value::String(text.to_string()),
        toml::Value::Integer(_) => toml::Value::Integer(text.trim().parse().map_err(|_| not_a("an integer"))?),
        toml::Value::Float(_) => toml::Value::Float(text.trim().parse().map_err(|_| not_a("a number"))?),
        toml::Value::Boolean(_) => toml::Value::Boolean(text.trim().parse().map_err(|_| not_a("true or false"))?),
        _ => {
            let parsed = spelled(text);
            if std::mem::discriminant(&parsed) != std::mem::discriminant(existing) {
                return Err(not_a(&format!("a TOML {}", existing.type_str())));
            }
            parsed
        }
    })
}

fn spelled(text: &str) -> toml::Value {
    format!("v = {text}")
        .parse::<toml::Table>()
        .ok()
        .and_then(|mut t| t.remove("v"))
        .unwrap_or_else(|| toml::Value::String(text.to_string()))
}

/// Secrets written in the file, which must come from the environment instead.
pub(super) fn secrets_in_file(table: &toml::Table, prefix: &str) -> Vec<ConfigProblem> {
    let mut problems = Vec::new();
    for (key, value) in table {
        let path = if prefix.is_empty() { key.clone() } else { format!("{prefix}.{key}") };
        match value {
            toml::Value::Table(inner) => problems.extend(secrets_in_file(inner, &path)),
            _ if is_secret_key(key) => problems.push(ConfigProblem::new(
                path.clone(),
                format!("a secret is read from the environment only: set {} instead", env_var_for(&path)),
            )),
            toml::Value::String(text)
                if key == "url" && url::Url::parse(text).is_ok_and(|u| u.password().is_some()) =>
            {
                problems.push(ConfigProblem::new(
                    path.clone(),
                    format!(
                        "holds a password: remove it and set {} instead",
                        env_var_for(&path.replace(".url", ".password"))
                    ),
                ));
            }
            _ => {}
        }
    }
    problems
}
