//! The Redis queue: job ids travel on a Redis Stream read by one consumer group. A worker reads
//! new entries with `XREADGROUP`; an entry stays pending until `XACK`; a worker that holds one
//! keeps it alive with `XCLAIM ... JUSTID` (which resets its idle time); entries idle longer than
//! the visibility timeout belong to a dead worker and are taken over with `XAUTOCLAIM`. Acked
//! entries are deleted, so the stream holds only waiting and in-flight ids.

use std::time::Duration;

use async_trait::async_trait;
use deadpool_redis::redis::{self, Value};
use deadpool_redis::{Config, Pool, PoolConfig, Runtime, Timeouts};

use super::{Delivery, JobQueue, QueueDepth, QueueError};

const GROUP: &str = "workers";
/// Longest `XREADGROUP ... BLOCK`: it must stay under the client's response timeout (500 ms in
/// redis-rs), or a quiet queue would look like a dead server and a delivered entry be dropped
/// on the floor (it would come back only after the visibility timeout).
const MAX_BLOCK: Duration = Duration::from_millis(400);
/// The stream is trimmed to about this many entries, a bound on Redis memory; the reconciler
/// re-dispatches any queued job whose entry was trimmed away.
const MAX_STREAM_LEN: u64 = 100_000;

pub struct RedisQueue {
    pool: Pool,
    stream: String,
    visibility: Duration,
}

impl RedisQueue {
    /// Connects to `url` and makes sure the stream and its consumer group exist.
    pub async fn connect(
        url: &str,
        stream: &str,
        visibility: Duration,
    ) -> Result<Self, QueueError> {
        let mut config = Config::from_url(url);
        config.pool = Some(PoolConfig {
            max_size: 32,
            timeouts: Timeouts {
                wait: Some(Duration::from_secs(3)),
                create: Some(Duration::from_secs(3)),
                recycle: Some(Duration::from_secs(3)),
            },
            ..PoolConfig::default()
        });
        let pool = config
            .create_pool(Some(Runtime::Tokio1))
            .map_err(|e| QueueError::Unavailable(format!("redis pool: {e}")))?;
        let queue = Self {
            pool,
            stream: stream.to_string(),
            visibility,
        };
        queue.ensure_group().await?;
        Ok(queue)
    }

    async fn conn(&self) -> Result<deadpool_redis::Connection, QueueError> {
        self.pool
            .get()
            .await
            .map_err(|e| QueueError::Unavailable(format!("redis: {e}")))
    }

    /// Creates the stream and the consumer group if missing (also after Redis lost its data).
    async fn ensure_group(&self) -> Result<(), QueueError> {
        let mut conn = self.conn().await?;
        let created: redis::RedisResult<Value> = redis::cmd("XGROUP")
            .arg("CREATE")
            .arg(&self.stream)
            .arg(GROUP)
            .arg("0")
            .arg("MKSTREAM")
            .query_async(&mut conn)
            .await;
        match created {
            Ok(_) => Ok(()),
            Err(e) if e.to_string().contains("BUSYGROUP") => Ok(()),
            Err(e) => Err(redis_error(e)),
        }
    }

    /// Runs `cmd`, recreating the consumer group once if Redis says it is gone.
    async fn query_with_group(&self, cmd: &redis::Cmd) -> Result<Value, QueueError> {
        let mut conn = self.conn().await?;
        match cmd.query_async::<Value>(&mut conn).await {
            Err(e) if e.to_string().contains("NOGROUP") => {
                drop(conn);
                self.ensure_group().await?;
                let mut conn = self.conn().await?;
                cmd.query_async::<Value>(&mut conn)
                    .await
                    .map_err(redis_error)
            }
            other => other.map_err(redis_error),
        }
    }

    async fn reclaim_idle(&self, consumer: &str) -> Result<Option<Delivery>, QueueError> {
        let mut cmd = redis::cmd("XAUTOCLAIM");
        cmd.arg(&self.stream)
            .arg(GROUP)
            .arg(consumer)
            .arg(self.visibility.as_millis() as u64)
            .arg("0-0")
            .arg("COUNT")
            .arg(1);
        let reply = self.query_with_group(&cmd).await?;
        // [next-cursor, [[entry-id, [field, value, ...]], ...], [deleted-ids]]
        let Value::Array(parts) = reply else {
            return Err(QueueError::Protocol(format!("XAUTOCLAIM reply {reply:?}")));
        };
        match parts.get(1) {
            Some(Value::Array(entries)) => Ok(entries.first().and_then(entry_delivery)),
            _ => Err(QueueError::Protocol(
                "XAUTOCLAIM reply without entries".into(),
            )),
        }
    }
}

fn redis_error(err: redis::RedisError) -> QueueError {
    if err.is_io_error()
        || err.is_connection_refusal()
        || err.is_connection_dropped()
        || err.is_timeout()
    {
        QueueError::Unavailable(format!("redis: {err}"))
    } else {
        QueueError::Protocol(format!("redis: {err}"))
    }
}

fn text(value: &Value) -> Option<String> {
    match value {
        Value::BulkString(bytes) => String::from_utf8(bytes.clone()).ok(),
        Value::SimpleString(s) => Some(s.clone()),
        _ => None,
    }
}

