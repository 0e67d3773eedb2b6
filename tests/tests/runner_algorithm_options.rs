//! End-to-end tests of the options of anna-molly's four detectors being checked up front:
//! `am-runner check` refuses what a plugin cannot work with (anna-molly's own two-season
//! SeasonalDecomposition example, options out of range), naming the service's path and the
//! option; the runner disables just those services and runs the others.
//!
//! The run starts its own daemons on free ports and stops them by PID through the guards;
//! every wait is bounded.

// Helpers of a test crate are test code too (clippy.toml allows these in #[test] functions
// only): a failing unwrap or panic is a failing test with its message.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use am_tests::now_unix;
use am_tests::runner::algorithms::{
    anna_molly_stl_service, per_second, seasonal_options, tukeys_options,
};
use am_tests::runner::test_helpers::{daemons, every_second, setup, start, wait_points, write};
use am_tests::runner::{PluginLib, RunnerSetup, tree};
use serde_json::json;

/// Proves `am-runner check` refuses anna-molly's own SeasonalDecomposition example
/// (`period_length` 6 × `seasons` 2, in a separate services.json as anna-molly kept it): exit
/// 2, one line against services.json naming the service's path and "more than two full
/// periods".
#[test]
fn check_refuses_anna_molly_two_season_example() {
    let services = json!({ "SeasonalDecomposition": {
        "scheduler_options": { "interval_secs": 30,
                               "plugin_args": { "name": "PollSeasonalDecomposition" } },
        "worker_options": { "stl_service1": anna_molly_stl_service() } } });
    let setup = RunnerSetup::new(1, 1)
        .plugin(PluginLib::SeasonalDecomposition)
        .file("services.json", &services.to_string())
        .arg("--services")
        .arg("services.json");
    let out = setup.check().unwrap_or_else(|e| panic!("{e:#}"));
    assert_eq!(out.code, Some(2), "{}", out.describe());
    let problems = out.problems();
    assert_eq!(problems.len(), 1, "{}", out.describe());
    let p = &problems[0];
    assert_eq!(
        (p.file.as_str(), p.path.as_str()),
        (
            "services.json",
            "SeasonalDecomposition.worker_options.stl_service1"
        ),
        "{}",
        out.describe()
    );
    assert!(p.message.contains("more than two full periods"), "{p:?}");
}

/// Proves options out of range are refused up front, each named with its service: `check`
/// exits 2 with one line per bad service (anna-molly's 6 × 2 example, `error_params.alpha` 2,
/// `iqr_scaling` −1, `stale` 0, `treshold` 0) and none for the good one; the runner started
/// with that config logs each of those services as disabled with the reason, and runs the
/// good TukeysFilter service, whose outputs reach carbon, while no disabled one writes.
#[test]
fn out_of_range_options_disable_only_their_service() {
    let (redis, carbon) = daemons();
    let now = now_unix();
    let constant = |v: f64| per_second(now - 30, now + 30, move |_| v);
    let (q25, q75, web) = (constant(10.0), constant(20.0), constant(15.0));
    write(
        &redis,
        &[
            ("svc.q25", &q25),
            ("svc.q75", &q75),
            ("demo.latency.web01", &web),
        ],
    );
    let mut negative = tukeys_options();
    negative["iqr_scaling"] = json!(-1);
    let setup = setup(&redis, &carbon)
        .plugin(PluginLib::TukeysFilter)
        .plugin(PluginLib::SeasonalDecomposition)
        .plugin(PluginLib::SeasonalDecompositionEnsemble)
        .plugin(PluginLib::FlowDifference)
        .service(
            "SeasonalDecomposition",
            every_second(json!({
                "stl_service1": anna_molly_stl_service(),
                "alpha": seasonal_options("x", json!({ "error_handling": "quantile", "alpha": 2 })),
            })),
        )
        .service(
            "SeasonalDecompositionEnsemble",
            every_second(json!({ "vote": seasonal_options("x", json!({ "treshold": 0 })) })),
        )
        .service(
            "TukeysFilter",
            every_second(json!({ "good": tukeys_options(), "negative": negative })),
        )
        .service(
            "FlowDifference",
            every_second(json!({ "zero": { "in_metric": "a", "out_metric": "b", "stale": 0 } })),
        );
    let bad = [
        (
            "SeasonalDecomposition",
            "stl_service1",
            "more than two full periods",
        ),
        ("SeasonalDecomposition", "alpha", "`error_params.alpha`"),
        (
            "SeasonalDecompositionEnsemble",
            "vote",
            "`error_params.threshold`",
        ),
        ("TukeysFilter", "negative", "`iqr_scaling`"),
        ("FlowDifference", "zero", "`stale`"),
    ];

    let out = setup.check().unwrap_or_else(|e| panic!("{e:#}"));
    assert_eq!(out.code, Some(2), "{}", out.describe());
    let mut found: Vec<(String, String)> = out
        .problems()
        .into_iter()
        .map(|p| (p.path, p.message))
        .collect();
    found.sort();
    let mut paths: Vec<String> = found.iter().map(|f| f.0.clone()).collect();
    let mut expected: Vec<String> = bad
        .iter()
        .map(|(alg, svc, _)| format!("services.{alg}.worker_options.{svc}"))
        .collect();
    paths.sort();
    expected.sort();
    assert_eq!(paths, expected, "{}", out.describe());
    for (alg, svc, word) in bad {
        let path = format!("services.{alg}.worker_options.{svc}");
        let (_, message) = found.iter().find(|f| f.0 == path).unwrap();
        assert!(
            message.contains(word),
            "{path}: {word:?} not in {message:?}"
        );
    }

    let runner = start(&setup);
    let count = wait_points(&carbon, &runner, "AnnaMolly.TukeysFilter.good.count", 2);
    assert!(count.iter().all(|p| p.1 == 1.0), "{count:?}");
    let log = runner.log();
    for (alg, svc, word) in bad {
        let disabled = log.lines().any(|l| {
            l.contains("service disabled")
                && l.contains(&format!("algorithm={alg} "))
                && l.contains(&format!("service={svc} "))
                && l.contains(word)
        });
        assert!(
            disabled,
            "no \"service disabled\" line for {alg}/{svc} with {word:?}:\n{log}"
        );
    }
    // Only the good service wrote anything.
    let dirs: Vec<String> = tree(&carbon.whisper_dir().join("AnnaMolly"))
        .unwrap()
        .into_iter()
        .filter(|f| f.ends_with('/'))
        .collect();
    assert_eq!(dirs, ["TukeysFilter/", "TukeysFilter/good/"]);
    assert!(!log.contains("task failed"), "{log}");
}
