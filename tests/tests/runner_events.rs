//! End-to-end test of `am-runner`'s webhook output: a plugin's verdict, raised by data in a
//! real redis-server, becomes an alarm whose transitions are POSTed as JSON to a webhook (a
//! small HTTP server in the test).
//!
//! The test starts its own daemons on free ports and stops them by PID through the guards;
//! every wait is bounded.

// Helpers of a test crate are test code too (clippy.toml allows these in #[test] functions
// only): a failing unwrap or panic is a failing test with its message.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use am_tests::now_unix;
use am_tests::runner::test_helpers::{
    WAIT, assert_counter, daemons, example_every_second, setup, start, wait_counter, wait_points,
    write,
};
use am_tests::runner::{HttpRequest, PluginLib, WebhookServer};
use serde_json::{Value, json};

fn body(request: &HttpRequest) -> Value {
    assert_eq!(request.method, "POST", "{request:?}");
    assert_eq!(request.path, "/hook", "{request:?}");
    let content_type = request.header("content-type").unwrap_or_default();
    assert!(content_type.starts_with("application/json"), "{request:?}");
    serde_json::from_str(&request.body).unwrap_or_else(|e| panic!("{e}: {request:?}"))
}

/// Proves that when a series' last value crosses the threshold, the Example plugin's
/// `anomalous` verdict reaches the webhook as one `alarm` transition in the documented JSON
/// (anna-molly's fields plugin, service, state, severity, metric, reason, values, the tick
/// time; beside them the algorithm, the previous state and since when) exactly once while the
/// value stays high; a new point back under the threshold sends one `ok` transition (after
/// `keep_firing_for`); `alarm_transitions_total` and `notifications_sent_total` count them,
/// nothing fails or is dropped.
#[test]
fn a_threshold_crossing_reaches_the_webhook_once() {
    let (redis, carbon) = daemons();
    let hook = WebhookServer::start().unwrap();
    let now = now_unix();
    write(
        &redis,
        &[
            ("test.cool", &[(now - 60, 1.0), (now - 20, 2.0)]),
            ("test.hot", &[(now - 60, 1.0), (now - 20, 9.5)]),
        ],
    );
    let mut runner = start(
        &setup(&redis, &carbon)
            .plugin(PluginLib::Example)
            .service("Example", example_every_second("web", "test.*", 5.0))
            .set(
                "event_outputs",
                json!([{ "Webhook": { "url": hook.url("/hook") } }]),
            ),
    );
    let requests = hook
        .wait_requests(1, WAIT)
        .unwrap_or_else(|e| panic!("{e:#}\n{}", runner.logs()));
    let first_tick = wait_points(&carbon, &runner, "AnnaMolly.Example.web.runs", 1)[0].0;
    assert_eq!(
        body(&requests[0]),
        json!({
            "algorithm": "Example",
            "plugin": "Example",
            "service": "web",
            "state": "alarm",
            "previous_state": null,
            "since": first_tick,
            "severity": "warning",
            "metric": "test.hot",
            "reason": "last value 9.5 is above the threshold 5",
            "values": { "last": 9.5, "threshold": 5.0 },
            "ts": first_tick
        })
    );
    wait_counter(&mut runner, "notifications_sent_total", |v| v == 1.0);
    assert_counter(&runner, "alarm_transitions_total", 1.0);

    // Still high for three more ticks: no second notification.
    let runs = wait_points(&carbon, &runner, "AnnaMolly.Example.web.runs", 4);
    assert_eq!(runs[3].1, 4.0, "{runs:?}");
    assert_counter(&runner, "alarm_transitions_total", 1.0);
    assert_eq!(hook.requests().len(), 1, "{:?}", hook.requests());

    // Back under the threshold: one `ok` transition.
    write(&redis, &[("test.hot", &[(now_unix(), 3.0)])]);
    let requests = hook
        .wait_requests(2, WAIT)
        .unwrap_or_else(|e| panic!("{e:#}\n{}", runner.logs()));
    let ok = body(&requests[1]);
    assert_eq!(
        (&ok["state"], &ok["previous_state"], &ok["metric"]),
        (&json!("ok"), &json!("alarm"), &json!("test.hot")),
        "{ok}"
    );
    assert_eq!(
        ok["values"],
        json!({ "last": 3.0, "threshold": 5.0 }),
        "{ok}"
    );
    wait_counter(&mut runner, "notifications_sent_total", |v| v == 2.0);
    assert_counter(&runner, "alarm_transitions_total", 2.0);
    for name in [
        "notifications_failed_total",
        "notifications_dropped_total",
        "notifications_retried_total",
    ] {
        assert_counter(&runner, name, 0.0);
    }
    assert!(
        runner.log().contains(r#"from="none" to="alarm""#),
        "{}",
        runner.logs()
    );
}
