//! The examples of monasca's documentation (the Monasca API spec's alarm definitions and
//! expressions), parsed and evaluated as documented, through the plugin's ABI with a test host.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use am_plugin_api::testing::{TestHost, TestRunner};
use am_plugin_kit::testing::verdict_states;
use serde_json::json;

use crate::Threshold;
use crate::expr::{Func, Op};
use crate::parse::parse;

fn runner(host: &mut TestHost, options: serde_json::Value) -> TestRunner {
    TestRunner::new::<Threshold>(&options.to_string(), "svc", host).unwrap()
}

/// Writes `value` every `step` seconds over `(from, until]` to `name`.
fn fill(host: &mut TestHost, name: &str, from: i64, until: i64, step: usize, value: f64) {
    for ts in (from + 1..=until).step_by(step) {
        host.add_point(name, ts, value);
    }
}

fn pair(s: &str, t: &str) -> (String, String) {
    (s.to_owned(), t.to_owned())
}

#[test]
fn the_documented_expressions_parse() {
    // "Simple Example": no function, so monasca's default (max for `>`), period 60, once.
    let e = parse("cpu.system_perc{hostname=host.domain.com} > 95", 60).unwrap();
    let s = &e.subs[0];
    assert_eq!((s.func, s.op, s.threshold), (Func::Max, Op::Gt, 95.0));
    assert_eq!((s.period, s.periods, s.deterministic), (60, 1, false));
    assert_eq!(s.metric.name, "cpu.system_perc");
    assert_eq!(s.metric.dims, vec![pair("hostname", "host.domain.com")]);
    // "More Complex Example": avg over 120 s periods, three in a row.
    let e = parse(
        "avg(cpu.system_perc{hostname=host.domain.com}, 120) > 95 times 3",
        60,
    )
    .unwrap();
    let s = &e.subs[0];
    assert_eq!((s.func, s.period, s.periods), (Func::Avg, 120, 3));
    // "Compound alarm example".
    let e = parse(
        "avg(cpu.system_perc{hostname=hostname.domain.com}) > 90 or avg(disk_read_ops{hostname=hostname.domain.com, device=vda}, 120) > 1000",
        60,
    )
    .unwrap();
    assert_eq!(e.subs.len(), 2);
    assert_eq!(
        e.subs[1].metric.dims,
        vec![
            pair("hostname", "hostname.domain.com"),
            pair("device", "vda")
        ]
    );
    assert!(e.eval(&[false, true]) && e.eval(&[true, false]) && !e.eval(&[false, false]));
    // `<` defaults to min; deterministic and period in either order of presence; last.
    let e = parse("cpu.idle_perc{service=monitoring} < 20", 60).unwrap();
    assert_eq!(e.subs[0].func, Func::Min);
    let e = parse("count(log.error{test=1}, deterministic, 120) > 1.0", 60).unwrap();
    assert!(e.subs[0].deterministic);
    assert_eq!(e.subs[0].period, 120);
    let e = parse("count(log.error{test=1}, deterministic) > 1.0", 60).unwrap();
    assert_eq!((e.subs[0].deterministic, e.subs[0].period), (true, 60));
    let e = parse("last(test_metric{hold=here}) < 13", 60).unwrap();
    assert_eq!(e.subs[0].func, Func::Last);
    // Word operators, odd spacing, metric names starting with digits, negative thresholds.
    let e = parse(
        "max  (  3test_metric5  {  this  =  that  })  lt  5 times    3",
        60,
    )
    .unwrap();
    assert_eq!(e.subs[0].metric.name, "3test_metric5");
    assert_eq!(e.subs[0].metric.dims, vec![pair("this", "that")]);
    assert_eq!((e.subs[0].op, e.subs[0].periods), (Op::Lt, 3));
    let e = parse("ntp.offset > 1 or ntp.offset < -5", 60).unwrap();
    assert_eq!(e.subs[1].threshold, -5.0);
    let e = parse("count(fizzle) lt 0or count(baz) > 1", 60).unwrap();
    assert_eq!(e.subs.len(), 2);
    let e = parse("max(foo)>=100 && MAX(bar) GTE 3 || min(baz) lte 2", 60).unwrap();
    assert_eq!(e.subs.len(), 3);
    // Precedence: `and` binds tighter than `or`; parentheses override it.
    let e = parse("a > 1 or b > 1 and c > 1", 60).unwrap();
    assert!(e.eval(&[true, false, false]));
    assert!(!e.eval(&[false, true, false]));
    let e = parse("(a > 1 or b > 1) and c > 1", 60).unwrap();
    assert!(!e.eval(&[true, false, false]));
    assert!(e.eval(&[false, true, true]));
    // Graphite globs, braces that are alternatives, not dimensions.
    let e = parse("avg(servers.{web,db}*.cpu, 120) > 90", 60).unwrap();
    assert_eq!(e.subs[0].metric.name, "servers.{web,db}*.cpu");
    assert!(e.subs[0].metric.dims.is_empty());
    assert_eq!(
        e.to_string(),
        "avg(servers.{web,db}*.cpu, 120) > 90",
        "canonical form"
    );
}

