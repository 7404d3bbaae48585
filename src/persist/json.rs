//! JSON export and import in the data.json format users bring from other
//! stores: `{"key": {"value": "...", "expires_at": <unix seconds or null>}}`,
//! and the older plain `{"key": "value"}`. A value that is not UTF-8 is written
//! as `{"base64": "..."}` so nothing is mangled.

use crate::engine::{Entry, Mutation};
use base64::Engine as _;
use serde_json::{Map, Value, json};

/// Renders entries as the export document.
pub fn export(entries: &[(Vec<u8>, Entry)]) -> Result<String, String> {
    let mut doc = Map::new();
    for (key, entry) in entries {
        let key = String::from_utf8(key.clone()).map_err(|_| {
            format!(
                "key {} is not UTF-8 and cannot be a JSON object key; use 'backup' for binary keys",
                crate::output::quoted(key)
            )
        })?;
        let value = match std::str::from_utf8(&entry.value) {
            Ok(text) => json!(text),
            Err(_) => {
                json!({ "base64": base64::engine::general_purpose::STANDARD.encode(&entry.value) })
            }
        };
        let expires_at = entry.expires_at.map(|ms| json!(ms as f64 / 1000.0));
        doc.insert(key, json!({ "value": value, "expires_at": expires_at }));
    }
    serde_json::to_string_pretty(&Value::Object(doc)).map_err(|e| e.to_string())
}

/// Parses an import document into puts, skipping entries already expired at `now_ms`.
/// Returns the puts and how many expired entries were skipped.
pub fn import(text: &str, now_ms: u64) -> Result<(Vec<Mutation>, usize), String> {
    let doc: Value = serde_json::from_str(text).map_err(|e| {
        format!(
            "malformed JSON at line {}, column {}: {e}",
            e.line(),
            e.column()
        )
    })?;
    let Value::Object(doc) = doc else {
        return Err("expected a JSON object of key to value".into());
    };
    let mut puts = Vec::with_capacity(doc.len());
    let mut skipped = 0;
    for (key, item) in doc {
        let bad = |what: &str| format!("key {key:?}: {what}");
        let (value, expires_at) = match &item {
            Value::String(_) => (value_bytes(&item).map_err(|e| bad(&e))?, None),
            Value::Object(fields) if fields.contains_key("value") => {
                let value = value_bytes(&fields["value"]).map_err(|e| bad(&e))?;
                let expires_at = match fields.get("expires_at") {
                    None | Some(Value::Null) => None,
                    Some(Value::Number(n)) => {
                        let secs = n
                            .as_f64()
                            .filter(|s| s.is_finite() && *s >= 0.0)
                            .ok_or_else(|| bad("expires_at must be a non-negative number"))?;
                        Some((secs * 1000.0).round() as u64)
                    }
                    Some(_) => return Err(bad("expires_at must be a number of seconds or null")),
                };
                (value, expires_at)
            }
            _ => return Err(bad("expected a string or an object with \"value\"")),
        };
        if expires_at.is_some_and(|at| at <= now_ms) {
            skipped += 1;
            continue;
        }
        puts.push(Mutation::Put {
            key: key.into_bytes().into(),
            value: value.into(),
            expires_at,
        });
    }
    Ok((puts, skipped))
}

fn value_bytes(value: &Value) -> Result<Vec<u8>, String> {
    match value {
        Value::String(s) => Ok(s.clone().into_bytes()),
        Value::Object(o) if o.len() == 1 => match o.get("base64") {
            Some(Value::String(b)) => base64::engine::general_purpose::STANDARD
                .decode(b)
                .map_err(|e| format!("bad base64 value: {e}")),
            _ => Err("value must be a string or {\"base64\": ...}".into()),
        },
        _ => Err("value must be a string or {\"base64\": ...}".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_seed_formats_import_and_expired_entries_are_skipped() {
        let new = r#"{"session:abc": {"value": "user_data", "expires_at": 1739456789.5},
                      "username": {"value": "john_doe", "expires_at": null},
                      "old": {"value": "x", "expires_at": 1.0}}"#;
        let (puts, skipped) = import(new, 1_000_000).unwrap();
        assert_eq!(skipped, 1);
        assert_eq!(puts.len(), 2);
        assert!(puts.contains(&Mutation::Put {
            key: Box::from(&b"session:abc"[..]),
            value: Box::from(&b"user_data"[..]),
            expires_at: Some(1_739_456_789_500),
        }));
        let (puts, _) = import(r#"{"key1": "value1", "key2": "value2"}"#, 0).unwrap();
        assert_eq!(puts.len(), 2);
    }

    #[test]
    fn malformed_documents_say_where() {
        let err = import("{\"a\": \"b\",\n \"c\" 1}", 0).unwrap_err();
        assert!(
            err.starts_with("malformed JSON at line 2, column 6"),
            "{err}"
        );
        assert!(
            import("[1]", 0)
                .unwrap_err()
                .contains("expected a JSON object")
        );
        assert!(import(r#"{"a": 3}"#, 0).unwrap_err().contains("key \"a\""));
    }

    #[test]
    fn export_then_import_round_trips_binary_values() {
        let entries = vec![(
            b"k".to_vec(),
            Entry {
                value: Box::from(&b"\xff\x00"[..]),
                expires_at: Some(5_000_000),
            },
        )];
        let text = export(&entries).unwrap();
        let (puts, _) = import(&text, 0).unwrap();
        assert_eq!(
            puts,
            [Mutation::Put {
                key: Box::from(&b"k"[..]),
                value: Box::from(&b"\xff\x00"[..]),
                expires_at: Some(5_000_000),
            }]
        );
    }
}
