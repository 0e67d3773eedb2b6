//! `aerospike.conf`: nested `stanza [name] { key value ... }` blocks.
//!
//! - `#` starts a comment, to the end of the line.
//! - A line's words up to `{` open a stanza: `namespace test {` is the path
//!   `namespace[test]`, `network {` is `network`. The argument of a *typed* stanza
//!   (`storage-engine device`, `index-type flash`, `sindex-type flash`) is its type, not a
//!   name: the stanza is `storage-engine`, holding the value `device`, so the paths read
//!   `namespace[test].storage-engine.file` and a changed type is one changed value.
//! - `}` closes the innermost stanza; other lines are `key value...` (the value is the rest of
//!   the line, whitespace runs made one space; a key alone has the empty value).
//! - A repeated key (`file`, `mesh-seed-address-port`) holds the set of its values; a
//!   repeated stanza merges into one.
//!
//! Stanzas are kept on an explicit stack, so depth costs no recursion; deeper than
//! `max_depth` is refused, as are a `}` with no open stanza and a stanza never closed.

use crate::error::ParseError;
use crate::flat::{Builder, join};
use crate::value::Raw;

/// Stanzas whose argument is a type rather than a name.
const TYPED: &[&str] = &["storage-engine", "index-type", "sindex-type"];

const FORMAT: &str = "aerospike";

/// One open stanza.
struct Open {
    path: String,
    title: String,
    line: usize,
}

pub(super) fn parse(text: &str, builder: &mut Builder<'_>) -> Result<(), ParseError> {
    let max_depth = builder.limits().max_depth;
    let mut stack: Vec<Open> = Vec::new();
    let mut words: Vec<&str> = Vec::new();
    for (index, line) in text.lines().enumerate() {
        let number = index + 1;
        let line = line.split('#').next().unwrap_or("");
        words.clear();
        for token in tokens(line) {
            match token {
                "{" => {
                    let open = open(&words, stack.last(), number)?;
                    if stack.len() >= max_depth {
                        return Err(ParseError::TooDeep {
                            limit: max_depth,
                            line: Some(number),
                        });
                    }
                    match &open.typed {
                        Some(kind) => builder.scalar(&open.path, Raw::Text(kind.clone()))?,
                        None => builder.section(&open.path)?,
                    }
                    stack.push(Open {
                        path: open.path,
                        title: words.join(" "),
                        line: number,
                    });
                    words.clear();
                }
                "}" => {
                    if !words.is_empty() {
                        key_value(&words, stack.last(), builder)?;
                        words.clear();
                    }
                    if stack.pop().is_none() {
                        return Err(ParseError::syntax(
                            FORMAT,
                            format!("line {number}: `}}` closes no stanza"),
                        ));
                    }
                }
                word => words.push(word),
            }
        }
        if !words.is_empty() {
            key_value(&words, stack.last(), builder)?;
        }
    }
    if let Some(open) = stack.last() {
        return Err(ParseError::syntax(
            FORMAT,
            format!(
                "stanza `{}` opened at line {} is never closed",
                open.title, open.line
            ),
        ));
    }
    Ok(())
}

/// The words of a line, with `{` and `}` as words of their own even when written against
/// another word (`test{`).
fn tokens(line: &str) -> impl Iterator<Item = &str> {
    let mut rest = line;
    std::iter::from_fn(move || {
        rest = rest.trim_start();
        let first = rest.chars().next()?;
        let end = if first == '{' || first == '}' {
            1
        } else {
            rest.find(|c: char| c.is_whitespace() || c == '{' || c == '}')
                .unwrap_or(rest.len())
        };
        let (token, tail) = rest.split_at(end);
        rest = tail;
        Some(token)
    })
}

struct Opening {
    path: String,
    typed: Option<String>,
}

