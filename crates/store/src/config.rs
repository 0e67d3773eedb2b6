//! How config files say where Redis is: anna-molly's flat `host`/`port`/`db`/`password`, a
//! `url`, ACL users, TLS files, Sentinel and Cluster, all beside a daemon's other settings
//! (see [`redis_config!`](crate::redis_config)), and the checks serde cannot make.

use std::path::Path;

use serde::Deserialize;

use crate::addr::{NodeAddr, RedisAddr, SentinelAddr, TlsFiles};

/// A Redis URL in a config: `redis://[user[:password]@]host[:port][/db]`, or `rediss://` for
/// TLS. Refused when it does not parse, with the reason, at its JSON path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RedisUrl {
    /// Host, port, TLS and credentials.
    pub node: NodeAddr,
    /// The database of the path (`/3`), if any.
    pub db: Option<u32>,
}

impl RedisUrl {
    /// Parses a URL; the error says what is wrong.
    pub fn parse(text: &str) -> Result<RedisUrl, String> {
        let url = url::Url::parse(text).map_err(|e| format!("invalid URL {text:?}: {e}"))?;
        let tls = match url.scheme() {
            "redis" => false,
            "rediss" => true,
            other => {
                return Err(format!(
                    "URL scheme {other:?} is not supported: expected redis:// or rediss://"
                ));
            }
        };
        let host = match url.host() {
            Some(url::Host::Domain(d)) => d.to_string(),
            Some(url::Host::Ipv4(a)) => a.to_string(),
            Some(url::Host::Ipv6(a)) => a.to_string(),
            None => return Err(format!("URL {text:?} names no host")),
        };
        if url.query().is_some() || url.fragment().is_some() {
            return Err(format!(
                "URL {text:?}: query parameters are not supported (use the config's fields)"
            ));
        }
        let decode = |s: &str| {
            percent_decode(s).map_err(|e| format!("URL {text:?}: {e} in its user or password"))
        };
        let username = match url.username() {
            "" => None,
            u => Some(decode(u)?),
        };
        let password = url.password().map(decode).transpose()?;
        let db = match url.path().trim_start_matches('/') {
            "" => None,
            p => Some(p.parse::<u32>().map_err(|_| {
                format!("URL {text:?}: the path must be a database number, not {p:?}")
            })?),
        };
        Ok(RedisUrl {
            node: NodeAddr {
                host,
                port: url.port().unwrap_or(RedisAddr::DEFAULT_PORT),
                tls,
                username,
                password,
            },
            db,
        })
    }
}

/// `%XX` escapes of a URL's user or password, decoded.
fn percent_decode(s: &str) -> Result<String, String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        if b == b'%' {
            let hex = bytes
                .get(i + 1..i + 3)
                .and_then(|h| std::str::from_utf8(h).ok())
                .and_then(|h| u8::from_str_radix(h, 16).ok())
                .ok_or("a bad %-escape")?;
            out.push(hex);
            i += 3;
        } else {
            out.push(b);
            i += 1;
        }
    }
    String::from_utf8(out).map_err(|_| "invalid UTF-8".to_string())
}

impl<'de> Deserialize<'de> for RedisUrl {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        RedisUrl::parse(&text).map_err(serde::de::Error::custom)
    }
}

/// `"sentinel": { "master_name": "mymaster", "urls": ["redis://host:26379", ...] }`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SentinelConfig {
    /// The master's name in the sentinels' configuration.
    pub master_name: String,
    /// The sentinels (`redis://[:password@]host:port`, `rediss://` for TLS).
    pub urls: Vec<RedisUrl>,
}

