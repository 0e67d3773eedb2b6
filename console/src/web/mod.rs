//! The HTTP side: routes, limits, authentication and the headers every answer carries.
//!
//! - Every request is bounded: bodies to [`MAX_BODY`], handling to [`REQUEST_TIMEOUT`], at most
//!   [`MAX_CONCURRENT`] at once; connections are bounded in number and idle time
//!   ([`Bounded`]); searches over every metric run one at a time
//!   ([`App::heavy`]) on blocking threads, so pages and the alarms' updates stay quick while
//!   one runs.
//! - With `console.auth` set, every route (assets and `/metrics` included) needs the bearer
//!   token or the basic credentials ([`auth`]).
//! - Answers carry a Content-Security-Policy allowing only the console's own script and style
//!   (no inline script can run even if some text escaped the escaping), `nosniff`, no framing
//!   and no referrer.

mod alarms;
mod assets;
mod auth;
pub mod layout;
mod listener;
mod metric;
mod searches;

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::{HeaderName, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use tokio::sync::Semaphore;
use tower_http::set_header::SetResponseHeaderLayer;
use tower_http::timeout::TimeoutLayer;

use crate::metrics::ConsoleMetrics;
use crate::source::Source;

pub use auth::Auth;
pub use listener::Bounded;

/// Largest request body (a pasted shape of [`crate::shape::MAX_INPUT`] values fits).
pub const MAX_BODY: usize = 256 * 1024;

/// Longest a request may take before it is answered 408.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// Requests handled at once; more wait.
pub const MAX_CONCURRENT: usize = 64;

/// What every handler shares.
#[derive(Debug)]
pub struct App {
    /// Where the data is.
    pub source: Source,
    /// The console's counters.
    pub metrics: Arc<ConsoleMetrics>,
    /// One search over every metric at a time: each takes a core and much of Redis.
    pub heavy: Arc<Semaphore>,
    /// Seconds between two updates of the alarms page.
    pub refresh_secs: u64,
}

impl App {
    /// The state of a console reading `source`.
    pub fn new(source: Source, metrics: Arc<ConsoleMetrics>) -> App {
        App {
            source,
            metrics,
            heavy: Arc::new(Semaphore::new(1)),
            refresh_secs: 5,
        }
    }
}

/// Every route, with the limits, the headers and (when set) authentication.
pub fn router(app: Arc<App>, auth: Option<Auth>) -> Router {
    let routes = Router::new()
        .route("/", get(alarms::index))
        .route("/fragment/alarms", get(alarms::fragment))
        .route("/api/alarms", get(alarms::api))
        .route("/find", get(metric::find))
        .route("/metric/{*name}", get(metric::metric_page))
        .route("/api/series", get(metric::api_series))
        .route("/fragment/correlate", get(searches::correlate_fragment))
        .route("/api/correlate", get(searches::correlate_api))
        .route("/shape", get(searches::shape_page))
        .route("/fragment/shape", post(searches::shape_fragment))
        .route("/api/shape", post(searches::shape_api))
        .route("/metrics", get(prometheus))
        .route("/assets/console.css", get(assets::css))
        .route("/assets/console.js", get(assets::js))
        .fallback(not_found)
        .with_state(app.clone());
    let routes = match auth {
        Some(auth) => routes.layer(axum::middleware::from_fn_with_state(
            (Arc::new(auth), app),
            auth::check,
        )),
        None => routes,
    };
    let routes = routes
        .layer(DefaultBodyLimit::max(MAX_BODY))
        .layer(TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            REQUEST_TIMEOUT,
        ))
        .layer(tower::limit::ConcurrencyLimitLayer::new(MAX_CONCURRENT));
    let routes = SECURITY_HEADERS
        .into_iter()
        .fold(routes, |routes, (name, value)| {
            routes.layer(SetResponseHeaderLayer::overriding(
                name,
                HeaderValue::from_static(value),
            ))
        });
    routes.layer(SetResponseHeaderLayer::if_not_present(
        header::CACHE_CONTROL,
        HeaderValue::from_static("no-store"),
    ))
}

/// Headers set on every answer: the console's own scripts, styles and forms only; no
/// sniffing, framing or referrer.
const SECURITY_HEADERS: [(HeaderName, &str); 4] = [
    (
        header::CONTENT_SECURITY_POLICY,
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; \
         connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'",
    ),
    (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
    (header::X_FRAME_OPTIONS, "DENY"),
    (header::REFERRER_POLICY, "no-referrer"),
];

async fn not_found() -> Response {
    let body = layout::page(
        "not found",
        layout::Nav::Alarms,
        layout::error_box("No such page."),
    );
    (StatusCode::NOT_FOUND, body).into_response()
}

async fn prometheus(
    axum::extract::State(app): axum::extract::State<Arc<App>>,
) -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        am_daemon::render_prometheus(app.metrics.as_ref()),
    )
}

/// Earliest and latest times a request may name (1970 to 2100): anything else is a mistake,
/// and arithmetic on it could overflow.
const TIMES: std::ops::RangeInclusive<i64> = 0..=4_102_444_800;

/// `t` if it is a plausible Unix time, else a 400 naming `what`.
pub fn check_time(what: &str, t: i64) -> Result<i64, Failure> {
    if TIMES.contains(&t) {
        Ok(t)
    } else {
        Err(Failure::bad_request(format!(
            "{what} must be a Unix time in seconds between 1970 and 2100, got {t}"
        )))
    }
}

/// A failure shown to the reader: its status and message (as text).
#[derive(Debug)]
pub struct Failure {
    status: StatusCode,
    message: String,
    json: bool,
}

impl Failure {
    /// A 400: the request is wrong.
    pub fn bad_request(message: impl Into<String>) -> Failure {
        Failure {
            status: StatusCode::BAD_REQUEST,
            message: message.into(),
            json: false,
        }
    }

    /// A 404.
    pub fn not_found(message: impl Into<String>) -> Failure {
        Failure {
            status: StatusCode::NOT_FOUND,
            message: message.into(),
            json: false,
        }
    }

    /// A 502: Redis failed.
    pub fn upstream(message: impl Into<String>) -> Failure {
        Failure {
            status: StatusCode::BAD_GATEWAY,
            message: message.into(),
            json: false,
        }
    }

    /// The same failure, answered as `{"error": "..."}`.
    pub fn as_json(mut self) -> Failure {
        self.json = true;
        self
    }
}

impl From<crate::source::SourceError> for Failure {
    fn from(e: crate::source::SourceError) -> Failure {
        Failure::upstream(e.to_string())
    }
}

impl From<crate::search::SearchError> for Failure {
    fn from(e: crate::search::SearchError) -> Failure {
        use crate::search::SearchError as E;
        match e {
            E::NotStored(_) => Failure::not_found(e.to_string()),
            E::Reference(_) | E::Pattern(_) => Failure::bad_request(e.to_string()),
            E::Source(_) => Failure::upstream(e.to_string()),
        }
    }
}

impl IntoResponse for Failure {
    fn into_response(self) -> Response {
        if self.status.is_server_error() {
            tracing::warn!(status = %self.status, error = %am_daemon::text::escaped(&self.message), "request failed");
        }
        if self.json {
            let body = serde_json::json!({ "error": self.message });
            return (self.status, axum::Json(body)).into_response();
        }
        (self.status, layout::error_box(&self.message)).into_response()
    }
}
