//! From loaded configurations to a verdict per node.
//!
//! - A node whose configuration cannot be had is `unknown`, with the reason.
//! - A node that differs anywhere (from the reference or its peers, from its running
//!   configuration) is `anomalous`, even when another comparison could not be made: the
//!   drift found is certain.
//! - Otherwise a comparison that could not be made (the reference or a running configuration
//!   unreadable) makes it `unknown`, and so does having nothing to compare with.
//! - Otherwise it is `ok`.

use am_plugin_api::Verdict;

use crate::compare::{self, Diff};
use crate::error::SourceError;
use crate::fetch::Location;
use crate::flat::Flat;
use crate::report;

/// What was loaded for one node: indices into the loaded configurations, or why there is
/// nothing to load.
#[derive(Debug)]
pub struct Plan {
    /// The node.
    pub node: String,
    /// Its configuration.
    pub config: Result<usize, String>,
    /// Its running configurations, one per runtime source.
    pub runtimes: Vec<Result<usize, SourceError>>,
}

/// A node's verdict, and its drift when it was judged.
#[derive(Debug)]
pub struct Outcome {
    /// The node.
    pub node: String,
    /// What to report.
    pub verdict: Verdict,
    /// How many key paths differ; `None` for an `unknown` node.
    pub drift: Option<usize>,
}

/// What a node's configuration was compared with, for an `ok` reason.
enum Basis {
    Reference,
    Peers(usize),
    /// Alone, no reference: nothing to compare the configuration with.
    Nothing,
    /// The reference could not be read.
    Failed(String),
}

/// Judges every planned node. `reference` is where the reference came from and what loading
/// it gave, when there is one.
pub fn judge(
    plans: &[Plan],
    loaded: &[Result<Flat, SourceError>],
    reference: Option<(&Location, &Result<Flat, SourceError>)>,
    listed: usize,
) -> Vec<Outcome> {
    let configs: Vec<Result<&Flat, String>> = plans
        .iter()
        .map(|plan| match &plan.config {
            Err(why) => Err(why.clone()),
            Ok(index) => match loaded.get(*index) {
                Some(Ok(flat)) => Ok(flat),
                Some(Err(e)) => Err(e.to_string()),
                None => Err("not loaded".into()),
            },
        })
        .collect();

    // Each readable node's configuration diffs, and what they were measured against.
    let mut config_diffs: Vec<Vec<Diff>> = vec![Vec::new(); plans.len()];
    let basis = match reference {
        Some((_, Ok(reference))) => {
            for (diffs, config) in config_diffs.iter_mut().zip(&configs) {
                if let Ok(flat) = config {
                    *diffs = compare::with_reference(flat, reference);
                }
            }
            Basis::Reference
        }
        Some((location, Err(e))) => {
            Basis::Failed(format!("the reference {location} could not be read: {e}"))
        }
        None => {
            let readable: Vec<(usize, &Flat)> = configs
                .iter()
                .enumerate()
                .filter_map(|(index, config)| config.as_ref().ok().map(|flat| (index, *flat)))
                .collect();
            if readable.len() < 2 {
                Basis::Nothing
            } else {
                let flats: Vec<&Flat> = readable.iter().map(|(_, flat)| *flat).collect();
                for ((index, _), diffs) in readable.iter().zip(compare::with_peers(&flats)) {
                    config_diffs[*index] = diffs;
                }
                Basis::Peers(readable.len() - 1)
            }
        }
    };

    plans
        .iter()
        .zip(configs)
        .zip(config_diffs)
        .map(|((plan, config), diffs)| match config {
            Err(why) => Outcome {
                node: plan.node.clone(),
                verdict: Verdict::unknown(&plan.node)
                    .reason(format!("configuration not readable: {why}")),
                drift: None,
            },
            Ok(flat) => judge_node(plan, flat, diffs, &basis, loaded, listed),
        })
        .collect()
}

fn judge_node(
    plan: &Plan,
    flat: &Flat,
    config_diffs: Vec<Diff>,
    basis: &Basis,
    loaded: &[Result<Flat, SourceError>],
    listed: usize,
) -> Outcome {
    let mut problems: Vec<String> = Vec::new();
    if let Basis::Failed(why) = basis {
        problems.push(why.clone());
    }
    let config_count = config_diffs.len();
    let mut diffs = config_diffs;
    let mut runtime_compared = 0;
    let mut runtime_count = 0;
    for runtime in &plan.runtimes {
        let result = match runtime {
            Err(e) => Err(e.to_string()),
            Ok(index) => match loaded.get(*index) {
                Some(Ok(runtime)) => Ok(runtime),
                Some(Err(e)) => Err(e.to_string()),
                None => Err("not loaded".into()),
            },
        };
        match result {
            Ok(runtime) => {
                let found = compare::with_runtime(flat, runtime);
                runtime_count += found.len();
                diffs.extend(found);
                runtime_compared += 1;
            }
            Err(why) => problems.push(format!("running configuration not compared: {why}")),
        }
    }
    compare::sort(&mut diffs);
    let drift = report::drift(&diffs);
    let node = plan.node.as_str();
    let with_values = |verdict: Verdict| {
        verdict
            .value("drift", drift as f64)
            .value("config", config_count as f64)
            .value("runtime", runtime_count as f64)
    };
    if !diffs.is_empty() {
        let mut reason = report::describe(&diffs, listed);
        for problem in &problems {
            reason.push_str("; ");
            reason.push_str(problem);
        }
        return Outcome {
            node: node.to_owned(),
            verdict: with_values(Verdict::anomalous(node).reason(reason)),
            drift: Some(drift),
        };
    }
    let nothing = matches!(basis, Basis::Nothing) && runtime_compared == 0;
    if nothing {
        problems.push(
            "nothing to compare with: no reference, no peers, no running configuration".into(),
        );
    }
    if !problems.is_empty() {
        return Outcome {
            node: node.to_owned(),
            verdict: Verdict::unknown(node)
                .reason(format!("no drift found, but {}", problems.join("; "))),
            drift: None,
        };
    }
    let mut matched: Vec<String> = Vec::new();
    match basis {
        Basis::Reference => matched.push("matches the reference".into()),
        Basis::Peers(1) => matched.push("agrees with its peer".into()),
        Basis::Peers(others) => matched.push(format!("agrees with its {others} peers")),
        Basis::Nothing => {}
        Basis::Failed(_) => {}
    }
    if runtime_compared > 0 {
        matched.push("matches its running configuration".into());
    }
    let mut reason = format!("{} ({} key paths)", matched.join(" and "), flat.len());
    if matches!(basis, Basis::Nothing) {
        reason.push_str("; no reference and no peers to compare its configuration with");
    }
    Outcome {
        node: node.to_owned(),
        verdict: with_values(Verdict::ok(node).reason(reason)),
        drift: Some(0),
    }
}
