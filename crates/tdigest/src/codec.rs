//! The versioned byte format (see the crate docs) and its validation, shared with serde.

use crate::{Centroid, MAX_COMPRESSION, MIN_COMPRESSION, TDigest};

/// The four bytes every encoded digest starts with.
pub const MAGIC: [u8; 4] = *b"AMTD";
/// The format version this build writes; it reads exactly this version.
pub const FORMAT_VERSION: u8 = 1;
/// Bytes before the centroids: magic, version, compression, count, min, max, rejected, n.
pub const HEADER_LEN: usize = 4 + 1 + 8 * 5 + 4;
/// Bytes per centroid: mean and weight, both `f64` little-endian.
pub const CENTROID_LEN: usize = 16;

/// How far the stored count may drift from the sum of the centroid weights (relative): the two
/// are summed in different orders, which only matters for fractional weights.
const COUNT_TOLERANCE: f64 = 1e-6;

/// Why bytes (or a deserialized value) were refused as a t-digest.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum TDigestError {
    /// The bytes do not start with [`MAGIC`]: not a digest at all.
    #[error("not a t-digest: the bytes do not start with the magic \"AMTD\"")]
    BadMagic,
    /// A format version this build cannot read (written by a newer version, or corrupt).
    #[error("t-digest format version {0} is not supported (this build reads version 1)")]
    UnsupportedVersion(u8),
    /// Fewer bytes than the header or the announced centroids need.
    #[error("truncated t-digest: {needed} bytes needed, {actual} given")]
    Truncated {
        /// Bytes the header and the announced centroids need.
        needed: usize,
        /// Bytes given.
        actual: usize,
    },
    /// More bytes than the header announces.
    #[error("t-digest followed by {extra} unexpected bytes")]
    TrailingBytes {
        /// Bytes after the last centroid.
        extra: usize,
    },
    /// The compression is not finite or outside the supported range.
    #[error("invalid t-digest compression {0}: must be between 10 and 100000")]
    InvalidCompression(f64),
    /// A header field (count, min, max) is not finite or inconsistent.
    #[error("invalid t-digest {field}: {value}")]
    InvalidHeader {
        /// `count`, `min` or `max`.
        field: &'static str,
        /// The value found.
        value: f64,
    },
    /// A centroid's weight is not finite and positive.
    #[error("t-digest centroid {index}: weight {weight} is not finite and positive")]
    InvalidWeight {
        /// Position of the centroid.
        index: usize,
        /// The weight found.
        weight: f64,
    },
    /// A centroid's mean is not finite, or outside `[min, max]`.
    #[error("t-digest centroid {index}: mean {mean} is not finite or outside [min, max]")]
    InvalidMean {
        /// Position of the centroid.
        index: usize,
        /// The mean found.
        mean: f64,
    },
    /// A centroid's mean is smaller than the previous one.
    #[error("t-digest centroid {index}: means are not sorted")]
    Unsorted {
        /// Position of the first centroid out of order.
        index: usize,
    },
    /// The count does not match the sum of the centroid weights.
    #[error("t-digest count {count} does not match the sum of its centroid weights {sum}")]
    CountMismatch {
        /// The stored count.
        count: f64,
        /// The sum of the weights.
        sum: f64,
    },
}

/// The persisted fields of a digest, before validation. Also the serde representation.
#[derive(Debug, Clone)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(rename = "TDigest"))]
pub(crate) struct Parts {
    pub(crate) compression: f64,
    pub(crate) count: f64,
    pub(crate) min: f64,
    pub(crate) max: f64,
    pub(crate) rejected: u64,
    /// `(mean, weight)` pairs sorted by mean.
    pub(crate) centroids: Vec<(f64, f64)>,
}

impl Parts {
    /// The compressed view of `digest` (its buffer merged in).
    pub(crate) fn of(digest: &TDigest) -> Parts {
        let (min, max) = if digest.is_empty() {
            (0.0, 0.0)
        } else {
            (digest.min, digest.max)
        };
        Parts {
            compression: digest.compression,
            count: digest.count,
            min,
            max,
            rejected: digest.rejected,
            centroids: digest.view().iter().map(|c| (c.mean, c.weight)).collect(),
        }
    }