/// The path of the stanza `words` open under `parent`.
fn open(words: &[&str], parent: Option<&Open>, line: usize) -> Result<Opening, ParseError> {
    let Some((name, args)) = words.split_first() else {
        return Err(ParseError::syntax(
            FORMAT,
            format!("line {line}: `{{` without a stanza name"),
        ));
    };
    let parent = parent.map_or("", |p| p.path.as_str());
    let args = args.join(" ");
    if args.is_empty() {
        return Ok(Opening {
            path: join(parent, name),
            typed: None,
        });
    }
    if TYPED.contains(name) {
        return Ok(Opening {
            path: join(parent, name),
            typed: Some(args),
        });
    }
    Ok(Opening {
        path: join(parent, &format!("{name}[{args}]")),
        typed: None,
    })
}

fn key_value(
    words: &[&str],
    stanza: Option<&Open>,
    builder: &mut Builder<'_>,
) -> Result<(), ParseError> {
    let Some((key, value)) = words.split_first() else {
        return Ok(());
    };
    let path = join(stanza.map_or("", |s| s.path.as_str()), key);
    builder.scalar(&path, Raw::Text(value.join(" ")))
}

#[cfg(test)]
mod tests {
    use crate::error::ParseError;
    use crate::parse::Format;
    use crate::parse::testing::{flat, flat_limited, pairs};

    #[test]
    fn stanzas_names_types_and_repeated_keys() {
        let text = "\
# Aerospike database configuration file.
service {
    proto-fd-max 15000   # trailing comment
}
network {
    heartbeat {
        mode mesh
        mesh-seed-address-port 10.0.0.2 3002
        mesh-seed-address-port 10.0.0.1   3002
    }
}
namespace test {
    replication-factor 2
    memory-size 4G
    storage-engine device {
        file /opt/aerospike/data/b.dat
        file /opt/aerospike/data/a.dat
        write-block-size 128K
    }
}
logging { file /var/log/aerospike/aerospike.log{ context any info } }
";
        assert_eq!(
            flat(Format::Aerospike, text).unwrap(),
            pairs(&[
                ("logging", "a stanza"),
                ("logging.file[/var/log/aerospike/aerospike.log]", "a stanza"),
                (
                    "logging.file[/var/log/aerospike/aerospike.log].context",
                    "any info"
                ),
                ("namespace[test]", "a stanza"),
                ("namespace[test].memory-size", "4G"),
                ("namespace[test].replication-factor", "2"),
                ("namespace[test].storage-engine", "device"),
                (
                    "namespace[test].storage-engine.file",
                    "{/opt/aerospike/data/a.dat, /opt/aerospike/data/b.dat}"
                ),
                ("namespace[test].storage-engine.write-block-size", "128K"),
                ("network", "a stanza"),
                ("network.heartbeat", "a stanza"),
                (
                    "network.heartbeat.mesh-seed-address-port",
                    "{10.0.0.1 3002, 10.0.0.2 3002}"
                ),
                ("network.heartbeat.mode", "mesh"),
                ("service", "a stanza"),
                ("service.proto-fd-max", "15000"),
            ])
        );
    }

    #[test]
    fn unbalanced_braces_are_named_with_their_line() {
        let err = flat(Format::Aerospike, "service {\n  a 1\n").unwrap_err();
        assert_eq!(
            err.to_string(),
            "aerospike syntax: stanza `service` opened at line 1 is never closed"
        );
        let err = flat(Format::Aerospike, "service {\n}\n}\n").unwrap_err();
        assert_eq!(
            err.to_string(),
            "aerospike syntax: line 3: `}` closes no stanza"
        );
        let err = flat(Format::Aerospike, "{\n").unwrap_err();
        assert_eq!(
            err.to_string(),
            "aerospike syntax: line 1: `{` without a stanza name"
        );
    }

    #[test]
    fn depth_and_key_limits() {
        let deep = "a {\n".repeat(10_000);
        let err = flat_limited(Format::Aerospike, &deep, 64, 1_000_000).unwrap_err();
        assert_eq!(
            err,
            ParseError::TooDeep {
                limit: 64,
                line: Some(65)
            }
        );
        let many = "k v\n".repeat(11);
        let err = flat_limited(Format::Aerospike, &many, 64, 10).unwrap_err();
        assert_eq!(err, ParseError::TooManyKeys { limit: 10 });
    }
}
