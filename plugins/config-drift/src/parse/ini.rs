//! INI through `rust-ini`: `[section]` then `key = value`; `;` and `#` comments; quotes
//! allowed around values; backslashes kept as written (Windows paths). A key is the path
//! `section.key` (`key` before any section); a repeated key holds the set of its values, and
//! a repeated section merges into one. Sections do not nest, so depth is never an issue.

use ini::{Ini, ParseOption};

use crate::error::ParseError;
use crate::flat::{Builder, join};
use crate::value::Raw;

pub(super) fn parse(text: &str, builder: &mut Builder<'_>) -> Result<(), ParseError> {
    let options = ParseOption {
        enabled_quote: true,
        enabled_escape: false,
        ..ParseOption::default()
    };
    let ini = Ini::load_from_str_opt(text, options)
        .map_err(|e| ParseError::syntax("ini", e.to_string()))?;
    for (section, properties) in ini.iter() {
        let parent = section.unwrap_or("");
        if let Some(name) = section {
            builder.section(name)?;
        }
        for (key, value) in properties.iter() {
            builder.scalar(&join(parent, key), Raw::Text(value.to_owned()))?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use crate::parse::Format;
    use crate::parse::testing::{flat, pairs};

    #[test]
    fn sections_keys_and_repeats() {
        let text = "\
top = 1
; a comment
[server]
port = 8080
path = C:\\data\\x
plugin = a
plugin = b
[client]
name = \"quoted value\"
# another comment
[server]
threads=4
";
        assert_eq!(
            flat(Format::Ini, text).unwrap(),
            pairs(&[
                ("client", "a stanza"),
                ("client.name", "quoted value"),
                ("server", "a stanza"),
                ("server.path", "C:\\data\\x"),
                ("server.plugin", "{a, b}"),
                ("server.port", "8080"),
                ("server.threads", "4"),
                ("top", "1"),
            ])
        );
    }

    #[test]
    fn a_broken_section_header_is_a_syntax_error() {
        let err = flat(Format::Ini, "[server\nport = 1\n").unwrap_err();
        assert!(err.to_string().starts_with("ini syntax: "), "{err}");
    }
}