    /// Checks every invariant [`TDigest`] relies on and builds it.
    pub(crate) fn validate(self) -> Result<TDigest, TDigestError> {
        let Parts {
            compression,
            count,
            min,
            max,
            rejected,
            centroids,
        } = self;
        if !(MIN_COMPRESSION..=MAX_COMPRESSION).contains(&compression) {
            return Err(TDigestError::InvalidCompression(compression));
        }
        let header = |field, value| TDigestError::InvalidHeader { field, value };
        if centroids.is_empty() {
            // The empty digest: everything zero.
            if count != 0.0 {
                return Err(header("count", count));
            }
            if min != 0.0 {
                return Err(header("min", min));
            }
            if max != 0.0 {
                return Err(header("max", max));
            }
        } else {
            if !(count.is_finite() && count > 0.0) {
                return Err(header("count", count));
            }
            if !min.is_finite() {
                return Err(header("min", min));
            }
            if !(max.is_finite() && max >= min) {
                return Err(header("max", max));
            }
        }
        let mut sum = 0.0;
        let mut previous = min;
        let mut out = Vec::with_capacity(centroids.len());
        for (index, &(mean, weight)) in centroids.iter().enumerate() {
            if !(weight.is_finite() && weight > 0.0) {
                return Err(TDigestError::InvalidWeight { index, weight });
            }
            if !(mean.is_finite() && mean >= min && mean <= max) {
                return Err(TDigestError::InvalidMean { index, mean });
            }
            if mean < previous {
                return Err(TDigestError::Unsorted { index });
            }
            previous = mean;
            sum += weight;
            out.push(Centroid { mean, weight });
        }
        if !sum.is_finite() || (sum - count).abs() > COUNT_TOLERANCE * count {
            return Err(TDigestError::CountMismatch { count, sum });
        }
        Ok(TDigest {
            compression,
            centroids: out,
            buffer: Vec::new(),
            count,
            min,
            max,
            rejected,
        })
    }
}

#[cfg(feature = "serde")]
impl TryFrom<Parts> for TDigest {
    type Error = TDigestError;

    fn try_from(parts: Parts) -> Result<TDigest, TDigestError> {
        parts.validate()
    }
}

#[cfg(feature = "serde")]
impl From<TDigest> for Parts {
    fn from(digest: TDigest) -> Parts {
        Parts::of(&digest)
    }
}

/// Encodes the compressed view of `digest`.
pub(crate) fn encode(digest: &TDigest) -> Vec<u8> {
    let parts = Parts::of(digest);
    let mut out = Vec::with_capacity(HEADER_LEN + CENTROID_LEN * parts.centroids.len());
    out.extend_from_slice(&MAGIC);
    out.push(FORMAT_VERSION);
    for field in [parts.compression, parts.count, parts.min, parts.max] {
        out.extend_from_slice(&field.to_le_bytes());
    }
    out.extend_from_slice(&parts.rejected.to_le_bytes());
    // At most ceil(compression) + 2 ≤ 100 002 centroids: always fits.
    let n = u32::try_from(parts.centroids.len()).unwrap_or(u32::MAX);
    out.extend_from_slice(&n.to_le_bytes());
    for (mean, weight) in parts.centroids {
        out.extend_from_slice(&mean.to_le_bytes());
        out.extend_from_slice(&weight.to_le_bytes());
    }
    out
}

/// A cursor over the input that hands out fixed-size little-endian fields.
struct Reader<'a> {
    rest: &'a [u8],
}

impl Reader<'_> {
    fn take<const N: usize>(&mut self) -> [u8; N] {
        // Callers check the total length first; a short read would yield zeros, never panic.
        let mut field = [0; N];
        if let Some((head, tail)) = self.rest.split_first_chunk::<N>() {
            field = *head;
            self.rest = tail;
        }
        field
    }

    fn f64(&mut self) -> f64 {
        f64::from_le_bytes(self.take())
    }
}

/// Decodes and validates bytes written by [`encode`].
pub(crate) fn decode(bytes: &[u8]) -> Result<TDigest, TDigestError> {
    let truncated = |needed| TDigestError::Truncated {
        needed,
        actual: bytes.len(),
    };
    let Some((magic, rest)) = bytes.split_first_chunk::<4>() else {
        return Err(if MAGIC.starts_with(bytes) {
            truncated(HEADER_LEN)
        } else {
            TDigestError::BadMagic
        });
    };
    if *magic != MAGIC {
        return Err(TDigestError::BadMagic);
    }
    let Some((&version, _)) = rest.split_first() else {
        return Err(truncated(HEADER_LEN));
    };
    if version != FORMAT_VERSION {
        return Err(TDigestError::UnsupportedVersion(version));
    }
    if bytes.len() < HEADER_LEN {
        return Err(truncated(HEADER_LEN));
    }
    let mut reader = Reader {
        rest: bytes.get(5..).unwrap_or_default(),
    };
    let mut parts = Parts {
        compression: reader.f64(),
        count: reader.f64(),
        min: reader.f64(),
        max: reader.f64(),
        rejected: u64::from_le_bytes(reader.take()),
        centroids: Vec::new(),
    };
    let n = u32::from_le_bytes(reader.take()) as usize;
    let needed = n
        .checked_mul(CENTROID_LEN)
        .and_then(|c| c.checked_add(HEADER_LEN));
    let needed = needed.unwrap_or(usize::MAX);
    if bytes.len() < needed {
        return Err(truncated(needed));
    }
    if bytes.len() > needed {
        return Err(TDigestError::TrailingBytes {
            extra: bytes.len() - needed,
        });
    }
    parts.centroids = (0..n).map(|_| (reader.f64(), reader.f64())).collect();
    parts.validate()
}
