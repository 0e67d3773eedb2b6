//! Writing carbon's plaintext protocol (`name value timestamp\n`): names and lines.
//!
//! A name must never be able to inject a line or an extra field into the stream, whatever a
//! plugin or a config file puts into it. The rules follow carbon-c-relay's rewriting (see
//! `shared/fixtures/carbon/carbon-c-relay-{in,out}.txt`):
//!
//! - runs of dots collapse into one, leading and trailing dots are dropped
//!   (`test..crelay..dots.` → `test.crelay.dots`);
//! - every character outside the safe set `[A-Za-z0-9]` and `-_:#` becomes one `_`
//!   (`weird$chars!` → `weird_chars_`), so no whitespace of any kind (space, tab, `\n`, `\r`,
//!   `\0`, other control characters, Unicode whitespace) and no non-ASCII character survives;
//! - an empty part becomes `_`.
//!
//! **Tags (`;tag=value`).** carbon-c-relay passes a `;tag=value` suffix through. Our output
//! series never need tags (their names are fixed by anna-molly's dashboards), and a `;` in a
//! plugin, service or field name would silently turn the series into a *tagged* series stored
//! under a hash in carbon's tag database. So `;` and `=` are outside the safe set here and
//! become `_`.
//!
//! **Dots.** A dot separates path segments. Dots inside a part (a prefix such as `ops.AnnaMolly`,
//! a field such as `web01.flag`) are kept as separators, exactly as anna-molly's plain string
//! concatenation did, but each segment is sanitised and empty segments disappear.

use std::borrow::Cow;

/// Whether `c` may appear in a path segment unchanged (carbon-c-relay's default set).
fn is_safe(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | ':' | '#')
}

/// Whether `s` needs no rewriting: non-empty, only safe characters and single interior dots.
fn is_clean(s: &str) -> bool {
    let b = s.as_bytes();
    if b.is_empty() || b[0] == b'.' || b[b.len() - 1] == b'.' {
        return false;
    }
    let mut prev_dot = false;
    for c in s.chars() {
        if c == '.' {
            if prev_dot {
                return false;
            }
            prev_dot = true;
        } else if is_safe(c) {
            prev_dot = false;
        } else {
            return false;
        }
    }
    true
}

/// Sanitises one part of a metric name (a prefix, a plugin or service name, a field).
///
/// Dots stay as path separators (runs collapse, leading/trailing ones go); every other
/// character outside `[A-Za-z0-9-_:#]` becomes `_`; an empty result becomes `_`. Borrows when
/// nothing changes.
pub fn sanitize_part(s: &str) -> Cow<'_, str> {
    if is_clean(s) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if c == '.' {
            if !out.is_empty() && !out.ends_with('.') {
                out.push('.');
            }
        } else if is_safe(c) {
            out.push(c);
        } else {
            out.push('_');
        }
    }
    if out.ends_with('.') {
        out.pop();
    }
    if out.is_empty() {
        out.push('_');
    }
    Cow::Owned(out)
}

/// A series name: `<prefix>.<part>.<part>...`, for instance `<prefix>.<Plugin>.<service>.<field>`
/// of an analysis series or `<prefix>.<host>.<metric>` of a self-metric.
///
/// Each part goes through [`sanitize_part`]; a prefix that is empty (or only dots) is omitted.
/// A part may hold dots meaning sub-paths (`web01.flag`).
pub fn series_name(prefix: &str, parts: &[&str]) -> String {
    let mut name =
        String::with_capacity(prefix.len() + parts.iter().map(|p| p.len() + 1).sum::<usize>());
    if !prefix.trim_matches('.').is_empty() {
        name.push_str(&sanitize_part(prefix));
    }
    for part in parts {
        if !name.is_empty() {
            name.push('.');
        }
        name.push_str(&sanitize_part(part));
    }
    name
}

/// Formats a value for the plaintext protocol, or `None` for NaN and ±infinity.
///
/// carbon-cache parses values with Python's `float()`, which would accept `nan` and `inf`,
/// but whisper then stores a NaN that graphite-web renders as a gap at best and breaks
/// aggregations at worst; so non-finite points are not sent at all (the caller counts them).
/// Integral values print without a fraction (`42`), others in the shortest form that parses
/// back to the same `f64` (`0.1`, `1e-7`, `1.5e300`).
pub fn format_value(v: f64) -> Option<String> {
    if !v.is_finite() {
        return None;
    }
    if v == v.trunc() && v.abs() < 1e16 {
        // Exact: |v| < 2^53.2, and `Display` of an integral f64 has no fraction or exponent.
        Some(format!("{v}"))
    } else {
        // `Debug` is the shortest round-trip form, with an exponent for very large/small values.
        Some(format!("{v:?}"))
    }
}

