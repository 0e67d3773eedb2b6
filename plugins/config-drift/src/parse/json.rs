//! JSON through `serde_json`, streamed: the document is never held as a tree. A visitor
//! writes each value to the [`Builder`] as it is read, so what a document costs is what the
//! builder counts (`max_keys`, the expansion limit), and serde_json refuses nesting deeper
//! than 128 levels itself (recursion stays bounded), `max_depth` applying below that.
//!
//! An object's key is `parent.key`; an array of scalars is one ordered value (`[a, b]`), any
//! other array's items are `parent[0]`, `parent[1]`, ... Numbers compare by value (`1.0` is
//! `1`); a string never equals a number. A repeated object key: the last one counts.

use std::cell::RefCell;
use std::fmt;

use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};

use crate::error::ParseError;
use crate::flat::{Builder, join};
use crate::value::{Canon, Raw, Scalar, Value, number};

const FORMAT: &str = "json";

pub(super) fn parse(text: &str, builder: &mut Builder<'_>) -> Result<(), ParseError> {
    let failure = RefCell::new(None);
    let mut deserializer = serde_json::Deserializer::from_str(text);
    let root = Node {
        builder,
        failure: &failure,
        path: String::new(),
        depth: 0,
        parent: None,
    };
    let outcome = root.deserialize(&mut deserializer);
    let outcome = outcome.and_then(|read| deserializer.end().map(|()| read));
    if let Some(error) = failure.into_inner() {
        return Err(error);
    }
    match outcome {
        Ok(Read::Written) => Ok(()),
        Ok(Read::Scalar(_)) => Err(ParseError::syntax(
            FORMAT,
            "the document is a single value, not an object or an array",
        )),
        Err(e) => Err(ParseError::syntax(FORMAT, e.to_string())),
    }
}

/// An array whose items have all been scalars so far: kept as one ordered value until an
/// item is not a scalar, when its items become `path[i]`.
struct Pending {
    path: String,
    items: Option<Vec<Scalar>>,
}

impl Pending {
    fn index(&mut self, builder: &mut Builder<'_>) -> Result<(), ParseError> {
        let Some(items) = self.items.take() else {
            return Ok(());
        };
        if !self.path.is_empty() {
            builder.section(&self.path)?;
        }
        for (index, item) in items.into_iter().enumerate() {
            builder.put(&format!("{}[{index}]", self.path), Value::one(item))?;
        }
        Ok(())
    }
}

/// One value to read at `path`.
struct Node<'a, 'b> {
    builder: &'a mut Builder<'b>,
    /// Where a builder error is kept (serde's error type cannot carry it).
    failure: &'a RefCell<Option<ParseError>>,
    path: String,
    depth: usize,
    /// The array this value is an item of, if any.
    parent: Option<&'a mut Pending>,
}

/// What reading a value gave: a scalar for the parent to place, or nothing (a container
/// wrote itself).
enum Read {
    Scalar(Scalar),
    Written,
}

impl<'b> Node<'_, 'b> {
    /// Keeps `error` and returns serde's stand-in for it.
    fn fail<E: de::Error>(&self, error: ParseError) -> E {
        let message = error.to_string();
        *self.failure.borrow_mut() = Some(error);
        E::custom(message)
    }

    fn scalar<E: de::Error>(self, canon: Canon, text: String) -> Result<Read, E> {
        match self.builder.item(Raw::Typed(canon, text)) {
            Ok(scalar) => Ok(Read::Scalar(scalar)),
            Err(e) => Err(self.fail(e)),
        }
    }

    /// A container starts here: checks the depth, turns the parent array into items, and
    /// records the container.
    fn open<E: de::Error>(&mut self) -> Result<(), E> {
        let limit = self.builder.limits().max_depth;
        let result = if self.depth > limit {
            Err(ParseError::TooDeep { limit, line: None })
        } else if let Some(parent) = self.parent.as_deref_mut() {
            parent.index(self.builder)
        } else {
            Ok(())
        };
        let result = result.and_then(|()| {
            if self.path.is_empty() {
                Ok(())
            } else {
                self.builder.section(&self.path)
            }
        });
        result.map_err(|e| self.fail(e))
    }

    fn child<'c>(&'c mut self, path: String, parent: Option<&'c mut Pending>) -> Node<'c, 'b> {
        Node {
            builder: &mut *self.builder,
            failure: self.failure,
            path,
            depth: self.depth + 1,
            parent,
        }
    }
}

