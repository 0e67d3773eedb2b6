//! NAB's file layouts, for the offline harnesses that run a model over a corpus the way NAB
//! runs a detector: a corpus is `DATA/<category>/<file>.csv` (`timestamp,value` and a header
//! row), and a detector's results are `RESULTS/<detector>/<category>/<detector>_<file>.csv`
//! (`timestamp,value,anomaly_score,label`, one row per data row, in order), what NAB's
//! scorer reads.

use std::fmt::Display;
use std::io::Write;
use std::path::{Path, PathBuf};

use crate::SeriesModel;

/// What went wrong reading a corpus or writing results.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A file or folder could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file or folder.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// A data row is not `timestamp,number`.
    #[error("{path}, line {line}: expected `timestamp,number`, got {row:?}")]
    Row {
        /// The data file.
        path: PathBuf,
        /// Its line number (1: the header).
        line: usize,
        /// The row as read.
        row: String,
    },
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> Error + '_ {
    move |source| Error::Io {
        path: path.to_owned(),
        source,
    }
}

/// The entries of `dir` that `keep` accepts, in name order.
fn sorted(dir: &Path, keep: impl Fn(&Path) -> bool) -> Result<Vec<PathBuf>, Error> {
    let mut paths = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(io(dir))? {
        let path = entry.map_err(io(dir))?.path();
        if keep(&path) {
            paths.push(path);
        }
    }
    paths.sort();
    Ok(paths)
}

/// The data files of the corpus in `data`: each category folder's `.csv` files, categories
/// and files in name order.
pub fn data_files(data: &Path) -> Result<Vec<PathBuf>, Error> {
    let mut files = Vec::new();
    for category in sorted(data, Path::is_dir)? {
        files.extend(sorted(&category, |f| {
            f.extension().is_some_and(|e| e == "csv")
        })?);
    }
    Ok(files)
}

/// One data file: its rows as written (to copy into the results) and its values.
#[derive(Debug, Clone, PartialEq)]
pub struct DataFile {
    /// Its category (the folder it is in).
    pub category: String,
    /// Its file name (`<file>.csv`).
    pub name: String,
    /// Each row's timestamp and value, as written.
    pub rows: Vec<(String, String)>,
    /// Each row's value.
    pub values: Vec<f64>,
}

impl DataFile {
    /// Reads the data file at `path` (blank rows skipped).
    pub fn read(path: &Path) -> Result<DataFile, Error> {
        let text = std::fs::read_to_string(path).map_err(io(path))?;
        let mut rows = Vec::new();
        let mut values = Vec::new();
        for (i, row) in text.lines().enumerate().skip(1) {
            if row.trim().is_empty() {
                continue;
            }
            let parsed = row
                .split_once(',')
                .and_then(|(t, v)| Some((t, v, v.trim().parse::<f64>().ok()?)));
            let Some((t, v, value)) = parsed else {
                return Err(Error::Row {
                    path: path.to_owned(),
                    line: i + 1,
                    row: row.to_owned(),
                });
            };
            rows.push((t.to_owned(), v.to_owned()));
            values.push(value);
        }
        let name = |p: Option<&Path>| {
            p.and_then(Path::file_name)
                .map_or_else(String::new, |n| n.to_string_lossy().into_owned())
        };
        Ok(DataFile {
            category: name(path.parent()),
            name: name(Some(path)),
            rows,
            values,
        })
    }

    /// The lowest and highest value: what NAB's protocol tells a detector.
    pub fn range(&self) -> (f64, f64) {
        let lo = self.values.iter().copied().fold(f64::INFINITY, f64::min);
        let hi = self
            .values
            .iter()
            .copied()
            .fold(f64::NEG_INFINITY, f64::max);
        (lo, hi)
    }

    /// Writes `detector`'s results for this file under `results`: one row per data row,
    /// its score from `scores`.
    pub fn write_results(
        &self,
        results: &Path,
        detector: &str,
        scores: &[impl Display],
    ) -> Result<(), Error> {
        let dir = results.join(detector).join(&self.category);
        std::fs::create_dir_all(&dir).map_err(io(&dir))?;
        let path = dir.join(format!("{detector}_{}", self.name));
        let file = std::fs::File::create(&path).map_err(io(&path))?;
        let mut w = std::io::BufWriter::new(file);
        writeln!(w, "timestamp,value,anomaly_score,label").map_err(io(&path))?;
        for ((t, v), s) in self.rows.iter().zip(scores) {
            writeln!(w, "{t},{v},{s},0").map_err(io(&path))?;
        }
        w.flush().map_err(io(&path))
    }
}

/// Runs a fresh model over `values`: the model, and each value's output.
pub fn replay<M: SeriesModel>(p: &M::Params, values: &[f64]) -> (M, Vec<M::Output>) {
    let mut model = M::new(p);
    let out = values.iter().map(|v| model.update(p, *v)).collect();
    (model, out)
}
