//! End-to-end tests of `am-runner`'s plugin host with real plugin files: libraries it must
//! refuse (another ABI version, a library that is no plugin, garbage) while the others keep
//! running, and a plugin that panics, which fails only its own task.
//!
//! Each test starts its own daemons on free ports and stops them by PID through the guards;
//! every wait is bounded.

// Helpers of a test crate are test code too (clippy.toml allows these in #[test] functions
// only): a failing unwrap or panic is a failing test with its message.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::PathBuf;

use am_tests::now_unix;
use am_tests::runner::test_helpers::{
    WAIT, assert_counter, assert_counters, daemons, example_every_second, faulty_every_second,
    setup, start, wait_counter, wait_points, write,
};
use am_tests::runner::{PluginLib, missing_seconds, steps, tree, wait_whisper};
use serde_json::json;

/// What the runner says of the test plugin built for ABI version 999.
fn abi_reason() -> String {
    format!(
        "built for plugin ABI version 999, this runner speaks version {}",
        am_plugin_api::abi::ABI_VERSION
    )
}

/// A real shared library that is not an anna-molly plugin, if the system has one.
fn system_library() -> Option<PathBuf> {
    [
        "/lib/x86_64-linux-gnu/libz.so.1",
        "/usr/lib/x86_64-linux-gnu/libz.so.1",
        "/lib/aarch64-linux-gnu/libz.so.1",
        "/usr/lib/aarch64-linux-gnu/libz.so.1",
        "/usr/lib/libz.so.1",
        "/lib/libz.so.1",
    ]
    .iter()
    .map(PathBuf::from)
    .find(|p| p.is_file())
}

/// Proves that a plugin built for another ABI version is refused with an error naming the file
/// and both versions, and so are garbage bytes and a real library that is no plugin, while
/// `Example` from the same folder runs and writes its outputs; the runner logs that the service
/// asking for the refused plugin is disabled; `am-runner plugins` lists `Example` and each
/// skipped file with its reason; `am-runner check` exits 2 naming the service whose plugin is
/// missing and why the file was refused.
#[test]
fn abi_mismatch_and_non_plugins_are_refused_and_the_others_keep_running() {
    let (redis, carbon) = daemons();
    write(&redis, &[("test.x", &[(now_unix() - 30, 2.0)])]);
    let libz = system_library();
    let mut s = setup(&redis, &carbon)
        .plugin(PluginLib::Example)
        .plugin(PluginLib::AbiMismatch)
        .plugin_file("junk.so", b"\x7fELF but not really a library\n".repeat(40))
        .service("Example", example_every_second("web", "test.*", 100.0))
        .service(
            "AbiMismatch",
            json!({ "scheduler_options": { "interval_secs": 1 }, "worker_options": { "s": {} } }),
        );
    if let Some(path) = &libz {
        s = s.plugin_file("libz.so", std::fs::read(path).unwrap());
    }
    let runner = start(&s);
    let abi_file = runner.plugin_dir().join(PluginLib::AbiMismatch.file_name());
    let abi_file = abi_file.display().to_string();

    // Example's outputs arrive regardless.
    let count = wait_points(&carbon, &runner, "AnnaMolly.Example.web.count", 2);
    assert!(count.iter().all(|p| p.1 == 1.0), "{count:?}");
    assert_eq!(
        tree(&carbon.whisper_dir()).unwrap()[..2],
        ["AnnaMolly/", "AnnaMolly/Example/"]
    );
    assert!(!carbon.whisper_dir().join("AnnaMolly/AbiMismatch").exists());

    let log = runner.log();
    assert!(
        log.lines()
            .any(|l| l.contains(&abi_file) && l.contains(&abi_reason())),
        "no log line names {abi_file} and {:?}:\n{log}",
        abi_reason()
    );
    assert!(
        log.lines()
            .any(|l| l.contains("junk.so") && l.contains("not a loadable library")),
        "{log}"
    );
    assert!(
        log.lines()
            .any(|l| l.contains("AbiMismatch") && l.contains("service disabled")),
        "{log}"
    );
    let skipped = if libz.is_some() { 3.0 } else { 2.0 };
    assert_counters(
        &runner,
        &[
            ("plugins_loaded", 1.0),
            ("plugins_skipped", skipped),
            ("tasks_failed_total", 0.0),
        ],
    );

    // `plugins`: the loaded one, then each skipped file with its reason.
    let listed = runner.plugins().unwrap();
    assert_eq!(listed.code, Some(0), "{}", listed.describe());
    let example = runner.plugin_dir().join(PluginLib::Example.file_name());
    let lines: Vec<&str> = listed.stdout.lines().collect();
    let fields = |l: &str| l.split_whitespace().map(str::to_owned).collect::<Vec<_>>();
    assert_eq!(
        fields(lines[0]),
        ["NAME", "VERSION", "ABI", "FILE"],
        "{lines:?}"
    );
    assert_eq!(
        fields(lines[1]),
        [
            "Example",
            "0.1.0",
            &am_plugin_api::abi::ABI_VERSION.to_string(),
            &example.display().to_string()
        ],
        "{lines:?}"
    );
    let dir = runner.plugin_dir().display().to_string();
    let mut expected = vec![
        format!("skipped {dir}/junk.so: not a loadable library"),
        format!("skipped {abi_file}: {}", abi_reason()),
    ];
    if libz.is_some() {
        expected.push(format!(
            "skipped {dir}/libz.so: not an anna-molly plugin (no am_plugin_abi_version symbol)"
        ));
    }
    assert_eq!(lines.len(), 2 + expected.len(), "{}", listed.describe());
    for (line, want) in lines[2..].iter().zip(&expected) {
        assert!(line.starts_with(want.as_str()), "{line:?} !~ {want:?}");
    }

    // `check`: the service whose plugin was refused, with the reason.
    let check = runner.check().unwrap();
    assert_eq!(check.code, Some(2), "{}", check.describe());
    let problems = check.problems();
    assert_eq!(problems.len(), 1, "{}", check.describe());
    assert_eq!(problems[0].file, "analyzer.json");
    assert_eq!(
        problems[0].path,
        "services.AbiMismatch.scheduler_options.plugin_args.name"
    );
    let msg = &problems[0].message;
    assert!(msg.starts_with("no plugin named \"AbiMismatch\""), "{msg}");
    assert!(msg.contains("loaded: [Example]"), "{msg}");
    assert!(msg.contains(&abi_reason()), "{msg}");
}

