//! Agreement with R's `stl()` over a grid of series, periods, lengths and settings, with R run
//! by the test: `tests/r_grid.R` decomposes every case into a temp dir, and each component of
//! every point must be within 1e-9 of the series' range of R's.
//!
//! R (Debian's `r-base-core`) is installed by `scripts/ensure-deps r`, which `make test` runs.
//! Without it this test fails, saying so: a skipped comparison would pass for a match.

// Test support code: a failed unwrap is a failed test with its location.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use am_stl::{StlParams, decompose};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Largest difference from R allowed, relative to the series' range (weights: absolute).
const TOLERANCE: f64 = 1e-9;
/// R needs ~7 s for the grid on the development machine; a hung R fails the test instead of
/// hanging it (before nextest's 3-minute limit).
const R_DEADLINE: Duration = Duration::from_secs(120);

/// One case of `cases.tsv`: R's arguments (-1: R's default) and where its numbers start.
struct Case {
    period: usize,
    n: usize,
    /// 0 for "periodic".
    s_window: usize,
    s_degree: usize,
    robust: bool,
    t_window: i64,
    t_degree: i64,
    l_window: i64,
    l_degree: i64,
    s_jump: i64,
    t_jump: i64,
    l_jump: i64,
    inner: i64,
    outer: i64,
    offset: usize,
}

/// A setter of [`StlParams`].
type Setter = fn(StlParams, usize) -> StlParams;

