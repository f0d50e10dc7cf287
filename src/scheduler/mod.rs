//! Pure scheduling policy: no tensors, no I/O, no clocks of its own. Callers pass in the time and
//! the state; these functions decide. Retry backoff for jobs lives here now; batch formation and
//! admission for the model engines join it with their issues.

mod retry;

pub use retry::RetryPolicy;