/// Proves that a plugin panicking every second run fails only that task: the runner counts the
/// panics, logs the panic message, drops the instance and builds a fresh one for the next tick
/// (Faulty's per-instance `runs` reads 1 at every other second, the panicking ticks leave
/// gaps), and `Example`, running beside it, writes every second without interruption.
#[test]
fn a_panic_fails_only_its_task_and_the_next_tick_succeeds() {
    let (redis, carbon) = daemons();
    write(&redis, &[("test.x", &[(now_unix() - 30, 2.0)])]);
    let mut runner = start(
        &setup(&redis, &carbon)
            .plugin(PluginLib::Example)
            .plugin(PluginLib::Faulty)
            .service("Example", example_every_second("web", "test.*", 100.0))
            .service(
                "Faulty",
                faulty_every_second("f1", json!({ "mode": "ok", "panic_every": 2 })),
            ),
    );
    let runs = wait_points(&carbon, &runner, "AnnaMolly.Faulty.f1.runs", 4);
    assert!(
        runs.iter().all(|p| p.1 == 1.0),
        "rebuilt every time: {runs:?}"
    );
    assert!(
        steps(&runs).iter().all(|&s| s == 2),
        "every other second: {runs:?}"
    );
    let ticks = wait_points(&carbon, &runner, "AnnaMolly.Faulty.f1.tick", runs.len());
    let expected: Vec<(i64, f64)> = runs.iter().map(|&(t, _)| (t, t as f64)).collect();
    assert_eq!(ticks[..runs.len()], expected[..]);

    wait_counter(&mut runner, "tasks_panicked_total", |v| v >= 3.0);
    let log = runner.log();
    assert!(log.contains("panic_every as configured (run 2)"), "{log}");
    assert!(log.contains("plugin panicked"), "{log}");
    assert!(!log.contains("panic_every as configured (run 3)"), "{log}");
    assert_counter(&runner, "tasks_failed_total", 0.0);

    // Example beside it: every second from before the first Faulty point to after the last.
    let (first, last) = (runs[0].0, runs[runs.len() - 1].0);
    let example = wait_whisper(
        &carbon,
        "AnnaMolly.Example.web.runs",
        &format!("a point at {last} or later"),
        WAIT,
        |p| p.last().is_some_and(|l| l.0 >= last),
    )
    .unwrap_or_else(|e| panic!("{e:#}\n{}", runner.logs()));
    // (The two schedules start independently: the first ticks may straddle a second.)
    assert!(example[0].0 <= first + 1, "{example:?} vs {runs:?}");
    assert_eq!(missing_seconds(&example), Vec::<i64>::new(), "{example:?}");
    let values: Vec<f64> = example.iter().map(|p| p.1).collect();
    let counting: Vec<f64> = (1..=example.len()).map(|i| i as f64).collect();
    assert_eq!(values, counting, "{example:?}");
}