/// `[entry-id, [field, value, ...]]` -> the delivery of its `job` field.
fn entry_delivery(entry: &Value) -> Option<Delivery> {
    let Value::Array(parts) = entry else {
        return None;
    };
    let receipt = text(parts.first()?)?;
    let Value::Array(fields) = parts.get(1)? else {
        return None;
    };
    let job_id = fields
        .chunks(2)
        .find(|pair| pair.first().and_then(text).as_deref() == Some("job"))
        .and_then(|pair| pair.get(1).and_then(text))?;
    Some(Delivery {
        job_id,
        receipt: Some(receipt),
    })
}

#[async_trait]
impl JobQueue for RedisQueue {
    fn backend(&self) -> &'static str {
        "redis"
    }

    async fn dispatch(&self, job_id: &str) -> Result<(), QueueError> {
        let mut conn = self.conn().await?;
        redis::cmd("XADD")
            .arg(&self.stream)
            .arg("MAXLEN")
            .arg("~")
            .arg(MAX_STREAM_LEN)
            .arg("*")
            .arg("job")
            .arg(job_id)
            .query_async::<Value>(&mut conn)
            .await
            .map_err(redis_error)?;
        Ok(())
    }

    async fn next(&self, consumer: &str, wait: Duration) -> Result<Option<Delivery>, QueueError> {
        if let Some(delivery) = self.reclaim_idle(consumer).await? {
            return Ok(Some(delivery));
        }
        let mut cmd = redis::cmd("XREADGROUP");
        cmd.arg("GROUP")
            .arg(GROUP)
            .arg(consumer)
            .arg("COUNT")
            .arg(1)
            .arg("BLOCK")
            .arg(wait.min(MAX_BLOCK).as_millis().max(1) as u64)
            .arg("STREAMS")
            .arg(&self.stream)
            .arg(">");
        // [[stream, [[entry-id, [field, value]]]]] or nil on timeout (a map in RESP3).
        let entries = match self.query_with_group(&cmd).await? {
            Value::Nil => return Ok(None),
            Value::Array(streams) => streams.into_iter().next().and_then(|s| match s {
                Value::Array(mut kv) if kv.len() == 2 => kv.pop(),
                _ => None,
            }),
            Value::Map(streams) => streams.into_iter().next().map(|(_, v)| v),
            other => return Err(QueueError::Protocol(format!("XREADGROUP reply {other:?}"))),
        };
        let delivery = match entries {
            Some(Value::Array(entries)) => entries.first().and_then(entry_delivery),
            _ => None,
        };
        tracing::debug!(?delivery, consumer, "XREADGROUP");
        Ok(delivery)
    }

    async fn touch(&self, consumer: &str, delivery: &Delivery) -> Result<(), QueueError> {
        let Some(receipt) = &delivery.receipt else {
            return Ok(());
        };
        let mut cmd = redis::cmd("XCLAIM");
        cmd.arg(&self.stream)
            .arg(GROUP)
            .arg(consumer)
            .arg(0)
            .arg(receipt)
            .arg("JUSTID");
        self.query_with_group(&cmd).await?;
        Ok(())
    }

    async fn ack(&self, delivery: &Delivery) -> Result<(), QueueError> {
        let Some(receipt) = &delivery.receipt else {
            return Ok(());
        };
        let mut conn = self.conn().await?;
        redis::pipe()
            .cmd("XACK")
            .arg(&self.stream)
            .arg(GROUP)
            .arg(receipt)
            .ignore()
            .cmd("XDEL")
            .arg(&self.stream)
            .arg(receipt)
            .ignore()
            .query_async::<()>(&mut conn)
            .await
            .map_err(redis_error)
    }

    async fn ping(&self) -> Result<(), QueueError> {
        let mut conn = self.conn().await?;
        redis::cmd("PING")
            .query_async::<Value>(&mut conn)
            .await
            .map_err(redis_error)?;
        Ok(())
    }

    async fn depth(&self) -> Result<QueueDepth, QueueError> {
        let mut conn = self.conn().await?;
        let (len, pending): (u64, Value) = redis::pipe()
            .cmd("XLEN")
            .arg(&self.stream)
            .cmd("XPENDING")
            .arg(&self.stream)
            .arg(GROUP)
            .query_async(&mut conn)
            .await
            .map_err(redis_error)?;
        // XPENDING summary: [count, min-id, max-id, [[consumer, count], ...]]
        let in_flight = match pending {
            Value::Array(parts) => match parts.first() {
                Some(Value::Int(n)) => (*n).max(0) as u64,
                _ => 0,
            },
            _ => 0,
        };
        Ok(QueueDepth {
            waiting: len.saturating_sub(in_flight),
            in_flight,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_stream_entries() {
        let entry = Value::Array(vec![
            Value::BulkString(b"1-0".to_vec()),
            Value::Array(vec![
                Value::BulkString(b"job".to_vec()),
                Value::BulkString(b"abc".to_vec()),
            ]),
        ]);
        assert_eq!(
            entry_delivery(&entry),
            Some(Delivery {
                job_id: "abc".into(),
                receipt: Some("1-0".into())
            })
        );
        assert_eq!(entry_delivery(&Value::Nil), None);
    }
}
