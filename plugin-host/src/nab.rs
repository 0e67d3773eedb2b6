//! Replaying a plugin over a NAB-layout corpus (`DATA/<category>/<file>.csv`) and writing the
//! results NAB's scorer reads (`OUT/<detector>/<category>/<detector>_<file>.csv`, one row per
//! data row, same order: `timestamp,value,anomaly_score,label`).

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use crate::loader::LoadedPlugin;
use crate::replay::{Inputs, ReplayError, read_rows, replay};

/// Which output field is the anomaly score.
#[derive(Debug, Clone)]
pub struct ScoreField {
    /// The field; `anomaly_score` by default.
    pub name: String,
}

impl ScoreField {
    /// The score of one tick: the field's value clamped to [0, 1] (a flag of −1 counts as 1);
    /// 0 when the field was not emitted or is not a number. A tick that emitted *only* a flag
    /// is anna-molly's "no judgement" report (stale or too little data), not a detection.
    fn score(&self, fields: &BTreeMap<String, f64>) -> f64 {
        if fields.len() == 1 && (fields.contains_key("flag") || fields.contains_key("overall.flag"))
        {
            return 0.0;
        }
        let v = fields
            .get(&self.name)
            .or_else(|| {
                (self.name == "anomaly_score")
                    .then(|| fields.get("flag"))
                    .flatten()
            })
            .copied()
            .unwrap_or(0.0);
        if v.is_finite() {
            v.abs().clamp(0.0, 1.0)
        } else {
            0.0
        }
    }
}

/// Every `<category>/<file>.csv` under `data`, sorted.
pub fn corpus(data: &Path) -> std::io::Result<Vec<(String, PathBuf)>> {
    let mut out = Vec::new();
    for cat in std::fs::read_dir(data)? {
        let cat = cat?.path();
        if !cat.is_dir() {
            continue;
        }
        let Some(cat_name) = cat.file_name().map(|n| n.to_string_lossy().into_owned()) else {
            continue;
        };
        for f in std::fs::read_dir(&cat)? {
            let f = f?.path();
            if f.extension().is_some_and(|e| e == "csv") && f.is_file() {
                out.push((cat_name.clone(), f));
            }
        }
    }
    out.sort();
    Ok(out)
}

/// `options` (a JSON object) with NAB's per-file facts merged in: `input_min`, `input_max`
/// (the file's value range) and `probation` (NAB's probationary period: 15 % of the rows,
/// at most 750).
pub fn with_nab_protocol(options: &str, values: &[f64]) -> Result<String, String> {
    let mut v: serde_json::Value =
        serde_json::from_str(options).map_err(|e| format!("options are not JSON: {e}"))?;
    let Some(obj) = v.as_object_mut() else {
        return Err("options must be a JSON object".into());
    };
    let lo = values.iter().copied().fold(f64::INFINITY, f64::min);
    let hi = values.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let probation = ((0.15 * values.len() as f64).floor()).min(750.0) as u64;
    obj.insert("input_min".into(), lo.into());
    obj.insert("input_max".into(), hi.into());
    obj.insert("probation".into(), probation.into());
    Ok(v.to_string())
}

/// Replays `plugin` over one data file and writes its results file; with `nab_protocol`,
/// the options get the file's facts ([`with_nab_protocol`]).
pub fn run_file(
    plugin: &LoadedPlugin,
    options: &str,
    score: &ScoreField,
    data_file: &Path,
    out_file: &Path,
    nab_protocol: bool,
) -> Result<usize, ReplayError> {
    let rows = read_rows(data_file)?;
    let merged;
    let options = if nab_protocol {
        let values: Vec<f64> = rows.iter().map(|r| r.value).collect();
        merged = with_nab_protocol(options, &values).map_err(|message| ReplayError::Input {
            file: data_file.display().to_string(),
            line: 0,
            message,
        })?;
        merged.as_str()
    } else {
        options
    };
    let mut points: Vec<(i64, f64)> = rows.iter().map(|r| (r.ts, r.value)).collect();
    points.sort_by_key(|(t, _)| *t);
    let mut scores: BTreeMap<i64, f64> = BTreeMap::new();
    let service = data_file
        .file_stem()
        .map_or_else(|| "nab".to_string(), |s| s.to_string_lossy().into_owned());
    replay(plugin, options, &service, &Inputs::Any(points), |t| {
        scores.insert(t.tick, score.score(&t.fields));
    })?;
    let io = |e: std::io::Error| ReplayError::Input {
        file: out_file.display().to_string(),
        line: 0,
        message: format!("cannot write: {e}"),
    };
    if let Some(dir) = out_file.parent() {
        std::fs::create_dir_all(dir).map_err(io)?;
    }
    let mut w = std::io::BufWriter::new(std::fs::File::create(out_file).map_err(io)?);
    writeln!(w, "timestamp,value,anomaly_score,label").map_err(io)?;
    for r in &rows {
        let s = scores.get(&r.ts).copied().unwrap_or(0.0);
        writeln!(w, "{},{},{s},0", r.raw_ts, r.raw_value).map_err(io)?;
    }
    w.flush().map_err(io)?;
    Ok(rows.len())
}
