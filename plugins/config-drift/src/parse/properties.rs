//! Java properties through `java-properties` (read as UTF-8): `key=value`, `key: value` or
//! `key value`, `\` line continuations and escapes, `#`/`!` comments. A key is its own path
//! (`server.port`); as in Java, the last of a repeated key counts. Flat, so no depth.

use java_properties::PropertiesIter;

use crate::error::ParseError;
use crate::flat::Builder;
use crate::value::{Raw, Value};

pub(super) fn parse(text: &str, builder: &mut Builder<'_>) -> Result<(), ParseError> {
    let mut result = Ok(());
    PropertiesIter::new_with_encoding(text.as_bytes(), encoding_rs::UTF_8)
        .read_into(|key, value| {
            if result.is_ok() {
                result = builder
                    .item(Raw::Text(value))
                    .and_then(|scalar| builder.put(&key, Value::one(scalar)));
            }
        })
        .map_err(|e| ParseError::syntax("properties", e.to_string()))?;
    result
}

#[cfg(test)]
mod tests {
    use crate::parse::Format;
    use crate::parse::testing::{flat, pairs};

    #[test]
    fn separators_continuations_and_the_last_repeat() {
        let text = "\
# comment
server.port=8080
server.name : web \\
    01
log.level INFO
server.port=9090
";
        assert_eq!(
            flat(Format::Properties, text).unwrap(),
            pairs(&[
                ("log.level", "INFO"),
                ("server.name", "web 01"),
                ("server.port", "9090"),
            ])
        );
    }
}
