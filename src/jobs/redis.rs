//! The Redis queue: job ids travel on Redis Streams read by one consumer group, one stream per
//! lane (`adforge:jobs` for `any`, `adforge:jobs:text`, `adforge:jobs:image`): a worker reads
//! only the lanes of the models it has, so a job reaches only a worker that can run it. A
//! worker reads new entries with `XREADGROUP` over its lanes' streams; an entry stays pending
//! until `XACK`; a worker that holds one keeps it alive with `XCLAIM ... JUSTID` (which resets
//! its idle time); entries idle longer than the visibility timeout belong to a dead worker and
//! are taken over with `XAUTOCLAIM`. Acked entries are deleted, so the streams hold only
//! waiting and in-flight ids.

use std::collections::HashSet;
use std::sync::Mutex;
use std::time::Duration;

use async_trait::async_trait;
use deadpool_redis::redis::{self, Value};
use deadpool_redis::{Config, Pool, PoolConfig, Runtime, Timeouts};

use super::{Delivery, JobQueue, Lane, QueueDepth, QueueError, Receipt};

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
    /// The `any` lane's stream; other lanes append `:LANE`.
    stream: String,
    visibility: Duration,
    /// Streams whose consumer group this process has made sure of.
    grouped: Mutex<HashSet<String>>,
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
            grouped: Mutex::default(),
        };
        queue.ensure_group(stream).await?;
        Ok(queue)
    }

    /// The stream of a lane.
    fn stream_of(&self, lane: &str) -> String {
        if lane == Lane::Any.as_str() {
            self.stream.clone()
        } else {
            format!("{}:{lane}", self.stream)
        }
    }

    /// [`Self::ensure_group`] once per stream and process.
    async fn grouped(&self, stream: &str) -> Result<(), QueueError> {
        let known = self
            .grouped
            .lock()
            .map(|g| g.contains(stream))
            .unwrap_or(false);
        if !known {
            self.ensure_group(stream).await?;
            if let Ok(mut g) = self.grouped.lock() {
                g.insert(stream.to_string());
            }
        }
        Ok(())
    }

    async fn conn(&self) -> Result<deadpool_redis::Connection, QueueError> {
        self.pool
            .get()
            .await
            .map_err(|e| QueueError::Unavailable(format!("redis: {e}")))
    }

    /// Creates the stream and the consumer group if missing (also after Redis lost its data).
    async fn ensure_group(&self, stream: &str) -> Result<(), QueueError> {
        let mut conn = self.conn().await?;
        let created: redis::RedisResult<Value> = redis::cmd("XGROUP")
            .arg("CREATE")
            .arg(stream)
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

    /// Runs `cmd`, recreating the consumer groups of `streams` once if Redis says one is gone.
    async fn query_with_group(
        &self,
        cmd: &redis::Cmd,
        streams: &[String],
    ) -> Result<Value, QueueError> {
        let mut conn = self.conn().await?;
        match cmd.query_async::<Value>(&mut conn).await {
            Err(e) if e.to_string().contains("NOGROUP") => {
                drop(conn);
                for stream in streams {
                    self.ensure_group(stream).await?;
                }
                let mut conn = self.conn().await?;
                cmd.query_async::<Value>(&mut conn)
                    .await
                    .map_err(redis_error)
            }
            other => other.map_err(redis_error),
        }
    }

    async fn reclaim_idle(
        &self,
        consumer: &str,
        stream: &str,
    ) -> Result<Option<Delivery>, QueueError> {
        let mut cmd = redis::cmd("XAUTOCLAIM");
        cmd.arg(stream)
            .arg(GROUP)
            .arg(consumer)
            .arg(self.visibility.as_millis() as u64)
            .arg("0-0")
            .arg("COUNT")
            .arg(1);
        let reply = self.query_with_group(&cmd, &[stream.to_string()]).await?;
        // [next-cursor, [[entry-id, [field, value, ...]], ...], [deleted-ids]]
        let Value::Array(parts) = reply else {
            return Err(QueueError::Protocol(format!("XAUTOCLAIM reply {reply:?}")));
        };
        match parts.get(1) {
            Some(Value::Array(entries)) => Ok(entries
                .first()
                .and_then(|entry| entry_delivery(stream, entry))),
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

/// `[entry-id, [field, value, ...]]` of `stream` -> the delivery of its `job` field.
fn entry_delivery(stream: &str, entry: &Value) -> Option<Delivery> {
    let Value::Array(parts) = entry else {
        return None;
    };
    let entry_id = text(parts.first()?)?;
    let Value::Array(fields) = parts.get(1)? else {
        return None;
    };
    let job_id = fields
        .chunks(2)
        .find(|pair| pair.first().and_then(text).as_deref() == Some("job"))
        .and_then(|pair| pair.get(1).and_then(text))?;
    Some(Delivery {
        job_id,
        receipt: Some(Receipt {
            stream: stream.to_string(),
            entry: entry_id,
        }),
    })
}

#[async_trait]
impl JobQueue for RedisQueue {
    fn backend(&self) -> &'static str {
        "redis"
    }

    async fn dispatch(&self, job_id: &str, lane: &str) -> Result<(), QueueError> {
        let stream = self.stream_of(lane);
        self.grouped(&stream).await?;
        let mut conn = self.conn().await?;
        redis::cmd("XADD")
            .arg(&stream)
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

    async fn next(
        &self,
        consumer: &str,
        lanes: &[String],
        wait: Duration,
    ) -> Result<Option<Delivery>, QueueError> {
        let streams: Vec<String> = lanes.iter().map(|l| self.stream_of(l)).collect();
        for stream in &streams {
            self.grouped(stream).await?;
            if let Some(delivery) = self.reclaim_idle(consumer, stream).await? {
                return Ok(Some(delivery));
            }
        }
        let mut cmd = redis::cmd("XREADGROUP");
        cmd.arg("GROUP")
            .arg(GROUP)
            .arg(consumer)
            .arg("COUNT")
            .arg(1)
            .arg("BLOCK")
            .arg(wait.min(MAX_BLOCK).as_millis().max(1) as u64)
            .arg("STREAMS");
        for stream in &streams {
            cmd.arg(stream);
        }
        for _ in &streams {
            cmd.arg(">");
        }
        // [[stream, [[entry-id, [field, value]]]], ...] or nil on timeout (a map in RESP3).
        let per_stream: Vec<(Value, Value)> = match self.query_with_group(&cmd, &streams).await? {
            Value::Nil => return Ok(None),
            Value::Array(streams) => streams
                .into_iter()
                .filter_map(|s| match s {
                    Value::Array(mut kv) if kv.len() == 2 => {
                        let entries = kv.pop()?;
                        Some((kv.pop()?, entries))
                    }
                    _ => None,
                })
                .collect(),
            Value::Map(streams) => streams,
            other => return Err(QueueError::Protocol(format!("XREADGROUP reply {other:?}"))),
        };
        let delivery = per_stream.iter().find_map(|(name, entries)| {
            let name = text(name)?;
            match entries {
                Value::Array(entries) => entries.first().and_then(|e| entry_delivery(&name, e)),
                _ => None,
            }
        });
        tracing::debug!(?delivery, consumer, "XREADGROUP");
        Ok(delivery)
    }

    async fn touch(&self, consumer: &str, delivery: &Delivery) -> Result<(), QueueError> {
        let Some(receipt) = &delivery.receipt else {
            return Ok(());
        };
        let mut cmd = redis::cmd("XCLAIM");
        cmd.arg(&receipt.stream)
            .arg(GROUP)
            .arg(consumer)
            .arg(0)
            .arg(&receipt.entry)
            .arg("JUSTID");
        self.query_with_group(&cmd, std::slice::from_ref(&receipt.stream))
            .await?;
        Ok(())
    }

    async fn ack(&self, delivery: &Delivery) -> Result<(), QueueError> {
        let Some(receipt) = &delivery.receipt else {
            return Ok(());
        };
        let mut conn = self.conn().await?;
        redis::pipe()
            .cmd("XACK")
            .arg(&receipt.stream)
            .arg(GROUP)
            .arg(&receipt.entry)
            .ignore()
            .cmd("XDEL")
            .arg(&receipt.stream)
            .arg(&receipt.entry)
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
        let mut total = QueueDepth::default();
        for lane in Lane::ALL.map(Lane::as_str) {
            let stream = self.stream_of(lane);
            let (exists, len): (bool, u64) = redis::pipe()
                .cmd("EXISTS")
                .arg(&stream)
                .cmd("XLEN")
                .arg(&stream)
                .query_async(&mut conn)
                .await
                .map_err(redis_error)?;
            if !exists {
                continue;
            }
            let pending: Value = redis::cmd("XPENDING")
                .arg(&stream)
                .arg(GROUP)
                .query_async(&mut conn)
                .await
                .unwrap_or(Value::Nil);
            // XPENDING summary: [count, min-id, max-id, [[consumer, count], ...]]
            let in_flight = match pending {
                Value::Array(parts) => match parts.first() {
                    Some(Value::Int(n)) => (*n).max(0) as u64,
                    _ => 0,
                },
                _ => 0,
            };
            total.waiting += len.saturating_sub(in_flight);
            total.in_flight += in_flight;
        }
        Ok(total)
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
            entry_delivery("s", &entry),
            Some(Delivery {
                job_id: "abc".into(),
                receipt: Some(Receipt {
                    stream: "s".into(),
                    entry: "1-0".into()
                })
            })
        );
        assert_eq!(entry_delivery("s", &Value::Nil), None);
    }
}
