//! [`Pattern`]: the metric name patterns of [`Context::read_pattern`](crate::Context::read_pattern)
//! and [`Context::find`](crate::Context::find), as [`TestHost`](super::TestHost) implements them.

use regex::Regex;

use crate::error::PluginError;

/// A metric name pattern: a glob matching the whole name, or `re:` + a regular expression
/// matching at the start of the name (like Python's `re.match`).
///
/// Glob syntax: `*` any run of characters (dots included), `?` one character, `[abc]` /
/// `[a-z]` one of a class, `[!abc]` / `[^abc]` one not in it, `{cpu,mem.*}` one of the
/// alternatives (which may nest and contain globs); every other character stands for itself.
///
/// ```
/// use am_plugin_api::testing::Pattern;
///
/// let p = Pattern::new("system.*.{cpu,mem}")?;
/// assert!(p.matches("system.web-1.cpu"));
/// assert!(p.matches("system.eu.web-1.mem"));
/// assert!(!p.matches("system.web-1.cpu.user"));
///
/// let r = Pattern::new(r"re:system\.web-\d")?;
/// assert!(r.matches("system.web-1.cpu.user")); // anchored at the start only
/// assert!(!r.matches("eu.system.web-1"));
/// # Ok::<(), am_plugin_api::PluginError>(())
/// ```
#[derive(Debug, Clone)]
pub struct Pattern {
    source: String,
    regex: Regex,
}

impl Pattern {
    /// Compiles a pattern; an invalid regular expression is an error.
    pub fn new(pattern: &str) -> Result<Self, PluginError> {
        let regex = match pattern.strip_prefix("re:") {
            Some(re) => format!("^(?:{re})"),
            None => format!("^{}$", glob_to_regex(pattern)),
        };
        let regex = Regex::new(&regex)
            .map_err(|e| PluginError::new(format!("invalid pattern `{pattern}`: {e}")))?;
        Ok(Self {
            source: pattern.to_owned(),
            regex,
        })
    }

    /// Whether `name` matches.
    pub fn matches(&self, name: &str) -> bool {
        self.regex.is_match(name)
    }

    /// The pattern as written.
    pub fn as_str(&self) -> &str {
        &self.source
    }
}

/// Translates a glob into an (unanchored) regular expression.
fn glob_to_regex(glob: &str) -> String {
    let chars: Vec<char> = glob.chars().collect();
    let mut out = String::new();
    let mut i = 0;
    // Open `{` groups; a `,` at depth > 0 separates alternatives.
    let mut depth = 0usize;
    while i < chars.len() {
        let c = chars[i];
        match c {
            '*' => out.push_str(".*"),
            '?' => out.push('.'),
            '[' => {
                if let Some((class, next)) = class(&chars, i) {
                    out.push_str(&class);
                    i = next;
                    continue;
                }
                out.push_str(r"\[");
            }
            '{' if has_closing_brace(&chars[i + 1..]) => {
                depth += 1;
                out.push_str("(?:");
            }
            '}' if depth > 0 => {
                depth -= 1;
                out.push(')');
            }
            ',' if depth > 0 => out.push('|'),
            c => out.push_str(&regex::escape(c.encode_utf8(&mut [0; 4]))),
        }
        i += 1;
    }
    out
}

/// Whether a `{` at the start of `rest` is closed (counting nesting).
fn has_closing_brace(rest: &[char]) -> bool {
    let mut depth = 1usize;
    for &c in rest {
        match c {
            '{' => depth += 1,
            '}' => {
                depth -= 1;
                if depth == 0 {
                    return true;
                }
            }
            _ => {}
        }
    }
    false
}

/// Translates the class starting at `chars[start] == '['`; `None` if it is not closed.
/// Returns the regex class and the index after the closing `]`.
fn class(chars: &[char], start: usize) -> Option<(String, usize)> {
    let mut i = start + 1;
    let mut out = String::from("[");
    if matches!(chars.get(i), Some('!' | '^')) {
        out.push('^');
        i += 1;
    }
    let first = i;
    loop {
        let c = *chars.get(i)?;
        if c == ']' && i > first {
            out.push(']');
            return Some((out, i + 1));
        }
        match c {
            '-' => out.push('-'),
            '\\' | '[' | ']' | '^' | '&' | '~' => {
                out.push('\\');
                out.push(c);
            }
            c => out.push(c),
        }
        i += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(pattern: &str, name: &str) -> bool {
        Pattern::new(pattern).unwrap().matches(name)
    }

    #[test]
    fn globs() {
        assert!(m("a.b", "a.b"));
        assert!(!m("a.b", "axb"));
        assert!(!m("a.b", "a.b.c"));
        assert!(m("a.*", "a.b.c"));
        assert!(m("*", ""));
        assert!(m("a.?", "a.b"));
        assert!(!m("a.?", "a.bc"));
        assert!(m("web-[0-9]", "web-7"));
        assert!(!m("web-[!0-9]", "web-7"));
        assert!(m("web-[^0-9]", "web-x"));
        assert!(m("x[]]", "x]"));
        assert!(m("x[", "x["));
        assert!(m("{cpu,mem}.load", "mem.load"));
        assert!(!m("{cpu,mem}.load", "disk.load"));
        assert!(m("a.{b.{c,d},e*}", "a.b.d"));
        assert!(m("a.{b.{c,d},e*}", "a.eee"));
        assert!(m("a,b", "a,b"));
        assert!(m("{a", "{a"));
        assert!(m("a}", "a}"));
        assert!(m("a+(b)|c$", "a+(b)|c$"));
    }

    #[test]
    fn regexes_are_anchored_at_the_start_only() {
        assert!(m("re:cpu", "cpu.user"));
        assert!(!m("re:cpu", "x.cpu"));
        assert!(m("re:.*cpu", "x.cpu"));
        assert!(m("re:a|b", "b.x"));
        assert!(Pattern::new("re:(").is_err());
        assert_eq!(Pattern::new("re:a").unwrap().as_str(), "re:a");
    }
}
