//! Values as the format means them: [`Scalar`] (compared by its canonical form, shown as
//! written), [`Value`] (what one key path holds) and [`Semantics`] (how a format reads text).
//!
//! `128M` and `134217728` are the same size to Aerospike, `0x10` and `16` the same integer to
//! YAML; a comparison must not call them different. Each parser hands over the text it read
//! (or a typed value, for JSON), and the [`Semantics`] of the service's `format` turns it into
//! a [`Canon`], which is what comparisons look at. The text as written is kept for reasons.

use std::cmp::Ordering;
use std::fmt;

/// What a scalar means, for comparison.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Canon {
    /// `null`, `~`.
    Null,
    /// `true`/`false` (Aerospike also `yes`/`no`).
    Bool(bool),
    /// An integer, units applied (`128M` → 134217728, `2m` → 120).
    Int(i128),
    /// A non-integral finite number, as its bits (−0 made +0).
    Float(u64),
    /// Anything else: the text, whitespace runs collapsed.
    Str(String),
}

/// One scalar value: compared (and ordered, and deduplicated) by [`Canon`], shown as written.
#[derive(Debug, Clone)]
pub struct Scalar {
    canon: Canon,
    text: String,
}

impl Scalar {
    /// A scalar meaning `canon`, written `text`.
    pub fn new(canon: Canon, text: impl Into<String>) -> Self {
        Scalar {
            canon,
            text: text.into(),
        }
    }

    /// What it means.
    pub fn canon(&self) -> &Canon {
        &self.canon
    }

    /// How it was written.
    pub fn text(&self) -> &str {
        &self.text
    }
}

impl PartialEq for Scalar {
    fn eq(&self, other: &Self) -> bool {
        self.canon == other.canon
    }
}
impl Eq for Scalar {}
impl PartialOrd for Scalar {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Scalar {
    fn cmp(&self, other: &Self) -> Ordering {
        self.canon.cmp(&other.canon)
    }
}

/// What one key path holds.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Value {
    /// A stanza, section or object: present, its keys under it. Recorded so that a missing
    /// stanza is named as such, even an empty one.
    Section,
    /// One value, or the values of a repeated key compared as a set (order and repeats do not
    /// matter: Aerospike's `file` lines, INI's repeated keys). Sorted and without repeats; a
    /// `Vec` rather than a `BTreeSet`, whose smallest node holds room for 11.
    Set(Vec<Scalar>),
    /// A JSON/YAML array of scalars: order matters.
    List(Vec<Scalar>),
}

impl Value {
    /// A single scalar.
    pub fn one(scalar: Scalar) -> Self {
        Value::Set(vec![scalar])
    }

    /// Adds a repeated key's value (nothing if an equal one is there): a single value or set
    /// becomes a set; anything else is replaced.
    pub fn add(&mut self, scalar: Scalar) {
        match self {
            Value::Set(set) => {
                if let Err(at) = set.binary_search(&scalar) {
                    set.insert(at, scalar);
                }
            }
            other => *other = Value::one(scalar),
        }
    }

    /// The bytes of its values' text.
    pub fn text_len(&self) -> usize {
        match self {
            Value::Section => 0,
            Value::Set(set) => set.iter().map(|s| s.text.len()).sum(),
            Value::List(list) => list.iter().map(|s| s.text.len()).sum(),
        }
    }

    /// Whether this is a [`Value::Section`].
    pub fn is_section(&self) -> bool {
        matches!(self, Value::Section)
    }
}

/// The longest value text shown in a reason; longer ones are cut with `…`.
const SHOWN_CHARS: usize = 60;

fn shown(text: &str) -> String {
    if text.chars().count() <= SHOWN_CHARS {
        text.to_owned()
    } else {
        let mut cut: String = text.chars().take(SHOWN_CHARS).collect();
        cut.push('…');
        cut
    }
}

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Section => f.write_str("a stanza"),
            Value::Set(set) if set.len() == 1 => {
                let text = set.iter().map(|s| shown(s.text())).collect::<String>();
                if text.is_empty() {
                    f.write_str("\"\"")
                } else {
                    f.write_str(&text)
                }
            }
            Value::Set(set) => {
                let parts: Vec<String> = set.iter().map(|s| shown(s.text())).collect();
                write!(f, "{{{}}}", parts.join(", "))
            }
            Value::List(list) => {
                let parts: Vec<String> = list.iter().map(|s| shown(s.text())).collect();
                write!(f, "[{}]", parts.join(", "))
            }
        }
    }
}

