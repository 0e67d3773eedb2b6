//! Which series a metric of an expression stands for, and what its wildcards captured.
//!
//! A metric is a Graphite name or glob (`*` any run of characters, dots included, as the
//! store's patterns; `?` one character; `[a-z]` a class; `{web,db}` alternatives). monasca's
//! dimensions are Graphite tags: `cpu{hostname=a}` stands for the tagged series
//! `cpu;hostname=a` (with any other tags, in any order). A metric without dimensions stands for
//! its untagged series and its tagged ones alike, as a monasca metric without dimensions
//! matches every set of dimensions.

use regex::Regex;

use crate::expr::Metric;

/// A metric compiled for matching series names.
#[derive(Debug, Clone)]
pub struct Matcher {
    /// The whole-name regex of the glob, one capture group per top-level wildcard.
    regex: Regex,
    /// The glob's literal text around its one `*`, when that is all it has (the common
    /// `servers.*.cpu`): matched without the regex engine.
    simple: Option<(String, String)>,
    /// How many wildcards the glob has (captures per match).
    wildcards: usize,
    /// The tags a series must carry.
    dims: Vec<(String, String)>,
    /// The pattern to list candidate names with (`Context::find`).
    find: String,
}

impl Matcher {
    /// Compiles `metric`; an error says what is wrong with its glob.
    pub fn new(metric: &Metric) -> Result<Matcher, String> {
        let (body, wildcards) = translate(&metric.name, true)?;
        let regex = Regex::new(&format!("^{body}$"))
            .map_err(|e| format!("the metric `{}` is not a valid glob: {e}", metric.name))?;
        let find = if metric.dims.is_empty() {
            format!("{}{{,;*}}", metric.name)
        } else {
            format!("{};*", metric.name)
        };
        let simple = match metric.name.split_once('*') {
            Some((pre, post)) if !has_glob(pre) && !has_glob(post) => {
                Some((pre.to_owned(), post.to_owned()))
            }
            _ => None,
        };
        Ok(Matcher {
            regex,
            simple,
            wildcards,
            dims: metric.dims.clone(),
            find,
        })
    }

    /// The pattern listing every candidate series (filtered by [`Matcher::captures`]).
    pub fn find_pattern(&self) -> &str {
        &self.find
    }

    /// How many wildcards the glob has.
    pub fn wildcards(&self) -> usize {
        self.wildcards
    }

    /// What the wildcards captured in `name`, joined by `\u{1f}` (one string: the group key
    /// of `match_by`), when `name` is one of the metric's series.
    pub fn captures(&self, name: &str) -> Option<String> {
        let (base, tags) = split_tags(name);
        for (key, value) in &self.dims {
            if !tags.iter().any(|(k, v)| k == key && v == value) {
                return None;
            }
        }
        if let Some((pre, post)) = &self.simple {
            let middle = base.strip_prefix(pre.as_str())?;
            let middle = middle.strip_suffix(post.as_str())?;
            return Some(middle.to_owned());
        }
        let caps = self.regex.captures(base)?;
        let mut out = String::new();
        for i in 1..=self.wildcards {
            if i > 1 {
                out.push('\u{1f}');
            }
            out.push_str(caps.get(i).map_or("", |m| m.as_str()));
        }
        Some(out)
    }
}

/// Whether `text` has glob syntax.
fn has_glob(text: &str) -> bool {
    text.contains(['*', '?', '[', '{', '\\'])
}

/// A series name's base and its Graphite tags (`base;k=v;k2=v2`).
pub fn split_tags(name: &str) -> (&str, Vec<(&str, &str)>) {
    let mut parts = name.split(';');
    let base = parts.next().unwrap_or("");
    let tags = parts.filter_map(|t| t.split_once('=')).collect();
    (base, tags)
}

