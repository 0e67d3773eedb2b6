//! Carbon's plaintext protocol: one `name value timestamp` line per datapoint, `\n`-terminated.
//!
//! Carbon parses a line with `metric, value, timestamp = line.strip().split()` and `float()`
//! on the numbers, and drops NaN values; [`parse_line`] does the same, naming what was wrong.
//!
//! Writing: [`series_name`] and [`format_line`] build names and lines that can never inject a
//! line or a field, whatever a plugin, a host name or a config file puts into them.

mod parse;
mod write;

pub use parse::{DEFAULT_MAX_LINE, LineError, LineSplitter, parse_line};
pub use write::{format_line, format_value, sanitize_part, series_name};
