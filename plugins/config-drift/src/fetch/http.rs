//! Fetching a URL with `ureq`: one agent per plugin instance, a global timeout (connect,
//! TLS, headers and body), a body limit, HTTP errors as errors. TLS trusts the system's root
//! certificates, as the runner does (a fleet's endpoints often use a company CA).

use ureq::Agent;
use ureq::tls::{Certificate, RootCerts, TlsConfig};

use super::FetchLimits;
use crate::error::SourceError;

/// The agent for `limits`: the system's roots when it has any, else Mozilla's.
pub fn agent(limits: FetchLimits) -> Agent {
    let native = rustls_native_certs::load_native_certs();
    let roots: Vec<Certificate<'static>> = native
        .certs
        .iter()
        .map(|der| Certificate::from_der(der.as_ref()).to_owned())
        .collect();
    let roots = if roots.is_empty() {
        RootCerts::WebPki
    } else {
        RootCerts::new_with_certs(&roots)
    };
    Agent::config_builder()
        .timeout_global(Some(limits.timeout))
        .http_status_as_error(true)
        .max_redirects(5)
        .tls_config(TlsConfig::builder().root_certs(roots).build())
        .user_agent("anna-molly ConfigDrift")
        .build()
        .into()
}

/// The body at `url`, at most `max_bytes` of it.
pub(super) fn get(agent: &Agent, url: &str, limits: FetchLimits) -> Result<Vec<u8>, SourceError> {
    let shown = super::without_credentials(url);
    let error = |e: ureq::Error| match e {
        ureq::Error::BodyExceedsLimit(limit) => SourceError::TooLarge {
            what: shown.clone(),
            limit,
            size: None,
        },
        ureq::Error::StatusCode(code) => SourceError::Http {
            url: shown.clone(),
            message: format!("HTTP status {code}"),
        },
        other => SourceError::Http {
            url: shown.clone(),
            message: other.to_string(),
        },
    };
    let mut response = agent.get(url).call().map_err(error)?;
    response
        .body_mut()
        .with_config()
        .limit(limits.max_bytes)
        .read_to_vec()
        .map_err(error)
}