/// The Redis fields of one config struct, borrowed, as [`redis_config!`](crate::redis_config)
/// declares them: what `addr()` and `redis_problems()` of that struct work on.
#[derive(Debug, Clone, Copy)]
pub struct RedisFields<'a> {
    /// `host`.
    pub host: &'a Option<String>,
    /// `port`.
    pub port: &'a Option<u16>,
    /// `db`.
    pub db: &'a Option<u32>,
    /// `url`.
    pub url: &'a Option<RedisUrl>,
    /// `username`.
    pub username: &'a Option<String>,
    /// `password`.
    pub password: &'a Option<String>,
    /// `tls`.
    pub tls: &'a Option<TlsFiles>,
    /// `sentinel`.
    pub sentinel: &'a Option<SentinelConfig>,
    /// `cluster`.
    pub cluster: &'a Option<Vec<RedisUrl>>,
}

impl RedisFields<'_> {
    /// Every URL given, with its field path.
    fn urls(&self) -> Vec<(String, &RedisUrl)> {
        let mut out = Vec::new();
        if let Some(u) = self.url {
            out.push(("url".to_string(), u));
        }
        if let Some(s) = self.sentinel {
            out.extend(
                s.urls
                    .iter()
                    .enumerate()
                    .map(|(i, u)| (format!("sentinel.urls[{i}]"), u)),
            );
        }
        if let Some(c) = self.cluster {
            out.extend(
                c.iter()
                    .enumerate()
                    .map(|(i, u)| (format!("cluster[{i}]"), u)),
            );
        }
        out
    }

    /// Whether connections use TLS: a `tls` object, or a `rediss://` URL.
    fn tls_on(&self) -> bool {
        self.tls.is_some() || self.urls().iter().any(|(_, u)| u.node.tls)
    }

    /// The address these fields describe. Conflicting fields (see
    /// [`problems`](Self::problems)) resolve in an unspecified but harmless way: check first.
    pub fn addr(&self) -> RedisAddr {
        let tls = match self.tls {
            Some(t) => Some(t.clone()),
            None => self.tls_on().then(TlsFiles::default),
        };
        // Credentials: the fields, else the URL's (the first cluster node's that has some).
        let from_urls = match (self.url, self.cluster) {
            (Some(u), _) => Some(&u.node),
            (None, Some(c)) => c
                .iter()
                .map(|u| &u.node)
                .find(|n| n.password.is_some() || n.username.is_some()),
            _ => None,
        };
        let username = self
            .username
            .clone()
            .or_else(|| from_urls.and_then(|n| n.username.clone()));
        let password = self
            .password
            .clone()
            .or_else(|| from_urls.and_then(|n| n.password.clone()));
        let (host, port, url_db) = match self.url {
            Some(u) => (u.node.host.clone(), u.node.port, u.db),
            None => (
                self.host
                    .clone()
                    .unwrap_or_else(|| RedisAddr::DEFAULT_HOST.to_owned()),
                self.port.unwrap_or(RedisAddr::DEFAULT_PORT),
                None,
            ),
        };
        RedisAddr {
            host,
            port,
            db: self.db.or(url_db).unwrap_or(0),
            username,
            password,
            tls,
            sentinel: self.sentinel.as_ref().map(|s| SentinelAddr {
                master_name: s.master_name.clone(),
                nodes: s.urls.iter().map(|u| u.node.clone()).collect(),
            }),
            cluster: self
                .cluster
                .iter()
                .flatten()
                .map(|u| u.node.clone())
                .collect(),
        }
    }

    /// What serde cannot check: fields that exclude each other, URLs that say what fields
    /// say too, TLS files that cannot be read. Each as (path relative to the struct, message).
    pub fn problems(&self) -> Vec<(String, String)> {
        let mut out: Vec<(String, String)> = Vec::new();
        let mut p = |path: &str, msg: String| out.push((path.to_string(), msg));
        let flat = self.host.is_some() || self.port.is_some();
        if let Some(u) = self.url {
            if flat {
                p(
                    "url",
                    "give either `url` or `host`/`port`, not both".to_string(),
                );
            }
            if u.db.is_some() && self.db.is_some() {
                p(
                    "db",
                    "the database is given twice: in `url` and in `db`".to_string(),
                );
            }
            if u.node.username.is_some() && self.username.is_some() {
                p(
                    "username",
                    "the user is given twice: in `url` and in `username`".to_string(),
                );
            }
            if u.node.password.is_some() && self.password.is_some() {
                p(
                    "password",
                    "the password is given twice: in `url` and in `password`".to_string(),
                );
            }
        }
        if let Some(s) = self.sentinel {
            if flat || self.url.is_some() {
                p("sentinel", "the sentinels find the master: drop `host`, `port` and `url` (its user, password and database go in `username`, `password` and `db`)".to_string());
            }
            if s.master_name.is_empty() {
                p("sentinel.master_name", "must not be empty".to_string());
            }
            if s.urls.is_empty() {
                p(
                    "sentinel.urls",
                    "expected at least one sentinel URL".to_string(),
                );
            }
            for (i, u) in s.urls.iter().enumerate() {
                if u.db.is_some() {
                    p(
                        &format!("sentinel.urls[{i}]"),
                        "a sentinel's URL names no database (use `db`)".to_string(),
                    );
                }
            }
        }
        if let Some(c) = self.cluster {
            if self.sentinel.is_some() {
                p(
                    "cluster",
                    "`cluster` and `sentinel` exclude each other".to_string(),
                );
            }
            if flat || self.url.is_some() {
                p(
                    "cluster",
                    "the cluster's nodes are its URLs: drop `host`, `port` and `url`".to_string(),
                );
            }
            if c.is_empty() {
                p("cluster", "expected at least one node URL".to_string());
            }
            if self.db.is_some_and(|d| d != 0) {
                p("db", "a Redis Cluster has only database 0".to_string());
            }
            for (i, u) in c.iter().enumerate() {
                if u.db.is_some_and(|d| d != 0) {
                    p(
                        &format!("cluster[{i}]"),
                        "a Redis Cluster has only database 0".to_string(),
                    );
                }
            }
        }
        if self.tls_on() {
            for (path, u) in self.urls() {
                if !u.node.tls {
                    p(&path, "TLS is on (a `tls` object or a `rediss://` URL), so this must be a `rediss://` URL too".to_string());
                }
            }
        }
        if self.username.is_some() && self.password.is_none() && self.url.is_none() {
            p(
                "password",
                "an ACL user (`username`) needs a password".to_string(),
            );
        }
        if let Some(t) = self.tls {
            match (&t.cert_file, &t.key_file) {
                (Some(_), None) => p(
                    "tls.key_file",
                    "needed with `cert_file` (the client certificate's key)".to_string(),
                ),
                (None, Some(_)) => p(
                    "tls.cert_file",
                    "needed with `key_file` (the client certificate)".to_string(),
                ),
                _ => {}
            }
            for (field, file) in [
                ("tls.ca_file", &t.ca_file),
                ("tls.cert_file", &t.cert_file),
                ("tls.key_file", &t.key_file),
            ] {
                if let Some(f) = file
                    && let Err(e) = std::fs::File::open(f)
                {
                    p(field, format!("cannot read {}: {e}", show(f)));
                }
            }
        }
        out
    }
}

