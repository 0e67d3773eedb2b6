//! A small reader of Graphite's whisper files (`.wsp`), to check what carbon-cache wrote.
//!
//! Format (all big-endian): a header of `aggregationType u32, maxRetention u32, xFilesFactor
//! f32, archiveCount u32`; then per archive `offset u32, secondsPerPoint u32, points u32`; then
//! each archive's points, `(timestamp u32, value f64)` each, starting at the archive's offset.
//! An archive is a ring: the point for time `t` lives in slot `((t - base) / step) mod points`,
//! where `base` is the timestamp in slot 0. A slot whose timestamp is 0, or does not belong in
//! that slot, or is older than the archive's retention behind the newest point, is empty.

use std::path::Path;

use anyhow::{Context, Result, bail, ensure};

/// Bytes of the file header.
const HEADER_LEN: usize = 16;
/// Bytes of one archive-info entry.
const ARCHIVE_INFO_LEN: usize = 12;
/// Bytes of one point.
const POINT_LEN: usize = 12;

/// One archive's layout, from the file's header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ArchiveInfo {
    /// Byte offset of the archive's first point in the file.
    pub offset: u32,
    /// Resolution: seconds between points.
    pub seconds_per_point: u32,
    /// Number of slots.
    pub points: u32,
}

impl ArchiveInfo {
    /// Seconds of history the archive holds (`seconds_per_point * points`).
    pub fn retention(&self) -> u64 {
        u64::from(self.seconds_per_point) * u64::from(self.points)
    }
}

/// A parsed whisper file: its header and its raw bytes.
#[derive(Debug, Clone)]
pub struct WhisperFile {
    /// Aggregation method: 1 average, 2 sum, 3 last, 4 max, 5 min, 6 avg_zero, 7 absmax,
    /// 8 absmin.
    pub aggregation_type: u32,
    /// Retention of the longest archive, in seconds.
    pub max_retention: u32,
    /// Fraction of known points needed to aggregate into a lower-resolution archive.
    pub x_files_factor: f32,
    /// The archives, highest resolution first.
    pub archives: Vec<ArchiveInfo>,
    bytes: Vec<u8>,
}

/// The `N` bytes at `at`, or an error saying where the data ends.
fn be_bytes<const N: usize>(bytes: &[u8], at: usize) -> Result<[u8; N]> {
    bytes
        .get(at..at + N)
        .and_then(|slice| slice.try_into().ok())
        .with_context(|| format!("whisper data ends before byte {}", at + N))
}

fn be_u32(bytes: &[u8], at: usize) -> Result<u32> {
    be_bytes(bytes, at).map(u32::from_be_bytes)
}

fn be_f64(bytes: &[u8], at: usize) -> Result<f64> {
    be_bytes(bytes, at).map(f64::from_be_bytes)
}

impl WhisperFile {
    /// Reads and parses the whisper file at `path`.
    pub fn open(path: &Path) -> Result<Self> {
        let bytes = std::fs::read(path)
            .with_context(|| format!("reading whisper file {}", path.display()))?;
        Self::parse(bytes).with_context(|| format!("parsing whisper file {}", path.display()))
    }

    /// Parses the bytes of a whisper file, checking that the header is consistent and that
    /// every archive lies within the data.
    pub fn parse(bytes: Vec<u8>) -> Result<Self> {
        ensure!(
            bytes.len() >= HEADER_LEN,
            "{} bytes: too short for the {HEADER_LEN}-byte whisper header",
            bytes.len()
        );
        let aggregation_type = be_u32(&bytes, 0)?;
        let max_retention = be_u32(&bytes, 4)?;
        let x_files_factor = f32::from_bits(be_u32(&bytes, 8)?);
        let archive_count = be_u32(&bytes, 12)?;
        ensure!(
            (1..=64).contains(&archive_count),
            "archive count {archive_count} is not in 1..=64"
        );
        let mut archives = Vec::new();
        for i in 0..archive_count as usize {
            let at = HEADER_LEN + i * ARCHIVE_INFO_LEN;
            let info = ArchiveInfo {
                offset: be_u32(&bytes, at)?,
                seconds_per_point: be_u32(&bytes, at + 4)?,
                points: be_u32(&bytes, at + 8)?,
            };
            ensure!(
                info.seconds_per_point > 0 && info.points > 0,
                "archive {i} has {} seconds per point and {} points",
                info.seconds_per_point,
                info.points
            );
            let end = u64::from(info.offset) + u64::from(info.points) * POINT_LEN as u64;
            ensure!(
                end <= bytes.len() as u64,
                "archive {i} ({info:?}) ends at byte {end}, past the end of the {}-byte file",
                bytes.len()
            );
            archives.push(info);
        }
        Ok(Self {
            aggregation_type,
            max_retention,
            x_files_factor,
            archives,
            bytes,
        })
    }

    /// The known points of archive `index` (0 = highest resolution) as `(timestamp, value)`,
    /// oldest first.
    pub fn points(&self, index: usize) -> Result<Vec<(i64, f64)>> {
        let Some(info) = self.archives.get(index) else {
            bail!(
                "no archive {index}: the file has {} archive(s)",
                self.archives.len()
            );
        };
        let step = i64::from(info.seconds_per_point);
        let slots = i64::from(info.points);
        let start = info.offset as usize;
        let base = i64::from(be_u32(&self.bytes, start)?);
        if base == 0 {
            return Ok(Vec::new());
        }
        let mut points = Vec::new();
        for slot in 0..info.points as usize {
            let at = start + slot * POINT_LEN;
            let ts = i64::from(be_u32(&self.bytes, at)?);
            if ts == 0 || (ts - base).rem_euclid(step) != 0 {
                continue;
            }
            if ((ts - base) / step).rem_euclid(slots) != slot as i64 {
                continue;
            }
            points.push((ts, be_f64(&self.bytes, at + 4)?));
        }
        // Drop what the ring has already passed: older than one retention behind the newest.
        if let Some(newest) = points.iter().map(|&(ts, _)| ts).max() {
            let horizon = newest - step * slots;
            points.retain(|&(ts, _)| ts > horizon);
        }
        points.sort_by_key(|&(ts, _)| ts);
        Ok(points)
    }
}

