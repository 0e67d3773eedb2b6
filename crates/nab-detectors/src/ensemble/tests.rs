use super::*;

/// A fresh judgement with a second opinion needed within 10 points and 50 quiet points after
/// an alert; lone detections scored or not.
fn judging(lone: bool) -> (Params, Judge) {
    let p = Params {
        confirm: 10,
        quiet: 50,
        lone,
        ..Params::default()
    };
    (p, Judge::default())
}

#[test]
fn one_member_alone_does_not_alert_two_within_confirm_do() {
    let (p, mut j) = judging(false);
    // Novelty alone at point 100: no alert.
    assert_eq!(judge_point(100, &[0.3, 0.0, 0.0], &p, &mut j), 0.0);
    // ARTime 5 points later confirms it: an alert, ARTime's 0.67 scaled to 0.5 + 0.5·0.33/0.66.
    let s = judge_point(105, &[0.0, 0.67, 0.0], &p, &mut j);
    assert!((s - 0.75).abs() < 1e-9, "{s}");
    // Two members at once, but within the quiet period: nothing.
    assert_eq!(judge_point(140, &[0.3, 0.5, 0.0], &p, &mut j), 0.0);
    // After it: an alert.
    assert!(judge_point(200, &[0.3, 0.0, 0.9], &p, &mut j) >= 0.5);
    // A lone detection 30 points after the others (beyond `confirm`): nothing.
    assert_eq!(judge_point(300, &[0.0, 0.0, 0.8], &p, &mut j), 0.0);
}

#[test]
fn a_lone_detection_scores_below_every_alert_and_never_holds_one_back() {
    let (p, mut j) = judging(true);
    // Novelty alone: a lone detection, its scaled 0.5 + 0.5·0.05/0.75 mapped into [0.25, 0.5).
    let s = judge_point(100, &[0.3, 0.0, 0.0], &p, &mut j);
    assert!((0.25..0.5).contains(&s), "{s}");
    // Another lone one within the quiet period of the first: nothing.
    assert_eq!(judge_point(120, &[0.0, 0.0, 0.0], &p, &mut j), 0.0);
    assert_eq!(judge_point(130, &[0.0, 0.0, 0.99], &p, &mut j), 0.0);
    // A confirmed detection right after lone ones is an alert all the same.
    assert!(judge_point(135, &[0.0, 0.9, 0.0], &p, &mut j) >= 0.5);
    // Within the alert's quiet period, no lone detection either.
    assert_eq!(judge_point(170, &[0.0, 0.0, 0.0], &p, &mut j), 0.0);
    assert_eq!(judge_point(180, &[0.0, 0.0, 0.99], &p, &mut j), 0.0);
    // After it, a sure lone one stays below 0.5.
    let s = judge_point(300, &[0.0, 0.0, 1.0], &p, &mut j);
    assert!((0.49..0.5).contains(&s), "{s}");
}
