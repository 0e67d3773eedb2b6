//! Parsing a service's JSON options into [`BaseTask::Options`](crate::BaseTask::Options),
//! refusing unknown keys.

use std::fmt::Write as _;

use serde::de::DeserializeOwned;

use crate::error::PluginError;

/// Renders a `serde_ignored` path like `serde_path_to_error` does: `a.b[0].c`, without the
/// `?` segments of options and newtypes. Returns the path and its last key.
fn render(path: &serde_ignored::Path<'_>) -> (String, String) {
    fn walk(path: &serde_ignored::Path<'_>, out: &mut String, last: &mut String) {
        use serde_ignored::Path;
        match path {
            Path::Root => {}
            Path::Seq { parent, index } => {
                walk(parent, out, last);
                let _ = write!(out, "[{index}]");
                *last = format!("[{index}]");
            }
            Path::Map { parent, key } => {
                walk(parent, out, last);
                if !out.is_empty() {
                    out.push('.');
                }
                out.push_str(key);
                last.clone_from(key);
            }
            Path::Some { parent }
            | Path::NewtypeStruct { parent }
            | Path::NewtypeVariant { parent } => walk(parent, out, last),
        }
    }
    let (mut out, mut last) = (String::new(), String::new());
    walk(path, &mut out, &mut last);
    (out, last)
}

/// Describes the unknown keys: ``unknown option `a` `` or
/// ``unknown options `a`, `b` (at `x.b`)``.
fn describe_unknown(unknown: &[(String, String)]) -> String {
    let keys: Vec<String> = unknown
        .iter()
        .map(|(path, key)| {
            if path == key {
                format!("`{key}`")
            } else {
                format!("`{key}` (at `{path}`)")
            }
        })
        .collect();
    let plural = if keys.len() == 1 { "" } else { "s" };
    format!("unknown option{plural} {}", keys.join(", "))
}

/// Parses `json` into `T`. Every key `T` does not know is an error ("unknown option `key`"),
/// whether or not `T` says `deny_unknown_fields`; a type error names the option's path and
/// what was expected.
pub(crate) fn parse_options<T: DeserializeOwned>(json: &str) -> Result<T, PluginError> {
    let mut unknown: Vec<(String, String)> = Vec::new();
    let mut de = serde_json::Deserializer::from_str(json);
    let mut on_ignored = |path: serde_ignored::Path<'_>| unknown.push(render(&path));
    let tracked = serde_ignored::Deserializer::new(&mut de, &mut on_ignored);
    let parsed: Result<T, _> = serde_path_to_error::deserialize(tracked);
    let parsed = parsed
        .map_err(|e| {
            let path = e.path().to_string();
            // serde_json's position points into the runner's one-line copy of the options,
            // not into any file the user wrote: drop it.
            let full = e.into_inner().to_string();
            let inner = full.find(" at line ").map_or(full.as_str(), |i| &full[..i]);
            if path == "." {
                format!("invalid options: {inner}")
            } else {
                format!("invalid option `{path}`: {inner}")
            }
        })
        .and_then(|value| {
            de.end()
                .map(|()| value)
                .map_err(|e| format!("invalid options: {e}"))
        });
    // A misspelt key often also leaves a required one missing: name the misspelling first.
    match (parsed, unknown.is_empty()) {
        (Ok(value), true) => Ok(value),
        (Ok(_), false) => Err(PluginError::options(describe_unknown(&unknown))),
        (Err(e), true) => Err(PluginError::options(e)),
        (Err(e), false) => Err(PluginError::options(format!(
            "{}; {e}",
            describe_unknown(&unknown)
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorKind;
    use serde::Deserialize;

    #[derive(Debug, Deserialize, PartialEq)]
    struct Inner {
        a: i64,
    }

    #[derive(Debug, Deserialize, PartialEq)]
    struct Opts {
        metrics: String,
        #[serde(default)]
        window: Option<i64>,
        #[serde(default)]
        inner: Option<Inner>,
        #[serde(default)]
        list: Vec<Inner>,
    }

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Strict {
        metrics: String,
    }

    fn err<T: DeserializeOwned + std::fmt::Debug>(json: &str) -> String {
        let e = parse_options::<T>(json).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Options);
        e.message().to_owned()
    }

    #[test]
    fn parses() {
        let o: Opts = parse_options(r#"{"metrics": "a.*", "window": 60}"#).unwrap();
        assert_eq!(o.metrics, "a.*");
        assert_eq!(o.window, Some(60));
    }

    #[test]
    fn unknown_keys_are_refused_without_deny_unknown_fields() {
        assert_eq!(
            err::<Opts>(r#"{"metrics": "a", "treshold": 3}"#),
            "unknown option `treshold`"
        );
        assert_eq!(
            err::<Opts>(r#"{"metrics": "a", "inner": {"a": 1, "b": 2}}"#),
            "unknown option `b` (at `inner.b`)"
        );
        assert_eq!(
            err::<Opts>(r#"{"metrics": "a", "list": [{"a": 1}, {"a": 1, "zz": {}}]}"#),
            "unknown option `zz` (at `list[1].zz`)"
        );
        assert_eq!(
            err::<Opts>(r#"{"metrics": "a", "x": 1, "inner": {"a": 1, "y": 2}}"#),
            "unknown options `x`, `y` (at `inner.y`)"
        );
        let message = err::<Opts>(r#"{"metrcs": "a"}"#);
        assert!(
            message
                .starts_with("unknown option `metrcs`; invalid options: missing field `metrics`"),
            "{message}"
        );
    }

    #[test]
    fn unknown_keys_are_refused_with_deny_unknown_fields() {
        let message = err::<Strict>(r#"{"metrics": "a", "treshold": 3}"#);
        assert!(message.contains("`treshold`"), "{message}");
    }

    #[test]
    fn type_errors_name_the_path_and_the_expectation() {
        let message = err::<Opts>(r#"{"metrics": "a", "window": "sixty"}"#);
        assert!(
            message.starts_with(
                "invalid option `window`: invalid type: string \"sixty\", expected i64"
            ),
            "{message}"
        );
        let message = err::<Opts>(r#"{"metrics": "a", "list": [{"a": 1.5}]}"#);
        assert!(
            message.starts_with("invalid option `list[0].a`"),
            "{message}"
        );
        let message = err::<Opts>(r#"{}"#);
        assert!(message.contains("missing field `metrics`"), "{message}");
        let message = err::<Opts>(r#"{"metrics": "a"} x"#);
        assert!(
            message.starts_with("invalid options: trailing characters"),
            "{message}"
        );
        let message = err::<Opts>("true");
        assert!(
            message.starts_with("invalid options: invalid type: boolean"),
            "{message}"
        );
    }
}
