//! The `Email` output: one message per transition over SMTP (`lettre`), STARTTLS by default.

use std::time::Duration;

use lettre::message::Mailbox;
use lettre::message::header::ContentType;
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Certificate, Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

use super::SendError;
use super::config::EmailConfig;
use super::format::{rfc3339, summary};
use crate::alarm::Transition;
use crate::output::ConfigIssue;

/// Checks what serde cannot: the addresses, the server, the security word.
pub fn validate(c: &EmailConfig, at: &dyn Fn(&str) -> String) -> Vec<ConfigIssue> {
    let mut issues = Vec::new();
    if c.from.parse::<Mailbox>().is_err() {
        issues.push(ConfigIssue::new(
            at("from"),
            format!("not an email address: {:?}", c.from),
        ));
    }
    if c.to.is_empty() {
        issues.push(ConfigIssue::new(at("to"), "give at least one recipient"));
    }
    for (i, to) in c.to.iter().enumerate() {
        if to.parse::<Mailbox>().is_err() {
            issues.push(ConfigIssue::new(
                at(&format!("to[{i}]")),
                format!("not an email address: {to:?}"),
            ));
        }
    }
    if let Err(e) = server(&c.smtp, &c.security) {
        issues.push(ConfigIssue::new(at("smtp"), e));
    }
    if !matches!(c.security.as_str(), "starttls" | "tls" | "none") {
        issues.push(ConfigIssue::new(
            at("security"),
            "expected `starttls`, `tls` or `none`",
        ));
    }
    if c.username.is_some() != c.password.is_some() {
        issues.push(ConfigIssue::new(
            at("password"),
            "give both `username` and `password`, or neither",
        ));
    }
    issues
}

/// `host:port` (587 by default, 465 for `tls`).
fn server(smtp: &str, security: &str) -> Result<(String, u16), String> {
    let default = if security == "tls" { 465 } else { 587 };
    match smtp.rsplit_once(':') {
        Some((host, port)) if !host.is_empty() => port
            .parse()
            .map(|p| (host.to_owned(), p))
            .map_err(|_| format!("bad port in {smtp:?}")),
        Some(_) => Err(format!("no host in {smtp:?}")),
        None if smtp.is_empty() => Err("no host".into()),
        None => Ok((smtp.to_owned(), default)),
    }
}

/// Sends transitions by email.
pub struct EmailSender {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
    to: Vec<Mailbox>,
    prefix: String,
}

impl std::fmt::Debug for EmailSender {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EmailSender")
            .field("to", &self.to)
            .finish_non_exhaustive()
    }
}

impl EmailSender {
    /// The sender of a (validated) config.
    pub fn new(c: &EmailConfig) -> Result<EmailSender, String> {
        let (host, port) = server(&c.smtp, &c.security)?;
        let mut params = TlsParameters::builder(host.clone());
        if let Some(file) = &c.ca_file {
            let pem =
                std::fs::read(file).map_err(|e| format!("reading {}: {e}", file.display()))?;
            for one in pem_blocks(&pem) {
                let cert = Certificate::from_pem(one.as_bytes())
                    .map_err(|e| format!("{}: {e}", file.display()))?;
                params = params.add_root_certificate(cert);
            }
        }
        let params = params
            .build_rustls()
            .map_err(|e| format!("TLS settings: {e}"))?;
        let tls = match c.security.as_str() {
            "tls" => Tls::Wrapper(params),
            "none" => Tls::None,
            _ => Tls::Required(params),
        };
        let mut builder = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(host)
            .port(port)
            .tls(tls)
            .timeout(Some(Duration::from_secs(c.timeout_secs.max(1))));
        if let (Some(u), Some(p)) = (&c.username, &c.password) {
            builder = builder.credentials(Credentials::new(u.clone(), p.clone()));
        }
        let parse = |a: &str| a.parse::<Mailbox>().map_err(|e| format!("{a:?}: {e}"));
        Ok(EmailSender {
            transport: builder.build(),
            from: parse(&c.from)?,
            to: c.to.iter().map(|t| parse(t)).collect::<Result<_, _>>()?,
            prefix: c.subject_prefix.clone(),
        })
    }

    /// Sends one transition.
    pub async fn send(&self, t: &Transition) -> Result<(), SendError> {
        let mut message = Message::builder()
            .from(self.from.clone())
            .subject(format!("{} {}", self.prefix, summary(t)))
            .header(ContentType::TEXT_PLAIN);
        for to in &self.to {
            message = message.to(to.clone());
        }
        let body = format!(
            "{}\n\nalgorithm: {}\nplugin: {}\nservice: {}\nmetric: {}\nstate: {} (was {})\nseverity: {}\nsince: {}\nat: {}\n",
            summary(t),
            t.algorithm,
            t.plugin,
            t.service,
            am_daemon::text::escaped(&t.subject),
            t.state,
            t.previous_state.map_or("none", |s| s.as_str()),
            t.severity,
            rfc3339(t.since),
            rfc3339(t.ts),
        );
        let message = message.body(body).map_err(|e| SendError {
            retry: false,
            message: format!("building the message: {e}"),
        })?;
        self.transport.send(message).await.map(|_| ()).map_err(|e| {
            let text = super::http::chain(&e);
            SendError {
                retry: !e.is_permanent() && !text.contains("certificate"),
                message: text,
            }
        })
    }
}

/// The certificates of a PEM bundle, one block each.
fn pem_blocks(pem: &[u8]) -> Vec<String> {
    let text = String::from_utf8_lossy(pem);
    text.split_inclusive("-----END CERTIFICATE-----")
        .filter(|b| b.contains("-----BEGIN CERTIFICATE-----"))
        .map(|b| b.trim().to_owned())
        .collect()
}
