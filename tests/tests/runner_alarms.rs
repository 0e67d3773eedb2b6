//! End-to-end tests of alarms: verdicts of the `Example` plugin (a metric is anomalous while its
//! last value is above the threshold), raised by data in a real redis-server, become alarms
//! whose transitions reach a real Alertmanager, webhooks (plain and HTTPS with a test CA), an
//! SMTP server with STARTTLS, and the PagerDuty and Slack bodies.
//!
//! PagerDuty and Slack cannot run here: their tests check what is sent to a local HTTP server
//! standing in for them. Everything else is the real part.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::Duration;

use am_tests::alertmanager::Alertmanager;
use am_tests::pyserver::PyServer;
use am_tests::runner::test_helpers::{
    WAIT, alarms_json, assert_counter, daemons, setup, start, wait_counter, wait_counter_within,
    write,
};
use am_tests::runner::{HttpRequest, PluginLib, Runner, RunnerSetup, WebhookServer};
use am_tests::tls::TestCa;
use am_tests::{CarbonCache, RedisServer, now_unix, wait_until};
use serde_json::{Value, json};

/// The `Example` algorithm every second, watching `test.*` with threshold 5, alarms resolving
/// as soon as the verdict turns ok.
fn example(alarm: Value) -> Value {
    json!({
        "scheduler_options": { "interval_secs": 1, "plugin_args": { "name": "Example" } },
        "worker_options": { "web": { "metrics": "test.*", "window": 600, "threshold": 5.0 } },
        "alarm": alarm
    })
}

fn runner_with(redis: &RedisServer, carbon: &CarbonCache, outputs: Value) -> RunnerSetup {
    setup(redis, carbon)
        .plugin(PluginLib::Example)
        .service("Example", example(json!({ "keep_firing_for": 0 })))
        .set("event_outputs", outputs)
}

/// Writes a hot point (9.5, above the threshold) for `test.hot` and starts a runner with
/// `outputs` (see [`runner_with`]).
fn start_hot(redis: &RedisServer, carbon: &CarbonCache, outputs: Value) -> Runner {
    hot(redis, 9.5);
    start(&runner_with(redis, carbon, outputs))
}

/// One `Webhook` output to `hook`'s `/hook`.
fn to_hook(hook: &WebhookServer) -> Value {
    json!([{ "Webhook": { "url": hook.url("/hook") } }])
}

fn hot(redis: &RedisServer, value: f64) {
    write(redis, &[("test.hot", &[(now_unix(), value)])]);
}

fn cool(redis: &RedisServer) {
    write(redis, &[("test.cool", &[(now_unix() - 5, 1.0)])]);
}

fn bodies(requests: &[HttpRequest]) -> Vec<Value> {
    requests
        .iter()
        .map(|r| serde_json::from_str(&r.body).unwrap_or_else(|e| panic!("{e}: {r:?}")))
        .collect()
}

/// The webhook bodies whose `state` is `state`.
fn with_state(hook: &WebhookServer, state: &str) -> Vec<Value> {
    bodies(&hook.requests())
        .into_iter()
        .filter(|b| b["state"] == state)
        .collect()
}

#[track_caller]
fn wait_state(hook: &WebhookServer, runner: &Runner, state: &str, n: usize) -> Vec<Value> {
    wait_until(&format!("{n} `{state}` notification(s)"), WAIT, || {
        let got = with_state(hook, state);
        Ok((got.len() >= n).then_some(got))
    })
    .unwrap_or_else(|e| panic!("{e:#}\n{:?}\n{}", hook.requests(), runner.logs()))
}