impl Case {
    /// R's optional arguments: name, value (-1: R's default) and the setter that passes it.
    fn optional(&self) -> [(&'static str, i64, Setter); 9] {
        [
            ("t.window", self.t_window, StlParams::with_t_window),
            ("t.degree", self.t_degree, StlParams::with_t_degree),
            ("l.window", self.l_window, StlParams::with_l_window),
            ("l.degree", self.l_degree, StlParams::with_l_degree),
            ("s.jump", self.s_jump, StlParams::with_s_jump),
            ("t.jump", self.t_jump, StlParams::with_t_jump),
            ("l.jump", self.l_jump, StlParams::with_l_jump),
            ("inner", self.inner, StlParams::with_inner),
            ("outer", self.outer, StlParams::with_outer),
        ]
    }

    fn params(&self) -> StlParams {
        let mut p = StlParams::periodic(self.period, self.robust);
        if self.s_window > 0 {
            p = p.with_s_window(self.s_window).with_s_degree(self.s_degree);
        }
        for (_, v, set) in self.optional() {
            if let Ok(v) = usize::try_from(v) {
                p = set(p, v);
            }
        }
        p
    }

    fn describe(&self) -> String {
        let s_window = if self.s_window == 0 {
            "periodic".to_owned()
        } else {
            format!("{} (degree {})", self.s_window, self.s_degree)
        };
        let mut text = format!(
            "period {} n {} s.window {s_window} robust {}",
            self.period, self.n, self.robust
        );
        for (name, v, _) in self.optional() {
            if v >= 0 {
                text.push_str(&format!(" {name} {v}"));
            }
        }
        text
    }
}

/// Runs R's half of the test: the grid script, writing into `dir`.
fn run_r(dir: &Path) {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/r_grid.R");
    let mut child = match Command::new("Rscript")
        .arg("--vanilla")
        .arg(script)
        .arg(dir)
        .stdin(Stdio::null())
        .spawn()
    {
        Ok(child) => child,
        Err(e) => panic!(
            "cannot start Rscript ({e}): this test compares with R itself. Install R with \
             `scripts/ensure-deps r` (Debian's r-base-core; `make test` does it)."
        ),
    };
    let start = Instant::now();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            assert!(status.success(), "Rscript {script} failed: {status}");
            return;
        }
        if start.elapsed() > R_DEADLINE {
            child.kill().unwrap();
            child.wait().unwrap();
            panic!("Rscript {script} ran for more than {R_DEADLINE:?}; killed");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn read_cases(dir: &Path) -> Vec<Case> {
    let text = std::fs::read_to_string(dir.join("cases.tsv")).unwrap();
    let mut lines = text.lines();
    assert_eq!(
        lines.next().unwrap(),
        "period\tn\ts_window\ts_degree\trobust\tt_window\tt_degree\tl_window\tl_degree\t\
         s_jump\tt_jump\tl_jump\tinner\touter\toffset"
    );
    lines
        .map(|line| {
            let f: Vec<i64> = line.split('\t').map(|c| c.parse().unwrap()).collect();
            assert_eq!(f.len(), 15, "{line}");
            let count = |v: i64| usize::try_from(v).unwrap();
            Case {
                period: count(f[0]),
                n: count(f[1]),
                s_window: count(f[2]),
                s_degree: count(f[3]),
                robust: f[4] == 1,
                t_window: f[5],
                t_degree: f[6],
                l_window: f[7],
                l_degree: f[8],
                s_jump: f[9],
                t_jump: f[10],
                l_jump: f[11],
                inner: f[12],
                outer: f[13],
                offset: count(f[14]),
            }
        })
        .collect()
}

fn read_numbers(dir: &Path) -> Vec<f64> {
    let bytes = std::fs::read(dir.join("data.bin")).unwrap();
    assert_eq!(bytes.len() % 8, 0);
    bytes
        .chunks_exact(8)
        .map(|b| f64::from_le_bytes(b.try_into().unwrap()))
        .collect()
}

/// The components compared, and whether their error is relative to the series' range.
const COMPONENTS: [(&str, bool); 4] = [
    ("seasonal", true),
    ("trend", true),
    ("remainder", true),
    // Weights are in [0, 1] whatever the series' scale.
    ("weight", false),
];

/// Per component of [`COMPONENTS`]: the worst error of one case and its point (a NaN counts
/// as an infinite error).
fn errors(case: &Case, numbers: &[f64]) -> [(f64, usize); 4] {
    let n = case.n;
    let block = &numbers[case.offset..case.offset + 5 * n];
    let column = |k: usize| &block[k * n..(k + 1) * n];
    let series = column(0);
    let max = series.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let min = series.iter().copied().fold(f64::INFINITY, f64::min);
    let range = (max - min).max(f64::MIN_POSITIVE);
    let fit =
        decompose(series, &case.params()).unwrap_or_else(|e| panic!("{}: {e}", case.describe()));
    let ours = [&fit.seasonal, &fit.trend, &fit.remainder, &fit.weights];
    std::array::from_fn(|k| {
        let scale = if COMPONENTS[k].1 { range } else { 1.0 };
        ours[k]
            .iter()
            .zip(column(k + 1))
            .map(|(a, b)| {
                let err = (a - b).abs() / scale;
                if err.is_nan() { f64::INFINITY } else { err }
            })
            .enumerate()
            .fold(
                (0.0, 0),
                |worst, (i, err)| {
                    if err > worst.0 { (err, i) } else { worst }
                },
            )
    })
}

#[test]
fn grid_matches_r() {
    let dir = tempfile::tempdir().unwrap();
    run_r(dir.path());
    let cases = read_cases(dir.path());
    let numbers = read_numbers(dir.path());
    let last = cases.last().unwrap();
    assert_eq!(numbers.len(), last.offset + 5 * last.n, "data.bin length");
    assert!(cases.len() > 4000, "{} cases", cases.len());

    let mut failures = Vec::new();
    let mut failed_cases = 0;
    // Per component: the worst error over the grid and the case it came from.
    let mut worst: [(f64, String); 4] = Default::default();
    for case in &cases {
        let before = failures.len();
        for (k, (err, at)) in errors(case, &numbers).into_iter().enumerate() {
            let name = COMPONENTS[k].0;
            if err > worst[k].0 {
                worst[k] = (err, format!("{} at point {at}", case.describe()));
            }
            if err > TOLERANCE {
                failures.push(format!(
                    "{err:.2e} {name}: {} at point {at}",
                    case.describe()
                ));
            }
        }
        failed_cases += usize::from(failures.len() > before);
    }
    println!("{} cases; worst error per component:", cases.len());
    for ((name, relative), (err, at)) in COMPONENTS.iter().zip(&worst) {
        let unit = if *relative {
            "of the range"
        } else {
            "absolute"
        };
        println!("  {name:9} {err:.2e} {unit} ({at})");
    }
    assert!(
        failures.is_empty(),
        "{failed_cases} of {} cases differ from R by more than {TOLERANCE} of the range \
         (weights: absolute), in {} components; first ones:\n{}",
        cases.len(),
        failures.len(),
        failures
            .iter()
            .take(40)
            .cloned()
            .collect::<Vec<_>>()
            .join("\n")
    );
}
