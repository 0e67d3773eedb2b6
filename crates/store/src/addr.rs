//! [`RedisAddr`]: where a Redis server is, and [`redis_config!`](crate::redis_config): the flat
//! shape config files hold it in.

/// Where a Redis server is and which database to use. Config files hold it in anna-molly's
/// flat shape beside other settings: see [`redis_config!`](crate::redis_config).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RedisAddr {
    /// Host name or address.
    pub host: String,
    /// TCP port.
    pub port: u16,
    /// Database number (`SELECT`).
    pub db: u32,
    /// Password for `AUTH`, if the server requires one.
    pub password: Option<String>,
}

impl RedisAddr {
    /// The host when a config names none.
    pub const DEFAULT_HOST: &'static str = "127.0.0.1";
    /// The port when a config names none.
    pub const DEFAULT_PORT: u16 = 6379;
}

/// Declares a config struct that holds a Redis address in anna-molly's flat shape (`host`,
/// `port`, `db`, `password`, with their defaults) before its own fields, and its `addr()`.
///
/// Each daemon's config embeds the same address fields (the collector's `writer.RedisSink`,
/// the runner's `metric_sink.RedisSink`); declaring them here keeps one definition, while each
/// struct stays one plain serde struct, so `deny_unknown_fields` and the JSON path of every
/// error keep working (serde's `flatten` would lose both). Use it once per module.
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
            /// Redis host.
            #[serde(default = "__am_store_default_redis_host")]
            pub host: String,
            /// Redis port.
            #[serde(default = "__am_store_default_redis_port")]
            pub port: u16,
            /// Redis database number (`SELECT`).
            #[serde(default)]
            pub db: u32,
            /// Password for `AUTH`, when Redis requires one.
            #[serde(default)]
            pub password: Option<String>,
            $($body)*
        }

        impl $name {
            /// Where Redis is.
            pub fn addr(&self) -> $crate::RedisAddr {
                $crate::RedisAddr {
                    host: self.host.clone(),
                    port: self.port,
                    db: self.db,
                    password: self.password.clone(),
                }
            }
        }

        fn __am_store_default_redis_host() -> String {
            $crate::RedisAddr::DEFAULT_HOST.to_owned()
        }

        fn __am_store_default_redis_port() -> u16 {
            $crate::RedisAddr::DEFAULT_PORT
        }
    };
}

impl std::fmt::Display for RedisAddr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "redis://{}:{}/{}", self.host, self.port, self.db)
    }
}
