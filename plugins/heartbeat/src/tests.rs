//! The plugin through its ABI with a test host: cadences, overdue, retirement, forgetting,
//! the state across instances, presence and absence, bounds, shards.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use am_plugin_api::testing::{TestHost, TestRunner};
use am_plugin_kit::testing::verdict_states;
use serde_json::{Value, json};

use crate::Heartbeat;

fn runner(host: &mut TestHost, options: Value) -> TestRunner {
    TestRunner::new::<Heartbeat>(&options.to_string(), "svc", host).unwrap()
}

/// A new host, and an instance with `options` on it.
fn start(options: Value) -> (TestHost, TestRunner) {
    let mut host = TestHost::new();
    let r = runner(&mut host, options);
    (host, r)
}

/// Runs every second from `from` to `to`, each series of `live` reporting at its second;
/// returns the ticks at which each subject was first reported.
fn beat(host: &mut TestHost, r: &mut TestRunner, live: &[&str], from: i64, to: i64) {
    for t in from..=to {
        for s in live {
            host.add_point(s, t, 1.0);
        }
        host.clear_outputs();
        r.run(host, t).unwrap();
    }
}

/// What `verdict_states` gives when exactly `subjects` (sorted) are anomalous.
fn anomalous(subjects: &[&str]) -> Vec<(String, String)> {
    let anomalous = |s: &&str| ((*s).to_owned(), "anomalous".to_owned());
    subjects.iter().map(anomalous).collect()
}

#[test]
fn overdue_after_tolerance_cadences_and_ok_when_back() {
    let (mut host, mut r) = start(json!({"patterns": ["apps.*.hb"]}));
    beat(&mut host, &mut r, &["apps.a.hb", "apps.b.hb"], 1000, 1010);
    assert!(verdict_states(&host).is_empty());
    assert_eq!(host.last_value("tracked"), Some(2.0));
    // b stops after 1010: silent 1, 2, 3 s is within 3 cadences; 4 s is overdue.
    beat(&mut host, &mut r, &["apps.a.hb"], 1011, 1013);
    assert!(verdict_states(&host).is_empty());
    beat(&mut host, &mut r, &["apps.a.hb"], 1014, 1014);
    assert_eq!(verdict_states(&host), anomalous(&["apps.b.hb"]));
    let v = &host.verdicts()[0];
    assert_eq!(
        (v.value("silence"), v.value("cadence")),
        (Some(4.0), Some(1.0))
    );
    assert_eq!(host.last_value("overdue"), Some(1.0));
    // Back: not reported, so OK.
    beat(&mut host, &mut r, &["apps.a.hb", "apps.b.hb"], 1015, 1015);
    assert!(verdict_states(&host).is_empty());
    // A slower series learns its own cadence: 10 s, overdue after 30 s.
    let (mut host, mut r) = start(json!({"patterns": ["slow"], "overdue": "undetermined"}));
    for t in (1000..=1040).step_by(10) {
        host.add_point("slow", t, 1.0);
        r.run(&mut host, t).unwrap();
    }
    for (tick, overdue) in [(1040, false), (1070, false), (1071, true)] {
        host.clear_outputs();
        r.run(&mut host, tick).unwrap();
        let expected = if overdue {
            vec![("slow".to_owned(), "unknown".to_owned())]
        } else {
            vec![]
        };
        assert_eq!(verdict_states(&host), expected, "tick {tick}");
    }
    // Not judged before `learn` intervals.
    let (mut host, mut r) = start(json!({"patterns": ["x"], "learn": 3}));
    host.add_points("x", [(1000, 1.0), (1001, 1.0), (1002, 1.0)]);
    r.run(&mut host, 1002).unwrap();
    r.run(&mut host, 1100).unwrap();
    assert!(verdict_states(&host).is_empty(), "two intervals only");
}

#[test]
fn shutdown_markers_retire_and_a_new_point_revives() {
    let (mut host, mut r) =
        start(json!({"patterns": ["apps.*.hb"], "shutdown_suffix": ".bye", "shutdown_value": -1}));
    beat(
        &mut host,
        &mut r,
        &["apps.a.hb", "apps.b.hb", "apps.c.hb"],
        1000,
        1010,
    );
    // a says goodbye by value, b by its marker series; c just stops.
    host.add_point("apps.a.hb", 1011, -1.0);
    host.add_point("apps.b.hb.bye", 1011, 1.0);
    beat(&mut host, &mut r, &[], 1011, 1030);
    assert_eq!(verdict_states(&host), anomalous(&["apps.c.hb"]));
    assert_eq!(host.last_value("retired"), Some(2.0));
    assert_eq!(
        host.last_value("tracked"),
        Some(3.0),
        "the marker series is not tracked"
    );
    // b comes back: tracked again, and overdue when it stops again.
    beat(&mut host, &mut r, &["apps.b.hb"], 1031, 1040);
    beat(&mut host, &mut r, &[], 1041, 1045);
    assert_eq!(
        verdict_states(&host),
        anomalous(&["apps.b.hb", "apps.c.hb"])
    );
}

