//! Offline NAB harness: runs the CAD OSE model over a NAB-layout corpus exactly as NAB runs
//! the reference (the file's minimum, maximum and length given), and writes NAB's results
//! layout.
//!   cargo run --release -p am-plugin-context-ose --example context_ose_nab -- DATA OUT
#![allow(clippy::unwrap_used, clippy::expect_used)]
use am_nab_detectors::context_ose::{Cad, Params};
use am_nab_detectors::nab::{DataFile, data_files, replay};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let out = std::path::Path::new(&args[2]);
    let mut max_contexts = 0;
    for path in data_files(std::path::Path::new(&args[1])).unwrap() {
        let file = DataFile::read(&path).unwrap();
        let (lo, hi) = file.range();
        let p = Params::nab(file.values.len(), lo, hi);
        let (m, scores) = replay::<Cad>(&p, &file.values);
        file.write_results(out, "contextose", &scores).unwrap();
        max_contexts = max_contexts.max(m.contexts());
        eprintln!("{}: {} contexts", file.name, m.contexts());
    }
    eprintln!("most contexts: {max_contexts}");
}
