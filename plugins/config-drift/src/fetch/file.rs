//! Reading a file within `max_bytes`. Only regular files are opened: a FIFO would block the
//! open, a device (`/dev/zero`) never ends.

use std::fs::{self, File};
use std::io::Read;
use std::path::Path;

use crate::error::SourceError;

/// The file's bytes, at most `max_bytes` of them.
pub(super) fn read(path: &Path, max_bytes: u64) -> Result<Vec<u8>, SourceError> {
    let io = |source| SourceError::Io {
        path: path.to_owned(),
        source,
    };
    let meta = fs::metadata(path).map_err(io)?;
    if !meta.is_file() {
        return Err(SourceError::NotRegular {
            path: path.to_owned(),
        });
    }
    let too_large = |size| SourceError::TooLarge {
        what: path.display().to_string(),
        limit: max_bytes,
        size,
    };
    if meta.len() > max_bytes {
        return Err(too_large(Some(meta.len())));
    }
    let file = File::open(path).map_err(io)?;
    // The file may have grown since `metadata`: read one byte past the limit to know.
    let mut bytes = Vec::with_capacity(usize::try_from(meta.len()).unwrap_or(0));
    file.take(max_bytes.saturating_add(1))
        .read_to_end(&mut bytes)
        .map_err(io)?;
    if bytes.len() as u64 > max_bytes {
        return Err(too_large(None));
    }
    Ok(bytes)
}
