//! Where alarms live in Redis, shared by every runner and worker. `<prefix>` is the configured
//! prefix in braces (`{am1:alarm}`), a Redis Cluster hash tag: every alarm key is in one slot,
//! so the script below works on a cluster too.
//!
//! | key | type | holds |
//! |---|---|---|
//! | `<prefix>:a:<algorithm>:<service>` | hash | subject → its [`Record`] (JSON), for every alarm that is not OK |
//! | `<prefix>:ok:<algorithm>:<service>` | set | every subject judged OK at least once (so an OK alarm costs a set member, and a first verdict is told from a known subject's) |
//! | `<prefix>:index` | hash | each such hash's key → `{"algorithm", "plugin", "service", "labels"}` |
//! | `<prefix>:transitions` | stream | every [`Transition`] (`t`: JSON, `n`: `1` if it notifies), the newest `history_max_len` |
//!
//! A run's changes are written by one script that compares each subject's stored record with
//! the one the change was computed from before writing it, and appends the transition only
//! when it did: two runners that judge the same subject at once record one transition.

use std::collections::HashMap;
use std::time::Duration;

use am_store::resp::Value;
use am_store::{Client, RedisAddr};
use serde::{Deserialize, Serialize};

use super::{AlarmState, Record, Transition};

/// Compare-and-set of a run's changes. KEYS: the service's hash, the history stream, the
/// index, the service's OK set. ARGV: history bound, index field, index value, then per change:
/// subject, the record it was computed from (`""`: none), the new record (`""`: none: the
/// alarm is OK), the transition (`""`: none), `1`/`0` whether it notifies. Returns 1/0 per
/// change: applied or lost to another.
const APPLY: &str = r#"
redis.call('HSET', KEYS[3], ARGV[2], ARGV[3])
local applied = {}
local i = 4
while i <= #ARGV do
  local subject, expected, new, tr, notify = ARGV[i], ARGV[i+1], ARGV[i+2], ARGV[i+3], ARGV[i+4]
  local cur = redis.call('HGET', KEYS[1], subject)
  if (cur == false and expected == '') or cur == expected then
    if new == '' then
      redis.call('HDEL', KEYS[1], subject)
      redis.call('SADD', KEYS[4], subject)
    else
      redis.call('HSET', KEYS[1], subject, new)
    end
    if tr ~= '' then
      redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[1], '*', 't', tr, 'n', notify)
    end
    applied[#applied + 1] = 1
  else
    applied[#applied + 1] = 0
  end
  i = i + 5
end
return applied
"#;

/// Subjects asked per `SMISMEMBER`.
const MEMBERS: usize = 5000;

/// Changes written per script call.
const CHUNK: usize = 500;

/// Which service's alarms: the algorithm, its plugin and the service.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Scope {
    /// The algorithm.
    pub algorithm: String,
    /// Its plugin.
    pub plugin: String,
    /// The service.
    pub service: String,
    /// Its alarms' labels (`alarm.labels`), for notifications sent from the stored state.
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub labels: std::collections::BTreeMap<String, String>,
}

/// A subject's stored record: parsed, and as stored (what a compare-and-set compares).
#[derive(Debug, Clone)]
pub struct Stored {
    /// The record.
    pub record: Record,
    /// Its JSON, exactly as stored.
    pub raw: String,
}

/// One change of one subject.
#[derive(Debug, Clone)]
pub struct Change {
    /// The subject.
    pub subject: String,
    /// The stored record it was computed from (`None`: the alarm was OK or new).
    pub expected: Option<String>,
    /// The record to store (`None`: the alarm is OK: no record, a member of the OK set).
    pub new: Option<Record>,
    /// The transition it makes.
    pub transition: Option<Transition>,
}

/// A failure of the alarm store.
#[derive(Debug, thiserror::Error)]
pub enum AlarmStoreError {
    /// Redis failed.
    #[error("alarm store: {0}")]
    Redis(#[from] am_store::Error),
    /// A reply of an unexpected shape.
    #[error("alarm store: unexpected reply to {0}")]
    Reply(&'static str),
    /// A value could not be encoded.
    #[error("alarm store: {0}")]
    Encode(#[from] serde_json::Error),
}

type Result<T> = std::result::Result<T, AlarmStoreError>;

/// The alarms in Redis.
#[derive(Debug)]
pub struct AlarmStore {
    client: Client,
    prefix: String,
    history_max_len: u64,
}

impl AlarmStore {
    /// The alarms under `prefix` on `redis`, keeping `history_max_len` transitions.
    pub fn new(redis: RedisAddr, prefix: &str, history_max_len: u64) -> AlarmStore {
        AlarmStore {
            client: Client::new(redis),
            prefix: am_store::keys::tagged(prefix),
            history_max_len,
        }
    }

    /// The hash of a service's alarms.
    pub fn hash(&self, scope: &Scope) -> String {
        format!("{}:a:{}:{}", self.prefix, scope.algorithm, scope.service)
    }

    /// The history stream.
    pub fn history_key(&self) -> String {
        format!("{}:transitions", self.prefix)
    }

    fn index_key(&self) -> String {
        format!("{}:index", self.prefix)
    }

    fn ok_key(&self, scope: &Scope) -> String {
        format!("{}:ok:{}:{}", self.prefix, scope.algorithm, scope.service)
    }

    /// Which of `subjects` were judged OK before (members of the service's OK set).
    pub async fn known(&mut self, scope: &Scope, subjects: &[&str]) -> Result<Vec<bool>> {
        let key = self.ok_key(scope);
        let mut out = Vec::with_capacity(subjects.len());
        for chunk in subjects.chunks(MEMBERS) {
            let mut args: Vec<&[u8]> = vec![b"SMISMEMBER", key.as_bytes()];
            args.extend(chunk.iter().map(|s| s.as_bytes()));
            let Value::Array(Some(flags)) = self.client.call(&args, Duration::ZERO).await? else {
                return Err(AlarmStoreError::Reply("SMISMEMBER"));
            };
            out.extend(flags.iter().map(|f| matches!(f, Value::Int(1))));
        }
        Ok(out)
    }

    /// `CMD key`, whose reply must be an array.
    async fn array(&mut self, cmd: &'static str, key: &str) -> Result<Vec<Value>> {
        let reply = self
            .client
            .call(&[cmd.as_bytes(), key.as_bytes()], Duration::ZERO)
            .await?;
        let Value::Array(Some(items)) = reply else {
            return Err(AlarmStoreError::Reply(cmd));
        };
        Ok(items)
    }

    /// Every stored record of a service. A record that does not parse (written by a newer
    /// runner, say) is logged and left out: its subject starts afresh.
    pub async fn load(&mut self, scope: &Scope) -> Result<HashMap<String, Stored>> {
        let key = self.hash(scope);
        let items = self.array("HGETALL", &key).await?;
        let mut out = HashMap::with_capacity(items.len() / 2);
        let mut it = items.into_iter();
        while let (Some(Value::Bulk(Some(k))), Some(Value::Bulk(Some(v)))) = (it.next(), it.next())
        {
            let subject = String::from_utf8_lossy(&k).into_owned();
            let raw = String::from_utf8_lossy(&v).into_owned();
            match serde_json::from_str::<Record>(&raw) {
                Ok(record) => {
                    out.insert(subject, Stored { record, raw });
                }
                Err(e) => {
                    tracing::warn!(algorithm = %scope.algorithm, service = %scope.service, subject = %subject, error = %e, "unreadable alarm record ignored");
                }
            }
        }
        Ok(out)
    }

    /// Writes `changes` (compare-and-set, see [`APPLY`]); returns whether each was applied.
    pub async fn apply(&mut self, scope: &Scope, changes: &[Change]) -> Result<Vec<bool>> {
        let (hash, history, index) = (self.hash(scope), self.history_key(), self.index_key());
        let ok = self.ok_key(scope);
        let max = self.history_max_len.to_string();
        let scope_json = serde_json::to_string(scope)?;
        let mut applied = Vec::with_capacity(changes.len());
        for chunk in changes.chunks(CHUNK) {
            let mut texts: Vec<[String; 5]> = Vec::with_capacity(chunk.len());
            for c in chunk {
                let new = match &c.new {
                    Some(r) => serde_json::to_string(r)?,
                    None => String::new(),
                };
                let (tr, notify) = match &c.transition {
                    Some(t) => (serde_json::to_string(t)?, t.notifies()),
                    None => (String::new(), false),
                };
                texts.push([
                    c.subject.clone(),
                    c.expected.clone().unwrap_or_default(),
                    new,
                    tr,
                    if notify { "1" } else { "0" }.to_owned(),
                ]);
            }
            let mut args: Vec<&[u8]> = vec![max.as_bytes(), hash.as_bytes(), scope_json.as_bytes()];
            for t in &texts {
                args.extend(t.iter().map(String::as_bytes));
            }
            let reply = self
                .client
                .eval(APPLY, &[&hash, &history, &index, &ok], &args)
                .await?;
            let Value::Array(Some(flags)) = reply else {
                return Err(AlarmStoreError::Reply("the alarm script"));
            };
            applied.extend(flags.iter().map(|f| matches!(f, Value::Int(1))));
        }
        Ok(applied)
    }

    /// Every service that has alarms.
    pub async fn scopes(&mut self) -> Result<Vec<Scope>> {
        let index = self.index_key();
        let items = self.array("HVALS", &index).await?;
        Ok(items
            .into_iter()
            .filter_map(|v| match v {
                Value::Bulk(Some(b)) => serde_json::from_slice::<Scope>(&b).ok(),
                _ => None,
            })
            .collect())
    }

    /// Every alarm that is not OK, by service, subjects in order.
    pub async fn active(&mut self) -> Result<Vec<(Scope, String, Record)>> {
        let mut out = Vec::new();
        for scope in self.scopes().await? {
            let mut records: Vec<(String, Record)> = self
                .load(&scope)
                .await?
                .into_iter()
                .filter(|(_, s)| s.record.state != AlarmState::Ok)
                .map(|(k, s)| (k, s.record))
                .collect();
            records.sort_by(|a, b| a.0.cmp(&b.0));
            out.extend(records.into_iter().map(|(k, r)| (scope.clone(), k, r)));
        }
        Ok(out)
    }

    /// The newest `n` transitions, newest first, with whether each notified.
    pub async fn history(&mut self, n: usize) -> Result<Vec<(Transition, bool)>> {
        let key = self.history_key();
        let count = n.to_string();
        let reply = self
            .client
            .call(
                &[
                    b"XREVRANGE",
                    key.as_bytes(),
                    b"+",
                    b"-",
                    b"COUNT",
                    count.as_bytes(),
                ],
                Duration::ZERO,
            )
            .await?;
        Ok(reply
            .into_entries()
            .into_iter()
            .filter_map(|(_, fields)| {
                let t = serde_json::from_str::<Transition>(fields.get("t")?).ok()?;
                Some((t, fields.get("n").is_some_and(|n| n == "1")))
            })
            .collect())
    }

    /// The client, for the notifiers' stream reads.
    pub fn client(&mut self) -> &mut Client {
        &mut self.client
    }
}