/// Proves an anomaly shows as an active alert in a real Alertmanager (`GET /api/v2/alerts`)
/// with the documented labels, its receiver is notified, and the recovery resolves it there
/// and at the receiver; the metric that stays under the threshold never alerts.
#[test]
fn an_anomaly_fires_in_alertmanager_and_its_recovery_resolves_it() {
    let (redis, carbon) = daemons();
    let receiver = WebhookServer::start().unwrap();
    let am = Alertmanager::start(&receiver.url("/am")).unwrap();
    cool(&redis);
    let runner = start_hot(
        &redis,
        &carbon,
        json!([{ "Alertmanager": { "url": am.url(), "labels": { "team": "ops" }, "resend_interval": 2 } }]),
    );
    let alert = wait_until("an active alert for test.hot", WAIT, || {
        let alerts = am.alerts()?;
        Ok(alerts
            .into_iter()
            .find(|a| a["labels"]["metric"] == "test.hot" && a["status"]["state"] == "active"))
    })
    .unwrap_or_else(|e| panic!("{e:#}\n{}\n{}", runner.logs(), am.logs()));
    let labels = &alert["labels"];
    assert_eq!(labels["alertname"], "Example", "{alert}");
    assert_eq!(labels["service"], "web", "{alert}");
    assert_eq!(labels["severity"], "warning", "{alert}");
    assert_eq!(labels["team"], "ops", "{alert}");
    assert!(
        alert["annotations"]["reason"]
            .as_str()
            .unwrap_or_default()
            .contains("above the threshold 5"),
        "{alert}"
    );
    let firing = wait_until("Alertmanager's firing notification", WAIT, || {
        Ok(bodies(&receiver.requests())
            .into_iter()
            .find(|b| b["status"] == "firing"))
    })
    .unwrap_or_else(|e| panic!("{e:#}\n{}", am.logs()));
    assert_eq!(
        firing["alerts"][0]["labels"]["metric"], "test.hot",
        "{firing}"
    );

    hot(&redis, 1.0);
    wait_until("Alertmanager's resolved notification", WAIT, || {
        Ok(bodies(&receiver.requests())
            .into_iter()
            .find(|b| b["status"] == "resolved"))
    })
    .unwrap_or_else(|e| panic!("{e:#}\n{}\n{}", runner.logs(), am.logs()));
    let active: Vec<Value> = am
        .alerts()
        .unwrap()
        .into_iter()
        .filter(|a| a["status"]["state"] == "active")
        .collect();
    assert!(active.is_empty(), "{active:?}");
    assert!(
        bodies(&receiver.requests())
            .iter()
            .all(|b| !b.to_string().contains("test.cool")),
        "test.cool never crossed: {:?}",
        receiver.requests()
    );
}

/// Proves a subject judged anomalous on 50 consecutive ticks yields exactly one firing
/// notification (and its state series is 2 on those ticks); the webhook body keeps the event
/// fields with `state` the new state and `previous_state` beside it.
#[test]
fn fifty_anomalous_ticks_send_one_firing_notification() {
    let (redis, carbon) = daemons();
    let hook = WebhookServer::start().unwrap();
    let mut runner = start_hot(&redis, &carbon, to_hook(&hook));
    wait_counter_within(
        &mut runner,
        "tasks_ok_total",
        Duration::from_secs(90),
        |v| v >= 50.0,
    );
    let firing = with_state(&hook, "alarm");
    assert_eq!(firing.len(), 1, "{:?}", hook.requests());
    let b = &firing[0];
    for field in [
        "plugin", "service", "severity", "metric", "reason", "values", "ts",
    ] {
        assert!(b.get(field).is_some(), "{field} missing: {b}");
    }
    // Its first verdict was already anomalous: no previous state.
    assert_eq!(b["previous_state"], Value::Null, "{b}");
    assert_eq!(b["metric"], "test.hot", "{b}");
    assert_eq!(b["values"]["last"], 9.5, "{b}");
    assert_counter(&runner, "notifications_sent_total", 1.0);
    let series = am_tests::runner::series::wait_whisper(
        &carbon,
        "AnnaMolly.Example.web.alarm.test.hot",
        "10 state points",
        WAIT,
        |p| p.len() >= 10,
    )
    .unwrap();
    assert!(series.iter().all(|&(_, v)| v == 2.0), "{series:?}");
    let listed = alarms_json(&runner);
    assert_eq!(listed["alarms"][0]["state"], "alarm", "{listed}");
    assert_eq!(listed["alarms"][0]["metric"], "test.hot", "{listed}");
    assert_eq!(listed["transitions"][0]["state"], "alarm", "{listed}");
}

