//! JSON text to typed values, with errors that name the offending field by its full
//! dotted path in the config file (`machine-config.nacl.features[1]`), whether the
//! text is a whole config file or one section of it sent as an API request body.

use serde::de::DeserializeOwned;

/// A JSON document the API or the config file accepts, and where it sits in the
/// config file's schema.
pub trait Body: DeserializeOwned {
    /// The keys leading to this body in a config file: `["machine-config"]` for a
    /// `machine-config` section, empty for the whole file or a body that is no section.
    const PATH: &'static [&'static str];
    /// Paths, relative to this body, of the nested values that must be JSON objects
    /// when present (serde's derived structs would also accept arrays there, binding
    /// fields by position).
    const OBJECTS: &'static [&'static [&'static str]] = &[];
}

/// What is wrong with a JSON document, naming the field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FieldError {
    /// The text is not valid JSON.
    #[error("JSON syntax error at line {line}, column {column}: {message}")]
    Syntax {
        /// 1-based line of the error.
        line: usize,
        /// 1-based column of the error.
        column: usize,
        /// serde_json's description, without its position suffix.
        message: String,
    },
    /// An object has a key the schema does not know.
    #[error("unknown field \"{field}\" in {section}{}", expected_suffix(.expected))]
    UnknownField {
        /// Where the key was found: `boot-source`, `machine-config`, ... or
        /// `the top-level object`.
        section: String,
        /// The unknown key.
        field: String,
        /// The keys allowed there, as serde lists them (may be empty).
        expected: String,
    },
    /// A required key is absent.
    #[error("{field}: missing required field")]
    MissingField {
        /// Dotted path of the missing key, e.g. `machine-config.vcpu_count`.
        field: String,
    },
    /// A key has a value of the wrong type or out of range, or the values are
    /// inconsistent.
    #[error("{field}: {message}")]
    InvalidValue {
        /// Dotted path of the key, e.g. `machine-config.mem_size_mib`.
        field: String,
        /// What is wrong with it.
        message: String,
    },
}

fn expected_suffix(expected: &str) -> String {
    if expected.is_empty() {
        String::new()
    } else {
        format!(" (expected {expected})")
    }
}

/// Parses `json` as a `T`: syntax first, then objects where the schema has objects,
/// then the typed pass that names the field of any error.
pub fn from_json<T: Body>(json: &str) -> Result<T, FieldError> {
    let value: serde_json::Value = serde_json::from_str(json).map_err(map_json_error)?;
    check_objects(&value, T::PATH, T::OBJECTS)?;
    let mut de = serde_json::Deserializer::from_str(json);
    let parsed: T =
        serde_path_to_error::deserialize(&mut de).map_err(|e| map_path_error(e, T::PATH))?;
    de.end().map_err(map_json_error)?;
    Ok(parsed)
}

/// Rejects a non-object at the body's root or where `objects` say an object belongs.
fn check_objects(
    value: &serde_json::Value,
    prefix: &[&str],
    objects: &[&[&str]],
) -> Result<(), FieldError> {
    let root: &[&str] = &[];
    for path in std::iter::once(&root).chain(objects) {
        let mut node = Some(value);
        for key in *path {
            node = node.and_then(|n| n.as_object()).and_then(|o| o.get(*key));
        }
        match node {
            None | Some(serde_json::Value::Object(_)) => {}
            // `"nacl": null` is as good as omitting it.
            Some(serde_json::Value::Null) if !path.is_empty() => {}
            Some(other) => {
                let segments: Vec<String> = prefix
                    .iter()
                    .chain(path.iter())
                    .map(|s| s.to_string())
                    .collect();
                return Err(FieldError::InvalidValue {
                    field: field_name(&segments),
                    message: format!("invalid type: {}, expected an object", json_kind(other)),
                });
            }
        }
    }
    Ok(())
}

fn json_kind(value: &serde_json::Value) -> &'static str {
    match value {
        serde_json::Value::Null => "null",
        serde_json::Value::Bool(_) => "boolean",
        serde_json::Value::Number(_) => "number",
        serde_json::Value::String(_) => "string",
        serde_json::Value::Array(_) => "array",
        serde_json::Value::Object(_) => "object",
    }
}

/// Dotted path of `segments` (`a.b[1].c`), or `top level` when empty.
fn field_name(segments: &[String]) -> String {
    match join(segments).as_str() {
        "" | "." | "?" => "top level".to_string(),
        path => path.to_string(),
    }
}

fn join(segments: &[String]) -> String {
    let mut out = String::new();
    for seg in segments {
        if seg == "." {
            continue;
        }
        if !out.is_empty() && !seg.starts_with('[') {
            out.push('.');
        }
        out.push_str(seg);
    }
    out
}

/// serde_json's message without its " at line L column C" suffix.
fn bare_message(err: &serde_json::Error) -> String {
    let text = err.to_string();
    let suffix = format!(" at line {} column {}", err.line(), err.column());
    text.strip_suffix(&suffix).unwrap_or(&text).to_string()
}

