//! Splitting a TCP byte stream into pickle frames: a 4-byte big-endian length, then that many
//! bytes of pickle (Twisted's `Int32StringReceiver`, which carbon's pickle receiver uses).

use bytes::{Buf, BytesMut};

/// Carbon's own cap on a pickle frame (`MAX_LENGTH = 2**20` in its receiver).
pub const DEFAULT_MAX_FRAME: usize = 1_048_576;

/// Length of the frame prefix.
pub const PREFIX_LEN: usize = 4;

/// A frame header the splitter refuses. The stream cannot be resynchronised after one, so the
/// caller should drop the connection (as carbon does).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum FrameError {
    /// The prefix announces more than the limit; nothing was allocated for it.
    #[error("pickle frame length prefix announces {len} bytes, more than the {max}-byte limit")]
    TooLarge {
        /// The announced length.
        len: u32,
        /// The configured limit.
        max: usize,
    },
    /// The prefix announces zero bytes, which cannot hold a pickle.
    #[error("pickle frame length prefix announces 0 bytes: an empty frame is not a pickle")]
    Empty,
}

/// Splits complete frames off the front of a read buffer. It keeps no state between calls, so
/// the buffer alone tells where the stream is.
///
/// ```
/// use am_carbon::pickle::FrameSplitter;
/// use bytes::BytesMut;
///
/// let splitter = FrameSplitter::default();
/// let mut buf = BytesMut::from(&[0, 0, 0, 2, b'N', b'.', 0][..]);
/// assert_eq!(&splitter.next_frame(&mut buf).unwrap().unwrap()[..], b"N.");
/// assert_eq!(splitter.next_frame(&mut buf).unwrap(), None); // 1 byte of the next prefix
/// assert_eq!(splitter.bytes_needed(&buf).unwrap(), 3);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FrameSplitter {
    max_frame: usize,
}

impl Default for FrameSplitter {
    fn default() -> Self {
        Self {
            max_frame: DEFAULT_MAX_FRAME,
        }
    }
}

impl FrameSplitter {
    /// A splitter refusing frames whose payload is longer than `max_frame` bytes.
    pub fn new(max_frame: usize) -> Self {
        Self { max_frame }
    }

    /// The payload size limit.
    pub fn max_frame(&self) -> usize {
        self.max_frame
    }

    /// The payload length announced by a complete prefix at the front of `buf`, validated
    /// against the limit; `Ok(None)` if fewer than 4 bytes are buffered.
    pub fn announced_len(&self, buf: &[u8]) -> Result<Option<usize>, FrameError> {
        let Some(prefix) = buf.first_chunk::<PREFIX_LEN>() else {
            return Ok(None);
        };
        let len = u32::from_be_bytes(*prefix);
        match usize::try_from(len) {
            _ if len == 0 => Err(FrameError::Empty),
            Ok(n) if n <= self.max_frame => Ok(Some(n)),
            _ => Err(FrameError::TooLarge {
                len,
                max: self.max_frame,
            }),
        }
    }

    /// How many more bytes `buf` needs before [`next_frame`](Self::next_frame) can return a
    /// frame: 0 if one is complete, the rest of the prefix if it is partial, else the rest of
    /// the announced (and already validated) frame. Lets a read loop `reserve` exactly that.
    pub fn bytes_needed(&self, buf: &[u8]) -> Result<usize, FrameError> {
        Ok(match self.announced_len(buf)? {
            None => PREFIX_LEN - buf.len(),
            Some(len) => (PREFIX_LEN + len).saturating_sub(buf.len()),
        })
    }

    /// Splits the next complete frame's payload (prefix removed) off the front of `buf`;
    /// `Ok(None)` if it is not complete yet. An invalid prefix is refused as soon as its 4
    /// bytes are buffered, before anything is reserved for the frame.
    pub fn next_frame(&self, buf: &mut BytesMut) -> Result<Option<BytesMut>, FrameError> {
        let Some(len) = self.announced_len(buf)? else {
            return Ok(None);
        };
        if buf.len() < PREFIX_LEN + len {
            return Ok(None);
        }
        let mut frame = buf.split_to(PREFIX_LEN + len);
        frame.advance(PREFIX_LEN);
        Ok(Some(frame))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_over_reads_and_many_per_read() {
        let s = FrameSplitter::default();
        let mut buf = BytesMut::new();
        let stream = [
            &[0u8, 0, 0, 2, b'N', b'.', 0, 0, 0, 1, b'.'][..],
            &[0, 0, 0, 3, 1, 2, 3],
        ]
        .concat();
        let mut out = Vec::new();
        for &b in &stream {
            buf.extend_from_slice(&[b]);
            while let Some(f) = s.next_frame(&mut buf).unwrap() {
                out.push(f.to_vec());
            }
        }
        assert_eq!(out, vec![b"N.".to_vec(), b".".to_vec(), vec![1, 2, 3]]);
        assert!(buf.is_empty());
    }

    #[test]
    fn limits() {
        let s = FrameSplitter::new(10);
        let mut buf = BytesMut::from(&[0u8, 0, 0, 11][..]);
        assert_eq!(
            s.next_frame(&mut buf),
            Err(FrameError::TooLarge { len: 11, max: 10 })
        );
        assert_eq!(
            s.bytes_needed(&buf),
            Err(FrameError::TooLarge { len: 11, max: 10 })
        );
        let mut buf = BytesMut::from(&[0u8, 0, 0, 10][..]);
        assert_eq!(s.next_frame(&mut buf), Ok(None));
        assert_eq!(s.bytes_needed(&buf), Ok(10));
        let mut buf = BytesMut::from(&[0u8, 0, 0, 0][..]);
        assert_eq!(s.next_frame(&mut buf), Err(FrameError::Empty));
        let mut buf = BytesMut::from(&[0xffu8, 0xff, 0xff, 0xff][..]);
        assert!(matches!(
            FrameSplitter::default().next_frame(&mut buf),
            Err(FrameError::TooLarge { .. })
        ));
        assert_eq!(s.bytes_needed(&[0, 0]), Ok(2));
    }
}
