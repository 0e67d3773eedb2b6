//! [`Flat`]: a configuration flattened to key paths (`namespace[test].storage-engine.file`),
//! built by the parsers through a [`Builder`] that enforces the key limit, drops ignored paths
//! and merges repeated keys into sets.

use std::collections::BTreeMap;
use std::collections::btree_map::Entry;

use crate::error::ParseError;
use crate::value::{Raw, Scalar, Semantics, Value};

/// A configuration as key paths and what each holds, in path order.
pub type Flat = BTreeMap<String, Value>;

/// What a parse may use: beyond these, the input is refused (hostile or broken input must not
/// take unbounded time or memory).
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// The deepest nesting of stanzas, sections or objects.
    pub max_depth: usize,
    /// The most key paths (leaves and stanzas, repeats included).
    pub max_keys: usize,
    /// The most bytes of key paths and values kept. The input's size does not bound what it
    /// expands to: every key repeats its stanza's path (a 2 MB stanza name before 100,000
    /// keys), and a YAML alias copies its anchor.
    pub max_expanded: usize,
}

/// Key paths that may differ (`ignore`): each pattern matches a whole path, `*` standing for
/// any run of characters (dots and brackets included); a path is ignored with everything
/// under it.
#[derive(Debug, Clone, Default)]
pub struct Ignore {
    patterns: Vec<String>,
}

impl Ignore {
    /// The patterns of `ignore`.
    pub fn new(patterns: Vec<String>) -> Self {
        Ignore { patterns }
    }

    /// Whether `path`, or a stanza it is under, matches a pattern.
    pub fn ignores(&self, path: &str) -> bool {
        if self.patterns.is_empty() {
            return false;
        }
        let ends = path
            .char_indices()
            .filter(|&(_, c)| c == '.' || c == '[')
            .map(|(i, _)| i)
            .chain([path.len()]);
        for end in ends {
            let prefix = &path[..end];
            if self.patterns.iter().any(|p| wildcard(p, prefix)) {
                return true;
            }
        }
        false
    }
}

