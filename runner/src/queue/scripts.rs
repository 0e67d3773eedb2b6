//! The queue's Lua scripts: each state change that touches several keys is one atomic step,
//! so a process dying between two commands leaves nothing half done.

/// Enqueues one tick of one algorithm, once: takes the tick's lease, then for each
/// (service, shard) queues a task unless its busy marker is held (then counts a skip).
///
/// KEYS: lease, tasks stream. ARGV: lease px, busy px, stream max len, busy prefix, stats key,
/// now ms, tick, algorithm, plugin, holder, then (service, options, shard, shards, alarm
/// policy) groups.
/// Returns `{-1}` when another scheduler holds the lease, else `{queued, skipped, backlog}`
/// (backlog: the stream's length, every task queued or running).
pub const ENQUEUE: &str = r"
if not redis.call('SET', KEYS[1], ARGV[10], 'NX', 'PX', ARGV[1]) then return {-1} end
local queued, skipped = 0, 0
for i = 11, #ARGV, 5 do
  local svc, opts, shard, shards, policy = ARGV[i], ARGV[i+1], ARGV[i+2], ARGV[i+3], ARGV[i+4]
  local busy = ARGV[4] .. ARGV[8] .. ':' .. svc .. ':' .. shard
  if redis.call('SET', busy, ARGV[7], 'NX', 'PX', ARGV[2]) then
    redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[3], '*',
      'a', ARGV[8], 'p', ARGV[9], 's', svc, 'o', opts, 't', ARGV[7],
      'i', shard, 'n', shards, 'm', policy, 'k', '1', 'q', ARGV[6])
    queued = queued + 1
  else
    skipped = skipped + 1
    redis.call('HINCRBY', ARGV[5], 'skipped' .. '\31' .. ARGV[8] .. '\31' .. svc, 1)
  end
end
return {queued, skipped, redis.call('XLEN', KEYS[2])}
";

/// Acknowledges a finished task, if this consumer still holds it: `XACK`, `XDEL`, releases
/// the busy marker (if it is still this tick's) and counts the success.
///
/// KEYS: tasks stream, busy marker, stats key. ARGV: group, id, tick, stats field, consumer.
/// Returns 1, or 0 when the task was no longer this consumer's (claimed by another worker).
pub const FINISH: &str = r"
local p = redis.call('XPENDING', KEYS[1], ARGV[1], ARGV[2], ARGV[2], 1, ARGV[5])
if #p == 0 then return 0 end
redis.call('XACK', KEYS[1], ARGV[1], ARGV[2])
redis.call('XDEL', KEYS[1], ARGV[2])
if redis.call('GET', KEYS[2]) == ARGV[3] then redis.call('DEL', KEYS[2]) end
redis.call('HINCRBY', KEYS[3], ARGV[4], 1)
return 1
";

/// Fails a task this consumer holds: re-queues it with the next attempt number and the error,
/// or, after the last attempt, moves it to the dead-letter stream and releases its busy
/// marker. Counts the failure (and the dead letter).
///
/// KEYS: tasks stream, busy marker, stats key, dead stream. ARGV: group, id, tick, consumer,
/// error, max attempts, stream max len, dead max len, now ms, busy px, algorithm\31service.
/// Returns `{0}` when the task was not this consumer's, `{-1}` when its entry was gone,
/// `{1, next attempt}` when re-queued, `{2, attempts}` when dead.
pub const FAIL: &str = r"
local p = redis.call('XPENDING', KEYS[1], ARGV[1], ARGV[2], ARGV[2], 1, ARGV[4])
if #p == 0 then return {0} end
local e = redis.call('XRANGE', KEYS[1], ARGV[2], ARGV[2])
redis.call('XACK', KEYS[1], ARGV[1], ARGV[2])
redis.call('XDEL', KEYS[1], ARGV[2])
redis.call('HINCRBY', KEYS[3], 'failed' .. '\31' .. ARGV[11], 1)
if #e == 0 then
  if redis.call('GET', KEYS[2]) == ARGV[3] then redis.call('DEL', KEYS[2]) end
  redis.call('HINCRBY', KEYS[3], 'lost' .. '\31' .. ARGV[11], 1)
  return {-1}
end
local f = e[1][2]
local out, k = {}, 1
for i = 1, #f, 2 do
  if f[i] == 'k' then k = tonumber(f[i+1]) or 1
  elseif f[i] ~= 'e' and f[i] ~= 'w' and f[i] ~= 'd' then
    table.insert(out, f[i]); table.insert(out, f[i+1])
  end
end
table.insert(out, 'e'); table.insert(out, ARGV[5])
if k >= tonumber(ARGV[6]) then
  table.insert(out, 'k'); table.insert(out, tostring(k))
  table.insert(out, 'w'); table.insert(out, ARGV[4])
  table.insert(out, 'd'); table.insert(out, ARGV[9])
  redis.call('XADD', KEYS[4], 'MAXLEN', '~', ARGV[8], '*', unpack(out))
  if redis.call('GET', KEYS[2]) == ARGV[3] then redis.call('DEL', KEYS[2]) end
  redis.call('HINCRBY', KEYS[3], 'dead' .. '\31' .. ARGV[11], 1)
  return {2, k}
end
table.insert(out, 'k'); table.insert(out, tostring(k + 1))
redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[7], '*', unpack(out))
redis.call('PEXPIRE', KEYS[2], ARGV[10])
return {1, k + 1}
";
