//! The page around every view, and the small pieces views share: names shown as text, links
//! to a metric, times.
//!
//! Every outside string (metric names, reasons, services, errors) goes through [`text`]:
//! control and invisible formatting characters escaped as `am-runner alarms` shows them, then
//! HTML-escaped by maud like everything it renders. Nothing outside reaches the page
//! unescaped; the SVG plots are the console's own drawing.

use maud::{DOCTYPE, Markup, PreEscaped, html};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};

/// Characters left as they are in a path segment or query value: unreserved ones.
const KEEP: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// Outside text as a person should see it (maud escapes the HTML).
pub fn text(s: &str) -> String {
    am_daemon::text::escaped(s).into_owned()
}

/// `s` percent-encoded for a URL's path segment or query value.
pub fn enc(s: &str) -> String {
    utf8_percent_encode(s, KEEP).to_string()
}

/// The page of a metric.
pub fn metric_href(name: &str) -> String {
    format!("/metric/{}", enc(name))
}

/// A link to a metric's page, its name as text.
pub fn metric_link(name: &str) -> Markup {
    html! { a.metric href=(metric_href(name)) { (text(name)) } }
}

/// A time as `2024-05-01 12:34:56` (UTC).
pub fn time(ts: i64) -> String {
    chrono::DateTime::from_timestamp(ts, 0)
        .map(|t| t.format("%Y-%m-%d %H:%M:%S").to_string())
        .unwrap_or_else(|| ts.to_string())
}

/// A duration as `3h 05m`, `4m 10s`, `12s`.
pub fn duration(secs: i64) -> String {
    let s = secs.unsigned_abs();
    let sign = if secs < 0 { "-" } else { "" };
    if s >= 86_400 {
        format!("{sign}{}d {:02}h", s / 86_400, s % 86_400 / 3600)
    } else if s >= 3600 {
        format!("{sign}{}h {:02}m", s / 3600, s % 3600 / 60)
    } else if s >= 60 {
        format!("{sign}{}m {:02}s", s / 60, s % 60)
    } else {
        format!("{sign}{s}s")
    }
}

/// A lag as the correlation shows it: `+3m 00s (after)`, `-45s (before)`, `0s`.
pub fn lag(secs: i64) -> String {
    match secs.signum() {
        1 => format!("+{} (after)", duration(secs)),
        -1 => format!("{} (before)", duration(secs)),
        _ => "0s".into(),
    }
}

/// Which page is shown, for the navigation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Nav {
    /// `/`.
    Alarms,
    /// `/find`.
    Find,
    /// `/shape`.
    Shape,
    /// A metric's page.
    Metric,
}

/// A whole page.
pub fn page(title: &str, nav: Nav, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (text(title)) " · anna-molly" }
                link rel="stylesheet" href="/assets/console.css";
                script src="/assets/console.js" defer {}
            }
            body {
                header {
                    span.brand { "anna-molly" }
                    nav {
                        a class=[(nav == Nav::Alarms).then_some("here")] href="/" { "Alarms" }
                        a class=[(nav == Nav::Find).then_some("here")] href="/find" { "Metrics" }
                        a class=[(nav == Nav::Shape).then_some("here")] href="/shape" { "Search by shape" }
                    }
                    form.jump method="get" action="/find" {
                        input type="search" name="pattern" placeholder="metric name or glob" aria-label="metric name or glob";
                    }
                }
                main { (body) }
                footer { "times in UTC · read-only view of Redis" }
            }
        }
    }
}

/// An error box.
pub fn error_box(message: &str) -> Markup {
    html! { p.error role="alert" { (text(message)) } }
}

/// An SVG drawn by the console itself (never outside text).
pub fn svg(drawn: String) -> Markup {
    PreEscaped(drawn)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hostile_names_are_text() {
        let name = "<script>alert(1)</script>\u{1b}[31m\n";
        let html = metric_link(name).into_string();
        assert!(!html.contains("<script>"));
        assert!(html.contains("&lt;script&gt;alert(1)&lt;/script&gt;\\u{1b}[31m\\n"));
        assert!(
            html.contains("href=\"/metric/%3Cscript%3Ealert%281%29%3C%2Fscript%3E%1B%5B31m%0A\"")
        );
    }

    #[test]
    fn lags_and_durations() {
        assert_eq!(lag(180), "+3m 00s (after)");
        assert_eq!(lag(-45), "-45s (before)");
        assert_eq!(lag(0), "0s");
        assert_eq!(duration(90_061), "1d 01h");
    }
}
