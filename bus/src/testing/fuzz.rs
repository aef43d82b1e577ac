//! Generated input for the parsers of outside input (proptest): any JSON, any text, and valid
//! documents with a part replaced or their text edited, so that generated cases reach past the
//! first check. Every crate's `tests/fuzz.rs` uses these; `PROPTEST_CASES` sets how many cases
//! each property runs (256 by default, what CI runs).

use proptest::prelude::*;
use serde_json::Value;

/// Any JSON value, a few levels deep.
pub fn any_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_map(|f| serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number)),
        any_text().prop_map(Value::String),
    ];
    leaf.prop_recursive(4, 64, 8, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..8).prop_map(Value::Array),
            prop::collection::vec((any_text(), inner), 0..8)
                .prop_map(|pairs| Value::Object(pairs.into_iter().collect())),
        ]
    })
}

/// Any text: printable or not, short or long.
pub fn any_text() -> impl Strategy<Value = String> {
    prop_oneof![
        "\\PC{0,40}",
        any::<String>(),
        prop::collection::vec(any::<u8>(), 0..256).prop_map(|bytes| String::from_utf8_lossy(&bytes).into_owned()),
    ]
}

/// `valid` with one of its values (at any depth) replaced by any JSON, or one member removed.
pub fn mutated(valid: Value) -> impl Strategy<Value = Value> {
    let pointers = pointers(&valid, String::new());
    (0..pointers.len(), any_json(), any::<bool>()).prop_map(move |(index, replacement, remove)| {
        let mut value = valid.clone();
        let pointer = &pointers[index];
        let (parent, key) = pointer.rsplit_once('/').unwrap_or(("", ""));
        match (remove, value.pointer_mut(parent)) {
            (true, Some(Value::Object(object))) => {
                object.remove(&key.replace("~1", "/").replace("~0", "~"));
            }
            _ => {
                if let Some(slot) = value.pointer_mut(pointer) {
                    *slot = replacement;
                }
            }
        }
        value
    })
}

/// Every JSON pointer in `value`, the root included.
fn pointers(value: &Value, at: String) -> Vec<String> {
    let mut found = vec![at.clone()];
    match value {
        Value::Object(object) => {
            for (key, child) in object {
                found.extend(pointers(child, format!("{at}/{}", key.replace('~', "~0").replace('/', "~1"))));
            }
        }
        Value::Array(items) => {
            for (index, child) in items.iter().enumerate() {
                found.extend(pointers(child, format!("{at}/{index}")));
            }
        }
        _ => {}
    }
    found
}

/// `valid` text with a few edits: a range removed, any text inserted, a byte replaced.
pub fn edited(valid: String) -> impl Strategy<Value = String> {
    let edit = (any::<prop::sample::Index>(), any::<prop::sample::Index>(), any_text(), 0..3u8);
    prop::collection::vec(edit, 1..4).prop_map(move |edits| {
        let mut text = valid.clone().into_bytes();
        for (at, to, insert, kind) in edits {
            let at = at.index(text.len() + 1);
            match kind {
                0 => {
                    let to = at + to.index(text.len() - at + 1);
                    text.drain(at..to);
                }
                1 => {
                    text.splice(at..at, insert.into_bytes());
                }
                _ if at < text.len() => text[at] = insert.bytes().next().unwrap_or(b'<'),
                _ => text.extend(insert.into_bytes()),
            }
        }
        String::from_utf8_lossy(&text).into_owned()
    })
}
