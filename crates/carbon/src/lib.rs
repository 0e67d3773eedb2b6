//! # am-carbon: the carbon wire protocols
//!
//! What carbon-relay, carbon-c-relay and other Graphite senders put on the wire, decoded the way
//! carbon's own receivers (graphite-carbon 1.1, Python 3) decode it.
//!
//! ## Pickle ([`pickle`])
//!
//! Over TCP each frame is a 4-byte big-endian length and that many bytes of pickle
//! ([`pickle::FrameSplitter`], capped at 1 MiB like carbon). The pickle holds a list of
//! `(name, (timestamp, value))`. carbon-relay writes protocol 2 (`BINUNICODE`, `BINFLOAT`,
//! `TUPLE2`, memo `BINPUT`s, `APPENDS`); Python 2 senders use byte strings and ints; statsd
//! sends numbers as strings; other clients use protocols 0 to 5 and lists for the inner pairs.
//!
//! **Accepted**: the data opcodes of protocols 0–5 that such a list needs: PROTO, FRAME, STOP,
//! MARK, the list and tuple builders, APPEND(S), every string, bytes, int, long, float and bool
//! opcode, NONE, and the memo (PUT/GET and their binary forms, MEMOIZE). Timestamps and values
//! are converted like Python's `float()` (ints, bools, floats, numeric strings such as `"1.5"`
//! or `"nan"`); names are text or UTF-8 bytes.
//!
//! **Refused** (the frame is dropped, naming the opcode and its byte offset): anything that
//! imports or calls code (GLOBAL, STACK_GLOBAL, REDUCE, BUILD, INST, OBJ, NEWOBJ(_EX)),
//! persistent ids, the extension registry, dicts, sets, stack manipulation and out-of-band
//! buffers. Pickle is a program, and carbon data never needs these, so the decoder is a small
//! data-only interpreter that executes nothing.
//!
//! **Bounded**: no recursion (an explicit stack; containers are refused as soon as they nest
//! deeper than carbon's three levels), memory proportional to the frame (the memo grows with
//! the number of PUTs, not the indices they name; a memo GET shares instead of copying, so a
//! list fetched 100 000 times costs 100 000 slots; lengths are checked against the bytes left
//! before anything is read), no panics on any input, and truncation or trailing bytes are errors.
//!
//! **Semantics**: a frame that is not a list of 2-element `(name, (timestamp, value))` pairs is
//! refused whole. Within a good frame, a point whose name is not UTF-8 or whose timestamp or
//! value `float()` would refuse is skipped and counted ([`pickle::FrameStats`]), and NaN values
//! are dropped and counted, as carbon drops them. Points reach the caller only after the whole
//! frame decoded, so a bad frame delivers nothing.
//!
//! [`pickle::encode_frame`] writes carbon-relay's exact bytes, for load generators and tests.
//!
//! ## Plaintext ([`plaintext`])
//!
//! `name value timestamp\n`, fields separated by any whitespace, a trailing `\r` tolerated,
//! numbers as Python's `float()` reads them. [`plaintext::parse_line`] names what is wrong with
//! a bad line and reports NaN values separately; [`plaintext::LineSplitter`] skips over-long
//! lines without buffering them.

pub mod pickle;
pub mod plaintext;
mod pynum;

pub use pickle::{
    Datapoint, Decoder, FrameError, FrameSplitter, FrameStats, PickleError, decode_frame,
    decode_points, encode_frame,
};
pub use plaintext::{LineError, LineSplitter, parse_line};
