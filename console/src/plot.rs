//! Plots as SVG drawn on the server with `plotters`: a series with its alarm transitions
//! marked, and small plots comparing two shapes. The page embeds the SVG as it is; the only
//! text in it is axis labels (numbers and times), which plotters escapes anyway.

use std::ops::Range;

use am_runner::alarm::{AlarmState, Transition};
use am_store::Point;
use plotters::prelude::*;

use crate::series::thin;

/// The line of a series.
const SERIES: RGBColor = RGBColor(31, 102, 178);
/// The reference line of a small plot.
const REFERENCE: RGBColor = RGBColor(150, 150, 150);

/// The colour a state is marked with.
pub fn state_colour(state: AlarmState) -> RGBColor {
    match state {
        AlarmState::Ok => RGBColor(46, 139, 87),
        AlarmState::Pending => RGBColor(230, 145, 0),
        AlarmState::Alarm => RGBColor(200, 30, 30),
        AlarmState::Undetermined => RGBColor(120, 120, 160),
    }
}

/// `#rrggbb` of a colour, for the page's legend.
pub fn css(c: RGBColor) -> String {
    format!("#{:02x}{:02x}{:02x}", c.0, c.1, c.2)
}

/// A drawn plot: the SVG and where its plotting area is, so the page can turn a pixel into a
/// time (zoom, pick the anomaly's time).
#[derive(Debug, Clone)]
pub struct Drawn {
    /// The SVG document.
    pub svg: String,
    /// Pixels of the plotting area, left to right.
    pub x_pixels: Range<i32>,
    /// Its width in pixels (the whole SVG's).
    pub width: u32,
    /// Times at its left and right edges.
    pub from: i64,
    /// See `from`.
    pub until: i64,
}

/// A plotting failure (plotters' own errors, as text).
#[derive(Debug, thiserror::Error)]
#[error("drawing a plot: {0}")]
pub struct PlotError(String);

fn err(e: impl std::fmt::Display) -> PlotError {
    PlotError(e.to_string())
}

type Time = chrono::DateTime<chrono::Utc>;

fn at(ts: i64) -> Time {
    chrono::DateTime::from_timestamp(ts, 0).unwrap_or_default()
}

/// A time as the axis shows it: `HH:MM` within a day, `MM-DD HH:MM` beyond (UTC).
fn time_label(t: &Time, span: i64) -> String {
    if span < 120 {
        t.format("%H:%M:%S").to_string()
    } else if span <= 86_400 {
        t.format("%H:%M").to_string()
    } else {
        t.format("%m-%d %H:%M").to_string()
    }
}

/// A value as the axis shows it: short, with k/M/G beyond a thousand.
pub fn short(v: f64) -> String {
    let a = v.abs();
    let (x, suffix) = if a >= 1e9 {
        (v / 1e9, "G")
    } else if a >= 1e6 {
        (v / 1e6, "M")
    } else if a >= 1e4 {
        (v / 1e3, "k")
    } else {
        (v, "")
    };
    let s = format!("{x:.3}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    format!("{s}{suffix}")
}

/// Splits points where consecutive ones are further apart than `gap`, so a hole in the data
/// shows as one.
fn runs(points: &[Point], gap: i64) -> Vec<&[Point]> {
    let mut out = Vec::new();
    let mut start = 0;
    for i in 1..points.len() {
        if points[i].ts - points[i - 1].ts > gap {
            out.push(&points[start..i]);
            start = i;
        }
    }
    if start < points.len() {
        out.push(&points[start..]);
    }
    out
}

/// A series over `[from, until]` with each transition a vertical line in its new state's
/// colour.
pub fn series(
    points: &[Point],
    transitions: &[Transition],
    from: i64,
    until: i64,
    (width, height): (u32, u32),
) -> Result<Drawn, PlotError> {
    let until = until.max(from + 1);
    let shown = thin(points, from, until, width as usize);
    let (mut lo, mut hi) = shown
        .iter()
        .filter(|p| p.value.is_finite())
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), p| {
            (lo.min(p.value), hi.max(p.value))
        });
    if !lo.is_finite() {
        (lo, hi) = (0.0, 1.0);
    }
    let pad = ((hi - lo) * 0.05).max(hi.abs() * 1e-6).max(1e-9);
    let (lo, hi) = (lo - pad, hi + pad);
    let step = crate::series::native_step(points).unwrap_or(60);
    let span = until - from;
    let mut svg = String::new();
    let x_pixels;
    {
        let root = SVGBackend::with_string(&mut svg, (width, height)).into_drawing_area();
        root.fill(&WHITE).map_err(err)?;
        let mut chart = ChartBuilder::on(&root)
            .margin(8)
            .x_label_area_size(28)
            .y_label_area_size(60)
            .build_cartesian_2d(at(from)..at(until), lo..hi)
            .map_err(err)?;
        chart
            .configure_mesh()
            .x_labels(8)
            .y_labels(6)
            .x_label_formatter(&|t| time_label(t, span))
            .y_label_formatter(&|v| short(*v))
            .light_line_style(RGBColor(240, 240, 240))
            .draw()
            .map_err(err)?;
        for t in transitions.iter().filter(|t| t.ts >= from && t.ts <= until) {
            let colour = state_colour(t.state);
            chart
                .draw_series(std::iter::once(PathElement::new(
                    vec![(at(t.ts), lo), (at(t.ts), hi)],
                    colour.stroke_width(2),
                )))
                .map_err(err)?;
        }
        for run in runs(&shown, 3 * step.max(1)) {
            chart
                .draw_series(LineSeries::new(
                    run.iter().map(|p| (at(p.ts), p.value)),
                    SERIES.stroke_width(1),
                ))
                .map_err(err)?;
        }
        x_pixels = chart.plotting_area().get_pixel_range().0;
        root.present().map_err(err)?;
    }
    Ok(Drawn {
        svg,
        x_pixels,
        width,
        from,
        until,
    })
}

