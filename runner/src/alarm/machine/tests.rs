//! The state machine, verdict by verdict.

use super::*;
use crate::alarm::Transition;

fn policy(for_secs: u64, keep: u64, undetermined: u64) -> Policy {
    Policy {
        for_secs,
        keep_firing_secs: keep,
        undetermined_secs: undetermined,
        severity: None,
        labels: Default::default(),
    }
}

fn verdict(state: State, ts: i64) -> Input {
    Input::Judged {
        state,
        ts,
        shard: (0, 1),
        detail: Detail {
            severity: "warning".into(),
            reason: format!("{state} at {ts}"),
            values: vec![("v".into(), 1.0)],
        },
    }
}

/// Feeds `inputs` (state or `None` for an unjudged run) at ts 0, 10, 20, ...; returns every
/// change with its time.
fn run(p: &Policy, inputs: &[Option<State>]) -> Vec<(i64, Option<AlarmState>, AlarmState)> {
    let mut rec: Option<Record> = None;
    let mut changes = Vec::new();
    for (i, input) in inputs.iter().enumerate() {
        let ts = i64::try_from(i).unwrap() * 10;
        let input = match input {
            Some(s) => verdict(*s, ts),
            None => Input::Unjudged { ts },
        };
        let step = step(rec.as_ref(), &input, p);
        if let Some((from, to)) = step.change {
            changes.push((ts, from, to));
        }
        if let Some(r) = step.record {
            rec = Some(r);
        }
    }
    changes
}

use AlarmState::{Alarm, Ok as AOk, Pending, Undetermined};
const A: Option<State> = Some(State::Anomalous);
const O: Option<State> = Some(State::Ok);
const U: Option<State> = Some(State::Unknown);
const N: Option<State> = None;

#[test]
fn a_first_ok_verdict_changes_nothing_and_the_first_anomalous_one_fires() {
    assert_eq!(run(&policy(0, 0, 0), &[O, O, O]), []);
    assert_eq!(run(&policy(0, 0, 0), &[O, A]), [(10, Some(AOk), Alarm)]);
    assert_eq!(run(&policy(0, 0, 0), &[A]), [(0, None, Alarm)]);
}

#[test]
fn fifty_anomalous_ticks_fire_once_and_recovery_resolves() {
    let mut inputs = vec![A; 50];
    inputs.push(O);
    assert_eq!(
        run(&policy(0, 0, 0), &inputs),
        [(0, None, Alarm), (500, Some(Alarm), AOk)]
    );
}

#[test]
fn for_holds_the_alarm_pending_and_a_short_blip_never_fires() {
    // for 20 s at 10 s ticks: anomalous at 0 (pending), 10, 20 → fires at 20.
    assert_eq!(
        run(&policy(20, 0, 0), &[A, A, A, A]),
        [(0, None, Pending), (20, Some(Pending), Alarm)]
    );
    let changes = run(&policy(20, 0, 0), &[O, A, O, A, O]);
    assert_eq!(
        changes,
        [
            (10, Some(AOk), Pending),
            (20, Some(Pending), AOk),
            (30, Some(AOk), Pending),
            (40, Some(Pending), AOk)
        ]
    );
    let t = Transition {
        algorithm: "a".into(),
        plugin: "p".into(),
        service: "s".into(),
        subject: "m".into(),
        state: AOk,
        previous_state: Some(Pending),
        severity: "warning".into(),
        reason: String::new(),
        values: Vec::new(),
        ts: 0,
        since: 0,
        labels: Default::default(),
    };
    assert!(!t.notifies(), "a pending alarm that clears tells nobody");
}

#[test]
fn keep_firing_for_absorbs_flapping() {
    // keep 20 s: ok at 10 and 20 does not resolve (anomalous again at 30), ok from 40 resolves
    // at 60.
    let changes = run(&policy(0, 20, 0), &[A, O, O, A, O, O, O, O]);
    assert_eq!(changes, [(0, None, Alarm), (60, Some(Alarm), AOk)]);
}

#[test]
fn an_alarm_kept_firing_keeps_the_reason_that_fired_it() {
    let p = policy(0, 20, 0);
    let fired = step(None, &verdict(State::Anomalous, 0), &p)
        .record
        .unwrap();
    let kept = step(Some(&fired), &verdict(State::Ok, 10), &p)
        .record
        .unwrap();
    assert_eq!(kept.state, Alarm);
    assert_eq!(kept.ok_since, Some(10));
    assert_eq!(kept.detail.unwrap().reason, "anomalous at 0");
    // Anomalous again: the newer anomalous reason replaces it.
    let again = step(Some(&fired), &verdict(State::Anomalous, 20), &p)
        .record
        .unwrap();
    assert_eq!(again.detail.unwrap().reason, "anomalous at 20");
}

#[test]
fn unknown_verdicts_and_silence_make_it_undetermined() {
    assert_eq!(
        run(&policy(0, 0, 0), &[O, U, U, O]),
        [(10, Some(AOk), Undetermined), (30, Some(Undetermined), AOk)]
    );
    assert_eq!(run(&policy(0, 0, 0), &[U]), [(0, None, Undetermined)]);
    // Firing, then not judged: undetermined after 30 s, not before.
    assert_eq!(
        run(&policy(0, 0, 30), &[A, N, N, N, N]),
        [(0, None, Alarm), (30, Some(Alarm), Undetermined)]
    );
    // OK alarms do not time out; 0 turns the clock off.
    assert_eq!(run(&policy(0, 0, 30), &[O, N, N, N, N]), []);
    assert_eq!(run(&policy(0, 0, 0), &[A, N, N, N]), [(0, None, Alarm)]);
}

#[test]
fn the_policy_severity_wins_and_ok_alarms_keep_no_detail() {
    let mut p = policy(0, 0, 0);
    p.severity = Some("critical".into());
    let s = step(None, &verdict(State::Anomalous, 5), &p);
    let rec = s.record.unwrap();
    assert_eq!(rec.detail.as_ref().unwrap().severity, "critical");
    assert_eq!((rec.fired, rec.judged), (Some(5), Some(5)));
    let s = step(Some(&rec), &verdict(State::Ok, 6), &p);
    let ok = s.record.unwrap();
    assert_eq!(
        (ok.state, ok.detail.is_none(), ok.judged),
        (AOk, true, None)
    );
    // Stored compactly.
    let json = serde_json::to_string(&ok).unwrap();
    assert!(json.len() < 60, "{json}");
    // OK judged OK again stores nothing.
    assert_eq!(step(Some(&ok), &verdict(State::Ok, 7), &p).record, None);
}
