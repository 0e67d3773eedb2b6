//! The comparisons: a node with the reference, with the majority of its peers, and with its
//! running configuration. Each yields the key paths where the node differs, as [`Diff`]s.

use std::collections::{BTreeMap, BTreeSet};

use crate::flat::Flat;
use crate::value::Value;

/// What a node was compared with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Against {
    /// The reference configuration.
    Reference,
    /// Its peers: `holders` of the `others` hold the value shown as `there`.
    Peers {
        /// How many peers hold `there`.
        holders: usize,
        /// How many peers there are.
        others: usize,
    },
    /// Its running configuration.
    Runtime,
}

impl Against {
    /// The order of kinds in a reason: the configuration first, the runtime after.
    fn rank(self) -> u8 {
        match self {
            Against::Reference | Against::Peers { .. } => 0,
            Against::Runtime => 1,
        }
    }
}

/// One key path where a node differs.
#[derive(Debug, Clone, PartialEq)]
pub struct Diff {
    /// The key path.
    pub path: String,
    /// What it was compared with.
    pub against: Against,
    /// The node's value (`None`: the node does not have the path).
    pub here: Option<Value>,
    /// The other side's value (`None`: absent there).
    pub there: Option<Value>,
}

/// Orders diffs for a reason: configuration diffs before runtime ones, each by path.
pub fn sort(diffs: &mut [Diff]) {
    diffs.sort_by(|a, b| (a.against.rank(), &a.path).cmp(&(b.against.rank(), &b.path)));
}

/// Where `node` differs from `reference`: every path either has, with different values.
pub fn with_reference(node: &Flat, reference: &Flat) -> Vec<Diff> {
    let mut diffs = Vec::new();
    for (path, value) in node {
        let there = reference.get(path);
        if there != Some(value) {
            diffs.push(Diff {
                path: path.clone(),
                against: Against::Reference,
                here: Some(value.clone()),
                there: there.cloned(),
            });
        }
    }
    for (path, value) in reference {
        if !node.contains_key(path) {
            diffs.push(Diff {
                path: path.clone(),
                against: Against::Reference,
                here: None,
                there: Some(value.clone()),
            });
        }
    }
    diffs.sort_by(|a, b| a.path.cmp(&b.path));
    diffs
}

/// Where each of `nodes` differs from most of the others.
///
/// There is no master: at each path, a node differs when more than half of the other nodes
/// hold something else there (another value, or nothing). With one node changed in five, it
/// alone differs (4 of 4 others disagree with it; each other node sees 1 of 4 disagree). When
/// the fleet is split with no majority (two nodes that disagree, 2–2–1), every node on the
/// losing sides differs: nobody can tell which is right. The value shown for the others is
/// the one most of them hold.
pub fn with_peers(nodes: &[&Flat]) -> Vec<Vec<Diff>> {
    let mut diffs: Vec<Vec<Diff>> = vec![Vec::new(); nodes.len()];
    if nodes.len() < 2 {
        return diffs;
    }
    let others = nodes.len() - 1;
    let paths: BTreeSet<&String> = nodes.iter().flat_map(|flat| flat.keys()).collect();
    for path in paths {
        let values: Vec<Option<&Value>> = nodes.iter().map(|flat| flat.get(path)).collect();
        let mut counts: BTreeMap<Option<&Value>, usize> = BTreeMap::new();
        for value in &values {
            *counts.entry(*value).or_default() += 1;
        }
        if counts.len() == 1 {
            continue;
        }
        for (index, mine) in values.iter().enumerate() {
            let agree = counts.get(mine).copied().unwrap_or(1) - 1;
            let disagree = others - agree;
            if disagree * 2 <= others {
                continue;
            }
            // The value most of the others hold (the first, in value order, on a tie).
            let Some((there, holders)) = counts.iter().filter(|(value, _)| *value != mine).fold(
                None,
                |best: Option<(Option<&Value>, usize)>, (value, &count)| match best {
                    Some((_, most)) if most >= count => best,
                    _ => Some((*value, count)),
                },
            ) else {
                continue;
            };
            diffs[index].push(Diff {
                path: path.clone(),
                against: Against::Peers { holders, others },
                here: mine.cloned(),
                there: there.cloned(),
            });
        }
    }
    diffs
}

