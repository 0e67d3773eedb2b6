//! Why a pickle frame was refused.

/// A pickle payload that is not a well-formed carbon frame. Each variant names the opcode and
/// the byte offset (within the payload, after the 4-byte length prefix) where decoding stopped.
/// A frame that fails delivers no points at all.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PickleError {
    /// The payload is empty.
    #[error("empty pickle payload")]
    Empty,
    /// The payload is larger than the decoder's 1 GiB limit (carbon's own cap is 1 MiB).
    #[error("pickle payload of {len} bytes is larger than 1 GiB")]
    PayloadTooLarge {
        /// Payload length in bytes.
        len: usize,
    },
    /// The payload ended before the STOP opcode.
    #[error("truncated pickle: no STOP opcode in its {len} bytes")]
    NoStop {
        /// Payload length in bytes.
        len: usize,
    },
    /// An opcode's argument runs past the end of the payload.
    #[error("truncated pickle: {opcode} at byte {offset} needs {needed} bytes, {available} left")]
    Truncated {
        /// The opcode being read.
        opcode: &'static str,
        /// Offset of the opcode byte.
        offset: usize,
        /// Bytes its argument needs (for a length prefix: the announced length).
        needed: u64,
        /// Bytes left after the opcode.
        available: usize,
    },
    /// A text opcode (protocol 0) whose line has no terminating newline.
    #[error("truncated pickle: {opcode} at byte {offset} has no terminating newline")]
    UnterminatedLine {
        /// The opcode being read.
        opcode: &'static str,
        /// Offset of the opcode byte.
        offset: usize,
    },
    /// A known opcode that this decoder deliberately does not execute.
    #[error("refused pickle opcode {name} (0x{opcode:02x}) at byte {offset}: {why}")]
    Refused {
        /// The opcode byte.
        opcode: u8,
        /// Its `pickletools` name.
        name: &'static str,
        /// Offset of the opcode byte.
        offset: usize,
        /// Why it is refused.
        why: &'static str,
    },
    /// A byte that is no pickle opcode.
    #[error("unknown pickle opcode 0x{opcode:02x} at byte {offset}")]
    UnknownOpcode {
        /// The byte.
        opcode: u8,
        /// Its offset.
        offset: usize,
    },
    /// PROTO names a protocol newer than 5.
    #[error("unsupported pickle protocol {protocol} at byte {offset} (0 to 5 are known)")]
    UnsupportedProtocol {
        /// The announced protocol.
        protocol: u8,
        /// Offset of the PROTO opcode.
        offset: usize,
    },
    /// An opcode needs more values than the stack (above the innermost MARK) holds.
    #[error("{opcode} at byte {offset}: stack underflow")]
    StackUnderflow {
        /// The opcode.
        opcode: &'static str,
        /// Its offset.
        offset: usize,
    },
    /// TUPLE, LIST or APPENDS without a preceding MARK.
    #[error("{opcode} at byte {offset}: no MARK to close")]
    NoMark {
        /// The opcode.
        opcode: &'static str,
        /// Its offset.
        offset: usize,
    },
    /// A container nested deeper than carbon's `[(name, (timestamp, value)), ...]`.
    #[error(
        "{opcode} at byte {offset}: nesting deeper than carbon's list of (name, (timestamp, value))"
    )]
    TooDeep {
        /// The opcode that built the container.
        opcode: &'static str,
        /// Its offset.
        offset: usize,
    },
    /// APPEND or APPENDS on something that is not a list.
    #[error("{opcode} at byte {offset}: appending to {found}, not a list")]
    NotAList {
        /// The opcode.
        opcode: &'static str,
        /// Its offset.
        offset: usize,
        /// What was found instead.
        found: &'static str,
    },
    /// A list was changed after being put into another container. Carbon senders never do this;
    /// refusing it rules out self-referencing structures.
    #[error("{opcode} at byte {offset}: list changed after it was put in another container")]
    SealedList {
        /// The opcode.
        opcode: &'static str,
        /// Its offset.
        offset: usize,
    },
    /// GET of a memo key that was never PUT.
    #[error("{opcode} at byte {offset}: memo key {key} was never stored")]
    MemoMissing {
        /// The opcode.
        opcode: &'static str,
        /// Its offset.
        offset: usize,
        /// The key.
        key: u64,
    },
    /// An opcode argument that cannot be parsed (bad number text, bad escape, negative length).
    #[error("{opcode} at byte {offset}: {detail}")]
    BadArgument {
        /// The opcode.
        opcode: &'static str,
        /// Its offset.
        offset: usize,
        /// What is wrong.
        detail: &'static str,
    },
    /// STOP with values or MARKs left over, or with an empty stack.
    #[error("STOP at byte {offset}: {detail}")]
    BadStop {
        /// Offset of the STOP opcode.
        offset: usize,
        /// What is wrong.
        detail: String,
    },
    /// Bytes after STOP.
    #[error("{count} trailing bytes after STOP at byte {offset}")]
    TrailingBytes {
        /// Offset of the STOP opcode.
        offset: usize,
        /// How many bytes follow it.
        count: usize,
    },
    /// The unpickled object is not carbon's list of `(name, (timestamp, value))`.
    #[error("not a carbon frame (STOP at byte {offset}): {reason}")]
    BadShape {
        /// Offset of the STOP opcode.
        offset: usize,
        /// What is wrong, naming the item index.
        reason: String,
    },
}