/// The known points of the highest-resolution archive of the whisper file at `path`, oldest
/// first.
pub fn read_points(path: &Path) -> Result<Vec<(i64, f64)>> {
    WhisperFile::open(path)?.points(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Builds a whisper file with the given archives `(seconds_per_point, points)`, filled with
    /// `(archive, slot, timestamp, value)`.
    fn build(archives: &[(u32, u32)], fill: &[(usize, usize, u32, f64)]) -> Vec<u8> {
        let max_retention = archives.iter().map(|&(s, p)| s * p).max().unwrap();
        let mut out = Vec::new();
        out.extend_from_slice(&1u32.to_be_bytes());
        out.extend_from_slice(&max_retention.to_be_bytes());
        out.extend_from_slice(&0.5f32.to_bits().to_be_bytes());
        out.extend_from_slice(&(archives.len() as u32).to_be_bytes());
        let mut offset = (HEADER_LEN + ARCHIVE_INFO_LEN * archives.len()) as u32;
        let mut offsets = Vec::new();
        for &(spp, points) in archives {
            out.extend_from_slice(&offset.to_be_bytes());
            out.extend_from_slice(&spp.to_be_bytes());
            out.extend_from_slice(&points.to_be_bytes());
            offsets.push(offset as usize);
            offset += points * POINT_LEN as u32;
        }
        out.resize(offset as usize, 0);
        for &(archive, slot, ts, value) in fill {
            let at = offsets[archive] + slot * POINT_LEN;
            out[at..at + 4].copy_from_slice(&ts.to_be_bytes());
            out[at + 4..at + 12].copy_from_slice(&value.to_be_bytes());
        }
        out
    }

    #[test]
    fn reads_header_and_points() {
        let bytes = build(
            &[(1, 10), (5, 4)],
            &[
                (0, 0, 1000, 1.5),
                (0, 1, 1001, 2.5),
                (0, 3, 1003, -4.0),
                (1, 0, 1000, 9.0),
            ],
        );
        let file = WhisperFile::parse(bytes).unwrap();
        assert_eq!(file.aggregation_type, 1);
        assert_eq!(file.max_retention, 20);
        assert!((file.x_files_factor - 0.5).abs() < f32::EPSILON);
        assert_eq!(file.archives.len(), 2);
        assert_eq!(file.archives[0].offset, 40);
        assert_eq!(file.archives[1].retention(), 20);
        assert_eq!(
            file.points(0).unwrap(),
            vec![(1000, 1.5), (1001, 2.5), (1003, -4.0)]
        );
        assert_eq!(file.points(1).unwrap(), vec![(1000, 9.0)]);
        assert!(file.points(2).is_err());
    }

    #[test]
    fn empty_archive_has_no_points() {
        let file = WhisperFile::parse(build(&[(1, 5)], &[])).unwrap();
        assert!(file.points(0).unwrap().is_empty());
    }

    #[test]
    fn ring_wraps_and_skips_stale_and_misplaced_slots() {
        // base 100 at slot 0; 4 slots of 10 s. Slot 1 holds 150 (wrapped: (150-100)/10 = 5,
        // 5 mod 4 = 1); slot 2 holds a stale 120 (newest is 150, horizon 110: kept); slot 3
        // holds 70, which belongs in slot 1 (misplaced: skipped) and is too old anyway.
        let bytes = build(
            &[(10, 4)],
            &[
                (0, 0, 100, 1.0),
                (0, 1, 150, 5.0),
                (0, 2, 120, 2.0),
                (0, 3, 70, 7.0),
            ],
        );
        let file = WhisperFile::parse(bytes).unwrap();
        assert_eq!(
            file.points(0).unwrap(),
            vec![(120, 2.0), (150, 5.0)],
            "100 is older than one retention (40 s) behind 150"
        );
    }

    #[test]
    fn unaligned_timestamps_are_skipped() {
        let bytes = build(&[(10, 4)], &[(0, 0, 100, 1.0), (0, 1, 115, 2.0)]);
        let file = WhisperFile::parse(bytes).unwrap();
        assert_eq!(file.points(0).unwrap(), vec![(100, 1.0)]);
    }

    #[test]
    fn rejects_truncated_or_inconsistent_files() {
        assert!(WhisperFile::parse(vec![0; 8]).is_err());
        let mut bytes = build(&[(1, 10)], &[]);
        bytes.truncate(bytes.len() - 1);
        assert!(WhisperFile::parse(bytes).is_err());
        let mut bytes = build(&[(1, 10)], &[]);
        bytes[12..16].copy_from_slice(&0u32.to_be_bytes());
        assert!(WhisperFile::parse(bytes).is_err());
        let mut bytes = build(&[(1, 10)], &[]);
        bytes[20..24].copy_from_slice(&0u32.to_be_bytes());
        assert!(WhisperFile::parse(bytes).is_err());
    }
}