/// Syntax/EOF errors (no JSON path available).
fn map_json_error(err: serde_json::Error) -> FieldError {
    let message = bare_message(&err);
    match err.classify() {
        serde_json::error::Category::Data => FieldError::InvalidValue {
            field: "top level".into(),
            message,
        },
        _ => FieldError::Syntax {
            line: err.line(),
            column: err.column(),
            message,
        },
    }
}

/// The text between the first pair of backticks: serde's "unknown field `x`, ...".
fn backticked(message: &str) -> Option<(&str, &str)> {
    let start = message.find('`')? + 1;
    let len = message[start..].find('`')?;
    Some((&message[start..start + len], &message[start + len + 1..]))
}

/// Typed-pass errors, with the JSON path serde_path_to_error tracked, below `prefix`.
fn map_path_error(
    err: serde_path_to_error::Error<serde_json::Error>,
    prefix: &[&str],
) -> FieldError {
    let segments: Vec<String> = prefix
        .iter()
        .map(|s| s.to_string())
        .chain(err.path().iter().map(|s| s.to_string()))
        .filter(|s| s != ".")
        .collect();
    let inner = err.into_inner();
    if !matches!(inner.classify(), serde_json::error::Category::Data) {
        return map_json_error(inner);
    }
    let message = bare_message(&inner);
    let position = format!("line {}, column {}", inner.line(), inner.column());

    if let Some(rest) = message.strip_prefix("unknown field ")
        && let Some((field, tail)) = backticked(rest)
    {
        // The path ends with the unknown key itself.
        let parent = &segments[..segments.len().saturating_sub(1)];
        let section = if parent.is_empty() {
            "the top-level object".to_string()
        } else {
            join(parent)
        };
        let expected = tail
            .trim_start_matches(',')
            .trim()
            .trim_start_matches("expected ")
            .replace("there are no fields", "no fields")
            .replace('`', "");
        return FieldError::UnknownField {
            section,
            field: field.to_string(),
            expected,
        };
    }
    if let Some(rest) = message.strip_prefix("missing field ")
        && let Some((field, _)) = backticked(rest)
    {
        // The path is the object missing the key.
        let mut full = segments;
        full.push(field.to_string());
        return FieldError::MissingField { field: join(&full) };
    }
    FieldError::InvalidValue {
        field: field_name(&segments),
        message: format!("{message} ({position})"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{BootSource, MachineConfig, MachineConfigUpdate};
    use crate::types::{ActionType, InstanceActionInfo};

    #[test]
    fn section_errors_name_the_full_config_path() {
        let e = from_json::<MachineConfig>(r#"{"vcpu_count": "2", "mem_size_mib": 64}"#)
            .expect_err("wrong type");
        assert!(
            e.to_string()
                .starts_with("machine-config.vcpu_count: invalid type: string \"2\", expected u32"),
            "{e}"
        );
        let e = from_json::<MachineConfig>(r#"{"mem_size_mib": 64}"#).expect_err("missing");
        assert_eq!(
            e.to_string(),
            "machine-config.vcpu_count: missing required field"
        );
        let e =
            from_json::<BootSource>(r#"{"kernel_image_path": "/k", "x": 1}"#).expect_err("unknown");
        assert!(
            e.to_string()
                .starts_with("unknown field \"x\" in boot-source (expected one of"),
            "{e}"
        );
        let e = from_json::<MachineConfigUpdate>(r#"{"nacl": [true]}"#).expect_err("array");
        assert_eq!(
            e.to_string(),
            "machine-config.nacl: invalid type: array, expected an object"
        );
    }

    #[test]
    fn bodies_must_be_objects() {
        let e = from_json::<MachineConfig>("[1, 64]").expect_err("array");
        assert_eq!(
            e.to_string(),
            "machine-config: invalid type: array, expected an object"
        );
        let e = from_json::<InstanceActionInfo>("\"InstanceStart\"").expect_err("string");
        assert_eq!(
            e.to_string(),
            "top level: invalid type: string, expected an object"
        );
        let e = from_json::<InstanceActionInfo>("null").expect_err("null");
        assert_eq!(
            e.to_string(),
            "top level: invalid type: null, expected an object"
        );
    }

    #[test]
    fn non_section_bodies() {
        let ok: InstanceActionInfo =
            from_json(r#"{"action_type": "FlushMetrics"}"#).expect("valid");
        assert_eq!(ok.action_type, ActionType::FlushMetrics);
        let e =
            from_json::<InstanceActionInfo>(r#"{"action_type": "Reboot"}"#).expect_err("variant");
        assert!(
            e.to_string()
                .starts_with("action_type: unknown variant `Reboot`, expected one of"),
            "{e}"
        );
        let e = from_json::<InstanceActionInfo>(r#"{}"#).expect_err("missing");
        assert_eq!(e.to_string(), "action_type: missing required field");
        let e = from_json::<InstanceActionInfo>(r#"{"action_type": "Shutdown", "a": 1}"#)
            .expect_err("unknown");
        assert_eq!(
            e.to_string(),
            "unknown field \"a\" in the top-level object (expected action_type)"
        );
        let e = from_json::<InstanceActionInfo>("{").expect_err("syntax");
        assert!(
            e.to_string().starts_with("JSON syntax error at line 1"),
            "{e}"
        );
    }
}
