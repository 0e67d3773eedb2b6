//! Reading anna-molly's JSON config files (`collector.json`, `analyzer.json`) so that every
//! error names the file, the JSON path inside it and what was expected, the way an operator
//! needs to read it: `collector.json: at writer.RedisSink.port: invalid type: string "x",
//! expected u16`.

use std::fmt;
use std::path::{Path, PathBuf};

use serde::de::DeserializeOwned;

/// One thing wrong with a config: where (a JSON path) and what.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// JSON path, e.g. `router.whitelist[".cpu*"][0].RedisIntervalTimeStamped.interval`.
    pub path: String,
    /// What was wrong or expected.
    pub message: String,
}

impl Problem {
    /// A problem at `path`.
    pub fn new(path: impl Into<String>, message: impl Into<String>) -> Problem {
        Problem {
            path: path.into(),
            message: message.into(),
        }
    }
}

/// A config that cannot be used, with every problem found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    /// The file it came from.
    pub file: PathBuf,
    /// What is wrong, one entry per problem.
    pub problems: Vec<Problem>,
}

impl ConfigError {
    /// An error with one problem.
    pub fn one(file: &Path, path: impl Into<String>, message: impl Into<String>) -> ConfigError {
        ConfigError {
            file: file.to_path_buf(),
            problems: vec![Problem::new(path, message)],
        }
    }
}

impl ConfigError {
    /// `value` when no problem was found, else the error listing every problem.
    pub fn unless_problems<T>(
        file: &Path,
        problems: Vec<Problem>,
        value: T,
    ) -> Result<T, ConfigError> {
        if problems.is_empty() {
            Ok(value)
        } else {
            Err(ConfigError {
                file: file.to_path_buf(),
                problems,
            })
        }
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, p) in self.problems.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            if p.path.is_empty() || p.path == "." {
                write!(f, "{}: {}", self.file.display(), p.message)?;
            } else {
                write!(f, "{}: at {}: {}", self.file.display(), p.path, p.message)?;
            }
        }
        Ok(())
    }
}

impl std::error::Error for ConfigError {}

/// Reads a file's text, or says why not.
pub fn read(file: &Path) -> Result<String, ConfigError> {
    std::fs::read_to_string(file)
        .map_err(|e| ConfigError::one(file, "", format!("cannot read: {e}")))
}

/// Deserializes JSON text, reporting the JSON path of the first error.
pub fn parse<T: DeserializeOwned>(text: &str, file: &Path) -> Result<T, ConfigError> {
    let de = &mut serde_json::Deserializer::from_str(text);
    serde_path_to_error::deserialize(de).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        let message = if inner.is_syntax() || inner.is_eof() {
            format!("not valid JSON: {inner}")
        } else {
            // serde_json appends its own position; the path says more to a person.
            strip_position(&inner.to_string())
        };
        ConfigError::one(file, path, message)
    })
}

/// Deserializes a JSON value found at `path` of a file, reporting paths below it.
pub fn parse_value<T: DeserializeOwned>(
    value: &serde_json::Value,
    file: &Path,
    path: &str,
) -> Result<T, ConfigError> {
    serde_path_to_error::deserialize(value).map_err(|e| {
        let below = e.path().to_string();
        let at = if below == "." || below.is_empty() {
            path.to_string()
        } else {
            format!("{path}.{below}")
        };
        ConfigError::one(file, at, strip_position(&e.into_inner().to_string()))
    })
}

fn strip_position(msg: &str) -> String {
    match msg.rfind(" at line ") {
        Some(i) => msg[..i].to_string(),
        None => msg.to_string(),
    }
}

/// Collapses an error message to one line (regex errors span several).
pub fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct T {
        a: u16,
    }

    #[test]
    fn errors_have_paths() {
        let e = parse::<T>(r#"{"a": "x"}"#, Path::new("f.json")).unwrap_err();
        assert_eq!(
            e.to_string(),
            "f.json: at a: invalid type: string \"x\", expected u16"
        );
        let e = parse::<T>(r#"{"a": 1, "b": 2}"#, Path::new("f.json")).unwrap_err();
        assert!(
            e.to_string().starts_with("f.json: at b: unknown field `b`"),
            "{e}"
        );
        let e = parse::<T>("{", Path::new("f.json")).unwrap_err();
        assert!(e.to_string().contains("not valid JSON"), "{e}");
        let v: serde_json::Value = serde_json::json!({"a": -1});
        let e = parse_value::<T>(&v, Path::new("f.json"), "x.y").unwrap_err();
        assert!(
            e.to_string().starts_with("f.json: at x.y.a: invalid value"),
            "{e}"
        );
    }
}