/// Translates a glob into a regex body; at the top level each wildcard becomes a capture
/// group (inside alternatives they do not). Returns the body and the number of groups.
fn translate(glob: &str, top: bool) -> Result<(String, usize), String> {
    let mut re = String::new();
    let mut groups = 0;
    let chars: Vec<char> = glob.chars().collect();
    let mut i = 0;
    let open = |re: &mut String| re.push_str(if top { "(" } else { "(?:" });
    while i < chars.len() {
        let c = chars[i];
        match c {
            '*' => {
                open(&mut re);
                re.push_str(".*)");
                groups += 1;
            }
            '?' => {
                open(&mut re);
                re.push_str(".)");
                groups += 1;
            }
            '[' => {
                let close = (i + 1..chars.len())
                    .find(|&j| chars[j] == ']' && j > i + 1)
                    .ok_or_else(|| format!("`{glob}`: `[` without a closing `]`"))?;
                open(&mut re);
                re.push('[');
                for (k, &d) in chars[i + 1..close].iter().enumerate() {
                    match d {
                        '!' | '^' if k == 0 => re.push('^'),
                        '\\' | '[' | '&' | '~' | '|' => {
                            re.push('\\');
                            re.push(d);
                        }
                        _ => re.push(d),
                    }
                }
                re.push_str("])");
                groups += 1;
                i = close;
            }
            '{' => {
                let mut depth = 0usize;
                let mut close = None;
                for (j, &d) in chars.iter().enumerate().skip(i) {
                    match d {
                        '{' => depth += 1,
                        '}' => {
                            depth -= 1;
                            if depth == 0 {
                                close = Some(j);
                                break;
                            }
                        }
                        _ => {}
                    }
                }
                let close =
                    close.ok_or_else(|| format!("`{glob}`: `{{` without a closing `}}`"))?;
                let inner: String = chars[i + 1..close].iter().collect();
                let alternatives = split_top(&inner)
                    .iter()
                    .map(|a| translate(a, false).map(|(body, _)| body))
                    .collect::<Result<Vec<_>, _>>()?;
                open(&mut re);
                re.push_str(&alternatives.join("|"));
                re.push(')');
                groups += 1;
                i = close;
            }
            '\\' => {
                i += 1;
                let next = chars
                    .get(i)
                    .ok_or_else(|| format!("`{glob}`: ends with `\\`"))?;
                re.push_str(&regex::escape(&next.to_string()));
            }
            _ => re.push_str(&regex::escape(&c.to_string())),
        }
        i += 1;
    }
    Ok((re, if top { groups } else { 0 }))
}

/// Splits alternatives at the commas outside nested braces.
fn split_top(inner: &str) -> Vec<String> {
    let mut out = vec![String::new()];
    let mut depth = 0usize;
    for c in inner.chars() {
        match c {
            '{' => depth += 1,
            '}' => depth = depth.saturating_sub(1),
            ',' if depth == 0 => {
                out.push(String::new());
                continue;
            }
            _ => {}
        }
        if let Some(last) = out.last_mut() {
            last.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(name: &str, dims: &[(&str, &str)]) -> Matcher {
        Matcher::new(&Metric {
            name: name.into(),
            dims: dims
                .iter()
                .map(|(k, v)| ((*k).into(), (*v).into()))
                .collect(),
        })
        .unwrap()
    }

    #[test]
    fn wildcards_capture_and_tags_filter() {
        let cpu = m("servers.*.cpu", &[]);
        assert!(cpu.simple.is_some());
        assert_eq!(cpu.captures("servers.web01.cpu"), Some("web01".into()));
        assert_eq!(
            cpu.captures("servers.eu.web01.cpu"),
            Some("eu.web01".into())
        );
        assert_eq!(cpu.captures("servers.web01.cpu.user"), None);
        assert_eq!(cpu.captures("servers.cpu"), None);
        assert_eq!(cpu.captures("servers.web01.cpu;dc=x"), Some("web01".into()));
        assert_eq!(m("a*", &[]).captures("abc"), Some("bc".into()));
        assert_eq!(cpu.find_pattern(), "servers.*.cpu{,;*}");
        let alt = m("s.{web,db}[0-9]?.x", &[]);
        assert_eq!(alt.wildcards(), 3);
        assert!(alt.simple.is_none());
        assert_eq!(alt.captures("s.db7a.x"), Some("db\u{1f}7\u{1f}a".into()));
        let tagged = m("cpu.idle", &[("service", "monitoring")]);
        assert_eq!(tagged.find_pattern(), "cpu.idle;*");
        assert!(
            tagged
                .captures("cpu.idle;hostname=a;service=monitoring")
                .is_some()
        );
        assert!(tagged.captures("cpu.idle;service=nova").is_none());
        assert!(tagged.captures("cpu.idle").is_none());
        assert!(
            Matcher::new(&Metric {
                name: "a[b".into(),
                dims: vec![]
            })
            .is_err()
        );
    }
}