impl<'de> DeserializeSeed<'de> for Node<'_, '_> {
    type Value = Read;
    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Read, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Node<'_, '_> {
    type Value = Read;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Read, E> {
        self.scalar(Canon::Bool(v), v.to_string())
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Read, E> {
        self.scalar(Canon::Int(v.into()), v.to_string())
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Read, E> {
        self.scalar(Canon::Int(v.into()), v.to_string())
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Read, E> {
        // serde_json drops how the number was written; `{v:?}` keeps `1.0` a float.
        self.scalar(number(v), format!("{v:?}"))
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Read, E> {
        self.scalar(Canon::Str(v.to_owned()), v.to_owned())
    }
    fn visit_string<E: de::Error>(self, v: String) -> Result<Read, E> {
        self.scalar(Canon::Str(v.clone()), v)
    }
    fn visit_unit<E: de::Error>(self) -> Result<Read, E> {
        self.scalar(Canon::Null, "null".to_owned())
    }

    fn visit_map<A: MapAccess<'de>>(mut self, mut map: A) -> Result<Read, A::Error> {
        self.open()?;
        while let Some(key) = map.next_key::<String>()? {
            let path = join(&self.path, &key);
            let read = map.next_value_seed(self.child(path.clone(), None))?;
            if let Read::Scalar(scalar) = read {
                self.builder
                    .put(&path, Value::one(scalar))
                    .map_err(|e| self.fail::<A::Error>(e))?;
            }
        }
        Ok(Read::Written)
    }

    fn visit_seq<A: SeqAccess<'de>>(mut self, mut seq: A) -> Result<Read, A::Error> {
        let root = self.path.is_empty() && self.depth == 0;
        self.open()?;
        // The top level's items are always indexed: a document has no path of its own.
        let mut pending = Pending {
            path: self.path.clone(),
            items: (!root).then(Vec::new),
        };
        let mut index = 0;
        loop {
            let path = format!("{}[{index}]", self.path);
            let Some(read) = seq.next_element_seed(self.child(path.clone(), Some(&mut pending)))?
            else {
                break;
            };
            index += 1;
            let Read::Scalar(scalar) = read else { continue };
            match pending.items.as_mut() {
                Some(items) => items.push(scalar),
                None => self
                    .builder
                    .put(&path, Value::one(scalar))
                    .map_err(|e| self.fail::<A::Error>(e))?,
            }
        }
        if let Some(items) = pending.items {
            self.builder
                .put(&self.path, Value::List(items))
                .map_err(|e| self.fail::<A::Error>(e))?;
        }
        Ok(Read::Written)
    }
}

#[cfg(test)]
mod tests {
    use crate::error::ParseError;
    use crate::parse::Format;
    use crate::parse::testing::{NAMESPACES, flat, flat_limited, pairs};

    #[test]
    fn objects_arrays_and_typed_values() {
        let text = r#"{"service": {"threads": 4, "ratio": 1.0, "name": "a", "on": true,
                        "seeds": ["b", "a"], "empty": {}, "none": null},
                       "namespaces": [{"name": "test"}, 2]}"#;
        assert_eq!(
            flat(Format::Json, text).unwrap(),
            pairs(
                &[
                    NAMESPACES,
                    &[
                        ("service.empty", "a stanza"),
                        ("service.name", "a"),
                        ("service.none", "null"),
                        ("service.on", "true"),
                        ("service.ratio", "1.0"),
                        ("service.seeds", "[b, a]"),
                        ("service.threads", "4"),
                    ]
                ]
                .concat()
            )
        );
    }

    #[test]
    fn deep_nesting_and_junk_are_refused() {
        let deep = format!("{}{}", "[".repeat(10_000), "]".repeat(10_000));
        let err = flat(Format::Json, &deep).unwrap_err();
        assert_eq!(
            err,
            ParseError::TooDeep {
                limit: 64,
                line: None
            }
        );
        // Past serde_json's own limit, should `max_depth` be raised beyond it.
        let err = flat_limited(Format::Json, &deep, 1000, 1000).unwrap_err();
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
