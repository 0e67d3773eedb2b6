//! Metric name patterns for lookups: globs (as anna-molly's Redis `SCAN MATCH` took them) or
//! regular expressions.

use regex::Regex;

use crate::Error;

/// A compiled name pattern with the literal prefix every match starts with, so the index can be
/// range-scanned for that prefix instead of read whole.
#[derive(Debug, Clone)]
pub struct Pattern {
    source: String,
    regex: Regex,
    prefix: String,
    /// The pattern matches only `prefix` itself.
    exact: bool,
}

impl Pattern {
    /// Parses a pattern: `re:<regex>` is a regular expression matched at the start of the name
    /// (Python's `re.match`, like the whitelist); anything else is a glob, matched against the
    /// whole name: `*` any run of characters (dots included, as Redis globs do), `?` one
    /// character, `[abc]`, `[a-z]`, `[!a]`/`[^a]` one of a set, `{a,b}` alternatives, `\x` a
    /// literal `x`.
    pub fn parse(source: &str) -> Result<Pattern, Error> {
        if let Some(re) = source.strip_prefix("re:") {
            let regex = Regex::new(&format!("^(?:{re})"))
                .map_err(|e| Error::InvalidPattern(format!("{source:?}: {e}")))?;
            return Ok(Pattern {
                source: source.to_string(),
                regex,
                prefix: String::new(),
                exact: false,
            });
        }
        let (expr, prefix, exact) = glob_to_regex(source)?;
        let regex =
            Regex::new(&expr).map_err(|e| Error::InvalidPattern(format!("{source:?}: {e}")))?;
        Ok(Pattern {
            source: source.to_string(),
            regex,
            prefix,
            exact,
        })
    }

    /// A pattern matching exactly `name`.
    pub fn exact(name: &str) -> Result<Pattern, Error> {
        let regex = Regex::new(&format!("^{}$", regex::escape(name)))
            .map_err(|e| Error::InvalidPattern(format!("{name:?}: {e}")))?;
        Ok(Pattern {
            source: name.to_string(),
            regex,
            prefix: name.to_string(),
            exact: true,
        })
    }

    /// Whether `name` matches.
    pub fn matches(&self, name: &str) -> bool {
        self.regex.is_match(name)
    }

    /// The literal text every match starts with (may be empty).
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// The one name this pattern matches, when it has no wildcard: a lookup then asks only
    /// that name's shard of the index.
    pub fn exact_name(&self) -> Option<&str> {
        self.exact.then_some(self.prefix.as_str())
    }

    /// The pattern as written.
    pub fn as_str(&self) -> &str {
        &self.source
    }
}

fn glob_to_regex(glob: &str) -> Result<(String, String, bool), Error> {
    // `(?s)`: `*` and `?` match a newline too, as Redis globs do, so that a name holding one
    // (pickle names can) is still found by `inspect` and the runner.
    let mut re = String::from("(?s)^");
    let mut prefix = String::new();
    let mut literal = true;
    let mut depth = 0usize;
    let mut chars = glob.chars();
    while let Some(c) = chars.next() {
        match c {
            '*' => {
                literal = false;
                re.push_str(".*");
            }
            '?' => {
                literal = false;
                re.push('.');
            }
            '[' => {
                literal = false;
                re.push('[');
                let mut first = true;
                let mut closed = false;
                for c in chars.by_ref() {
                    match c {
                        ']' if !first => {
                            closed = true;
                            break;
                        }
                        '!' | '^' if first => re.push('^'),
                        '\\' | '[' | '&' | '~' | '|' => {
                            re.push('\\');
                            re.push(c);
                        }
                        _ => re.push(c),
                    }
                    first = false;
                }
                if !closed {
                    return Err(Error::InvalidPattern(format!(
                        "{glob:?}: '[' without a closing ']'"
                    )));
                }
                re.push(']');
            }
            '{' => {
                literal = false;
                depth += 1;
                re.push_str("(?:");
            }
            ',' if depth > 0 => re.push('|'),
            '}' if depth > 0 => {
                depth -= 1;
                re.push(')');
            }
            '\\' => {
                let Some(next) = chars.next() else {
                    return Err(Error::InvalidPattern(format!("{glob:?}: ends with '\\'")));
                };
                if literal {
                    prefix.push(next);
                }
                re.push_str(&regex::escape(&next.to_string()));
            }
            _ => {
                if literal {
                    prefix.push(c);
                }
                re.push_str(&regex::escape(&c.to_string()));
            }
        }
    }
    if depth > 0 {
        return Err(Error::InvalidPattern(format!(
            "{glob:?}: '{{' without a closing '}}'"
        )));
    }
    re.push('$');
    Ok((re, prefix, literal))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs() {
        let p = Pattern::parse("system.*.cpu").unwrap();
        assert_eq!(p.prefix(), "system.");
        assert_eq!(p.exact_name(), None);
        assert_eq!(Pattern::parse(r"a.b\*").unwrap().exact_name(), Some("a.b*"));
        assert_eq!(Pattern::exact("a.*").unwrap().exact_name(), Some("a.*"));
        assert!(p.matches("system.web1.cpu"));
        assert!(p.matches("system.a.b.cpu"));
        assert!(!p.matches("system.web1.cpu.idle"));
        let p = Pattern::parse("a.{x,y}?.[0-9]").unwrap();
        assert!(p.matches("a.xq.5") && p.matches("a.yz.0") && !p.matches("a.zz.0"));
        let p = Pattern::parse("a[!b]c").unwrap();
        assert!(p.matches("axc") && !p.matches("abc"));
        let p = Pattern::parse(r"lit\*").unwrap();
        assert_eq!(p.prefix(), "lit*");
        assert!(p.matches("lit*") && !p.matches("litx"));
        assert!(Pattern::parse("a[bc").is_err());
        assert!(Pattern::parse("a{b").is_err());
        let p = Pattern::parse("x.*").unwrap();
        assert!(p.matches("x.a\nb 1 2"));
        assert!(Pattern::parse("x.?b").unwrap().matches("x.\nb"));
    }

    #[test]
    fn regexes_match_at_start() {
        let p = Pattern::parse(r"re:system\.").unwrap();
        assert!(p.matches("system.cpu"));
        assert!(!p.matches("osys.system.cpu"));
        assert!(Pattern::parse("re:(").is_err());
    }
}
