//! The bodies each output sends.

use super::*;
use crate::notify::config::OutputConfig;

fn transition(state: AlarmState, previous: Option<AlarmState>) -> Transition {
    Transition {
        algorithm: "CPU".into(),
        plugin: "Threshold".into(),
        service: "web".into(),
        subject: "servers.web01.cpu".into(),
        state,
        previous_state: previous,
        severity: "critical".into(),
        reason: "avg 95.5 > 90".into(),
        values: vec![("avg".into(), 95.5), ("threshold".into(), 90.0)],
        ts: 1_700_000_060,
        since: 1_700_000_000,
        labels: BTreeMap::from([("team".into(), "ops".into())]),
    }
}

fn config<T: for<'de> serde::Deserialize<'de>>(json: &str) -> T {
    serde_json::from_str(json).unwrap()
}

#[test]
fn the_webhook_body_keeps_the_event_fields_and_adds_the_previous_state() {
    let t = transition(AlarmState::Alarm, Some(AlarmState::Ok));
    let v: Value = serde_json::from_slice(&webhook(&t).unwrap()).unwrap();
    for field in [
        "plugin", "service", "state", "severity", "metric", "reason", "values", "ts",
    ] {
        assert!(v.get(field).is_some(), "{field} missing from {v}");
    }
    assert_eq!(v["state"], "alarm");
    assert_eq!(v["previous_state"], "ok");
    assert_eq!(v["metric"], "servers.web01.cpu");
    assert_eq!(v["values"]["avg"], 95.5);
    assert_eq!(v["labels"]["team"], "ops");
}

#[test]
fn graphite_event_shape() {
    let mut t = transition(AlarmState::Alarm, Some(AlarmState::Ok));
    t.service = "svc 1".into();
    let g = GraphiteEvent::of(&t, &["prod".into(), "dc 1".into()]);
    assert_eq!(g.what, "Threshold svc 1 alarm: servers.web01.cpu");
    assert_eq!(
        g.tags,
        ["anna-molly", "Threshold", "svc_1", "alarm", "prod", "dc_1"]
    );
    assert_eq!(g.data, "avg 95.5 > 90 (avg=95.5, threshold=90)");
    assert_eq!(g.when, 1_700_000_060);
}

#[test]
fn hostile_names_stay_text() {
    let mut t = transition(AlarmState::Alarm, None);
    t.subject = "<script>alert(1)</script>\n@channel".into();
    let s = summary(&t);
    assert!(!s.contains('\n'), "{s}");
    let slack = slack(&t, &config(r#"{"url": "https://hooks.slack.com/x"}"#));
    let text = slack["text"].as_str().unwrap();
    assert!(text.contains("&lt;script&gt;"), "{text}");
    assert!(!text.contains('<'), "{text}");
}

#[test]
fn pagerduty_triggers_and_resolves_one_alarm() {
    let c: PagerDutyConfig = config(r#"{"routing_key": "K"}"#);
    let fire = pagerduty(&transition(AlarmState::Alarm, Some(AlarmState::Ok)), &c);
    let resolve = pagerduty(&transition(AlarmState::Ok, Some(AlarmState::Alarm)), &c);
    assert_eq!(fire["event_action"], "trigger");
    assert_eq!(resolve["event_action"], "resolve");
    assert_eq!(fire["dedup_key"], resolve["dedup_key"]);
    assert_eq!(fire["dedup_key"], "anna-molly/CPU/web/servers.web01.cpu");
    assert_eq!(fire["payload"]["severity"], "critical");
    assert_eq!(fire["payload"]["timestamp"], "2023-11-14T22:14:20Z");
}

#[test]
fn alertmanager_alerts_carry_the_labels() {
    let c: AlertmanagerConfig =
        config(r#"{"url": "http://127.0.0.1:9093", "labels": {"env": "prod"}}"#);
    let t = transition(AlarmState::Alarm, Some(AlarmState::Ok));
    let body = alertmanager(
        &[Alert {
            transition: &t,
            ends_at: t.ts + 240,
        }],
        &c,
    );
    let alert = &body[0];
    assert_eq!(alert["labels"]["alertname"], "Threshold");
    assert_eq!(alert["labels"]["algorithm"], "CPU");
    assert_eq!(alert["labels"]["metric"], "servers.web01.cpu");
    assert_eq!(alert["labels"]["severity"], "critical");
    assert_eq!(alert["labels"]["env"], "prod");
    assert_eq!(alert["labels"]["team"], "ops");
    assert_eq!(alert["startsAt"], rfc3339(t.since));
    assert_eq!(alert["endsAt"], rfc3339(t.ts + 240));
    assert_eq!(alert["annotations"]["values"], "avg=95.5, threshold=90");
}

#[test]
fn outputs_load_and_validation_names_paths() {
    let outs: Vec<OutputConfig> = serde_json::from_str(
        r#"[{"Webhook": {"url": "https://hooks.example/x", "timeout_secs": 0,
                         "headers": {"Bad Name": "v", "X-A": "a\nb"}}},
            {"GraphiteEvents": {"url": "graphite/events/", "tags": ["a b", ""]}},
            {"Alertmanager": {"url": ["http://a:9093", "http://b:9093"], "resend_interval": 0}},
            {"Webhook": {"url": "https://hooks.example/x"}},
            {"Email": {"smtp": "mail:587", "from": "not an address", "to": []}}]"#,
    )
    .unwrap();
    let issues: Vec<String> = crate::notify::config::validate_outputs(&outs)
        .iter()
        .map(ToString::to_string)
        .collect();
    let expect = [
        "event_outputs[0].Webhook.headers.Bad Name: not a valid header name",
        "event_outputs[0].Webhook.headers.X-A: a header value cannot contain",
        "event_outputs[0].Webhook.timeout_secs: must be at least 1",
        "event_outputs[1].GraphiteEvents.url: not a URL",
        "event_outputs[1].GraphiteEvents.tags[0]: a tag must be",
        "event_outputs[1].GraphiteEvents.tags[1]: a tag must be",
        "event_outputs[2].Alertmanager.resend_interval: must be at least 1",
        "event_outputs[4].Email.from: not an email address",
        "event_outputs[4].Email.to: give at least one recipient",
        "event_outputs[3]: sends to the same place as event_outputs[0]",
    ];
    assert_eq!(issues.len(), expect.len(), "{issues:#?}");
    for (got, want) in issues.iter().zip(expect) {
        assert!(got.starts_with(want), "{got} !~ {want}");
    }
    assert!(
        serde_json::from_str::<OutputConfig>(r#"{"Webhook": {"url": "x", "urll": 1}}"#).is_err()
    );
}
