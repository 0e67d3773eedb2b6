use am_plugin_api::Level;
use am_plugin_api::testing::{Failure, TestHost, TestRunner, VerdictRecord, run_task};

use super::*;

const OPTIONS: &str = r#"{"metrics": "system.*.cpu", "window": 60, "threshold": 90}"#;

fn host() -> TestHost {
    let mut host = TestHost::new();
    host.add_points("system.web-1.cpu", [(900, 99.0), (970, 40.0), (1000, 50.0)])
        .add_points("system.web-2.cpu", [(990, 30.0)])
        .add_points("system.web-3.cpu", [(100, 95.0)]) // outside the window
        .add_points("system.web-1.mem", [(1000, 1.0)])
        .add_points("system.total.cpu", [(1000, 120.0)]);
    host
}

fn fields(host: &TestHost) -> Vec<(&str, f64, i64)> {
    host.emitted()
        .iter()
        .map(|e| (e.field.as_str(), e.value, e.ts))
        .collect()
}

#[test]
fn emits_count_max_mean_runs_at_the_tick() {
    let mut host = host();
    run_task::<Example>(OPTIONS, "service1", &mut host, 1000).unwrap();
    // web-1, web-2, total and web-3 match; web-3 has no point in [940, 1000].
    assert_eq!(
        fields(&host),
        [
            ("count", 4.0, 1000),
            ("runs", 1.0, 1000),
            ("max", 120.0, 1000),
            ("mean", 200.0 / 3.0, 1000),
        ]
    );
    assert_eq!(host.emitted()[0].name(), "Example.service1.count");
    let info: Vec<&str> = host
        .logs()
        .iter()
        .filter(|l| l.level == Level::Info)
        .map(|l| l.message.as_str())
        .collect();
    assert_eq!(info, ["run 1: 4 series, max 120, 1 anomalous"]);
}

#[test]
fn reads_the_reference_metric_by_name() {
    let mut host = host();
    let options = r#"{"metrics": "system.web-*.cpu", "threshold": 90,
                      "reference": "system.total.cpu"}"#;
    run_task::<Example>(options, "service1", &mut host, 1000).unwrap();
    assert_eq!(host.last_value("reference"), Some(120.0));
    assert_eq!(host.last_value("count"), Some(3.0));

    let options = r#"{"metrics": "x", "threshold": 1, "reference": "no.such"}"#;
    run_task::<Example>(options, "service1", &mut host, 1000).unwrap();
    assert!(
        host.logs()
            .iter()
            .any(|l| l.level == Level::Warn && l.message == "reference `no.such` has no data")
    );
}

#[test]
fn state_persists_across_ticks_and_instances() {
    let mut host = host();
    let mut runner = TestRunner::new::<Example>(OPTIONS, "service1", &mut host).unwrap();
    runner.run(&mut host, 1000).unwrap();
    runner.run(&mut host, 1030).unwrap();
    assert_eq!(host.last_value("runs"), Some(2.0));
    drop(runner);
    run_task::<Example>(OPTIONS, "service1", &mut host, 1060).unwrap();
    assert_eq!(host.last_value("runs"), Some(3.0));

    let memory: Memory = host
        .state_json("Example", "service1", MEMORY)
        .unwrap()
        .unwrap();
    assert_eq!(memory.runs, 3);
    assert_eq!(memory.last_max, Some(120.0));
    // Another service has its own state.
    run_task::<Example>(OPTIONS, "service2", &mut host, 1060).unwrap();
    assert_eq!(host.last_value("runs"), Some(1.0));
}

/// Adds the point `(ts, value)` of `system.db.cpu`, runs the tick `ts` and returns the verdicts
/// it reported.
fn tick(host: &mut TestHost, runner: &mut TestRunner, ts: i64, value: f64) -> Vec<VerdictRecord> {
    host.add_point("system.db.cpu", ts, value);
    runner.run(host, ts).unwrap();
    host.take_verdicts()
}

#[test]
fn a_verdict_on_every_metric_at_every_tick() {
    let mut host = TestHost::new();
    let mut runner = TestRunner::new::<Example>(OPTIONS, "service1", &mut host).unwrap();
    let verdicts = tick(&mut host, &mut runner, 1000, 50.0);
    assert_eq!(verdicts.len(), 1);
    assert_eq!(verdicts[0].state, "ok");

    let verdicts = tick(&mut host, &mut runner, 1030, 95.5);
    assert_eq!(verdicts.len(), 1);
    let v = &verdicts[0];
    assert_eq!(
        (v.state.as_str(), v.severity.as_str(), v.subject.as_str()),
        ("anomalous", "warning", "system.db.cpu")
    );
    assert_eq!(v.reason, "last value 95.5 is above the threshold 90");
    assert_eq!(
        v.values,
        [("last".into(), 95.5), ("threshold".into(), 90.0)]
    );
    assert_eq!(v.ts, 1030);

    // Still high: judged anomalous again (the alarm layer notifies once).
    assert_eq!(
        tick(&mut host, &mut runner, 1060, 97.0)[0].state,
        "anomalous"
    );

    let verdicts = tick(&mut host, &mut runner, 1090, 20.0);
    assert_eq!(verdicts[0].state, "ok");
    assert_eq!(verdicts[0].value("last"), Some(20.0));
}

/// Why a service with `options` cannot be created.
fn refused(options: &str) -> Failure {
    TestRunner::new::<Example>(options, "service1", &mut host()).unwrap_err()
}

#[test]
fn unknown_options_are_refused_naming_the_key() {
    let failure = refused(r#"{"metrics": "a.*", "threshold": 1, "windw": 60}"#);
    assert!(!failure.is_panic());
    assert!(
        failure.message().contains("unknown field `windw`"),
        "{failure}"
    );
}

#[test]
fn bad_options_are_refused_with_what_was_expected() {
    let failure = refused(r#"{"metrics": "a.*", "threshold": "high"}"#);
    assert!(
        failure
            .message()
            .starts_with("invalid option `threshold`: invalid type: string \"high\", expected f64"),
        "{failure}"
    );
    assert_eq!(
        refused(r#"{"metrics": "a.*", "threshold": 1, "window": 0}"#),
        Failure::Error("`window` must be positive, got 0".into())
    );
}

#[test]
fn a_failing_store_is_an_error() {
    let mut host = host();
    host.set_store_failing(true);
    let failure = run_task::<Example>(OPTIONS, "service1", &mut host, 1000).unwrap_err();
    assert!(
        failure.message().contains("reading state `memory`"),
        "{failure}"
    );
}