/// Proves a runner restarted in the middle of an ALARM sends nothing new (the state is in
/// Redis), and the recovery after the restart is notified once.
#[test]
fn a_runner_restart_mid_alarm_sends_no_second_firing() {
    let (redis, carbon) = daemons();
    let hook = WebhookServer::start().unwrap();
    let mut runner = start_hot(&redis, &carbon, to_hook(&hook));
    wait_state(&hook, &runner, "alarm", 1);
    runner.terminate(Duration::from_secs(20)).unwrap();
    runner.start_again().unwrap();
    wait_counter(&mut runner, "tasks_ok_total", |v| v >= 5.0);
    assert_eq!(with_state(&hook, "alarm").len(), 1, "{:?}", hook.requests());
    hot(&redis, 1.0);
    let ok = wait_state(&hook, &runner, "ok", 1);
    assert_eq!(ok[0]["previous_state"], "alarm");
    std::thread::sleep(Duration::from_secs(3));
    assert_eq!(with_state(&hook, "ok").len(), 1, "{:?}", hook.requests());
    assert_eq!(with_state(&hook, "alarm").len(), 1, "{:?}", hook.requests());
}

/// Proves two runners sharing Redis (`--role all` twice, one output config) send one
/// notification per transition.
#[test]
fn two_runners_send_one_notification_per_transition() {
    let (redis, carbon) = daemons();
    let hook = WebhookServer::start().unwrap();
    hot(&redis, 9.5);
    let config = runner_with(&redis, &carbon, to_hook(&hook))
        .set("queue", json!({ "processes": 1 }))
        .arg("--role")
        .arg("all");
    let mut a = start(&config);
    let mut b = start(&config);
    wait_state(&hook, &a, "alarm", 1);
    for r in [&mut a, &mut b] {
        r.wait_counter("ticks_total", WAIT, |v| v >= 3.0).unwrap();
    }
    hot(&redis, 1.0);
    wait_state(&hook, &a, "ok", 1);
    std::thread::sleep(Duration::from_secs(3));
    assert_eq!(
        with_state(&hook, "alarm").len(),
        1,
        "{:?}\n{}",
        hook.requests(),
        b.logs()
    );
    assert_eq!(
        with_state(&hook, "ok").len(),
        1,
        "{:?}\n{}",
        hook.requests(),
        b.logs()
    );
}

/// Proves Alertmanager down for 30 s loses no transition: the alarm that fired while it was
/// down reaches it once it is back (retries with backoff from the transitions stream).
#[test]
fn alertmanager_down_for_thirty_seconds_loses_no_transition() {
    let (redis, carbon) = daemons();
    let receiver = WebhookServer::start().unwrap();
    let mut am = Alertmanager::start(&receiver.url("/am")).unwrap();
    cool(&redis);
    let mut runner = start(&runner_with(
        &redis,
        &carbon,
        json!([{ "Alertmanager": { "url": am.url(), "resend_interval": 3600 } }]),
    ));
    runner
        .wait_counter("tasks_ok_total", WAIT, |v| v >= 2.0)
        .unwrap();
    am.stop().unwrap();
    hot(&redis, 9.5);
    wait_counter(&mut runner, "notifications_retried_total", |v| v >= 1.0);
    std::thread::sleep(Duration::from_secs(30));
    am.start_again().unwrap();
    wait_until(
        "the alert, after Alertmanager came back",
        Duration::from_secs(90),
        || {
            Ok(am
                .alerts()?
                .into_iter()
                .find(|a| a["labels"]["metric"] == "test.hot"))
        },
    )
    .unwrap_or_else(|e| panic!("{e:#}\n{}", runner.logs()));
    assert_counter(&runner, "notifications_failed_total", 0.0);
    assert_counter(&runner, "notifications_sent_total", 1.0);
}

