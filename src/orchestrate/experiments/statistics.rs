//! Every A/B statistic of a control and its variants at once ([`compute`]): what
//! `POST /api/analytics/abtest` answers and what every stored experiment is recomputed with.

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use utoipa::ToSchema;

use super::ExperimentError;
use crate::orchestrate::analytics::AnalyticsError;
use crate::orchestrate::analytics::abtest::{
    Proportion, Sample, benjamini_hochberg, chi_square, fisher_exact, holm, mann_whitney,
    newcombe_interval, sample_ratio_mismatch_named, two_proportion_z, welch_t, wilson_interval,
};
use crate::orchestrate::analytics::bayes::{
    Posterior, expected_loss_exact, probability_to_beat_exact, probability_to_beat_monte_carlo,
};

/// Variants compared with one control.
pub const MAX_VARIANTS: usize = 20;
/// Per-unit values in one group.
pub const MAX_VALUES: usize = 100_000;
/// Most users (trials) one arm may have.
pub const MAX_USERS: u64 = 1_000_000_000;
/// Posterior draws when no closed form applies (fractional priors).
const MONTE_CARLO_DRAWS: usize = 200_000;

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Arm {
    pub name: String,
    pub conversions: u64,
    pub users: u64,
    /// Per-unit outcomes (revenue, time on page) for Welch's t and Mann-Whitney U.
    pub values: Option<Vec<f64>>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AbTestRequest {
    pub control: Arm,
    pub variants: Vec<Arm>,
    /// Confidence of every interval (default 0.95).
    pub confidence: Option<f64>,
    /// The traffic split the experiment asked for, control first (default equal).
    pub expected_split: Option<Vec<f64>>,
    /// Beta prior of the Bayesian comparison (default 1, 1).
    pub prior_alpha: Option<f64>,
    pub prior_beta: Option<f64>,
}

fn field(prefix: &str) -> impl Fn(AnalyticsError) -> ExperimentError + '_ {
    move |e| ExperimentError::Invalid(format!("{prefix}{}: {}", e.field, e.problem))
}

fn proportion(arm: &Arm, path: &str) -> Result<Proportion, ExperimentError> {
    let counts = Proportion {
        successes: arm.conversions,
        trials: arm.users,
    }
    .check_as(
        &format!("{path}.conversions"),
        &format!("{path}.users"),
        "users",
        false,
    )
    .map_err(field(""))?;
    if arm.users > MAX_USERS {
        return Err(ExperimentError::Invalid(format!(
            "{path}.users: {} is above the limit of {MAX_USERS}",
            arm.users
        )));
    }
    if let Some(values) = &arm.values {
        if values.len() > MAX_VALUES {
            return Err(ExperimentError::Invalid(format!(
                "{path}.values: {} values is above the limit of {MAX_VALUES}",
                values.len()
            )));
        }
        if let Some(i) = values.iter().position(|v| !v.is_finite()) {
            return Err(ExperimentError::Invalid(format!(
                "{path}.values[{i}]: must be a finite number"
            )));
        }
    }
    Ok(counts)
}

fn summary(values: &[f64]) -> Sample {
    let n = values.len() as f64;
    let mean = values.iter().sum::<f64>() / n;
    let sd = (values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1.0).max(1.0)).sqrt();
    Sample {
        mean,
        sd,
        n: values.len() as u64,
    }
}

