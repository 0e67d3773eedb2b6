//! Optional authentication: a bearer token or HTTP basic credentials (`console.auth` in
//! analyzer.json), compared in constant time. A refused request gets 401 with the challenge
//! browsers answer (basic) and nothing else.

use std::sync::Arc;

use am_runner::config::ConsoleAuth;
use axum::extract::{Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use subtle::ConstantTimeEq;

use super::App;

/// The credentials a request must carry.
pub struct Auth {
    /// The whole `Authorization` header value expected.
    expected: Vec<u8>,
    /// The challenge sent with a 401.
    challenge: &'static str,
}

impl std::fmt::Debug for Auth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Auth(..)")
    }
}

impl Auth {
    /// From the config's `console.auth`.
    pub fn new(config: &ConsoleAuth) -> Auth {
        match config {
            ConsoleAuth::BearerToken(token) => Auth {
                expected: format!("Bearer {token}").into_bytes(),
                challenge: "Bearer realm=\"anna-molly\"",
            },
            ConsoleAuth::Basic { username, password } => {
                let b64 = base64::engine::general_purpose::STANDARD
                    .encode(format!("{username}:{password}"));
                Auth {
                    expected: format!("Basic {b64}").into_bytes(),
                    challenge: "Basic realm=\"anna-molly\", charset=\"UTF-8\"",
                }
            }
        }
    }

    /// Whether an `Authorization` header value is the expected one.
    pub fn accepts(&self, given: &[u8]) -> bool {
        given.ct_eq(&self.expected).into()
    }
}

/// The middleware: passes a request with the right credentials, refuses the rest.
pub async fn check(
    State((auth, app)): State<(Arc<Auth>, Arc<App>)>,
    request: Request,
    next: Next,
) -> Response {
    let given = request
        .headers()
        .get(header::AUTHORIZATION)
        .map(|v| v.as_bytes())
        .unwrap_or_default();
    if auth.accepts(given) {
        return next.run(request).await;
    }
    app.metrics.unauthorized.inc();
    (
        StatusCode::UNAUTHORIZED,
        [(header::WWW_AUTHENTICATE, auth.challenge)],
        "authentication required\n",
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_exact_credentials_pass() {
        let a = Auth::new(&ConsoleAuth::Basic {
            username: "ops".into(),
            password: "s3cret".into(),
        });
        assert!(a.accepts(b"Basic b3BzOnMzY3JldA=="));
        assert!(!a.accepts(b"Basic b3BzOnMzY3JldA="));
        assert!(!a.accepts(b""));
        let b = Auth::new(&ConsoleAuth::BearerToken("tok".into()));
        assert!(b.accepts(b"Bearer tok"));
        assert!(!b.accepts(b"Bearer tok2"));
        assert!(!b.accepts(b"bearer tok"));
    }
}