/// A small plot of two shapes on the same axes: `subject` in the series colour over
/// `reference` in grey (both as x, y pairs).
pub fn small(
    subject: &[(f64, f64)],
    reference: &[(f64, f64)],
    (width, height): (u32, u32),
) -> Result<String, PlotError> {
    let all = subject.iter().chain(reference);
    let (x0, x1, y0, y1) = all.fold(
        (
            f64::INFINITY,
            f64::NEG_INFINITY,
            f64::INFINITY,
            f64::NEG_INFINITY,
        ),
        |(a, b, c, d), &(x, y)| (a.min(x), b.max(x), c.min(y), d.max(y)),
    );
    let (x0, x1) = if x0.is_finite() && x1 > x0 {
        (x0, x1)
    } else {
        (0.0, 1.0)
    };
    let (y0, y1) = if y0.is_finite() && y1 > y0 {
        (y0, y1)
    } else {
        (-1.0, 1.0)
    };
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (width, height)).into_drawing_area();
        root.fill(&WHITE).map_err(err)?;
        let mut chart = ChartBuilder::on(&root)
            .margin(4)
            .build_cartesian_2d(x0..x1, y0..y1)
            .map_err(err)?;
        chart
            .draw_series(LineSeries::new(
                reference.iter().copied(),
                REFERENCE.stroke_width(1),
            ))
            .map_err(err)?;
        chart
            .draw_series(LineSeries::new(
                subject.iter().copied(),
                SERIES.stroke_width(2),
            ))
            .map_err(err)?;
        root.present().map_err(err)?;
    }
    Ok(svg)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn a_series_draws_a_line_and_its_marks() {
        let points: Vec<Point> = (0..360)
            .map(|i| Point {
                ts: 1_700_000_000 + i * 10,
                value: (i as f64 / 20.0).sin(),
            })
            .collect();
        let t = Transition {
            algorithm: "A".into(),
            plugin: "A".into(),
            service: "s".into(),
            subject: "m".into(),
            state: AlarmState::Alarm,
            previous_state: Some(AlarmState::Ok),
            severity: "warning".into(),
            reason: String::new(),
            values: Vec::new(),
            ts: 1_700_001_000,
            since: 1_700_001_000,
            labels: Default::default(),
        };
        let d = series(&points, &[t], 1_700_000_000, 1_700_003_600, (800, 300)).unwrap();
        assert!(d.svg.contains("<polyline"));
        assert!(d.svg.to_lowercase().contains(&format!(
            "stroke=\"{}\"",
            css(state_colour(AlarmState::Alarm))
        )));
        assert!(d.x_pixels.start > 0 && d.x_pixels.end <= 800);
        assert!(!d.svg.contains("<script"));
    }

    #[test]
    fn a_hole_breaks_the_line() {
        let p: Vec<Point> = [0, 10, 20, 500, 510]
            .iter()
            .map(|&ts| Point { ts, value: 1.0 })
            .collect();
        assert_eq!(runs(&p, 30).len(), 2);
    }

    #[test]
    fn short_numbers() {
        assert_eq!(short(1234.5), "1234.5");
        assert_eq!(short(12_345.0), "12.345k");
        assert_eq!(short(2.5e9), "2.5G");
        assert_eq!(short(0.0), "0");
    }
}
