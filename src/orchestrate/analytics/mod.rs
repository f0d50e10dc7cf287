//! Analytics: pure numerical code, no I/O. So far the frequentist A/B statistics (`abtest`,
//! checked against scipy and statsmodels on committed cases) and the Bayesian Beta-Binomial
//! comparison (`bayes`), the always-valid sequential test (`sequential`), power, sample size and
//! CUPED (`design`), Robyn's adstock and saturation transforms (`transforms`). The fitted
//! marketing-mix model, the bandit optimizer and the charts arrive with the
//! rest of the analytics issue.

pub mod abtest;
pub mod bandit;
pub mod bayes;
pub mod charts;
pub mod design;
pub mod mmm;
pub mod sequential;
pub mod transforms;

/// Input that no statistic can be computed from, named by field.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{field}: {problem}")]
pub struct AnalyticsError {
    pub field: String,
    pub problem: String,
}

impl AnalyticsError {
    pub fn new(field: impl Into<String>, problem: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            problem: problem.into(),
        }
    }
}
