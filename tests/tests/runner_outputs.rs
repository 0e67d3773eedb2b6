//! End-to-end tests of `am-runner`'s main path: series in a real redis-server (written with the
//! store crate), a plugin loaded from disk on a one-second cron, its output series in a real
//! carbon-cache, read back from the whisper files; and output names that cannot inject
//! anything into carbon's protocol whatever a config puts into them.
//!
//! Each test starts its own daemons on free ports and stops them by PID through the guards;
//! every wait is bounded.

// Helpers of a test crate are test code too (clippy.toml allows these in #[test] functions
// only): a failing unwrap or panic is a failing test with its message.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use am_tests::now_unix;
use am_tests::runner::test_helpers::{
    assert_counters, daemons, example_every_second, setup, start, start_faulty, wait_counter,
    wait_points, write,
};
use am_tests::runner::{PluginLib, missing_seconds, steps, tree};
use serde_json::json;

/// Proves the production path end to end: am-runner loads `libam_plugin_example.so` from its
/// plugin folder, fires it every second, the plugin reads the `test.*` series from Redis
/// (ignoring another name), and its four outputs reach carbon-cache as
/// `AnnaMolly.Example.web.<field>` stamped with the tick times: one point per second, no
/// gaps; `count` is the number of series, `max`/`mean` those of their last values, `runs`
/// (kept in the plugin's Redis state) 1, 2, 3, ... one per second.
#[test]
fn plugin_from_disk_on_a_one_second_cron_writes_into_carbon_cache() {
    let (redis, carbon) = daemons();
    let now = now_unix();
    // Older points above every last value: only the last one counts.
    let a = [(now - 300, 100.0), (now - 120, 101.0), (now - 20, 3.0)];
    let b = [(now - 300, 100.0), (now - 120, 101.0), (now - 20, 7.5)];
    let c = [(now - 300, 100.0), (now - 120, 101.0), (now - 20, -2.0)];
    let d = [(now - 300, 100.0), (now - 120, 101.0), (now - 20, 1.25)];
    let outside = [(now - 20, 1e6)];
    write(
        &redis,
        &[
            ("test.a", &a),
            ("test.b", &b),
            ("test.c", &c),
            ("test.d", &d),
            ("other.metric", &outside),
        ],
    );

    let started = now_unix();
    let mut runner = start(
        &setup(&redis, &carbon)
            .plugin(PluginLib::Example)
            .service("Example", example_every_second("web", "test.*", 1000.0)),
    );
    let runs = wait_points(&carbon, &runner, "AnnaMolly.Example.web.runs", 5);
    let runs = &runs[..5];
    assert_eq!(missing_seconds(runs), Vec::<i64>::new(), "{runs:?}");
    assert_eq!(steps(runs), vec![1; 4], "one tick per second: {runs:?}");
    let values: Vec<f64> = runs.iter().map(|p| p.1).collect();
    assert_eq!(values, [1.0, 2.0, 3.0, 4.0, 5.0], "{runs:?}");
    // Tick times: whole seconds from the runner's start on.
    assert!(
        runs[0].0 >= started && runs[0].0 <= started + 5,
        "{runs:?} vs {started}"
    );

    let ticks: Vec<i64> = runs.iter().map(|p| p.0).collect();
    let mean = (3.0 + 7.5 - 2.0 + 1.25) / 4.0;
    for (field, expected) in [("count", 4.0), ("max", 7.5), ("mean", mean)] {
        let metric = format!("AnnaMolly.Example.web.{field}");
        let points = wait_points(&carbon, &runner, &metric, 5);
        let got: Vec<(i64, f64)> = points[..5].to_vec();
        let want: Vec<(i64, f64)> = ticks.iter().map(|&t| (t, expected)).collect();
        assert_eq!(got, want, "{metric}\n{}", runner.logs());
    }
    // Nothing but these four series (no `reference`: none configured).
    let files = tree(&carbon.whisper_dir()).unwrap();
    assert_eq!(
        files,
        [
            "AnnaMolly/",
            "AnnaMolly/Example/",
            "AnnaMolly/Example/web/",
            "AnnaMolly/Example/web/count.wsp",
            "AnnaMolly/Example/web/max.wsp",
            "AnnaMolly/Example/web/mean.wsp",
            "AnnaMolly/Example/web/runs.wsp",
        ]
    );
    assert_counters(
        &runner,
        &[
            ("plugins_loaded", 1.0),
            ("plugins_skipped", 0.0),
            ("tasks_failed_total", 0.0),
            ("tasks_panicked_total", 0.0),
            ("points_dropped_total", 0.0),
            ("graphite_connected", 1.0),
        ],
    );
    wait_counter(&mut runner, "points_sent_total", |v| v >= 20.0);
}

/// Proves that a service name full of whitespace, dots, `$`, `;` and `=` (from analyzer.json)
/// lands under exactly one sanitised whisper path: `\n`, `\t`, spaces and other unsafe
/// characters become `_`, dots separate path segments (runs collapse, the trailing one goes),
/// `;x=1` does not make a tagged series; no file or directory name has whitespace, and no
/// other series appears (the name could not inject a line).
#[test]
fn hostile_service_names_are_sanitised_into_one_whisper_path() {
    let (redis, carbon) = daemons();
    let service = "bad name\nwith\tstuff..$;x=1 \r\n.end.";
    let mut runner = start_faulty(&redis, &carbon, service, json!({ "mode": "ok" }));
    let base = "AnnaMolly.Faulty.bad_name_with_stuff.__x_1___.end";
    let ticks = wait_points(&carbon, &runner, &format!("{base}.tick"), 2);
    for (ts, value) in &ticks {
        assert_eq!(*value, *ts as f64, "{ticks:?}");
    }
    wait_points(&carbon, &runner, &format!("{base}.runs"), 2);
    let files = tree(&carbon.whisper_dir()).unwrap();
    assert_eq!(
        files,
        [
            "AnnaMolly/",
            "AnnaMolly/Faulty/",
            "AnnaMolly/Faulty/bad_name_with_stuff/",
            "AnnaMolly/Faulty/bad_name_with_stuff/__x_1___/",
            "AnnaMolly/Faulty/bad_name_with_stuff/__x_1___/end/",
            "AnnaMolly/Faulty/bad_name_with_stuff/__x_1___/end/runs.wsp",
            "AnnaMolly/Faulty/bad_name_with_stuff/__x_1___/end/tick.wsp",
        ],
        "{}",
        runner.logs()
    );
    assert!(
        files.iter().all(|f| !f.chars().any(char::is_whitespace)),
        "{files:?}"
    );
    // The runner did send its points (all of them landed in the two files above).
    wait_counter(&mut runner, "points_sent_total", |v| v >= 4.0);
    // carbon-cache logs every line it cannot parse: there was none.
    let log = carbon.logs();
    assert!(!log.contains("invalid line"), "{log}");
}
