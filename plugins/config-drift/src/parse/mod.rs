//! The parsers: text to key paths, one module per format, each within the [`Limits`] of its
//! [`Builder`]. None recurses on the input's nesting (an explicit stack, or a parser that
//! refuses deep input itself), so 10,000 nested brackets are an error, not a stack overflow.

use std::panic::{AssertUnwindSafe, catch_unwind};

use serde::Deserialize;

use crate::error::ParseError;
use crate::flat::{Builder, Flat};
use crate::value::Semantics;

mod aerospike;
mod ini;
mod json;
mod kv;
mod properties;
mod yaml;

/// A configuration format (`format`, and a runtime source's `format`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    /// `aerospike.conf`: `stanza [name] { key value }` blocks, `#` comments, repeated keys.
    Aerospike,
    /// INI: `[section]` and `key = value`; `;` and `#` comments; repeated keys as sets.
    Ini,
    /// JSON.
    Json,
    /// YAML (one document).
    Yaml,
    /// Java properties: `key=value`, `key: value` or `key value`; the last of a repeated key
    /// counts.
    Properties,
    /// `key=value;key=value` (also one per line): what `asinfo -v get-config` prints. A key
    /// `name[3]` is a repeat of `name`.
    Kv,
}

impl Format {
    /// The format's name as written in the options.
    pub fn name(self) -> &'static str {
        match self {
            Format::Aerospike => "aerospike",
            Format::Ini => "ini",
            Format::Json => "json",
            Format::Yaml => "yaml",
            Format::Properties => "properties",
            Format::Kv => "kv",
        }
    }

    /// How values written as text are read when this is the service's `format`.
    pub fn semantics(self) -> Semantics {
        match self {
            Format::Aerospike => Semantics::Aerospike,
            Format::Json | Format::Yaml => Semantics::Typed,
            Format::Ini | Format::Properties | Format::Kv => Semantics::Text,
        }
    }
}

/// Parses `text` as `format` into `builder`'s configuration.
///
/// A panic inside a parser (a bug in it, on input nobody foresaw) is caught here and becomes
/// an error for this one source: the other nodes are still judged.
pub fn parse(format: Format, text: &str, mut builder: Builder<'_>) -> Result<Flat, ParseError> {
    let outcome = catch_unwind(AssertUnwindSafe(|| {
        match format {
            Format::Aerospike => aerospike::parse(text, &mut builder),
            Format::Ini => ini::parse(text, &mut builder),
            Format::Json => json::parse(text, &mut builder),
            Format::Yaml => yaml::parse(text, &mut builder),
            Format::Properties => properties::parse(text, &mut builder),
            Format::Kv => kv::parse(text, &mut builder),
        }
        .map(|()| builder.finish())
    }));
    match outcome {
        Ok(result) => result,
        Err(panic) => {
            let message = panic
                .downcast_ref::<&str>()
                .map(|s| (*s).to_owned())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "a panic".to_owned());
            Err(ParseError::Panicked {
                format: format.name(),
                message,
            })
        }
    }
}

#[cfg(test)]
pub(crate) mod testing {
    use super::*;
    use crate::flat::{Ignore, Limits};

    /// Parses with generous limits and no ignores; values shown as `Display` does.
    pub fn flat(format: Format, text: &str) -> Result<Vec<(String, String)>, ParseError> {
        flat_limited(format, text, 64, 10_000)
    }

    pub fn flat_limited(
        format: Format,
        text: &str,
        max_depth: usize,
        max_keys: usize,
    ) -> Result<Vec<(String, String)>, ParseError> {
        let ignore = Ignore::default();
        let limits = Limits {
            max_depth,
            max_keys,
            max_expanded: 1 << 30,
        };
        let builder = Builder::new(limits, format.semantics(), &ignore, "");
        let flat = parse(format, text, builder)?;
        Ok(flat.into_iter().map(|(k, v)| (k, v.to_string())).collect())
    }

    /// The flat pairs of `namespaces: [{name: test}, 2]` beside a `service` stanza, as the
    /// nested formats (JSON, YAML) give them, first in order.
    pub const NAMESPACES: &[(&str, &str)] = &[
        ("namespaces", "a stanza"),
        ("namespaces[0]", "a stanza"),
        ("namespaces[0].name", "test"),
        ("namespaces[1]", "2"),
        ("service", "a stanza"),
    ];

    pub fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }
}