fn show(p: &Path) -> String {
    p.display().to_string()
}

/// Declares a config struct that holds where Redis is, beside its own fields, and its
/// `addr()` and `redis_problems()`.
///
/// The fields (all optional): anna-molly's `host` (default 127.0.0.1), `port` (6379), `db`
/// (0) and `password`; `url` (`redis://` or `rediss://user:password@host:port/db`, instead of
/// `host`/`port`/`db`); `username` (an ACL user); `tls` (`{"ca_file", "cert_file",
/// "key_file"}`, turning TLS on); `sentinel` (`{"master_name", "urls": [...]}`); `cluster`
/// (`["redis://host:port", ...]`).
///
/// Each daemon's config embeds the same fields (the collector's `writer.RedisSink`, the
/// runner's `metric_sink.RedisSink`); declaring them here keeps one definition, while each
/// struct stays one plain serde struct, so `deny_unknown_fields` and the JSON path of every
/// error keep working (serde's `flatten` would lose both). A daemon's config check must add
/// `redis_problems()` (paths relative to the struct) to its own.
#[macro_export]
macro_rules! redis_config {
    (
        $(#[$meta:meta])*
        $vis:vis struct $name:ident {
            $($body:tt)*
        }
    ) => {
        $(#[$meta])*
        $vis struct $name {
            /// Redis host (one server; default 127.0.0.1).
            pub host: Option<String>,
            /// Redis port (default 6379).
            pub port: Option<u16>,
            /// Redis database number (`SELECT`; default 0).
            pub db: Option<u32>,
            /// Where Redis is, as `redis://[user[:password]@]host[:port][/db]` (`rediss://` for
            /// TLS), instead of `host`, `port` and `db`.
            pub url: Option<$crate::config::RedisUrl>,
            /// An ACL user (with `password`).
            pub username: Option<String>,
            /// Password for `AUTH`, when Redis requires one.
            pub password: Option<String>,
            /// TLS: `{"ca_file", "cert_file", "key_file"}` (each optional); turns TLS on.
            pub tls: Option<$crate::TlsFiles>,
            /// A master watched by Redis Sentinel: `{"master_name", "urls": [...]}`.
            pub sentinel: Option<$crate::config::SentinelConfig>,
            /// A Redis Cluster: the URLs of nodes to start from.
            pub cluster: Option<Vec<$crate::config::RedisUrl>>,
            $($body)*
        }

        impl $name {
            fn redis_fields(&self) -> $crate::config::RedisFields<'_> {
                $crate::config::RedisFields {
                    host: &self.host,
                    port: &self.port,
                    db: &self.db,
                    url: &self.url,
                    username: &self.username,
                    password: &self.password,
                    tls: &self.tls,
                    sentinel: &self.sentinel,
                    cluster: &self.cluster,
                }
            }

            /// Where Redis is (check [`redis_problems`](Self::redis_problems) first).
            pub fn addr(&self) -> $crate::RedisAddr {
                self.redis_fields().addr()
            }

            /// Conflicting Redis fields and unreadable TLS files: (path relative to this
            /// struct, message) each.
            pub fn redis_problems(&self) -> Vec<(String, String)> {
                self.redis_fields().problems()
            }
        }
    };
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    crate::redis_config! {
        #[derive(Debug, Deserialize)]
        #[serde(deny_unknown_fields)]
        struct Sink {
            #[serde(default)]
            #[allow(dead_code)]
            pipeline_size: Option<u64>,
        }
    }

    fn sink(json: &str) -> Result<Sink, String> {
        let de = &mut serde_json::Deserializer::from_str(json);
        serde_path_to_error::deserialize(de).map_err(|e| format!("{}: {}", e.path(), e.inner()))
    }

    #[test]
    fn anna_mollys_shape_still_loads() {
        let s = sink(
            r#"{"host": "10.0.0.5", "port": 6380, "db": 3, "password": null, "pipeline_size": 50}"#,
        )
        .unwrap();
        assert!(s.redis_problems().is_empty());
        let a = s.addr();
        assert_eq!((a.host.as_str(), a.port, a.db), ("10.0.0.5", 6380, 3));
        assert_eq!(a.password, None);
        assert!(a.tls.is_none() && a.sentinel.is_none() && a.cluster.is_empty());
        let d = sink("{}").unwrap().addr();
        assert_eq!((d.host.as_str(), d.port, d.db), ("127.0.0.1", 6379, 0));
    }

    #[test]
    fn urls_carry_tls_user_password_and_database() {
        let s = sink(r#"{"url": "rediss://am%40x:p%3Aw@redis.local:6390/4", "tls": {"ca_file": "/dev/null"}}"#).unwrap();
        assert_eq!(s.redis_problems(), vec![]);
        let a = s.addr();
        assert_eq!((a.host.as_str(), a.port, a.db), ("redis.local", 6390, 4));
        assert_eq!(a.username.as_deref(), Some("am@x"));
        assert_eq!(a.password.as_deref(), Some("p:w"));
        assert_eq!(
            a.tls.unwrap().ca_file.unwrap(),
            std::path::PathBuf::from("/dev/null")
        );
        let plain = sink(r#"{"url": "redis://h"}"#).unwrap().addr();
        assert!(plain.tls.is_none());
        assert_eq!((plain.port, plain.db), (6379, 0));
        let e = sink(r#"{"url": "http://h"}"#).unwrap_err();
        assert!(e.starts_with("url: URL scheme \"http\""), "{e}");
        let e = sink(r#"{"url": "redis://h/x"}"#).unwrap_err();
        assert!(e.contains("database number"), "{e}");
        let e = sink(r#"{"url": "redis://h", "tsl": {}}"#).unwrap_err();
        assert!(e.contains("unknown field `tsl`"), "{e}");
        let e = sink(r#"{"tls": {"ca": "x"}}"#).unwrap_err();
        assert!(e.starts_with("tls.ca: unknown field `ca`"), "{e}");
    }

    #[test]
    fn sentinel_and_cluster() {
        let s = sink(r#"{"sentinel": {"master_name": "m", "urls": ["redis://:spw@s1:26379", "redis://s2:26380"]}, "username": "am", "password": "pw", "db": 2}"#).unwrap();
        assert!(s.redis_problems().is_empty(), "{:?}", s.redis_problems());
        let a = s.addr();
        let sen = a.sentinel.clone().unwrap();
        assert_eq!(sen.master_name, "m");
        assert_eq!(sen.nodes[0].password.as_deref(), Some("spw"));
        assert_eq!(sen.nodes[1].port, 26380);
        assert_eq!(
            (a.username.as_deref(), a.password.as_deref(), a.db),
            (Some("am"), Some("pw"), 2)
        );
        let c = sink(r#"{"cluster": ["redis://u:pw@n1:7000", "redis://n2:7001"]}"#).unwrap();
        assert!(c.redis_problems().is_empty());
        let a = c.addr();
        assert!(a.is_cluster());
        assert_eq!(a.cluster.len(), 2);
        assert_eq!(
            (a.username.as_deref(), a.password.as_deref()),
            (Some("u"), Some("pw"))
        );
    }

    #[test]
    fn conflicts_are_named_by_path() {
        let paths = |json: &str| -> Vec<String> {
            sink(json)
                .unwrap()
                .redis_problems()
                .into_iter()
                .map(|(p, _)| p)
                .collect()
        };
        assert_eq!(paths(r#"{"url": "redis://h", "host": "x"}"#), ["url"]);
        assert_eq!(paths(r#"{"url": "redis://h/1", "db": 2}"#), ["db"]);
        assert_eq!(
            paths(r#"{"url": "redis://a:b@h", "password": "c"}"#),
            ["password"]
        );
        assert_eq!(
            paths(
                r#"{"cluster": ["redis://a:1"], "sentinel": {"master_name": "m", "urls": ["redis://s:1"]}}"#
            ),
            ["cluster"]
        );
        assert_eq!(paths(r#"{"cluster": [], "db": 1}"#), ["cluster", "db"]);
        assert_eq!(
            paths(r#"{"sentinel": {"master_name": "", "urls": []}, "host": "h"}"#),
            ["sentinel", "sentinel.master_name", "sentinel.urls"]
        );
        assert_eq!(
            paths(r#"{"cluster": ["rediss://a:1", "redis://b:2"]}"#),
            ["cluster[1]"]
        );
        assert_eq!(paths(r#"{"username": "u"}"#), ["password"]);
        assert_eq!(
            paths(r#"{"tls": {"cert_file": "/dev/null", "ca_file": "/nonexistent/ca.pem"}}"#),
            ["tls.key_file", "tls.ca_file"]
        );
    }
}