/// How a format reads a value written as text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Semantics {
    /// Aerospike: sizes with `K`, `M`, `G`, `T`, `P` (powers of 1024, case-insensitive, except
    /// that a lowercase `m` is minutes), durations with `s`, `m`, `h`, `d`, booleans
    /// `true`/`yes`, `false`/`no`, numbers.
    Aerospike,
    /// YAML's core schema and JSON: `true`/`false`, `null`/`~`, integers (also `0x`, `0o`),
    /// floats; anything else, and anything quoted, is a string.
    Typed,
    /// INI and Java properties: every value is a string (trimmed); typed values (from a JSON
    /// runtime source, say) compare as the text they were written as.
    Text,
}

/// A value as a parser read it, before [`Semantics`] gives it a meaning.
#[derive(Debug, Clone)]
pub enum Raw {
    /// Unquoted text, read as the format means it.
    Text(String),
    /// A value whose type the syntax already fixed (a JSON number, a quoted YAML string).
    Typed(Canon, String),
}

impl Semantics {
    /// The scalar `raw` means in this format.
    pub fn scalar(self, raw: Raw) -> Scalar {
        match (self, raw) {
            (Semantics::Text, Raw::Text(text)) => {
                let canon = Canon::Str(text.trim().to_owned());
                Scalar::new(canon, text.trim())
            }
            (Semantics::Text, Raw::Typed(_, text)) => Scalar::new(Canon::Str(text.clone()), text),
            (_, Raw::Typed(canon, text)) => Scalar::new(canon, text),
            (Semantics::Typed, Raw::Text(text)) => Scalar::new(typed(text.trim()), text.trim()),
            (Semantics::Aerospike, Raw::Text(text)) => {
                let text = collapse(&text);
                Scalar::new(aerospike(&text), text)
            }
        }
    }
}