/// The statistics of one experiment's counts, or a 400 naming the field.
pub fn compute(body: &AbTestRequest) -> Result<Value, ExperimentError> {
    if body.variants.is_empty() || body.variants.len() > MAX_VARIANTS {
        return Err(ExperimentError::Invalid(format!(
            "variants: {} is outside 1..={MAX_VARIANTS}",
            body.variants.len()
        )));
    }
    let confidence = body.confidence.unwrap_or(0.95);
    if !(confidence > 0.5 && confidence < 1.0) {
        return Err(ExperimentError::Invalid(format!(
            "confidence: {confidence} is outside (0.5, 1)"
        )));
    }
    let control = proportion(&body.control, "control")?;
    let arms: Vec<Proportion> = body
        .variants
        .iter()
        .enumerate()
        .map(|(i, v)| proportion(v, &format!("variants[{i}]")))
        .collect::<Result<_, _>>()?;
    let (alpha, beta) = (
        body.prior_alpha.unwrap_or(1.0),
        body.prior_beta.unwrap_or(1.0),
    );
    let control_posterior =
        Posterior::from_counts(control, alpha, beta, "control").map_err(field(""))?;
    let mut users: Vec<u64> = vec![control.trials];
    users.extend(arms.iter().map(|a| a.trials));
    let split = body
        .expected_split
        .clone()
        .unwrap_or_else(|| vec![1.0; users.len()]);
    let srm = sample_ratio_mismatch_named(&users, &split, "expected_split").map_err(field(""))?;
    let mut z_p = Vec::new();
    let mut results = Vec::new();
    for (i, (arm, variant)) in arms.iter().zip(&body.variants).enumerate() {
        let z = two_proportion_z(*arm, control).map_err(field(""))?;
        z_p.push(z.p_value);
        let table = vec![
            vec![arm.successes, arm.trials - arm.successes],
            vec![control.successes, control.trials - control.successes],
        ];
        let chi = chi_square(&table, true).ok();
        // Past its size limit Fisher's test is left out (null), not computed for minutes.
        let fisher = fisher_exact([
            [arm.successes, arm.trials - arm.successes],
            [control.successes, control.trials - control.successes],
        ])
        .ok();
        let posterior = Posterior::from_counts(*arm, alpha, beta, "variant").map_err(field(""))?;
        let (beat, beat_error) = match probability_to_beat_exact(control_posterior, posterior) {
            Some(p) => (p, 0.0),
            None => {
                let mc = probability_to_beat_monte_carlo(
                    control_posterior,
                    posterior,
                    MONTE_CARLO_DRAWS,
                    1,
                );
                (mc.value, mc.standard_error)
            }
        };
        let lift = if control.rate() > 0.0 {
            Some(arm.rate() / control.rate() - 1.0)
        } else {
            None
        };
        let mut result = json!({
            "name": variant.name,
            "rate": arm.rate(),
            "lift": lift,
            "difference_interval": newcombe_interval(*arm, control, confidence).map_err(field(""))?,
            "rate_interval": wilson_interval(*arm, confidence).map_err(field(""))?,
            "z_test": z,
            "chi_square_yates": chi,
            "fisher": fisher.map(|f| json!({"odds_ratio": f.odds_ratio.is_finite().then_some(f.odds_ratio), "p_value": f.p_value})),
            "bayes": {
                "probability_to_beat_control": beat,
                "monte_carlo_error": beat_error,
                "expected_loss": expected_loss_exact(control_posterior, posterior),
                "credible_interval": posterior.interval(confidence),
            },
        });
        if let (Some(x), Some(y)) = (&variant.values, &body.control.values)
            && x.len() >= 2
            && y.len() >= 2
        {
            result["welch"] = json!(
                welch_t(summary(x), summary(y), confidence)
                    .map_err(field(&format!("variants[{i}].")))?
            );
            result["mann_whitney"] =
                json!(mann_whitney(x, y).map_err(field(&format!("variants[{i}].")))?);
        }
        results.push(result);
    }
    let (holm_p, bh_p) = (holm(&z_p), benjamini_hochberg(&z_p));
    for (i, r) in results.iter_mut().enumerate() {
        r["z_test"]["p_value_holm"] = json!(holm_p[i]);
        r["z_test"]["p_value_bh"] = json!(bh_p[i]);
    }
    Ok(json!({
        "control": {
            "name": body.control.name,
            "rate": control.rate(),
            "rate_interval": wilson_interval(control, confidence).map_err(field("control."))?,
            "credible_interval": control_posterior.interval(confidence),
        },
        "variants": results,
        "sample_ratio_mismatch": {"statistic": srm.statistic, "p_value": srm.p_value, "suspect": srm.p_value < 0.001},
        "confidence": confidence,
    }))
}
