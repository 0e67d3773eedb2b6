//! YAML through `saphyr-parser`'s events (YAML 1.2, core schema), one document.
//!
//! Paths and values as for JSON: a mapping's key is `parent.key`, a sequence of scalars is
//! one ordered value, other sequences' items are `parent[0]`, ... Plain scalars are read by
//! the core schema (`0x10` is 16, `~` is null); quoted ones and `!!str` are strings.
//!
//! The events are folded on an explicit stack, so depth costs no recursion and is refused
//! beyond `max_depth` at its line. An alias (`*name`) stands for what its anchor held, copied
//! under the alias's path: every copied key counts against `max_keys`, so a "billion laughs"
//! document stops at the limit. A merge key `<<` is an ordinary key. Mapping keys must be
//! scalars.

use std::collections::HashMap;
use std::ops::Range;

use saphyr_parser::{Event, Parser, ScalarStyle, Span, Tag};

use crate::error::ParseError;
use crate::flat::{Builder, join};
use crate::value::{Canon, Raw, Scalar, Value};

const FORMAT: &str = "yaml";

enum Kind {
    /// The pending key: `None` when the next event is a key.
    Map { key: Option<String> },
    /// `list`: the items while all are scalars (one ordered value); `None` once an item is
    /// not, when the items have become `path[i]`.
    Seq {
        next: usize,
        list: Option<Vec<Scalar>>,
    },
}

struct Frame {
    path: String,
    kind: Kind,
    /// The anchor of this node, and where its entries start in the log.
    anchor: Option<(usize, usize)>,
}

/// What an anchor held: a scalar, or the entries written under its path.
enum Anchored {
    Scalar(Scalar),
    Node { path: String, entries: Range<usize> },
}

struct Folder<'b, 'i> {
    builder: &'b mut Builder<'i>,
    stack: Vec<Frame>,
    /// The path of every entry written, in order, so an alias can copy an anchor's (their
    /// values are looked up in the builder: a path left out by `ignore` is not copied).
    log: Vec<String>,
    anchors: HashMap<usize, Anchored>,
}

pub(super) fn parse(text: &str, builder: &mut Builder<'_>) -> Result<(), ParseError> {
    let mut folder = Folder {
        builder,
        stack: Vec::new(),
        log: Vec::new(),
        anchors: HashMap::new(),
    };
    let mut documents = 0;
    for event in Parser::new_from_str(text) {
        let (event, span) = event.map_err(|e| ParseError::syntax(FORMAT, e.to_string()))?;
        match event {
            Event::DocumentStart(_) => {
                documents += 1;
                if documents > 1 {
                    return Err(ParseError::syntax(
                        FORMAT,
                        format!("line {}: a second document", span.start.line()),
                    ));
                }
            }
            Event::Scalar(value, style, anchor, tag) => {
                let raw = raw(value.into_owned(), style, tag.as_deref());
                folder.scalar(raw, anchor, span)?;
            }
            Event::Alias(id) => folder.alias(id, span)?,
            Event::SequenceStart(anchor, _) => folder.open(true, anchor, span)?,
            Event::MappingStart(anchor, _) => folder.open(false, anchor, span)?,
            Event::SequenceEnd | Event::MappingEnd => folder.close()?,
            Event::Nothing | Event::StreamStart | Event::StreamEnd | Event::DocumentEnd => {}
        }
    }
    Ok(())
}

/// A scalar as the syntax wrote it: plain ones are read by the schema, others are strings.
fn raw(value: String, style: ScalarStyle, tag: Option<&Tag>) -> Raw {
    let is_str = tag.is_some_and(|t| t.is_yaml_core_schema() && t.suffix == "str");
    if style == ScalarStyle::Plain && !is_str {
        Raw::Text(value)
    } else {
        Raw::Typed(Canon::Str(value.clone()), value)
    }
}

impl Folder<'_, '_> {
    /// Writes an entry; its values must have been counted already.
    fn write(&mut self, path: String, value: Value) -> Result<(), ParseError> {
        if value.is_section() {
            self.builder.section(&path)?;
        } else {
            self.builder.put(&path, value)?;
        }
        self.log.push(path);
        Ok(())
    }

    /// Whether the next event is a mapping key.
    fn at_key(&self) -> bool {
        matches!(
            self.stack.last(),
            Some(Frame {
                kind: Kind::Map { key: None },
                ..
            })
        )
    }

