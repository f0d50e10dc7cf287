//! Pure scheduling policy: no tensors, no I/O, no clocks of its own. Callers pass in the time and
//! the state; these functions decide: retry backoff for jobs, continuous batching for the text
//! engine, and the grouping of diffusion requests into UNet batches.

mod batch;
mod diffusion;
mod retry;

pub use batch::{BatchLimits, Planned, SeqState, plan_step};
pub use diffusion::{DiffusionRequest, DiffusionStep, plan_diffusion_step};
pub use retry::RetryPolicy;
