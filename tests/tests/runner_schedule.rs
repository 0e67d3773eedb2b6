//! End-to-end test of `am-runner`'s scheduler with a slow plugin: a tick that comes while the
//! service's previous run is still going is skipped, never run beside it.
//!
//! The test starts its own daemons on free ports and stops them by PID through the guards;
//! every wait is bounded.

// Helpers of a test crate are test code too (clippy.toml allows these in #[test] functions
// only): a failing unwrap or panic is a failing test with its message.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use am_tests::runner::test_helpers::{WAIT, counter, daemons, start_faulty, wait_counter};
use am_tests::runner::{steps, wait_whisper};
use am_tests::wait_until;
use serde_json::json;

/// Proves that a run taking 2.5 s on a one-second schedule makes the next two ticks skip
/// (counted in `tasks_skipped_total`) instead of overlapping: the runs that happen start at
/// least three seconds apart (each after the previous one ended), the instance's run count
/// goes 1, 2, 3, ... (one instance, never rebuilt), and the runs counted in carbon equal
/// `tasks_started_total` at a moment no task is running; every tick is either started or
/// skipped.
#[test]
fn a_tick_is_skipped_while_the_previous_run_is_still_going() {
    let (redis, carbon) = daemons();
    let options = json!({ "mode": "ok", "sleep_ms": 2500 });
    let mut runner = start_faulty(&redis, &carbon, "slow", options);
    wait_counter(&mut runner, "tasks_ok_total", |v| v >= 2.0);
    // A quiet moment: every started task has finished (each 3-second cycle has one).
    let (started, ticks, skipped) = wait_until("no task running", WAIT, || {
        let metrics = runner.metrics()?;
        let get = |n: &str| {
            metrics
                .iter()
                .find(|(name, _)| name == &format!("am_runner_{n}"))
                .map_or(f64::NAN, |(_, v)| *v)
        };
        let (started, ok) = (get("tasks_started_total"), get("tasks_ok_total"));
        let (ticks, skipped) = (get("ticks_total"), get("tasks_skipped_total"));
        Ok((started == ok && ok >= 2.0).then_some((started, ticks, skipped)))
    })
    .unwrap_or_else(|e| panic!("{e:#}\n{}", runner.logs()));
    assert!(skipped > 0.0, "{}", runner.logs());
    // Each tick starts the service or skips it (a tick may be counted but not dispatched yet).
    let unaccounted = ticks - started - skipped;
    assert!((0.0..=1.0).contains(&unaccounted), "{}", runner.logs());
    assert_eq!(counter(&runner, "tasks_failed_total"), 0.0);

    let n = started as usize;
    let runs = wait_whisper(
        &carbon,
        "AnnaMolly.Faulty.slow.runs",
        "the runs",
        WAIT,
        |p| p.len() >= n,
    )
    .unwrap_or_else(|e| panic!("{e:#}\n{}", runner.logs()));
    let runs = &runs[..n];
    let values: Vec<f64> = runs.iter().map(|p| p.1).collect();
    assert_eq!(
        values,
        (1..=n).map(|i| i as f64).collect::<Vec<_>>(),
        "{runs:?}"
    );
    assert!(
        steps(runs).iter().all(|&s| s >= 3),
        "runs overlapped (ticks less than 3 s apart): {runs:?}\n{}",
        runner.logs()
    );
    assert!(
        runner
            .log()
            .contains("previous run still going; tick skipped")
    );
}
