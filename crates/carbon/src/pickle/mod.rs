//! Carbon's pickle protocol: framing, a data-only decoder and an encoder.
//!
//! See the crate documentation for what is accepted and refused.

mod decode;
mod encode;
mod error;
mod frame;
mod opcodes;
mod text;

pub use decode::{Decoder, FrameStats};
pub use encode::{encode_frame, encode_frame_into};
pub use error::PickleError;
pub use frame::{DEFAULT_MAX_FRAME, FrameError, FrameSplitter, PREFIX_LEN};
pub use opcodes::opcode_name;

/// One datapoint as [`decode_points`] returns it.
#[derive(Debug, Clone, PartialEq)]
pub struct Datapoint {
    /// Metric name.
    pub name: String,
    /// Seconds since the epoch, as sent (carbon truncates to whole seconds later).
    pub timestamp: f64,
    /// The value.
    pub value: f64,
}

/// Decodes one frame payload (without its 4-byte length prefix), calling
/// `visit(name, timestamp, value)` for each valid point, and only once the whole frame is known
/// to be good: a refused frame delivers nothing. Names are borrowed from the payload where no
/// unescaping was needed. For many frames, reuse a [`Decoder`] instead.
pub fn decode_frame(
    payload: &[u8],
    visit: impl FnMut(&str, f64, f64),
) -> Result<FrameStats, PickleError> {
    Decoder::new().decode(payload, visit)
}

/// [`decode_frame`] collecting the points into owned [`Datapoint`]s.
pub fn decode_points(payload: &[u8]) -> Result<(Vec<Datapoint>, FrameStats), PickleError> {
    let mut points = Vec::new();
    let stats = decode_frame(payload, |name, timestamp, value| {
        points.push(Datapoint {
            name: name.to_owned(),
            timestamp,
            value,
        });
    })?;
    Ok((points, stats))
}
