//! The `console` section: settings of the web console, `am-console`, which reads this file for
//! the Redis address and the alarms' prefix and keeps its own few settings here.

use serde::Deserialize;

/// Where `am-console` listens and who may read it. The runner itself ignores the section.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ConsoleConfig {
    /// `host:port` to listen on; `--listen` overrides it. Default `127.0.0.1:9110`: only this
    /// host, since the console shows every stored metric's name.
    pub listen: String,
    /// Who may read the console: `{"bearer_token": "..."}` (an `Authorization: Bearer`
    /// header) or `{"basic": {"username": "...", "password": "..."}}` (HTTP basic auth, which
    /// browsers ask for). None by default.
    pub auth: Option<ConsoleAuth>,
}

impl Default for ConsoleConfig {
    fn default() -> Self {
        ConsoleConfig {
            listen: "127.0.0.1:9110".into(),
            auth: None,
        }
    }
}

/// How a reader of the console proves who they are.
#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "snake_case")]
pub enum ConsoleAuth {
    /// `Authorization: Bearer <token>`.
    BearerToken(String),
    /// HTTP basic auth.
    Basic {
        /// The user name.
        username: String,
        /// The password.
        password: String,
    },
}

impl std::fmt::Debug for ConsoleAuth {
    // Secrets stay out of logs and panics.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ConsoleAuth::BearerToken(_) => f.write_str("BearerToken(..)"),
            ConsoleAuth::Basic { username, .. } => write!(f, "Basic({username:?}, ..)"),
        }
    }
}

impl ConsoleConfig {
    /// Problems with the section: `(JSON path, message)`.
    pub fn validate(&self) -> Vec<(&'static str, String)> {
        let mut out = Vec::new();
        if self.listen.parse::<std::net::SocketAddr>().is_err() {
            out.push((
                "console.listen",
                format!(
                    "expected an address like \"127.0.0.1:9110\", got {:?}",
                    self.listen
                ),
            ));
        }
        match &self.auth {
            Some(ConsoleAuth::BearerToken(t)) if t.is_empty() => {
                out.push(("console.auth.bearer_token", "must not be empty".into()));
            }
            Some(ConsoleAuth::Basic { username, password })
                if username.is_empty() || username.contains(':') || password.is_empty() =>
            {
                out.push((
                    "console.auth.basic",
                    "expected a non-empty username without ':' and a non-empty password".into(),
                ));
            }
            _ => {}
        }
        out
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn parse(console: &str) -> Result<ConsoleConfig, String> {
        serde_json::from_str::<ConsoleConfig>(console).map_err(|e| e.to_string())
    }

    #[test]
    fn defaults_to_this_host_without_auth() {
        let c = parse("{}").unwrap();
        assert_eq!(c.listen, "127.0.0.1:9110");
        assert!(c.auth.is_none());
        assert!(c.validate().is_empty());
    }

    #[test]
    fn names_each_mistake() {
        let c = parse(r#"{"listen": "0.0.0.0", "auth": {"bearer_token": ""}}"#).unwrap();
        let paths: Vec<&str> = c.validate().iter().map(|(p, _)| *p).collect();
        assert_eq!(paths, ["console.listen", "console.auth.bearer_token"]);
        let c = parse(r#"{"auth": {"basic": {"username": "a:b", "password": "p"}}}"#).unwrap();
        assert_eq!(c.validate()[0].0, "console.auth.basic");
        assert!(parse(r#"{"listen": "127.0.0.1:1", "port": 2}"#).is_err());
        assert!(parse(r#"{"auth": {"digest": "x"}}"#).is_err());
    }

    #[test]
    fn secrets_stay_out_of_debug_output() {
        let c =
            parse(r#"{"auth": {"basic": {"username": "ops", "password": "hunter2"}}}"#).unwrap();
        let shown = format!("{c:?}");
        assert!(
            shown.contains("ops") && !shown.contains("hunter2"),
            "{shown}"
        );
        let c = parse(r#"{"auth": {"bearer_token": "t0ken"}}"#).unwrap();
        assert!(!format!("{c:?}").contains("t0ken"));
    }
}