    /// The path of the next value, moving the parent on.
    fn child_path(&mut self) -> String {
        let Some(frame) = self.stack.last_mut() else {
            return String::new();
        };
        match &mut frame.kind {
            Kind::Map { key } => join(&frame.path, &key.take().unwrap_or_default()),
            Kind::Seq { next, .. } => {
                let path = format!("{}[{next}]", frame.path);
                *next += 1;
                path
            }
        }
    }

    /// Turns the innermost sequence of scalars, if it is one, into indexed items.
    fn index_items(&mut self) -> Result<(), ParseError> {
        let Some(Frame {
            path,
            kind: Kind::Seq { list, .. },
            ..
        }) = self.stack.last_mut()
        else {
            return Ok(());
        };
        let Some(items) = list.take() else {
            return Ok(());
        };
        let path = path.clone();
        if !path.is_empty() {
            self.write(path.clone(), Value::Section)?;
        }
        for (index, item) in items.into_iter().enumerate() {
            self.write(format!("{path}[{index}]"), Value::one(item))?;
        }
        Ok(())
    }

    fn scalar(&mut self, raw: Raw, anchor: usize, span: Span) -> Result<(), ParseError> {
        let scalar = self.builder.item(raw)?;
        if anchor > 0 {
            self.anchors
                .insert(anchor, Anchored::Scalar(scalar.clone()));
        }
        self.place_scalar(scalar, span)
    }

    fn place_scalar(&mut self, scalar: Scalar, span: Span) -> Result<(), ParseError> {
        if self.at_key() {
            if let Some(Frame {
                kind: Kind::Map { key },
                ..
            }) = self.stack.last_mut()
            {
                *key = Some(scalar.text().to_owned());
            }
            return Ok(());
        }
        if let Some(Frame {
            kind: Kind::Seq {
                next,
                list: Some(items),
            },
            ..
        }) = self.stack.last_mut()
        {
            items.push(scalar);
            *next += 1;
            return Ok(());
        }
        if self.stack.is_empty() {
            // A document that is one scalar: an empty one (null) has no keys.
            if *scalar.canon() == Canon::Null || scalar.text().is_empty() {
                return Ok(());
            }
            return Err(ParseError::syntax(
                FORMAT,
                format!(
                    "line {}: the document is a single value, not a mapping",
                    span.start.line()
                ),
            ));
        }
        let path = self.child_path();
        self.write(path, Value::one(scalar))
    }

    fn alias(&mut self, id: usize, span: Span) -> Result<(), ParseError> {
        let line = span.start.line();
        match self.anchors.get(&id) {
            Some(Anchored::Scalar(scalar)) => {
                let scalar = scalar.clone();
                self.builder.charge_value(&Value::one(scalar.clone()))?;
                self.place_scalar(scalar, span)
            }
            Some(Anchored::Node { path, entries }) => {
                if self.at_key() {
                    return Err(ParseError::syntax(
                        FORMAT,
                        format!("line {line}: a mapping key must be a scalar"),
                    ));
                }
                let (from, entries) = (path.clone(), entries.clone());
                self.index_items()?;
                let to = self.child_path();
                for index in entries {
                    let path = &self.log[index];
                    let Some(value) = self.builder.get(path).cloned() else {
                        continue;
                    };
                    let suffix = path.get(from.len()..).unwrap_or_default().to_owned();
                    self.builder.charge_value(&value)?;
                    self.write(format!("{to}{suffix}"), value)?;
                }
                Ok(())
            }
            None => Err(ParseError::syntax(
                FORMAT,
                format!("line {line}: an alias to an anchor that is not complete"),
            )),
        }
    }

    fn open(&mut self, sequence: bool, anchor: usize, span: Span) -> Result<(), ParseError> {
        let line = span.start.line();
        if self.at_key() {
            return Err(ParseError::syntax(
                FORMAT,
                format!("line {line}: a mapping key must be a scalar"),
            ));
        }
        let max_depth = self.builder.limits().max_depth;
        if self.stack.len() >= max_depth {
            return Err(ParseError::TooDeep {
                limit: max_depth,
                line: Some(line),
            });
        }
        self.index_items()?;
        let root = self.stack.is_empty();
        let path = self.child_path();
        let start = self.log.len();
        let kind = if sequence {
            // The top level's items are always indexed: a document has no path of its own.
            let list = (!root).then(Vec::new);
            Kind::Seq { next: 0, list }
        } else {
            if !root {
                self.write(path.clone(), Value::Section)?;
            }
            Kind::Map { key: None }
        };
        self.stack.push(Frame {
            path,
            kind,
            anchor: (anchor > 0).then_some((anchor, start)),
        });
        Ok(())
    }

