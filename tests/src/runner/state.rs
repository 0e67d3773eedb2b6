//! Reading a plugin's persistent state from a test's redis-server: the hash
//! `am1:state:<plugin>:<service>` the runner keeps for each service, and the t-digests
//! (`am-tdigest` bytes) anna-molly's detectors store in it.

use am_tdigest::TDigest;
use anyhow::{Context, Result, anyhow, bail};

use crate::redis::RedisServer;
use crate::resp::Resp;

/// The Redis hash holding `plugin`'s state for `service`: `am1:state:<plugin>:<service>`.
pub fn state_key(plugin: &str, service: &str) -> String {
    format!("am1:state:{plugin}:{service}")
}

/// The bytes of `field` in `plugin`'s state for `service` (`HGET`), `None` when absent.
pub fn plugin_state(
    redis: &RedisServer,
    plugin: &str,
    service: &str,
    field: &str,
) -> Result<Option<Vec<u8>>> {
    let key = state_key(plugin, service);
    match redis.cmd(&["HGET", &key, field])? {
        Resp::Bulk(bytes) => Ok(Some(bytes)),
        Resp::Nil => Ok(None),
        other => bail!("HGET {key} {field} answered {other:?}"),
    }
}

/// The t-digest stored as `field` in `plugin`'s state for `service`; an error when it is
/// absent or does not decode.
pub fn state_digest(
    redis: &RedisServer,
    plugin: &str,
    service: &str,
    field: &str,
) -> Result<TDigest> {
    let key = state_key(plugin, service);
    let bytes = plugin_state(redis, plugin, service, field)?
        .ok_or_else(|| anyhow!("{key} has no field {field}"))?;
    TDigest::from_bytes(&bytes).with_context(|| {
        format!(
            "decoding {key} {field} ({} bytes) as a t-digest",
            bytes.len()
        )
    })
}
