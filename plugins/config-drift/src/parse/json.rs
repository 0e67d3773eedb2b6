//! JSON through `serde_json`, which refuses nesting deeper than 128 levels itself; the tree is
//! then walked with an explicit stack, within `max_depth`. An object's key is `parent.key`;
//! an array of scalars is one ordered value (`[a, b]`), any other array's items are
//! `parent[0]`, `parent[1]`, ... Numbers compare by value (`1.0` is `1`); a string never
//! equals a number. A repeated object key: the last one counts, as in JSON parsers.

use serde_json::Value as Json;

use crate::error::ParseError;
use crate::flat::{Builder, join};
use crate::value::{Canon, Raw, Value, number};

pub(super) fn parse(text: &str, builder: &mut Builder<'_>) -> Result<(), ParseError> {
    let root: Json =
        serde_json::from_str(text).map_err(|e| ParseError::syntax("json", e.to_string()))?;
    if !(root.is_object() || root.is_array()) {
        return Err(ParseError::syntax(
            "json",
            "the document is a single value, not an object or an array",
        ));
    }
    let max_depth = builder.limits().max_depth;
    let mut stack: Vec<(String, &Json, usize)> = vec![(String::new(), &root, 0)];
    while let Some((path, node, depth)) = stack.pop() {
        if depth > max_depth {
            return Err(ParseError::TooDeep {
                limit: max_depth,
                line: None,
            });
        }
        match node {
            Json::Object(map) => {
                if !path.is_empty() {
                    builder.section(&path)?;
                }
                for (key, child) in map {
                    stack.push((join(&path, key), child, depth + 1));
                }
            }
            Json::Array(items) if items.iter().all(is_scalar) => {
                let list = items.iter().map(|item| builder.read(raw(item))).collect();
                builder.replace(&path, Value::List(list))?;
            }
            Json::Array(items) => {
                if !path.is_empty() {
                    builder.section(&path)?;
                }
                for (index, child) in items.iter().enumerate() {
                    stack.push((format!("{path}[{index}]"), child, depth + 1));
                }
            }
            scalar => builder.replace(&path, Value::one(builder.read(raw(scalar))))?,
        }
    }
    Ok(())
}

fn is_scalar(value: &Json) -> bool {
    !(value.is_object() || value.is_array())
}

/// A JSON scalar with its type fixed by the syntax.
pub(super) fn raw(value: &Json) -> Raw {
    let canon = match value {
        Json::Null => Canon::Null,
        Json::Bool(b) => Canon::Bool(*b),
        Json::Number(n) => {
            if let Some(i) = n.as_i64() {
                Canon::Int(i.into())
            } else if let Some(u) = n.as_u64() {
                Canon::Int(u.into())
            } else {
                number(n.as_f64().unwrap_or(f64::NAN))
            }
        }
        Json::String(s) => Canon::Str(s.clone()),
        Json::Array(_) | Json::Object(_) => Canon::Str(value.to_string()),
    };
    let text = match value {
        Json::String(s) => s.clone(),
        other => other.to_string(),
    };
    Raw::Typed(canon, text)
}

#[cfg(test)]
mod tests {
    use crate::error::ParseError;
    use crate::parse::Format;
    use crate::parse::testing::{flat, flat_limited, pairs};

    #[test]
    fn objects_arrays_and_typed_values() {
        let text = r#"{"service": {"threads": 4, "ratio": 1.0, "name": "a", "on": true,
                        "seeds": ["b", "a"], "empty": {}, "none": null},
                       "namespaces": [{"name": "test"}, 2]}"#;
        assert_eq!(
            flat(Format::Json, text).unwrap(),
            pairs(&[
                ("namespaces", "a stanza"),
                ("namespaces[0]", "a stanza"),
                ("namespaces[0].name", "test"),
                ("namespaces[1]", "2"),
                ("service", "a stanza"),
                ("service.empty", "a stanza"),
                ("service.name", "a"),
                ("service.none", "null"),
                ("service.on", "true"),
                ("service.ratio", "1.0"),
                ("service.seeds", "[b, a]"),
                ("service.threads", "4"),
            ])
        );
    }

    #[test]
    fn deep_nesting_and_junk_are_refused() {
        let deep = format!("{}{}", "[".repeat(10_000), "]".repeat(10_000));
        let err = flat(Format::Json, &deep).unwrap_err();
        assert!(
            err.to_string().contains("recursion limit exceeded"),
            "{err}"
        );
        let deep = format!("{}1{}", r#"{"a":"#.repeat(70), "}".repeat(70));
        assert_eq!(
            flat_limited(Format::Json, &deep, 64, 1000).unwrap_err(),
            ParseError::TooDeep {
                limit: 64,
                line: None
            }
        );
        let err = flat(Format::Json, "42").unwrap_err();
        assert!(err.to_string().contains("single value"), "{err}");
        let err = flat(Format::Json, "{\"a\": ").unwrap_err();
        assert!(err.to_string().starts_with("json syntax: EOF"), "{err}");
    }
}
