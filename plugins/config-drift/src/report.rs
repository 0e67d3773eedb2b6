//! Reasons: a node's [`Diff`]s as a sentence for a person, the first few listed with both
//! values, the rest counted.

use std::collections::BTreeSet;
use std::fmt::Write as _;

use crate::compare::{Against, Diff};
use crate::flat::is_under;
use crate::value::Value;

/// How many distinct key paths differ (a path differing from the peers and from the runtime
/// counts once).
pub fn drift(diffs: &[Diff]) -> usize {
    diffs
        .iter()
        .map(|d| d.path.as_str())
        .collect::<BTreeSet<_>>()
        .len()
}

fn shown(value: Option<&Value>) -> String {
    value.map_or_else(|| "absent".to_owned(), Value::to_string)
}

fn entry(diff: &Diff) -> String {
    let here = shown(diff.here.as_ref());
    let there = shown(diff.there.as_ref());
    match diff.against {
        Against::Reference => format!("{} is {here} here, {there} in the reference", diff.path),
        Against::Peers { holders, others } => {
            let peers = if others == 1 { "peer" } else { "peers" };
            format!(
                "{} is {here} here, {there} on {holders} of {others} {peers}",
                diff.path
            )
        }
        Against::Runtime => format!("{} is {here} in the file, {there} at runtime", diff.path),
    }
}

/// `N key paths differ: <path> is <a> here, <b> on 4 of 4 peers; ...; and M more`, `diffs`
/// sorted by [`crate::compare::sort`].
///
/// A stanza that one side lacks is listed once, with the number of key paths under it, rather
/// than each of its keys.
pub fn describe(diffs: &[Diff], listed: usize) -> String {
    let count = drift(diffs);
    let plural = if count == 1 {
        "key path differs"
    } else {
        "key paths differ"
    };
    // The listed diffs, by index, with how many diffs under each a listed absent stanza
    // stands for.
    let mut entries: Vec<(usize, usize)> = Vec::new();
    let mut unlisted = 0;
    for (index, diff) in diffs.iter().enumerate() {
        let whole = entries.iter_mut().find(|(listed, _)| {
            let listed = &diffs[*listed];
            (listed.here.is_none() || listed.there.is_none())
                && listed.against == diff.against
                && is_under(&diff.path, &listed.path)
        });
        if let Some((_, hidden)) = whole {
            *hidden += 1;
        } else if entries.len() < listed {
            entries.push((index, 0));
        } else {
            unlisted += 1;
        }
    }
    let mut text = format!("{count} {plural}: ");
    for (n, (index, hidden)) in entries.into_iter().enumerate() {
        if n > 0 {
            text.push_str("; ");
        }
        text.push_str(&entry(&diffs[index]));
        if hidden > 0 {
            let keys = if hidden == 1 { "key path" } else { "key paths" };
            let _ = write!(text, " ({hidden} {keys} under it)");
        }
    }
    if unlisted > 0 {
        let _ = write!(text, "; and {unlisted} more");
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::value::{Raw, Semantics};

    fn value(text: &str) -> Option<Value> {
        Some(if text == "{}" {
            Value::Section
        } else {
            Value::one(Semantics::Aerospike.scalar(Raw::Text(text.into())))
        })
    }

    fn diff(path: &str, against: Against, here: &str, there: &str) -> Diff {
        let side = |t: &str| if t == "-" { None } else { value(t) };
        Diff {
            path: path.into(),
            against,
            here: side(here),
            there: side(there),
        }
    }

    #[test]
    fn lists_the_first_few_folds_absent_stanzas_and_counts_the_rest() {
        let peer = Against::Peers {
            holders: 1,
            others: 1,
        };
        let mut diffs = vec![
            diff("a", peer, "1", "2"),
            diff("b", peer, "-", "{}"),
            diff("b.x", peer, "-", "1"),
            diff("b.y", peer, "-", "2"),
            diff("c", peer, "3", "-"),
            diff("d", peer, "4", "5"),
            diff("a", Against::Runtime, "1", "9"),
        ];
        crate::compare::sort(&mut diffs);
        assert_eq!(drift(&diffs), 6);
        assert_eq!(
            describe(&diffs, 2),
            "6 key paths differ: a is 1 here, 2 on 1 of 1 peer; b is absent here, a stanza on \
             1 of 1 peer (2 key paths under it); and 3 more"
        );
        assert_eq!(
            describe(&diffs, 10),
            "6 key paths differ: a is 1 here, 2 on 1 of 1 peer; b is absent here, a stanza on \
             1 of 1 peer (2 key paths under it); c is 3 here, absent on 1 of 1 peer; d is 4 \
             here, 5 on 1 of 1 peer; a is 1 in the file, 9 at runtime"
        );
    }
}