#[test]
fn silent_past_forget_after_is_forgotten() {
    let (mut host, mut r) = start(json!({"patterns": ["x"], "forget_after": 60}));
    beat(&mut host, &mut r, &["x"], 1000, 1005);
    beat(&mut host, &mut r, &[], 1065, 1065);
    assert_eq!(verdict_states(&host).len(), 1);
    beat(&mut host, &mut r, &[], 1066, 1066);
    assert!(verdict_states(&host).is_empty());
    assert_eq!(host.last_value("forgotten"), Some(1.0));
    assert_eq!(host.last_value("tracked"), Some(0.0));
}

#[test]
fn the_state_carries_over_to_another_instance() {
    let mut host = TestHost::new();
    let options = json!({"patterns": ["x.*"]});
    let mut first = runner(&mut host, options.clone());
    beat(&mut host, &mut first, &["x.a", "x.b"], 1000, 1010);
    // Another instance (another worker) takes over: it knows the cadences from the state.
    let mut second = runner(&mut host, options);
    beat(&mut host, &mut second, &["x.a"], 1011, 1014);
    assert_eq!(verdict_states(&host), anomalous(&["x.b"]));
    // The first comes back after the second wrote: it reads the state, not its old copy.
    beat(&mut host, &mut first, &["x.a"], 1015, 1015);
    assert_eq!(verdict_states(&host), anomalous(&["x.b"]));
    let stored = host.state("Heartbeat", "svc", "series").unwrap();
    let (tick, series) = crate::codec::decode(stored).unwrap();
    assert_eq!((tick, series.len()), (1015, 2));
}

#[test]
fn presence_and_absence_rules() {
    let (mut host, mut r) = start(
        json!({"presence_required": [{"pattern": "jobs.*.done", "window": 60}],
               "absence_required": [{"pattern": "errors.fatal.*"}]}),
    );
    host.add_point("jobs.nightly.done", 1000, 1.0);
    host.add_point("errors.fatal.db", 500, 1.0);
    r.run(&mut host, 1030).unwrap();
    assert!(verdict_states(&host).is_empty());
    host.add_point("errors.fatal.disk", 1070, 3.0);
    beat(&mut host, &mut r, &[], 1070, 1070);
    assert_eq!(
        verdict_states(&host),
        anomalous(&["errors.fatal.disk", "presence:jobs.*.done"])
    );
}

#[test]
fn max_series_bounds_the_state() {
    let (mut host, mut r) = start(json!({"patterns": ["s.*"], "max_series": 3}));
    for i in 0..5 {
        host.add_point(&format!("s.{i}"), 1000, 1.0);
    }
    r.run(&mut host, 1000).unwrap();
    assert_eq!(host.last_value("tracked"), Some(3.0));
    assert_eq!(host.last_value("untracked"), Some(2.0));
    assert!(host.logs().iter().any(|l| l.message.contains("max_series")));
}

#[test]
fn shards_split_the_series() {
    let names: Vec<String> = (0..40).map(|i| format!("s.{i}")).collect();
    let mut overdue = Vec::new();
    for shard in 0..4 {
        let mut host = TestHost::new();
        host.set_shard(shard, 4);
        let mut r = runner(&mut host, json!({"patterns": ["s.*"]}));
        for t in 1000..=1005 {
            for n in &names {
                host.add_point(n, t, 1.0);
            }
            r.run(&mut host, t).unwrap();
        }
        host.clear_outputs();
        r.run(&mut host, 1100).unwrap();
        overdue.extend(verdict_states(&host).into_iter().map(|(s, _)| s));
        assert!(
            host.state("Heartbeat", "svc", &format!("series:{shard}/4"))
                .is_some()
        );
    }
    overdue.sort();
    assert_eq!(overdue.len(), 40);
    overdue.dedup();
    assert_eq!(overdue.len(), 40, "each series judged by one shard");
}

#[test]
fn bad_options_are_refused() {
    let mut host = TestHost::new();
    for (options, needle) in [
        (json!({}), "nothing to watch"),
        (json!({"patterns": ["x"], "tolerance": 0}), "tolerance"),
        (json!({"patterns": ["x"], "learn": 9}), "learn"),
        (json!({"patterns": ["x"], "overdue": "maybe"}), "overdue"),
        (
            json!({"patterns": ["x"], "presence_required": [{"pattern": "y", "window": 0}]}),
            "presence_required[0]",
        ),
        (json!({"patterns": ["x"], "tolerence": 3}), "tolerence"),
    ] {
        let e = TestRunner::new::<Heartbeat>(&options.to_string(), "svc", &mut host).unwrap_err();
        assert!(e.message().contains(needle), "{options}: {}", e.message());
    }
}