/// Where `node`'s configuration and its running configuration disagree: paths both have
/// (a running configuration lists defaults the file leaves out, and a file may set what the
/// runtime source does not show), stanzas aside.
pub fn with_runtime(node: &Flat, runtime: &Flat) -> Vec<Diff> {
    let mut diffs = Vec::new();
    for (path, there) in runtime {
        let Some(here) = node.get(path) else {
            continue;
        };
        if here.is_section() || there.is_section() || here == there {
            continue;
        }
        diffs.push(Diff {
            path: path.clone(),
            against: Against::Runtime,
            here: Some(here.clone()),
            there: Some(there.clone()),
        });
    }
    diffs
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::value::{Raw, Semantics};

    fn flat(pairs: &[(&str, &str)]) -> Flat {
        pairs
            .iter()
            .map(|(k, v)| {
                let value = if *v == "{}" {
                    Value::Section
                } else {
                    Value::one(Semantics::Aerospike.scalar(Raw::Text((*v).into())))
                };
                ((*k).to_owned(), value)
            })
            .collect()
    }

    fn paths(diffs: &[Diff]) -> Vec<&str> {
        diffs.iter().map(|d| d.path.as_str()).collect()
    }

    #[test]
    fn the_odd_one_out_differs_and_nobody_else() {
        let base = flat(&[("s", "{}"), ("s.a", "1"), ("s.b", "128M")]);
        let changed = flat(&[("s", "{}"), ("s.a", "2"), ("s.b", "134217728")]);
        let missing = flat(&[("s.a", "1"), ("s.b", "128M")]);
        let nodes = [&base, &base, &changed, &base, &missing];
        let diffs = with_peers(&nodes);
        assert_eq!(
            diffs.iter().map(Vec::len).collect::<Vec<_>>(),
            [0, 0, 1, 0, 1]
        );
        let d = &diffs[2][0];
        assert_eq!(d.path, "s.a");
        assert_eq!(
            d.against,
            Against::Peers {
                holders: 4,
                others: 4
            }
        );
        assert_eq!(d.here.as_ref().unwrap().to_string(), "2");
        assert_eq!(d.there.as_ref().unwrap().to_string(), "1");
        assert_eq!(paths(&diffs[4]), ["s"]);
        assert_eq!(diffs[4][0].here, None);
    }

    #[test]
    fn without_a_majority_every_side_differs() {
        let a = flat(&[("k", "1")]);
        let b = flat(&[("k", "2")]);
        let diffs = with_peers(&[&a, &b]);
        assert_eq!(diffs.iter().map(Vec::len).collect::<Vec<_>>(), [1, 1]);
        let c = flat(&[("k", "3")]);
        let diffs = with_peers(&[&a, &a, &b, &b, &c]);
        assert_eq!(
            diffs.iter().map(Vec::len).collect::<Vec<_>>(),
            [1, 1, 1, 1, 1]
        );
        let diffs = with_peers(&[&a, &a, &a, &b, &b]);
        assert_eq!(
            diffs.iter().map(Vec::len).collect::<Vec<_>>(),
            [0, 0, 0, 1, 1]
        );
        assert!(with_peers(&[&a])[0].is_empty());
    }

    #[test]
    fn reference_and_runtime() {
        let node = flat(&[("s", "{}"), ("s.a", "1"), ("s.extra", "x")]);
        let reference = flat(&[("s", "{}"), ("s.a", "2"), ("t", "{}")]);
        let diffs = with_reference(&node, &reference);
        assert_eq!(paths(&diffs), ["s.a", "s.extra", "t"]);
        assert_eq!(diffs[1].there, None);
        assert_eq!(diffs[2].here, None);

        let runtime = flat(&[("s.a", "1"), ("s.default", "7"), ("s.extra", "y")]);
        let diffs = with_runtime(&node, &runtime);
        assert_eq!(paths(&diffs), ["s.extra"]);
        assert_eq!(diffs[0].against, Against::Runtime);
    }
}