/// Whether `text` matches `pattern`, where `*` matches any run of characters (and nothing else
/// is special: `[` in a key path is literal, unlike in a shell glob). Greedy with one
/// backtrack point: O(pattern × text) at worst.
fn wildcard(pattern: &str, text: &str) -> bool {
    let (p, t) = (pattern.as_bytes(), text.as_bytes());
    let (mut pi, mut ti) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        if pi < p.len() && p[pi] == b'*' {
            star = Some((pi, ti));
            pi += 1;
        } else if pi < p.len() && p[pi] == t[ti] {
            pi += 1;
            ti += 1;
        } else if let Some((sp, st)) = star {
            pi = sp + 1;
            ti = st + 1;
            star = Some((sp, st + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|&b| b == b'*')
}

/// Joins a key path: `parent.key`, or `key` at the top.
pub fn join(parent: &str, key: &str) -> String {
    if parent.is_empty() {
        key.to_owned()
    } else {
        let mut path = String::with_capacity(parent.len() + 1 + key.len());
        path.push_str(parent);
        path.push('.');
        path.push_str(key);
        path
    }
}

/// Whether `path` lies under `ancestor` (`a.b` and `a[x].c` are under `a`; `ab` is not).
pub fn is_under(path: &str, ancestor: &str) -> bool {
    path.len() > ancestor.len()
        && path.starts_with(ancestor)
        && matches!(path.as_bytes()[ancestor.len()], b'.' | b'[')
}

/// What a key path is counted as in the expansion limit besides its text: about what its
/// map entry and string take.
pub const KEY_COST: usize = 64;
/// What a value is counted as besides its text.
pub const SCALAR_COST: usize = 64;

/// Collects a parse into a [`Flat`], within [`Limits`].
#[derive(Debug)]
pub struct Builder<'a> {
    flat: Flat,
    keys: usize,
    bytes: usize,
    limits: Limits,
    semantics: Semantics,
    ignore: &'a Ignore,
    prefix: &'a str,
}

impl<'a> Builder<'a> {
    /// An empty configuration. `prefix` is put before every path (a runtime source's
    /// `prefix`); `semantics` reads the values.
    pub fn new(limits: Limits, semantics: Semantics, ignore: &'a Ignore, prefix: &'a str) -> Self {
        Builder {
            flat: Flat::new(),
            keys: 0,
            bytes: 0,
            limits,
            semantics,
            ignore,
            prefix,
        }
    }

    /// The limits in force.
    pub fn limits(&self) -> Limits {
        self.limits
    }

    fn charge(&mut self, bytes: usize) -> Result<(), ParseError> {
        self.bytes = self.bytes.saturating_add(bytes);
        if self.bytes > self.limits.max_expanded {
            return Err(ParseError::TooExpanded {
                limit: self.limits.max_expanded,
            });
        }
        Ok(())
    }

    /// Counts one key path against the limits.
    fn count(&mut self, path: &str) -> Result<(), ParseError> {
        self.keys += 1;
        if self.keys > self.limits.max_keys {
            return Err(ParseError::TooManyKeys {
                limit: self.limits.max_keys,
            });
        }
        self.charge(KEY_COST + self.prefix.len() + 1 + path.len())
    }

    fn full(&self, path: &str) -> Option<String> {
        let full = join(self.prefix, path);
        (!self.ignore.ignores(&full)).then_some(full)
    }

    /// Records the stanza, section or object at `path`.
    pub fn section(&mut self, path: &str) -> Result<(), ParseError> {
        self.count(path)?;
        if let Some(full) = self.full(path) {
            // A path that holds values stays a value: a typed Aerospike stanza
            // (`storage-engine device`) is a value and a stanza at once.
            self.flat.entry(full).or_insert(Value::Section);
        }
        Ok(())
    }

    /// Reads `raw` as this format means it, counting it against the limits: for a value
    /// that [`Builder::put`] will store (a list's item, say).
    pub fn item(&mut self, raw: Raw) -> Result<Scalar, ParseError> {
        let text = match &raw {
            Raw::Text(text) | Raw::Typed(_, text) => text.len(),
        };
        self.charge(SCALAR_COST + text)?;
        Ok(self.semantics.scalar(raw))
    }

    /// Counts the values of `value` against the limits, as if each were read anew (a YAML
    /// alias copying its anchor's).
    pub fn charge_value(&mut self, value: &Value) -> Result<(), ParseError> {
        let scalars = match value {
            Value::Section => 0,
            Value::Set(set) => set.len(),
            Value::List(list) => list.len(),
        };
        self.charge(scalars * SCALAR_COST + value.text_len())
    }

    /// Adds a value at `path`; a repeated key adds to the set of its values.
    pub fn scalar(&mut self, path: &str, raw: Raw) -> Result<(), ParseError> {
        self.count(path)?;
        let scalar = self.item(raw)?;
        let Some(full) = self.full(path) else {
            return Ok(());
        };
        match self.flat.entry(full) {
            Entry::Vacant(slot) => {
                slot.insert(Value::one(scalar));
            }
            Entry::Occupied(mut slot) => slot.get_mut().add(scalar),
        }
        Ok(())
    }

    /// Sets `path` to `value`, replacing what was there (a key given twice in JSON, a
    /// property given twice: the last one counts). Its values must have been counted (read
    /// through [`Builder::item`], or [`Builder::charge_value`]).
    pub fn put(&mut self, path: &str, value: Value) -> Result<(), ParseError> {
        self.count(path)?;
        if let Some(full) = self.full(path) {
            self.flat.insert(full, value);
        }
        Ok(())
    }

    /// What `path` holds so far.
    pub fn get(&self, path: &str) -> Option<&Value> {
        self.flat.get(&join(self.prefix, path))
    }

    /// The configuration.
    pub fn finish(self) -> Flat {
        self.flat
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcards_match_whole_paths_with_literal_brackets() {
        assert!(wildcard(
            "namespace[*].storage-engine.file",
            "namespace[test].storage-engine.file"
        ));
        assert!(wildcard("*.node-id", "service.node-id"));
        assert!(!wildcard("service", "service.node-id"));
        assert!(wildcard("a*b*c", "aXXbYYc"));
        assert!(!wildcard("a*b*c", "aXXbYY"));
        assert!(wildcard("*", ""));
    }

    #[test]
    fn ignoring_a_stanza_ignores_what_is_under_it() {
        let ignore = Ignore::new(vec!["logging".into(), "namespace[*].rack-id".into()]);
        assert!(ignore.ignores("logging"));
        assert!(ignore.ignores("logging.file[/var/log/a.log].context"));
        assert!(!ignore.ignores("logging2.x"));
        assert!(ignore.ignores("namespace[test].rack-id"));
        assert!(!ignore.ignores("namespace[test].replication-factor"));
    }

    #[test]
    fn paths_under_stanzas() {
        assert!(is_under("namespace[t].a", "namespace[t]"));
        assert!(is_under("namespace[t]", "namespace"));
        assert!(!is_under("namespaces", "namespace"));
        assert!(!is_under("namespace", "namespace"));
    }

    /// A builder of text values with no ignores, nesting at most 4 deep.
    fn builder<'a>(
        ignore: &'a Ignore,
        max_keys: usize,
        max_expanded: usize,
        prefix: &'a str,
    ) -> Builder<'a> {
        let limits = Limits {
            max_depth: 4,
            max_keys,
            max_expanded,
        };
        Builder::new(limits, Semantics::Text, ignore, prefix)
    }

    #[test]
    fn the_key_limit_counts_repeats() {
        let ignore = Ignore::default();
        let mut b = builder(&ignore, 2, 1000, "");
        b.scalar("a", Raw::Text("1".into())).unwrap();
        b.scalar("a", Raw::Text("2".into())).unwrap();
        assert_eq!(
            b.scalar("a", Raw::Text("3".into())),
            Err(ParseError::TooManyKeys { limit: 2 })
        );
    }

    #[test]
    fn the_expansion_limit_counts_paths_and_values() {
        let ignore = Ignore::default();
        let mut b = builder(&ignore, 100, 2 * KEY_COST + SCALAR_COST + 12, "pre");
        b.scalar("ab", Raw::Text("1".into())).unwrap(); // "pre" "." "ab", "1"
        assert_eq!(
            b.section("abcde"),
            Err(ParseError::TooExpanded {
                limit: 2 * KEY_COST + SCALAR_COST + 12
            })
        );
    }
}
