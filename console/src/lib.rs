//! # am-console: where to look when something is anomalous
//!
//! A web console over the Redis the collector and the runner share, read-only:
//!
//! - `/`: the alarms that are not OK and the newest transitions, filtered by a glob, updating
//!   itself ([`pages`]);
//! - `/metric/<name>`: a stored series plotted over the last hour, day or everything the
//!   retention holds, zoomable, its alarm transitions marked, and below it the metrics that
//!   moved with it ([`correlate`], in the manner of Skyline's Luminosity);
//! - `/shape`: search by shape, in the manner of Etsy's Oculus ([`shape`]);
//! - `/api/alarms`, `/api/correlate`, `/api/shape`: the same as JSON; `/metrics`: the
//!   console's own counters.
//!
//! It reads the alarms through the runner's [`AlarmStore`](am_runner::alarm::store::AlarmStore)
//! and the series through the store's [`Reader`](am_store::Reader) ([`source`]), takes its
//! settings from the runner's `analyzer.json` (`metric_sink`, `alarms`, `console`), and never
//! writes.

pub mod correlate;
pub mod metrics;
pub mod plot;
pub mod search;
pub mod series;
pub mod shape;
pub mod source;
pub mod web;
