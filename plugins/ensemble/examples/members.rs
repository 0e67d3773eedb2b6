//! Offline NAB harness for ensemble experiments: runs every member over a NAB-layout corpus
//! and writes, per data file, one CSV row per data row with every member's score:
//! `timestamp,value,novelty,artime_nab,artime,cad_nab,cad,ensemble_nab`. `*_nab` are run
//! with NAB's protocol (the file's minimum, maximum and probationary period), the others as
//! the plugins run in production (nothing known in advance); `ensemble_nab` is the shipped
//! ensemble's judgement (default options) of `novelty`, `artime_nab` and `cad_nab`.
//!   cargo run --release -p am-plugin-ensemble --example members -- DATA OUT
#![allow(clippy::unwrap_used, clippy::expect_used)]
use am_plugin_ensemble::{Judge, Options, artime, context_ose, judge_point, novelty};
use std::io::Write;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let data = std::path::Path::new(&args[1]);
    let out = std::path::Path::new(&args[2]);
    let np = am_plugin_ensemble::novelty_params();
    let defaults: Options = serde_json::from_str(r#"{"metric": "x"}"#).unwrap();
    let ens = defaults.params().unwrap();
    let art_prod = artime::Params {
        probation: 750,
        range: None,
        margin: 0.3,
        max_categories: 1024,
    };
    let cad_opts = context_ose::Setup {
        probation: 750,
        range: None,
        margin: 0.3,
        max_contexts: 50_000,
    };
    let mut cats: Vec<_> = std::fs::read_dir(data)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    cats.sort();
    for cat in cats.iter().filter(|c| c.is_dir()) {
        let mut files: Vec<_> = std::fs::read_dir(cat)
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        files.sort();
        for f in files
            .iter()
            .filter(|f| f.extension().is_some_and(|e| e == "csv"))
        {
            let text = std::fs::read_to_string(f).unwrap();
            let rows: Vec<(&str, &str)> = text
                .lines()
                .skip(1)
                .filter(|l| !l.trim().is_empty())
                .map(|l| l.split_once(',').unwrap())
                .collect();
            let vals: Vec<f64> = rows.iter().map(|r| r.1.trim().parse().unwrap()).collect();
            let lo = vals.iter().copied().fold(f64::INFINITY, f64::min);
            let hi = vals.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            let mut nov = novelty::Model::new(&np);
            let apn = artime::Params::nab(vals.len(), lo, hi);
            let mut an = artime::Artime::new(&apn);
            let mut ap = artime::Artime::new(&art_prod);
            let cpn = context_ose::Params::nab(vals.len(), lo, hi);
            let mut cn = context_ose::Cad::new(&cpn);
            let mut cp = context_ose::Series::new(&cad_opts);
            let dir = out.join(cat.file_name().unwrap());
            std::fs::create_dir_all(&dir).unwrap();
            let mut w = std::io::BufWriter::new(
                std::fs::File::create(dir.join(f.file_name().unwrap())).unwrap(),
            );
            writeln!(
                w,
                "timestamp,value,novelty,artime_nab,artime,cad_nab,cad,ensemble_nab"
            )
            .unwrap();
            let mut judge = Judge::default();
            for (n, (r, v)) in rows.iter().zip(&vals).enumerate() {
                let s_nov = nov.update(&np, *v).map_or(0.0, |o| o.score);
                let s_an = an.update(&apn, *v);
                let s_ap = ap.update(&art_prod, *v);
                let s_cn = cn.update(&cpn, *v);
                let s_cp = cp.update(&cad_opts, *v);
                let s_en = judge_point(n as u64 + 1, &[s_nov, s_an, s_cn], &ens, &mut judge);
                writeln!(
                    w,
                    "{},{},{s_nov},{s_an},{s_ap},{s_cn},{s_cp},{s_en}",
                    r.0,
                    r.1.trim()
                )
                .unwrap();
            }
            eprintln!("{}", f.display());
        }
    }
}