#[test]
fn bad_expressions_name_the_column_and_what_was_expected() {
    let cases = [
        (
            "count(log.error{test=1}, deterministic, 130) > 1.0",
            "at column 41: expected a period that is a positive multiple of the tick interval (60 s), found `130`",
        ),
        (
            "count(log.error{test=1}, deterministic) > 1.0 times 0",
            "at column 53: expected at least 1 period after `times`, found `0`",
        ),
        ("avg(x > 5", "at column 7: expected `,` or `)`, found `>`"),
        (
            "avg(x) >",
            "at column 9: expected a threshold (a number), found the end",
        ),
        (
            "avg(x) > 5 and",
            "at column 15: expected a metric name, or a function (min, max, sum, count, avg, last) and `(`, found the end",
        ),
        (
            "(avg(x) > 5",
            "at column 12: expected `)`, `and` or `or`, found the end",
        ),
        (
            "avg(x) = 5",
            "at column 8: expected a comparison (`<`, `lt`, `<=`, `lte`, `>`, `gt`, `>=`, `gte`), found `=`",
        ),
        (
            "avg(x) > 5 orr y > 1",
            "at column 12: expected `and`, `or` or the end of the expression, found `orr`",
        ),
        (
            "avg(x, fast) > 5",
            "at column 8: expected `deterministic` or a period in seconds, found `fast)`",
        ),
        (
            "cpu{host=a > 5",
            "at column 4: expected a `}` closing the `{`, found `{host=a`",
        ),
    ];
    for (text, message) in cases {
        let e = parse(text, 60).unwrap_err();
        assert_eq!(e.to_string(), message, "{text}");
    }
    // Periods are multiples of the tick interval, whatever it is.
    assert!(parse("avg(x, 30) > 5", 10).is_ok());
    assert!(parse("avg(x, 30) > 5", 60).is_err());
    // The plugin refuses the options with the same message.
    let mut host = TestHost::new();
    let failure = TestRunner::new::<Threshold>(r#"{"expression": "avg(x > 5"}"#, "svc", &mut host)
        .unwrap_err();
    assert!(
        failure
            .message()
            .contains("`expression` at column 7: expected `,` or `)`, found `>`"),
        "{}",
        failure.message()
    );
    let typo = TestRunner::new::<Threshold>(r#"{"expresion": "x > 1"}"#, "svc", &mut host);
    assert!(typo.unwrap_err().message().contains("expresion"));
}

#[test]
fn simple_example_alarms_above_95_within_the_minute() {
    let name = "cpu.system_perc;hostname=host.domain.com";
    let mut host = TestHost::new();
    let mut r = runner(
        &mut host,
        json!({"expression": "cpu.system_perc{hostname=host.domain.com} > 95"}),
    );
    fill(&mut host, name, 1000, 1060, 10, 50.0);
    r.run(&mut host, 1060).unwrap();
    assert!(verdict_states(&host).is_empty(), "OK is not reported");
    assert_eq!(host.last_value("subjects"), Some(1.0));
    host.clear_outputs();
    host.add_point(name, 1070, 96.0);
    r.run(&mut host, 1080).unwrap();
    assert_eq!(
        verdict_states(&host),
        vec![pair(
            "cpu.system_perc{hostname=host.domain.com}",
            "anomalous"
        )]
    );
    // Back under: OK; a series with another hostname is not this alarm's.
    host.clear_outputs();
    host.add_point(name, 1130, 50.0);
    host.add_point("cpu.system_perc;hostname=other", 1130, 99.0);
    r.run(&mut host, 1140).unwrap();
    assert!(verdict_states(&host).is_empty());
}

#[test]
fn more_complex_example_needs_the_average_above_95_for_360_seconds() {
    let name = "cpu.system_perc;hostname=host.domain.com";
    let options =
        json!({"expression": "avg(cpu.system_perc{hostname=host.domain.com}, 120) > 95 times 3"});
    // 97 for the last 360 s: ALARM. 97 for the last 240 s only: the oldest of the three
    // periods averages 90: OK.
    for (from, want) in [(640, &["anomalous"][..]), (760, &[])] {
        let (_, verdicts) = one_tick(options.clone(), |host| {
            fill(host, name, 0, from, 10, 90.0);
            fill(host, name, from, 1000, 10, 97.0);
        });
        let states: Vec<&str> = verdicts.iter().map(|(_, state)| state.as_str()).collect();
        assert_eq!(states, want, "97 from {from}");
    }
}

#[test]
fn compound_example_fires_on_either_sub_expression() {
    let cpu = "cpu.system_perc;hostname=hostname.domain.com";
    let disk = "disk_read_ops;device=vda;hostname=hostname.domain.com";
    let options = json!({"expression": "avg(cpu.system_perc{hostname=hostname.domain.com}) > 90 or avg(disk_read_ops{hostname=hostname.domain.com, device=vda}, 120) > 1000"});
    let mut host = TestHost::new();
    let mut r = runner(&mut host, options);
    fill(&mut host, cpu, 0, 600, 10, 50.0);
    fill(&mut host, disk, 0, 600, 10, 500.0);
    r.run(&mut host, 600).unwrap();
    assert!(verdict_states(&host).is_empty());
    fill(&mut host, disk, 600, 720, 10, 1500.0);
    fill(&mut host, cpu, 600, 720, 10, 50.0);
    host.clear_outputs();
    r.run(&mut host, 720).unwrap();
    assert_eq!(verdict_states(&host).len(), 1);
    let v = &host.verdicts()[0];
    assert_eq!(v.state, "anomalous");
    assert!(v.reason.contains("avg(disk_read_ops"), "{}", v.reason);
    assert_eq!(
        v.value("avg(disk_read_ops{hostname=hostname.domain.com,device=vda})"),
        Some(1500.0)
    );
}

/// The four metrics of the spec's match_by walk-through, two hosts of the monitoring service,
/// plus one of another service.
fn monitoring_hosts(host: &mut TestHost, until: i64, idle: [f64; 2], user: [f64; 2]) {
    for (i, h) in ["mini-mon", "devstack"].iter().enumerate() {
        fill(
            host,
            &format!("cpu.idle_perc;hostname={h};service=monitoring"),
            until - 60,
            until,
            10,
            idle[i],
        );
        fill(
            host,
            &format!("cpu.user_perc;hostname={h};service=monitoring"),
            until - 60,
            until,
            10,
            user[i],
        );
    }
    fill(
        host,
        "cpu.idle_perc;hostname=nova1;service=nova",
        until - 60,
        until,
        10,
        1.0,
    );
}

/// One tick at 1000 of a new instance with `options` over what `data` wrote: the subjects
/// counted and the verdicts' `(subject, state)`.
fn one_tick(
    options: serde_json::Value,
    data: impl FnOnce(&mut TestHost),
) -> (Option<f64>, Vec<(String, String)>) {
    let mut host = TestHost::new();
    let mut r = runner(&mut host, options);
    data(&mut host);
    r.run(&mut host, 1000).unwrap();
    (host.last_value("subjects"), verdict_states(&host))
}

#[test]
fn match_by_makes_one_alarm_per_hostname_as_documented() {
    // (options, each host's idle and user values, subjects, the one anomalous subject)
    let cases = [
        // Definition 1, no match_by: one alarm over both hosts' metrics (the average of
        // both): avg(5, 30) = 17.5 < 20; the nova host (1.0) is another service's and does
        // not count.
        (
            json!({"expression": "avg(cpu.idle_perc{service=monitoring}) < 20"}),
            [[5.0, 30.0], [0.0, 0.0]],
            1.0,
            "cpu.idle_perc{service=monitoring}",
        ),
        // Definition 2, match_by hostname: one alarm per host; only mini-mon's fires.
        (
            json!({"expression": "min(cpu.idle_perc{service=monitoring}) < 10", "match_by": ["hostname"]}),
            [[5.0, 30.0], [0.0, 0.0]],
            2.0,
            "hostname=mini-mon",
        ),
        // Two sub-expressions with match_by: metrics matched between them by hostname.
        (
            json!({"expression": "avg(cpu.idle_perc{service=monitoring}) < 10 or avg(cpu.user_perc{service=monitoring}) > 60",
                   "match_by": ["hostname"]}),
            [[50.0, 50.0], [10.0, 70.0]],
            2.0,
            "hostname=devstack",
        ),
    ];
    for (options, [idle, user], subjects, alarm) in cases {
        let got = one_tick(options, |host| monitoring_hosts(host, 1000, idle, user));
        assert_eq!(got, (Some(subjects), vec![pair(alarm, "anomalous")]));
    }
}

#[test]
fn match_by_hostname_or_hostname_and_device_as_documented() {
    let disks = |host: &mut TestHost| {
        for h in ["mini-mon", "devstack"] {
            for d in ["/dev/sda1", "tmpfs"] {
                let full = h == "devstack" && d == "tmpfs";
                let name = format!("disk.space_used_perc;device={d};hostname={h}");
                fill(host, &name, 940, 1000, 10, if full { 95.0 } else { 40.0 });
            }
        }
    };
    for (match_by, subjects, alarm) in [
        (json!(["hostname"]), 2.0, "hostname=devstack"),
        (
            json!(["hostname", "device"]),
            4.0,
            "hostname=devstack,device=tmpfs",
        ),
    ] {
        let options = json!({"expression": "max(disk.space_used_perc) > 90", "match_by": match_by});
        let got = one_tick(options, disks);
        assert_eq!(got, (Some(subjects), vec![pair(alarm, "anomalous")]));
    }
}

#[test]
fn no_data_is_undetermined_unless_deterministic() {
    let mut host = TestHost::new();
    let mut plain = runner(&mut host, json!({"expression": "count(log.error) > 0"}));
    host.add_point("log.error", 1000, 1.0);
    plain.run(&mut host, 1000).unwrap();
    assert_eq!(verdict_states(&host), vec![pair("log.error", "anomalous")]);
    // Silent for less than 2 × 60 s: the state holds (ALARM).
    host.clear_outputs();
    plain.run(&mut host, 1110).unwrap();
    assert_eq!(verdict_states(&host), vec![pair("log.error", "anomalous")]);
    // Silent for 120 s: UNDETERMINED.
    host.clear_outputs();
    plain.run(&mut host, 1120).unwrap();
    assert_eq!(verdict_states(&host), vec![pair("log.error", "unknown")]);
    assert!(host.verdicts()[0].reason.starts_with("no data for 120 s"));
    // A deterministic one is OK as soon as a period has no data: counting errors, none is OK.
    let mut host = TestHost::new();
    let mut det = runner(
        &mut host,
        json!({"expression": "count(log.error, deterministic) > 0"}),
    );
    host.add_point("log.error", 1000, 1.0);
    det.run(&mut host, 1000).unwrap();
    assert_eq!(verdict_states(&host), vec![pair("log.error", "anomalous")]);
    for tick in [1070, 5000] {
        host.clear_outputs();
        det.run(&mut host, tick).unwrap();
        assert!(verdict_states(&host).is_empty(), "tick {tick}");
    }
}

#[test]
fn held_states_survive_a_new_instance() {
    // ALARM on both periods; then the newest period has no data: the state holds, also in a
    // new instance (the state is in the plugin state, not the instance).
    let options = json!({"expression": "avg(x, 60) > 5 times 2"});
    let mut host = TestHost::new();
    let mut r = runner(&mut host, options.clone());
    fill(&mut host, "x", 880, 1000, 10, 9.0);
    r.run(&mut host, 1000).unwrap();
    assert_eq!(verdict_states(&host), vec![pair("x", "anomalous")]);
    drop(r);
    let mut again = runner(&mut host, options);
    host.clear_outputs();
    again.run(&mut host, 1060).unwrap();
    assert_eq!(verdict_states(&host), vec![pair("x", "anomalous")]);
    // A low value: OK, and the held state is gone.
    host.add_point("x", 1100, 1.0);
    host.clear_outputs();
    again.run(&mut host, 1120).unwrap();
    assert!(verdict_states(&host).is_empty());
    assert!(host.state("Threshold", "svc", "held").is_none());
}

#[test]
fn match_by_wildcards_is_one_alarm_per_graphite_series() {
    let mut host = TestHost::new();
    let mut r = runner(
        &mut host,
        json!({"expression": "avg(servers.*.cpu, 120) > 90", "match_by": true, "severity": "critical"}),
    );
    for i in 0..20 {
        let v = if i == 7 { 95.0 } else { 30.0 };
        fill(
            &mut host,
            &format!("servers.web{i:02}.cpu"),
            880,
            1000,
            10,
            v,
        );
    }
    fill(&mut host, "servers.web03.mem", 880, 1000, 10, 99.0);
    r.run(&mut host, 1000).unwrap();
    assert_eq!(host.last_value("subjects"), Some(20.0));
    assert_eq!(
        verdict_states(&host),
        vec![pair("servers.web07.cpu", "anomalous")]
    );
    assert_eq!(host.verdicts()[0].severity, "critical");
    // Two metrics matched by their wildcard: one alarm per server that has both.
    let mut host = TestHost::new();
    let mut r = runner(
        &mut host,
        json!({"expression": "avg(servers.*.cpu) > 90 and avg(servers.*.load) > 4", "match_by": true}),
    );
    for (s, cpu, load) in [("a", 95.0, 5.0), ("b", 95.0, 1.0), ("c", 10.0, 9.0)] {
        fill(&mut host, &format!("servers.{s}.cpu"), 940, 1000, 10, cpu);
        fill(&mut host, &format!("servers.{s}.load"), 940, 1000, 10, load);
    }
    fill(&mut host, "servers.d.cpu", 940, 1000, 10, 99.0);
    r.run(&mut host, 1000).unwrap();
    assert_eq!(
        host.last_value("subjects"),
        Some(3.0),
        "d has no load: no alarm"
    );
    assert_eq!(
        verdict_states(&host),
        vec![pair("servers.a.cpu", "anomalous")]
    );
    // Different numbers of wildcards cannot be matched.
    let bad = TestRunner::new::<Threshold>(
        &json!({"expression": "avg(a.*.x) > 1 and avg(b.*.*.y) > 1", "match_by": true}).to_string(),
        "svc",
        &mut host,
    );
    assert!(bad.unwrap_err().message().contains("match_by"));
}

#[test]
fn shards_split_the_alarms() {
    let mut seen = Vec::new();
    for shard in 0..3 {
        let mut host = TestHost::new();
        host.set_shard(shard, 3);
        let mut r = runner(
            &mut host,
            json!({"expression": "x.* > 5", "match_by": true}),
        );
        for i in 0..30 {
            host.add_point(&format!("x.{i}"), 1000, 9.0);
        }
        r.run(&mut host, 1000).unwrap();
        seen.extend(verdict_states(&host).into_iter().map(|(s, _)| s));
        assert!(host.last_value(&format!("subjects.shard{shard}")).is_some());
    }
    seen.sort();
    seen.dedup();
    assert_eq!(seen.len(), 30, "every alarm judged by exactly one shard");
}

#[test]
fn delay_judges_a_little_before_the_tick() {
    // A point stamped with the tick that reaches the store after the tick's read is judged at
    // the next tick when the windows end `delay` seconds earlier.
    let mut host = TestHost::new();
    let mut r = runner(
        &mut host,
        json!({"expression": "max(x, 10) > 5", "interval": 10, "delay": 5}),
    );
    host.add_points("x", [(990, 1.0), (1000, 9.0), (1010, 1.0)]);
    r.run(&mut host, 1000).unwrap();
    assert!(
        verdict_states(&host).is_empty(),
        "judged as of 995: (985, 995] holds 990 only"
    );
    r.run(&mut host, 1010).unwrap();
    assert_eq!(
        verdict_states(&host),
        vec![pair("x", "anomalous")],
        "(995, 1005] holds 1000"
    );
    assert_eq!(host.verdicts()[0].ts, 1010, "stamped with the tick");
    let bad =
        TestRunner::new::<Threshold>(r#"{"expression": "x > 1", "delay": -1}"#, "svc", &mut host);
    assert!(bad.unwrap_err().message().contains("delay"));
}

#[test]
fn a_series_without_any_point_yet_is_not_an_alarm_yet() {
    // Listed by the store but with no point up to the judged time (it begins later): no
    // alarm, rather than UNDETERMINED; once it has had points and goes silent, UNDETERMINED.
    let mut host = TestHost::new();
    let mut r = runner(
        &mut host,
        json!({"expression": "x.* > 5", "match_by": true}),
    );
    host.add_point("x.old", 800, 1.0);
    host.add_point("x.new", 2000, 1.0);
    r.run(&mut host, 1000).unwrap();
    assert_eq!(verdict_states(&host), vec![pair("x.old", "unknown")]);
    assert_eq!(host.last_value("subjects"), Some(1.0));
}
