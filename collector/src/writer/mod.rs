//! Where routed points go: the Redis sink and the buffer bound in front of it.

mod buffer;
pub mod link;
mod redis;

pub use buffer::Buffer;
pub use redis::{EncodedBatch, RedisWriter, WriterHandle};
