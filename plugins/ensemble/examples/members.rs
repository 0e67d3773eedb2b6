//! Offline NAB harness for ensemble experiments: runs every member over a NAB-layout corpus
//! and writes, per data file, one CSV row per data row with every member's score:
//! `timestamp,value,novelty,artime_nab,artime,cad_nab,cad,ensemble_nab`. `*_nab` are run
//! with NAB's protocol (the file's minimum, maximum and probationary period), the others as
//! the plugins run in production (nothing known in advance); `ensemble_nab` is the shipped
//! ensemble's judgement (default options) of `novelty`, `artime_nab` and `cad_nab`.
//!   cargo run --release -p am-plugin-ensemble --example members -- DATA OUT
#![allow(clippy::unwrap_used, clippy::expect_used)]
use am_nab_detectors::ensemble::{self, Judge, judge_point};
use am_nab_detectors::nab::{DataFile, data_files};
use am_nab_detectors::{SeriesModel, artime, context_ose, novelty};
use std::io::Write;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let out = std::path::Path::new(&args[2]);
    let np = novelty::Params::default();
    let ens = ensemble::Params::default();
    let art_prod = artime::Params::default();
    let cad_opts = context_ose::Setup::default();
    for path in data_files(std::path::Path::new(&args[1])).unwrap() {
        let file = DataFile::read(&path).unwrap();
        let (lo, hi) = file.range();
        let rows = file.values.len();
        let mut nov = novelty::Model::new(&np);
        let apn = artime::Params::nab(rows, lo, hi);
        let mut an = artime::Artime::new(&apn);
        let mut ap = artime::Artime::new(&art_prod);
        let cpn = context_ose::Params::nab(rows, lo, hi);
        let mut cn = context_ose::Cad::new(&cpn);
        let mut cp = context_ose::Series::new(&cad_opts);
        let dir = out.join(&file.category);
        std::fs::create_dir_all(&dir).unwrap();
        let mut w = std::io::BufWriter::new(std::fs::File::create(dir.join(&file.name)).unwrap());
        writeln!(
            w,
            "timestamp,value,novelty,artime_nab,artime,cad_nab,cad,ensemble_nab"
        )
        .unwrap();
        let mut judge = Judge::default();
        for (n, ((t, raw), v)) in file.rows.iter().zip(&file.values).enumerate() {
            let s_nov = nov.update(&np, *v).map_or(0.0, |o| o.score);
            let s_an = an.update(&apn, *v);
            let s_ap = ap.update(&art_prod, *v);
            let s_cn = cn.update(&cpn, *v);
            let s_cp = cp.update(&cad_opts, *v);
            let s_en = judge_point(n as u64 + 1, &[s_nov, s_an, s_cn], &ens, &mut judge);
            let raw = raw.trim();
            writeln!(w, "{t},{raw},{s_nov},{s_an},{s_ap},{s_cn},{s_cp},{s_en}").unwrap();
        }
        eprintln!("{}", path.display());
    }
}
