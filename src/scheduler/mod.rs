//! Pure scheduling policy: no tensors, no I/O, no clocks of its own. Callers pass in the time and
//! the state; these functions decide: retry backoff for jobs, and continuous batching for the
//! text engine.

mod batch;
mod retry;

pub use batch::{BatchLimits, Planned, SeqState, plan_step};
pub use retry::RetryPolicy;