/// Proves an `https` webhook with a test CA (`ca_file`) is delivered, and the same endpoint
/// without it is refused with a clear error about the certificate, given up at once (not
/// retried).
#[test]
fn https_webhooks_trust_their_ca_file_and_refuse_an_unknown_ca() {
    let (redis, carbon) = daemons();
    let ca = TestCa::new().unwrap();
    let hook = PyServer::https_hook(&ca).unwrap();
    let mut runner = start_hot(
        &redis,
        &carbon,
        json!([
            { "Webhook": { "url": hook.url("/trusted"), "ca_file": ca.ca_pem() } },
            { "Webhook": { "url": hook.url("/untrusted") } }
        ]),
    );
    wait_counter(&mut runner, "notifications_failed_total", |v| v >= 1.0);
    let delivered = wait_until("the trusted delivery", WAIT, || {
        Ok(hook
            .requests()
            .into_iter()
            .find(|r| r["path"] == "/trusted"))
    })
    .unwrap_or_else(|e| panic!("{e:#}\n{}\n{}", runner.logs(), hook.logs()));
    let body: Value = serde_json::from_str(delivered["body"].as_str().unwrap()).unwrap();
    assert_eq!(body["state"], "alarm");
    assert!(hook.requests().iter().all(|r| r["path"] != "/untrusted"));
    assert_counter(&runner, "notifications_retried_total", 0.0);
    let log = runner.log();
    let line = log
        .lines()
        .find(|l| l.contains("notification given up"))
        .unwrap_or_else(|| panic!("no refusal logged:\n{log}"));
    assert!(line.to_lowercase().contains("certificate"), "{line}");
}

/// Proves the `Email` output sends a message per transition over SMTP with STARTTLS (aiosmtpd,
/// trusting the test CA), to every recipient.
#[test]
fn email_goes_over_smtp_with_starttls() {
    let (redis, carbon) = daemons();
    let ca = TestCa::new().unwrap();
    let smtp = PyServer::smtp(&ca).unwrap();
    let runner = start_hot(
        &redis,
        &carbon,
        json!([{ "Email": {
            "smtp": format!("localhost:{}", smtp.port()), "ca_file": ca.ca_pem(),
            "from": "anna-molly@example.com", "to": ["ops@example.com", "oncall@example.com"]
        } }]),
    );
    let mail = wait_until("a mail", WAIT, || Ok(smtp.mails().into_iter().next()))
        .unwrap_or_else(|e| panic!("{e:#}\n{}\n{}", runner.logs(), smtp.logs()));
    assert!(mail.contains("X-Was-TLS: yes"), "{mail}");
    assert!(
        mail.contains("ops@example.com,oncall@example.com"),
        "{mail}"
    );
    assert!(
        mail.contains("Subject: [anna-molly] ALARM Example/web test.hot"),
        "{mail}"
    );
}

/// Proves the PagerDuty body (trigger, then resolve, one `dedup_key`) and the Slack body
/// (escaped names). PagerDuty and Slack cannot run here: a local HTTP server stands in for
/// both.
#[test]
fn pagerduty_and_slack_get_their_bodies() {
    let (redis, carbon) = daemons();
    let fake = WebhookServer::start().unwrap();
    write(&redis, &[("test.<b>hot</b>", &[(now_unix(), 9.5)])]);
    let runner = start(&runner_with(
        &redis,
        &carbon,
        json!([
            { "PagerDuty": { "routing_key": "K3Y", "url": fake.url("/pd") } },
            { "Slack": { "url": fake.url("/slack"), "channel": "#alerts" } }
        ]),
    ));
    let requests = fake
        .wait_requests(2, WAIT)
        .unwrap_or_else(|e| panic!("{e:#}\n{}", runner.logs()));
    let pd = requests.iter().find(|r| r.path == "/pd").unwrap();
    let pd: Value = serde_json::from_str(&pd.body).unwrap();
    assert_eq!(pd["event_action"], "trigger");
    assert_eq!(pd["routing_key"], "K3Y");
    assert_eq!(pd["dedup_key"], "anna-molly/Example/web/test.<b>hot</b>");
    let slack = requests.iter().find(|r| r.path == "/slack").unwrap();
    let slack: Value = serde_json::from_str(&slack.body).unwrap();
    let text = slack["text"].as_str().unwrap();
    assert!(text.contains("test.&lt;b&gt;hot&lt;/b&gt;"), "{text}");
    assert_eq!(slack["channel"], "#alerts");
    write(&redis, &[("test.<b>hot</b>", &[(now_unix(), 1.0)])]);
    let resolved = wait_until("the resolve", WAIT, || {
        Ok(fake
            .requests()
            .into_iter()
            .filter(|r| r.path == "/pd")
            .map(|r| serde_json::from_str::<Value>(&r.body).unwrap())
            .find(|b| b["event_action"] == "resolve"))
    })
    .unwrap();
    assert_eq!(resolved["dedup_key"], pd["dedup_key"]);
}
