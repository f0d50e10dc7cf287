//! The embedded queue: no transport at all. Workers poll the store for runnable rows (queued and
//! due, or running with an expired lease); a submission in the same process wakes them at once.
//! Jobs survive a restart because they only ever live in the store.

use std::time::Duration;

use async_trait::async_trait;
use tokio::sync::Notify;

use super::{Delivery, JobQueue, QueueDepth, QueueError};
use crate::store::{JobState, Store, now_ms};

/// How often an idle worker looks at the store when nothing woke it.
const POLL_EVERY: Duration = Duration::from_millis(250);

pub struct EmbeddedQueue {
    store: Store,
    wake: Notify,
}

impl EmbeddedQueue {
    pub fn new(store: Store) -> Self {
        Self {
            store,
            wake: Notify::new(),
        }
    }
}

#[async_trait]
impl JobQueue for EmbeddedQueue {
    fn backend(&self) -> &'static str {
        "embedded"
    }

    async fn dispatch(&self, _job_id: &str, _lane: &str) -> Result<(), QueueError> {
        self.wake.notify_waiters();
        Ok(())
    }

    async fn next(
        &self,
        _consumer: &str,
        lanes: &[String],
        wait: Duration,
    ) -> Result<Option<Delivery>, QueueError> {
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            let ids = self.store.runnable_job_ids(now_ms(), 1, lanes).await?;
            if let Some(job_id) = ids.into_iter().next() {
                return Ok(Some(Delivery {
                    job_id,
                    receipt: None,
                }));
            }
            let now = tokio::time::Instant::now();
            if now >= deadline {
                return Ok(None);
            }
            let nap = POLL_EVERY.min(deadline - now);
            let _ = tokio::time::timeout(nap, self.wake.notified()).await;
        }
    }

    async fn touch(&self, _consumer: &str, _delivery: &Delivery) -> Result<(), QueueError> {
        Ok(())
    }

    async fn ack(&self, _delivery: &Delivery) -> Result<(), QueueError> {
        Ok(())
    }

    async fn ping(&self) -> Result<(), QueueError> {
        Ok(self.store.ping().await?)
    }

    async fn depth(&self) -> Result<QueueDepth, QueueError> {
        let counts = self.store.count_jobs_by_state().await?;
        let count = |state: JobState| {
            counts
                .iter()
                .find(|c| c.state == state)
                .map_or(0, |c| c.count.max(0) as u64)
        };
        Ok(QueueDepth {
            waiting: count(JobState::Queued),
            in_flight: count(JobState::Running),
        })
    }
}
