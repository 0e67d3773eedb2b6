//! `key=value;key=value`: what `asinfo -v get-config` prints (items may also be one per
//! line). The value is everything after the first `=`. A key `name[3]` is a repeat of
//! `name`, so `storage-engine.file[0]=/a;storage-engine.file[1]=/b` is the set of both, as
//! the configuration file's repeated `file` lines are.

use crate::error::ParseError;
use crate::flat::Builder;
use crate::value::Raw;

pub(super) fn parse(text: &str, builder: &mut Builder<'_>) -> Result<(), ParseError> {
    for (index, item) in text.split([';', '\n']).enumerate() {
        let item = item.trim();
        if item.is_empty() {
            continue;
        }
        let Some((key, value)) = item.split_once('=') else {
            let shown: String = item.chars().take(40).collect();
            return Err(ParseError::syntax(
                "kv",
                format!("item {} (`{shown}`) has no `=`", index + 1),
            ));
        };
        builder.scalar(unindexed(key.trim()), Raw::Text(value.to_owned()))?;
    }
    Ok(())
}

/// `name[3]` → `name`; other keys unchanged.
fn unindexed(key: &str) -> &str {
    if let Some(open) = key.rfind('[')
        && key.ends_with(']')
        && open + 2 < key.len()
        && key[open + 1..key.len() - 1]
            .bytes()
            .all(|b| b.is_ascii_digit())
    {
        return &key[..open];
    }
    key
}

#[cfg(test)]
mod tests {
    use crate::parse::Format;
    use crate::parse::testing::{flat, pairs};

    #[test]
    fn items_indexed_repeats_and_errors() {
        let text = "proto-fd-max=15000;storage-engine.file[0]=/b;storage-engine.file[1]=/a;\
                    cluster-name=a=b;\nx[y]=1\n";
        assert_eq!(
            flat(Format::Kv, text).unwrap(),
            pairs(&[
                ("cluster-name", "a=b"),
                ("proto-fd-max", "15000"),
                ("storage-engine.file", "{/a, /b}"),
                ("x[y]", "1"),
            ])
        );
        let err = flat(Format::Kv, "a=1;garbage;b=2").unwrap_err();
        assert_eq!(err.to_string(), "kv syntax: item 2 (`garbage`) has no `=`");
    }
}
