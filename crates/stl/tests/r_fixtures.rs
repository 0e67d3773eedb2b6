//! Agreement with R 4.2.2's `stl()` on the reference outputs in `shared/fixtures/stl`.

// Test support code: a failed unwrap is a failed test with its location.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use am_stl::{StlParams, decompose};
use std::path::{Path, PathBuf};

/// As `r_grid.rs`: the implementation follows R to rounding, so anything larger is a defect.
const TOLERANCE: f64 = 1e-9;

fn fixture_dir() -> PathBuf {
    PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../../shared/fixtures/stl"
    ))
}

/// One fixture file: the input and R's four output columns.
struct Fixture {
    value: Vec<f64>,
    seasonal: Vec<f64>,
    trend: Vec<f64>,
    remainder: Vec<f64>,
    weight: Vec<f64>,
}

fn read_csv(path: &Path) -> Fixture {
    let text = std::fs::read_to_string(path).unwrap();
    let mut lines = text.lines();
    assert_eq!(
        lines.next().unwrap().trim(),
        "index,value,seasonal,trend,remainder,weight",
        "{}",
        path.display()
    );
    let mut f = Fixture {
        value: Vec::new(),
        seasonal: Vec::new(),
        trend: Vec::new(),
        remainder: Vec::new(),
        weight: Vec::new(),
    };
    for (row, line) in lines.filter(|l| !l.trim().is_empty()).enumerate() {
        let cols: Vec<f64> = line.split(',').map(|c| c.trim().parse().unwrap()).collect();
        assert_eq!(cols.len(), 6, "{} row {row}", path.display());
        assert_eq!(cols[0] as usize, row, "{} row {row}", path.display());
        f.value.push(cols[1]);
        f.seasonal.push(cols[2]);
        f.trend.push(cols[3]);
        f.remainder.push(cols[4]);
        f.weight.push(cols[5]);
    }
    f
}

/// Largest absolute difference, and where.
fn worst(ours: &[f64], r: &[f64]) -> (f64, usize) {
    assert_eq!(ours.len(), r.len());
    ours.iter()
        .zip(r)
        .map(|(a, b)| (a - b).abs())
        .enumerate()
        .fold((0.0, 0), |acc, (i, d)| if d > acc.0 { (d, i) } else { acc })
}

#[test]
fn every_fixture_matches_r() {
    let dir = fixture_dir();
    let manifest: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("manifest.json")).unwrap()).unwrap();
    let entries = manifest.as_array().unwrap();
    assert_eq!(entries.len(), 16, "manifest should list 16 fixtures");

    let mut csvs: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|name| name.ends_with(".csv"))
        .collect();
    csvs.sort();
    let mut listed: Vec<String> = entries
        .iter()
        .map(|e| e["file"].as_str().unwrap().to_owned())
        .collect();
    listed.sort();
    assert_eq!(
        csvs, listed,
        "the folder's CSV files are exactly the manifest's"
    );

    let mut table = Vec::new();
    let mut failed = 0;
    for entry in entries {
        let file = entry["file"].as_str().unwrap();
        let period = entry["period"].as_u64().unwrap() as usize;
        let robust = entry["robust"].as_bool().unwrap();
        assert_eq!(entry["s_window"].as_str(), Some("periodic"), "{file}");
        let f = read_csv(&dir.join(file));
        let max = f.value.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        let min = f.value.iter().copied().fold(f64::INFINITY, f64::min);
        let range = max - min;

        let fit = decompose(&f.value, &StlParams::periodic(period, robust)).unwrap();
        let errors = [
            ("seasonal", worst(&fit.seasonal, &f.seasonal)),
            ("trend", worst(&fit.trend, &f.trend)),
            ("remainder", worst(&fit.remainder, &f.remainder)),
            // Weights are in [0, 1] whatever the series' scale, so no range scaling.
            ("weight", worst(&fit.weights, &f.weight)),
        ];
        let relative: Vec<(&str, f64, usize)> = errors
            .iter()
            .map(|&(name, (err, at))| {
                let scale = if name == "weight" { 1.0 } else { range };
                (name, err / scale, at)
            })
            .collect();
        let report = relative
            .iter()
            .map(|(name, err, at)| format!("{name} {err:.2e} @{at}"))
            .collect::<Vec<_>>()
            .join(", ");
        let bad = relative.iter().any(|(_, err, _)| *err > TOLERANCE);
        failed += usize::from(bad);
        let mark = if bad { "FAIL" } else { "ok" };
        table.push(format!(
            "{mark:4} {file}: worst error / range (weight: absolute): {report}"
        ));
    }
    let table = table.join("\n");
    println!("{table}");
    assert_eq!(
        failed, 0,
        "{failed} fixture(s) differ from R by more than {TOLERANCE} of the range \
         (weights: absolute):\n{table}"
    );
}
