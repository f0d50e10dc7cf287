//! Analytics: pure numerical code, no I/O. The frequentist A/B statistics (`abtest`, checked
//! against scipy and statsmodels on committed cases), the Bayesian Beta-Binomial comparison
//! (`bayes`), the always-valid sequential test (`sequential`), power, sample size and CUPED
//! (`design`), Robyn's adstock and saturation transforms (`transforms`), the marketing-mix model
//! and budget allocator (`mmm`), the Thompson-sampling budget optimizer (`bandit`, tested
//! against `orchestrate::simulator`), the random draws they share (`sample`) and charts as SVG and
//! PNG (`charts`).

pub mod abtest;
pub mod bandit;
pub mod bayes;
pub mod charts;
pub mod design;
pub mod mmm;
pub mod sample;
pub mod sequential;
pub mod transforms;

/// Input that no statistic can be computed from, named by field (the parsers' error type: the
/// dataset parser lives in `adforge_input` with the other parsers of outside input).
pub use adforge_input::FieldError as AnalyticsError;
