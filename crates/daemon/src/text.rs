//! Text from outside, shown to a person.
//!
//! A metric name is whatever a sender put in its frame, a subject whatever a plugin said: a
//! name may hold `\n` (which would forge a line of `inspect`'s or `alarms`' output) or ESC
//! sequences (which reach the operator's terminal). Everything the daemons print for a person
//! — `inspect`, `check`, `alarms`, log fields quoting a peer's bytes — goes through
//! [`escaped`].

use std::borrow::Cow;
use std::fmt::Write as _;

/// `s` with `\` doubled and every character that could forge a line, move the cursor or
/// reorder text written as an escape: `\n`, `\r`, `\t`, and `\u{..}` for the other control
/// characters (C0, DEL, C1) and the invisible formatting characters (bidirectional
/// overrides and isolates, zero-width characters, line and paragraph separators). The
/// result is unambiguous: a backslash in it always starts an escape. Names with nothing to
/// escape are returned as they are, without copying.
pub fn escaped(s: &str) -> Cow<'_, str> {
    if !s.chars().any(needs_escape) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if needs_escape(c) => {
                let _ = write!(out, "\\u{{{:x}}}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    Cow::Owned(out)
}

/// Every line of `s` escaped, the lines kept: for multi-line messages such as a config
/// error's list of problems.
pub fn escaped_lines(s: &str) -> String {
    s.split('\n').map(escaped).collect::<Vec<_>>().join("\n")
}

fn needs_escape(c: char) -> bool {
    c == '\\' || c.is_control() || invisible_format(c)
}

/// Unicode format characters that change how the text around them is shown (Trojan-source
/// style reordering) or hide in it.
fn invisible_format(c: char) -> bool {
    matches!(
        c,
        '\u{ad}'
            | '\u{61c}'
            | '\u{180e}'
            | '\u{200b}'..='\u{200f}'
            | '\u{2028}'..='\u{202e}'
            | '\u{2060}'..='\u{2064}'
            | '\u{2066}'..='\u{206f}'
            | '\u{feff}'
            | '\u{fff9}'..='\u{fffb}'
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_names_are_borrowed() {
        assert!(matches!(escaped("servers.web01.cpu"), Cow::Borrowed(_)));
        assert!(matches!(escaped("zürich.temp°C"), Cow::Borrowed(_)));
    }

    #[test]
    fn controls_and_formatting_are_escaped() {
        for (raw, shown) in [
            ("a\nb 1 2", "a\\nb 1 2"),
            ("\u{1b}[31mred", "\\u{1b}[31mred"),
            ("back\\slash", "back\\\\slash"),
            ("tab\there\r", "tab\\there\\r"),
            ("del\u{7f}c1\u{9b}", "del\\u{7f}c1\\u{9b}"),
            ("abc\u{202e}fed", "abc\\u{202e}fed"),
            ("zero\u{200b}width", "zero\\u{200b}width"),
        ] {
            assert_eq!(escaped(raw), shown, "{raw:?}");
        }
        for c in (0u32..0x20).chain([0x7f, 0x85, 0x2028, 0x2029]) {
            let s = char::from_u32(c).unwrap().to_string();
            assert!(
                escaped(&s)
                    .chars()
                    .all(|c| !c.is_control() && !invisible_format(c)),
                "{c:#x}"
            );
        }
    }

    #[test]
    fn lines_are_kept() {
        assert_eq!(escaped_lines("a\u{1b}\nb\tc"), "a\\u{1b}\nb\\tc");
    }
}
