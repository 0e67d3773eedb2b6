//! Looking at what reached carbon-cache: polling a whisper file until it holds what a test
//! waits for, gaps in a per-second series, and the files under the whisper directory.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, Result};

use crate::carbon_cache::CarbonCache;
use crate::wait::wait_until;
use crate::whisper::read_points;

/// A whisper series: `(timestamp, value)`, oldest first.
pub type Points = Vec<(i64, f64)>;

/// Polls the whisper file of `metric` until `done(points)` holds (carbon-cache writes
/// asynchronously) and returns the points; fails after `timeout` with the last points read and
/// carbon-cache's logs. Works while carbon-cache is stopped too (the file stays).
pub fn wait_whisper(
    carbon: &CarbonCache,
    metric: &str,
    what: &str,
    timeout: Duration,
    mut done: impl FnMut(&[(i64, f64)]) -> bool,
) -> Result<Points> {
    let path = carbon.whisper_file(metric)?;
    let mut last: Option<Points> = None;
    let result = wait_until(&format!("{metric}: {what}"), timeout, || {
        if !path.exists() {
            return Ok(None);
        }
        let points = read_points(&path)?;
        let ok = done(&points);
        last = Some(points.clone());
        Ok(ok.then_some(points))
    });
    result.with_context(|| {
        format!(
            "last points of {metric} ({}): {last:?}\n{}",
            path.display(),
            carbon.logs()
        )
    })
}

/// The seconds between the first and the last timestamp of `points` that have no point.
pub fn missing_seconds(points: &[(i64, f64)]) -> Vec<i64> {
    let (Some(first), Some(last)) = (points.first(), points.last()) else {
        return Vec::new();
    };
    let have: std::collections::BTreeSet<i64> = points.iter().map(|p| p.0).collect();
    (first.0..=last.0).filter(|t| !have.contains(t)).collect()
}

/// The differences between consecutive timestamps of `points`.
pub fn steps(points: &[(i64, f64)]) -> Vec<i64> {
    points.windows(2).map(|w| w[1].0 - w[0].0).collect()
}

/// Every file and directory under `dir`, as paths relative to it, sorted; directories end
/// with `/`.
pub fn tree(dir: &Path) -> Result<Vec<String>> {
    fn walk(root: &Path, dir: &Path, out: &mut Vec<String>) -> Result<()> {
        for entry in std::fs::read_dir(dir).with_context(|| format!("listing {}", dir.display()))? {
            let path: PathBuf = entry?.path();
            let rel = path
                .strip_prefix(root)
                .unwrap_or(&path)
                .to_string_lossy()
                .into_owned();
            if path.is_dir() {
                out.push(format!("{rel}/"));
                walk(root, &path, out)?;
            } else {
                out.push(rel);
            }
        }
        Ok(())
    }
    let mut out = Vec::new();
    walk(dir, dir, &mut out)?;
    out.sort();
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gaps_and_steps() {
        let points = [(10, 1.0), (11, 1.0), (13, 1.0), (16, 1.0)];
        assert_eq!(missing_seconds(&points), vec![12, 14, 15]);
        assert_eq!(steps(&points), vec![1, 2, 3]);
        assert!(missing_seconds(&[]).is_empty());
    }

    #[test]
    fn tree_lists_files_and_dirs() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("a/b")).unwrap();
        std::fs::write(dir.path().join("a/b/c.wsp"), b"").unwrap();
        std::fs::write(dir.path().join("d.wsp"), b"").unwrap();
        assert_eq!(
            tree(dir.path()).unwrap(),
            vec!["a/", "a/b/", "a/b/c.wsp", "d.wsp"]
        );
    }
}
