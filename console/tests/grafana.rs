//! `config/grafana/anna-molly.json`, the Grafana dashboard: it parses, its panels are laid out
//! on Grafana's 24-column grid with unique ids, and it graphs every shipped plugin (found from
//! `plugins/*/src/lib.rs`, so a new plugin without a panel fails here) with its flag, model
//! and bounds where the plugin writes them, the alarm states and both daemons' self-metrics.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeSet;
use std::path::Path;

use serde_json::Value;

fn root() -> &'static Path {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/.."))
}

fn dashboard() -> Value {
    let path = root().join("config/grafana/anna-molly.json");
    let text = std::fs::read_to_string(&path).unwrap();
    serde_json::from_str(&text).unwrap()
}

/// Every Graphite target of every panel.
fn targets(d: &Value) -> Vec<String> {
    d["panels"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|p| p["targets"].as_array().cloned().unwrap_or_default())
        .map(|t| t["target"].as_str().unwrap().to_owned())
        .collect()
}

/// Each shipped plugin's name and the fields it writes (`ctx.emit("field", ...)`).
fn plugins() -> Vec<(String, BTreeSet<String>)> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(root().join("plugins")).unwrap() {
        let lib = entry.unwrap().path().join("src/lib.rs");
        let Ok(src) = std::fs::read_to_string(&lib) else {
            continue;
        };
        let name = src
            .split("const NAME: &'static str = \"")
            .nth(1)
            .and_then(|s| s.split('"').next())
            .unwrap_or_else(|| panic!("{} names no plugin", lib.display()))
            .to_owned();
        let fields = src
            .split("emit(\"")
            .skip(1)
            .filter_map(|s| s.split('"').next())
            .map(str::to_owned)
            .collect();
        out.push((name, fields));
    }
    assert!(out.len() >= 10, "found only {} plugins", out.len());
    out
}

#[test]
fn the_dashboard_is_laid_out_on_the_grid() {
    let d = dashboard();
    let mut ids = BTreeSet::new();
    for p in d["panels"].as_array().unwrap() {
        assert!(ids.insert(p["id"].as_u64().unwrap()), "duplicate id in {p}");
        let g = &p["gridPos"];
        let (x, w) = (g["x"].as_u64().unwrap(), g["w"].as_u64().unwrap());
        assert!(x + w <= 24 && w > 0 && g["h"].as_u64().unwrap() > 0, "{g}");
        if p["type"] != "row" {
            assert_eq!(p["datasource"]["uid"], "${datasource}", "{}", p["title"]);
            assert!(
                !p["targets"].as_array().unwrap().is_empty(),
                "{}",
                p["title"]
            );
        }
    }
    let vars: BTreeSet<&str> = d["templating"]["list"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["name"].as_str().unwrap())
        .collect();
    for t in targets(&d) {
        for var in t.split('$').skip(1) {
            let name: String = var
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            // A `$` before anything but a name is literal (a regex's end anchor).
            assert!(
                name.is_empty() || vars.contains(name.as_str()),
                "{t} uses ${name}, which is not a variable"
            );
        }
    }
}

#[test]
fn every_shipped_plugin_is_graphed_with_its_flag_model_and_bounds() {
    let d = dashboard();
    let targets = targets(&d);
    for (plugin, fields) in plugins() {
        let mine: Vec<&String> = targets
            .iter()
            .filter(|t| t.contains(&format!("$prefix.{plugin}.")))
            .collect();
        assert!(!mine.is_empty(), "no panel graphs {plugin}");
        for field in [
            "flag",
            "overall.flag",
            "model",
            "lower",
            "upper",
            "anomaly_score",
        ] {
            if fields.contains(field) {
                let leaf = field.rsplit('.').next().unwrap();
                assert!(
                    mine.iter().any(|t| t.contains(leaf)),
                    "{plugin} writes {field} but no panel graphs it: {mine:?}"
                );
            }
        }
    }
}

#[test]
fn alarm_states_and_self_metrics_are_graphed() {
    let d = dashboard();
    let targets = targets(&d);
    assert!(targets.iter().any(|t| t.contains("$prefix.*.*.alarm.*")));
    let timeline = d["panels"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["type"] == "state-timeline")
        .expect("an alarm state timeline");
    let states = &timeline["fieldConfig"]["defaults"]["mappings"][0]["options"];
    for (v, s) in [
        ("0", "OK"),
        ("1", "PENDING"),
        ("2", "ALARM"),
        ("3", "UNDETERMINED"),
    ] {
        assert_eq!(states[v]["text"], s);
    }
    for want in ["$self_prefix.collector.*.", "$self_prefix.runner.*."] {
        assert!(
            targets.iter().any(|t| t.contains(want)),
            "nothing under {want}"
        );
    }
    for metric in [
        "stored_points_total",
        "tasks_failed_total",
        "alarm_transitions_total",
    ] {
        assert!(targets.iter().any(|t| t.contains(metric)), "{metric}");
    }
}