    fn close(&mut self) -> Result<(), ParseError> {
        let Some(frame) = self.stack.pop() else {
            return Ok(());
        };
        if let Kind::Seq {
            list: Some(items), ..
        } = frame.kind
        {
            self.write(frame.path.clone(), Value::List(items))?;
        }
        if let Some((id, start)) = frame.anchor {
            let node = Anchored::Node {
                path: frame.path,
                entries: start..self.log.len(),
            };
            self.anchors.insert(id, node);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use crate::error::ParseError;
    use crate::parse::Format;
    use crate::parse::testing::{NAMESPACES, flat, flat_limited, pairs};

    #[test]
    fn mappings_sequences_and_the_core_schema() {
        let text = "\
service:
  threads: 0x10
  name: 'web'
  ratio: 1.0
  on: true
  seeds: [b, a]
  quoted: \"16\"
namespaces:
  - name: test
  - 2
";
        assert_eq!(
            flat(Format::Yaml, text).unwrap(),
            pairs(
                &[
                    NAMESPACES,
                    &[
                        ("service.name", "web"),
                        ("service.on", "true"),
                        ("service.quoted", "16"),
                        ("service.ratio", "1.0"),
                        ("service.seeds", "[b, a]"),
                        ("service.threads", "0x10"),
                    ]
                ]
                .concat()
            )
        );
    }

    #[test]
    fn aliases_copy_their_anchor_and_count_against_the_limit() {
        let text = "\
base: &b
  port: 80
  hosts: [x, y]
web: *b
name: &n alpha
other: *n
";
        assert_eq!(
            flat(Format::Yaml, text).unwrap(),
            pairs(&[
                ("base", "a stanza"),
                ("base.hosts", "[x, y]"),
                ("base.port", "80"),
                ("name", "alpha"),
                ("other", "alpha"),
                ("web", "a stanza"),
                ("web.hosts", "[x, y]"),
                ("web.port", "80"),
            ])
        );
        let laughs = "\
a: &a [l, l, l, l, l, l, l, l, l]
b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]
c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]
d: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c]
e: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d]
f: &f [*e, *e, *e, *e, *e, *e, *e, *e, *e]
g: &g [*f, *f, *f, *f, *f, *f, *f, *f, *f]
";
        let err = flat_limited(Format::Yaml, laughs, 64, 10_000).unwrap_err();
        assert_eq!(err, ParseError::TooManyKeys { limit: 10_000 });
    }

    #[test]
    fn depth_documents_and_keys_are_checked() {
        // saphyr's scanner refuses deep flow collections itself...
        let deep = format!("{}{}", "[".repeat(10_000), "]".repeat(10_000));
        let err = flat(Format::Yaml, &deep).unwrap_err();
        assert!(
            err.to_string().contains("recursion limit exceeded"),
            "{err}"
        );
        // ... and `max_depth` holds for block nesting.
        let deep: String = (0..70)
            .map(|i| format!("{}k{i}:\n", " ".repeat(i)))
            .collect();
        let err = flat(Format::Yaml, &deep).unwrap_err();
        assert_eq!(
            err,
            ParseError::TooDeep {
                limit: 64,
                line: Some(65)
            }
        );
        let err = flat(Format::Yaml, "a: 1\n---\nb: 2\n").unwrap_err();
        assert_eq!(err.to_string(), "yaml syntax: line 2: a second document");
        let err = flat(Format::Yaml, "? [a]\n: 1\n").unwrap_err();
        assert!(err.to_string().contains("key must be a scalar"), "{err}");
        let err = flat(Format::Yaml, "a: [1, 2\n").unwrap_err();
        assert!(err.to_string().starts_with("yaml syntax: "), "{err}");
        assert_eq!(flat(Format::Yaml, "").unwrap(), pairs(&[]));
        assert_eq!(
            flat(Format::Yaml, "# only a comment\n").unwrap(),
            pairs(&[])
        );
    }
}
