//! Text for a person: names and reasons that come from outside (a pickle frame, a plugin, a
//! config) are shown as text, never as terminal control sequences or extra lines.

/// `s` with every control character (newlines, escapes, NUL, ...) written as its Rust escape
/// (`\n`, `\u{1b}`), everything else as is.
pub fn escape_controls(s: &str) -> String {
    if !s.chars().any(char::is_control) {
        return s.to_owned();
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        if c.is_control() {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn controls_are_escaped_and_the_rest_kept() {
        assert_eq!(escape_controls("web01.cpu"), "web01.cpu");
        assert_eq!(escape_controls("a\nb\u{1b}[31mc"), "a\\nb\\u{1b}[31mc");
        assert_eq!(escape_controls("métrique"), "métrique");
    }
}
