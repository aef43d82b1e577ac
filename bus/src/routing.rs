//! Routing keys and the AMQP topic patterns adapters subscribe with.
//!
//! The key is the message type, the province code and the competent agency, such as
//! `dossier.submitted.42.000-00-01-H42` (`_` when no agency is known): the national portal's
//! adapter takes `dossier.submitted.#`, an agency's one-stop system
//! `dossier.submitted.*.000-00-01-H42`. The bus matches patterns itself too, so that it knows at
//! ingress which adapters a message is for: it records one pending delivery per adapter, and
//! refuses a message nobody would receive instead of letting the broker drop it.

/// The routing key a message is published with.
pub fn routing_key(message_type: &str, province: &str, agency: Option<&str>) -> String {
    format!("{message_type}.{province}.{}", agency.map_or_else(|| NO_AGENCY.to_string(), agency_word))
}

/// The last word of a key when no agency is competent or known.
pub const NO_AGENCY: &str = "_";

/// An agency code as one word of a routing key: `000.00.01.H42` becomes `000-00-01-H42` (a dot
/// would split it).
pub fn agency_word(agency_code: &str) -> String {
    agency_code.replace('.', "-")
}

/// A topic pattern that is not one.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PatternError {
    #[error("a pattern cannot be empty")]
    Empty,
    #[error("`{0}` is not a word, `*` or `#`")]
    NotAWord(String),
}

/// Checks a topic pattern: dot-separated words of `a-z 0-9 _ -`, or `*` (one word), or `#` (any).
pub fn check_pattern(pattern: &str) -> Result<(), PatternError> {
    if pattern.is_empty() {
        return Err(PatternError::Empty);
    }
    for word in pattern.split('.') {
        let plain = !word.is_empty() && word.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
        if !(plain || word == "*" || word == "#") {
            return Err(PatternError::NotAWord(word.to_string()));
        }
    }
    Ok(())
}

/// Whether a route takes messages of `message_type` of this province, for some agency (the
/// agency its last word names, or none).
pub fn takes_type(route: &str, message_type: &str, province: &str) -> bool {
    let last_word = route.rsplit('.').next().filter(|w| *w != "*" && *w != "#");
    [None, last_word].into_iter().any(|agency| matches(route, &routing_key(message_type, province, agency)))
}

/// Whether a routing key matches a topic pattern, as RabbitMQ's topic exchange decides.
pub fn matches(pattern: &str, key: &str) -> bool {
    let pattern: Vec<&str> = pattern.split('.').collect();
    let key: Vec<&str> = key.split('.').collect();
    matches_words(&pattern, &key)
}

fn matches_words(pattern: &[&str], key: &[&str]) -> bool {
    match pattern.split_first() {
        None => key.is_empty(),
        Some((&"#", rest)) => (0..=key.len()).any(|skip| matches_words(rest, &key[skip..])),
        Some((word, rest)) => match key.split_first() {
            Some((k, key_rest)) => (*word == "*" || word == k) && matches_words(rest, key_rest),
            None => false,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_route_takes_a_type_for_some_agency() {
        assert!(takes_type("dossier.submitted.#", "dossier.submitted", "42"));
        assert!(takes_type("dossier.status_changed.*.000-00-01-H42", "dossier.status_changed", "42"));
        assert!(takes_type("#", "payment.status", "42"));
        assert!(!takes_type("dossier.submitted.#", "dossier.status_changed", "42"));
        assert!(!takes_type("dossier.status_changed.43.*", "dossier.status_changed", "42"), "another province's");
    }

    #[test]
    fn keys_name_the_province_and_the_competent_agency() {
        assert_eq!(routing_key("dossier.submitted", "42", Some("000.00.01.H42")), "dossier.submitted.42.000-00-01-H42");
        assert_eq!(routing_key("payment.status", "42", None), "payment.status.42._");
        let key = routing_key("dossier.submitted", "42", Some("000.00.01.H42"));
        assert!(matches("dossier.submitted.#", &key));
        assert!(matches("dossier.submitted.*.000-00-01-H42", &key));
        assert!(!matches("dossier.submitted.*.000-00-02-H42", &key));
    }

    #[test]
    fn topic_matching_follows_rabbitmq() {
        let key = "dossier.status_changed.42";
        assert!(matches("dossier.status_changed.#", key));
        assert!(matches("dossier.*.42", key));
        assert!(matches("#", key));
        assert!(matches("dossier.#.42", key));
        assert!(matches("dossier.status_changed.42.#", key));
        assert!(!matches("dossier.submitted.#", key));
        assert!(!matches("dossier.*", key));
        assert!(!matches("dossier.status_changed.43", key));
    }

    #[test]
    fn patterns_are_checked() {
        assert!(check_pattern("dossier.status_changed.#").is_ok());
        assert!(check_pattern("dossier..x").is_err());
        assert!(check_pattern("dossier.*.000-00-01-H42").is_ok());
        assert!(check_pattern("dossier.x y").is_err());
        assert!(check_pattern("").is_err());
    }
}
