//! Offline NAB harness: runs the ARTime model over a NAB-layout corpus exactly as NAB runs
//! the reference (the file's minimum, maximum and length given), or in the plugin's
//! unknown-range mode (`--production`), and writes NAB's results layout.
//!   cargo run --release -p am-plugin-artime --example artime_nab -- DATA OUT [--production]
//! With `--production`, `ARTIME_FILE_RANGE` (set) gives the file's range all the same, and
//! `ARTIME_MARGIN` and `ARTIME_PROBATION` override those parameters.
#![allow(clippy::unwrap_used, clippy::expect_used)]
use am_nab_detectors::artime::{Artime, Params};
use am_nab_detectors::nab::{DataFile, data_files, replay};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let out = std::path::Path::new(&args[2]);
    let production = args.iter().any(|a| a == "--production");
    let mut max_cats = 0;
    for path in data_files(std::path::Path::new(&args[1])).unwrap() {
        let file = DataFile::read(&path).unwrap();
        let (lo, hi) = file.range();
        let mut p = Params::nab(file.values.len(), lo, hi);
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
        let (m, scores) = replay::<Artime>(&p, &file.values);
        file.write_results(out, "artime", &scores).unwrap();
        max_cats = max_cats.max(m.art.categories());
        eprintln!("{}: {} categories", file.name, m.art.categories());
    }
    eprintln!("most categories: {max_cats}");
}