/// One plaintext line `name value ts\n`, or `None` when the value is not finite.
///
/// The name is run through [`sanitize_part`] once more (free when it is already clean), so a
/// line always has exactly three space-separated fields and exactly one `\n`, at the end.
pub fn format_line(name: &str, value: f64, ts: i64) -> Option<String> {
    let value = format_value(value)?;
    let name = sanitize_part(name);
    let mut line = String::with_capacity(name.len() + value.len() + 22);
    line.push_str(&name);
    line.push(' ');
    line.push_str(&value);
    line.push(' ');
    line.push_str(&ts.to_string());
    line.push('\n');
    Some(line)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// `carbon-c-relay-in.txt` → `carbon-c-relay-out.txt` (names only), copied from
    /// `shared/fixtures/carbon/` so the test does not depend on a file outside the repository.
    const CRELAY: &[(&str, &str)] = &[
        ("test.crelay.int", "test.crelay.int"),
        ("test.crelay.float", "test.crelay.float"),
        ("test..crelay..dots.", "test.crelay.dots"),
        ("test.crelay.weird$chars!", "test.crelay.weird_chars_"),
        ("test.crelay.exp", "test.crelay.exp"),
        ("test.crelay.fracts", "test.crelay.fracts"),
        ("test.crelay.crlf", "test.crelay.crlf"),
    ];

    #[test]
    fn follows_carbon_c_relay() {
        for (input, expected) in CRELAY {
            assert_eq!(sanitize_part(input), *expected, "{input}");
        }
    }

    #[test]
    fn tags_are_not_passed_through() {
        // carbon-c-relay keeps `;env=prod;dc=x`; our output parts never carry tags.
        assert_eq!(
            sanitize_part("test.crelay.tagged;env=prod;dc=x"),
            "test.crelay.tagged_env_prod_dc_x"
        );
    }

    #[test]
    fn borrows_when_clean() {
        assert!(matches!(
            sanitize_part("AnnaMolly.Tukeys-1:x#y"),
            Cow::Borrowed(_)
        ));
        assert!(matches!(sanitize_part("a..b"), Cow::Owned(_)));
    }

    #[test]
    fn whitespace_and_controls_never_survive() {
        assert_eq!(sanitize_part("a b\tc\nd\re\0f"), "a_b_c_d_e_f");
        assert_eq!(sanitize_part("x\u{a0}y\u{2028}z\u{85}"), "x_y_z_");
        assert_eq!(sanitize_part("héllo"), "h_llo");
        assert_eq!(sanitize_part("a/b\\c"), "a_b_c");
    }

    #[test]
    fn empty_parts_become_underscore() {
        assert_eq!(sanitize_part(""), "_");
        assert_eq!(sanitize_part("..."), "_");
        assert_eq!(series_name("P", &["", "", ""]), "P._._._");
    }

    #[test]
    fn names() {
        assert_eq!(
            series_name("AnnaMolly", &["TukeysFilter", "service1", "web01.flag"]),
            "AnnaMolly.TukeysFilter.service1.web01.flag"
        );
        assert_eq!(series_name("", &["Flow", "svc", "flag"]), "Flow.svc.flag");
        assert_eq!(series_name("..", &["Flow", "svc", "flag"]), "Flow.svc.flag");
        assert_eq!(
            series_name("ops..am.", &["Flow", "a b", ".web01..flag."]),
            "ops.am.Flow.a_b.web01.flag"
        );
        assert_eq!(series_name("p", &["x\ny 1 2", "s", "f"]), "p.x_y_1_2.s.f");
    }

    #[test]
    fn values() {
        assert_eq!(format_value(42.0).as_deref(), Some("42"));
        assert_eq!(format_value(-3.0).as_deref(), Some("-3"));
        assert_eq!(format_value(0.1).as_deref(), Some("0.1"));
        assert_eq!(format_value(2.5e-3).as_deref(), Some("0.0025"));
        assert_eq!(format_value(1e-7).as_deref(), Some("1e-7"));
        assert_eq!(format_value(1.5e300).as_deref(), Some("1.5e300"));
        assert_eq!(format_value(f64::NAN), None);
        assert_eq!(format_value(f64::INFINITY), None);
        assert_eq!(format_value(f64::NEG_INFINITY), None);
        for v in [
            0.1,
            1e-7,
            1.5e300,
            123456.789,
            -2.5e-300,
            9.007199254740993e15,
        ] {
            let s = format_value(v).unwrap_or_default();
            assert_eq!(s.parse::<f64>().ok(), Some(v), "{s}");
        }
    }

    #[test]
    fn lines() {
        assert_eq!(
            format_line("a.b", 1.5, 1_795_241_412).as_deref(),
            Some("a.b 1.5 1795241412\n")
        );
        assert_eq!(format_line("a b\n", 1.0, 5).as_deref(), Some("a_b_ 1 5\n"));
        assert_eq!(format_line("a", f64::NAN, 5), None);
    }

    fn check_line(line: &str) {
        assert!(line.ends_with('\n'));
        assert_eq!(line.matches('\n').count(), 1);
        let body = &line[..line.len() - 1];
        let fields: Vec<&str> = body.split(' ').collect();
        assert_eq!(fields.len(), 3, "{line:?}");
        assert!(fields.iter().all(|f| !f.is_empty()), "{line:?}");
        assert!(
            !body
                .chars()
                .any(|c| c.is_control() || (c.is_whitespace() && c != ' '))
        );
        let name = fields[0];
        assert!(!name.starts_with('.') && !name.ends_with('.') && !name.contains(".."));
        assert!(fields[1].parse::<f64>().is_ok_and(f64::is_finite));
        assert!(fields[2].parse::<i64>().is_ok());
    }

    proptest! {
        #[test]
        fn any_name_gives_one_three_field_line(
            prefix in any::<String>(),
            plugin in any::<String>(),
            service in any::<String>(),
            field in any::<String>(),
            value in any::<f64>(),
            ts in any::<i64>(),
        ) {
            let name = series_name(&prefix, &[&plugin, &service, &field]);
            match format_line(&name, value, ts) {
                Some(line) => check_line(&line),
                None => prop_assert!(!value.is_finite()),
            }
            // Unsanitised names are made safe by `format_line` too.
            if let Some(line) = format_line(&format!("{prefix}{plugin}"), value, ts) {
                check_line(&line);
            }
        }

        #[test]
        fn control_heavy_names(s in "[ \\t\\r\\n\\x00.;=a-z\\u{2028}\\u{a0}]{0,40}", v in -1e9f64..1e9) {
            let line = format_line(&series_name(&s, &[&s, &s, &s]), v, 0);
            prop_assert!(line.is_some());
            if let Some(line) = line {
                check_line(&line);
            }
        }
    }
}