/// Whitespace runs made one space, the ends trimmed.
fn collapse(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// A number's canonical form: integral values (within ±2^53) are [`Canon::Int`].
pub fn number(value: f64) -> Canon {
    if !value.is_finite() {
        return Canon::Str(value.to_string());
    }
    if value == value.trunc() && value.abs() < 9.007_199_254_740_992e15 {
        // Exact: the value is an integer that f64 represents exactly.
        return Canon::Int(value as i128);
    }
    let value = if value == 0.0 { 0.0 } else { value };
    Canon::Float(value.to_bits())
}

/// Reads `text` by YAML's core schema.
fn typed(text: &str) -> Canon {
    match text {
        "" | "~" | "null" | "Null" | "NULL" => return Canon::Null,
        "true" | "True" | "TRUE" => return Canon::Bool(true),
        "false" | "False" | "FALSE" => return Canon::Bool(false),
        _ => {}
    }
    scalar(text, |_| None)
}

/// `text` as an integer, else as `scaled` reads it (a number with a unit), else as a float,
/// else as a string: how YAML's schema and Aerospike read what is not a boolean or null.
fn scalar(text: &str, scaled: impl Fn(&str) -> Option<i128>) -> Canon {
    if let Some(int) = integer(text).or_else(|| scaled(text)) {
        return Canon::Int(int);
    }
    if let Some(float) = float(text) {
        return number(float);
    }
    Canon::Str(text.to_owned())
}

/// A decimal, `0x` or `0o` integer, with an optional sign.
fn integer(text: &str) -> Option<i128> {
    let (negative, digits) = match text.as_bytes().first()? {
        b'-' => (true, &text[1..]),
        b'+' => (false, &text[1..]),
        _ => (false, text),
    };
    let (radix, digits) = if let Some(hex) = digits.strip_prefix("0x") {
        (16, hex)
    } else if let Some(oct) = digits.strip_prefix("0o") {
        (8, oct)
    } else {
        (10, digits)
    };
    if digits.is_empty() || !digits.chars().all(|c| c.is_digit(radix)) {
        return None;
    }
    let value = i128::from_str_radix(digits, radix).ok()?;
    Some(if negative { -value } else { value })
}

/// A float in YAML's notation (`1.5`, `-2e3`, `.5`, `.inf`, `.nan`); not Rust's `inf`.
fn float(text: &str) -> Option<f64> {
    match text {
        ".inf" | ".Inf" | ".INF" | "+.inf" => return Some(f64::INFINITY),
        "-.inf" | "-.Inf" | "-.INF" => return Some(f64::NEG_INFINITY),
        ".nan" | ".NaN" | ".NAN" => return Some(f64::NAN),
        _ => {}
    }
    let plain = text
        .chars()
        .all(|c| c.is_ascii_digit() || matches!(c, '.' | 'e' | 'E' | '+' | '-'));
    if !plain || !text.chars().any(|c| c.is_ascii_digit()) {
        return None;
    }
    text.parse::<f64>().ok()
}

/// Reads `text` as Aerospike does: booleans, numbers, sizes and durations.
fn aerospike(text: &str) -> Canon {
    match text {
        "true" | "yes" => return Canon::Bool(true),
        "false" | "no" => return Canon::Bool(false),
        _ => {}
    }
    scalar(text, with_unit)
}

/// `<digits><unit>`: sizes `K M G T P` (×1024ⁿ; lowercase too, but `m` is minutes) and
/// durations `s m h d` (seconds), as Aerospike's `cf_str_atoi_u64`/`_seconds` read them.
fn with_unit(text: &str) -> Option<i128> {
    let unit = text.chars().last()?;
    let digits = &text[..text.len() - unit.len_utf8()];
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let value: i128 = digits.parse().ok()?;
    let factor: i128 = match unit {
        'K' | 'k' => 1 << 10,
        'M' => 1 << 20,
        'G' | 'g' => 1 << 30,
        'T' | 't' => 1 << 40,
        'P' | 'p' => 1 << 50,
        'S' | 's' => 1,
        'm' => 60,
        'H' | 'h' => 3600,
        'D' | 'd' => 86_400,
        _ => return None,
    };
    value.checked_mul(factor)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn a(text: &str) -> Canon {
        Semantics::Aerospike
            .scalar(Raw::Text(text.into()))
            .canon()
            .clone()
    }
    fn y(text: &str) -> Canon {
        Semantics::Typed
            .scalar(Raw::Text(text.into()))
            .canon()
            .clone()
    }

    #[test]
    fn aerospike_units_and_booleans() {
        assert_eq!(a("128M"), a("134217728"));
        assert_eq!(a("4G"), Canon::Int(4 << 30));
        assert_eq!(a("64k"), Canon::Int(65_536));
        assert_eq!(a("2m"), Canon::Int(120));
        assert_eq!(a("30d"), a("2592000"));
        assert_eq!(a("1h"), a("3600s"));
        assert_eq!(a("yes"), a("true"));
        assert_eq!(a("no"), Canon::Bool(false));
        assert_eq!(a("  10.0.0.1   3002 "), Canon::Str("10.0.0.1 3002".into()));
        assert_ne!(a("128M"), a("128m"));
        assert_eq!(a("M"), Canon::Str("M".into()));
        assert_eq!(a("0.5"), number(0.5));
    }

    #[test]
    fn typed_core_schema() {
        assert_eq!(y("0x10"), y("16"));
        assert_eq!(y("0o10"), Canon::Int(8));
        assert_eq!(y("1.0"), Canon::Int(1));
        assert_eq!(y("~"), Canon::Null);
        assert_eq!(y("True"), Canon::Bool(true));
        assert_eq!(y("inf"), Canon::Str("inf".into()));
        assert_eq!(y("1e3"), Canon::Int(1000));
        assert_eq!(y("-0.0"), Canon::Int(0));
    }

    #[test]
    fn text_keeps_strings_and_shows_as_written() {
        let typed = Semantics::Text.scalar(Raw::Typed(Canon::Int(8080), "8080".into()));
        let text = Semantics::Text.scalar(Raw::Text(" 8080 ".into()));
        assert_eq!(typed, text);
        let mut set = Value::one(Semantics::Aerospike.scalar(Raw::Text("/b".into())));
        set.add(Semantics::Aerospike.scalar(Raw::Text("/a".into())));
        set.add(Semantics::Aerospike.scalar(Raw::Text("/b".into())));
        assert_eq!(set.to_string(), "{/a, /b}");
        let long = "x".repeat(100);
        let shown = Value::one(Semantics::Text.scalar(Raw::Text(long))).to_string();
        assert_eq!(shown.chars().count(), SHOWN_CHARS + 1);
    }
}
