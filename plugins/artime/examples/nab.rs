//! Offline NAB harness: runs the ARTime model over a NAB-layout corpus exactly as NAB runs
//! the reference (the file's minimum, maximum and length given), or in the plugin's
//! unknown-range mode (`--production`), and writes NAB's results layout.
//!   cargo run --release -p am-plugin-artime --example nab -- DATA OUT [--production]
#![allow(clippy::unwrap_used, clippy::expect_used)]
use am_plugin_artime::model::{Artime, Params};
use std::io::Write;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let data = std::path::Path::new(&args[1]);
    let out = std::path::Path::new(&args[2]);
    let production = args.iter().any(|a| a == "--production");
    let mut cats: Vec<_> = std::fs::read_dir(data)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    cats.sort();
    let mut max_cats = 0;
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
            let mut p = Params::nab(vals.len(), lo, hi);
            if production {
                p = Params {
                    probation: 750,
                    range: None,
                    margin: 0.3,
                    ..p
                };
                if std::env::var("ARTIME_FILE_RANGE").is_ok() {
                    p.range = Some((lo, hi));
                }
                if let Ok(v) = std::env::var("ARTIME_MARGIN") {
                    p.margin = v.parse().unwrap();
                }
                if let Ok(v) = std::env::var("ARTIME_PROBATION") {
                    p.probation = v.parse().unwrap();
                }
            }
            let mut m = Artime::new(&p);
            let name = f.file_name().unwrap().to_string_lossy();
            let dir = out.join("artime").join(cat.file_name().unwrap());
            std::fs::create_dir_all(&dir).unwrap();
            let mut w = std::io::BufWriter::new(
                std::fs::File::create(dir.join(format!("artime_{name}"))).unwrap(),
            );
            writeln!(w, "timestamp,value,anomaly_score,label").unwrap();
            for (r, v) in rows.iter().zip(&vals) {
                let s = m.update(&p, *v);
                writeln!(w, "{},{},{},0", r.0, r.1, s).unwrap();
            }
            max_cats = max_cats.max(m.art.categories());
            eprintln!("{name}: {} categories", m.art.categories());
        }
    }
    eprintln!("most categories: {max_cats}");
}
