//! What the experiment and analytics routes compute: every A/B statistic of a control and its
//! variants ([`compute`]), the always-valid sequential p-values of daily counts, experiments
//! recorded against a campaign (checked, computed, stored), an experiment built from a
//! campaign's synced metrics ([`from_metrics`]), the stored experiments recomputed, their
//! charts and findings. No HTTP: the handlers in `api/analytics.rs` and `api/experiments.rs`
//! call these and map [`ExperimentError`] to a status.

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use utoipa::ToSchema;

use crate::orchestrate::analytics::AnalyticsError;
use crate::orchestrate::analytics::abtest::{
    Proportion, Sample, benjamini_hochberg, chi_square, fisher_exact, holm, mann_whitney,
    newcombe_interval, sample_ratio_mismatch_named, two_proportion_z, welch_t, wilson_interval,
};
use crate::orchestrate::analytics::bayes::{
    Posterior, expected_loss_exact, probability_to_beat_exact, probability_to_beat_monte_carlo,
};
use crate::orchestrate::analytics::charts;
use crate::orchestrate::analytics::sequential::msprt;
use crate::orchestrate::narrative::{ExperimentFinding, Verdict};
use crate::store::experiments::{ExperimentRow, MAX_EXPERIMENTS_PER_CAMPAIGN};
use crate::store::{Store, StoreError, now_ms};

/// Why an experiment could not be computed or recorded.
#[derive(Debug, thiserror::Error)]
pub enum ExperimentError {
    /// The input breaks a rule; the message names the field and the limit.
    #[error("{0}")]
    Invalid(String),
    #[error("{0}")]
    NotFound(String),
    /// A limit of stored rows is reached.
    #[error("{message}")]
    Conflict { code: &'static str, message: String },
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("{0}")]
    Internal(String),
}

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

/// Cumulative counts after one day, control first.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DailyCounts {
    pub control: Counts,
    pub variants: Vec<Counts>,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Counts {
    pub conversions: u64,
    pub users: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ExperimentRequest {
    pub campaign_id: String,
    pub name: String,
    /// The final counts (and optional per-unit values), as `/api/analytics/abtest` takes them.
    pub test: AbTestRequest,
    /// Cumulative counts after each day, for the sequential test (at most 366 days).
    #[serde(default)]
    pub daily: Vec<DailyCounts>,
}

const MAX_DAYS: usize = 366;

fn check_name(field: &str, value: &str, limit: usize) -> Result<(), ExperimentError> {
    if value.trim().is_empty() || value.chars().count() > limit {
        return Err(ExperimentError::Invalid(format!(
            "{field}: must be 1 to {limit} characters"
        )));
    }
    Ok(())
}

/// The sequential test's last always-valid p-value per variant, or a 400 naming the day.
fn sequential(request: &ExperimentRequest) -> Result<Vec<Option<f64>>, ExperimentError> {
    let variants = request.test.variants.len();
    if request.daily.len() > MAX_DAYS {
        return Err(ExperimentError::Invalid(format!(
            "daily: {} days is above the limit of {MAX_DAYS}",
            request.daily.len()
        )));
    }
    if request.daily.is_empty() {
        return Ok(vec![None; variants]);
    }
    for (d, day) in request.daily.iter().enumerate() {
        if day.variants.len() != variants {
            return Err(ExperimentError::Invalid(format!(
                "daily[{d}].variants: {} counts for {variants} variants",
                day.variants.len()
            )));
        }
    }
    (0..variants)
        .map(|v| {
            let looks: Vec<(Proportion, Proportion)> = request
                .daily
                .iter()
                .map(|day| {
                    let p = |c: Counts| Proportion {
                        successes: c.conversions,
                        trials: c.users,
                    };
                    (p(day.control), p(day.variants[v]))
                })
                .collect();
            // The mixture's spread: a tenth of the control's final rate, at least 0.001.
            let control = &request.test.control;
            let tau = (0.1 * control.conversions as f64 / control.users.max(1) as f64).max(1e-3);
            msprt(&looks, tau)
                .map(|s| s.p_values.last().copied())
                .map_err(|e| ExperimentError::Invalid(format!("daily: {}: {}", e.field, e.problem)))
        })
        .collect()
}

/// Checks, computes and stores one experiment; what the routes answer.
pub async fn store_experiment(
    store: &Store,
    owner: &str,
    body: &ExperimentRequest,
) -> Result<Value, ExperimentError> {
    check_name("campaign_id", &body.campaign_id, 128)?;
    check_name("name", &body.name, 200)?;
    // CPU work: off the async runtime.
    let (test, request) = (body.test.clone(), body.clone());
    let (statistics, sequential) = tokio::task::spawn_blocking(move || {
        Ok::<_, ExperimentError>((compute(&test)?, sequential(&request)?))
    })
    .await
    .map_err(|e| ExperimentError::Internal(format!("the statistics task failed: {e}")))??;
    let count = store.count_experiments(owner, &body.campaign_id).await?;
    if count >= MAX_EXPERIMENTS_PER_CAMPAIGN {
        return Err(ExperimentError::Conflict {
            code: "limit_reached",
            message: format!(
                "campaign_id: {} already has {count} experiments, the limit",
                body.campaign_id
            ),
        });
    }
    let row = ExperimentRow {
        id: uuid::Uuid::now_v7().to_string(),
        owner_id: owner.to_string(),
        campaign_id: body.campaign_id.clone(),
        name: body.name.clone(),
        data: serde_json::to_value(body).map_err(|e| ExperimentError::Internal(e.to_string()))?,
        created_at: now_ms(),
    };
    store.insert_experiment(&row).await?;
    Ok(json!({
        "id": row.id,
        "campaign_id": row.campaign_id,
        "name": row.name,
        "statistics": statistics,
        "sequential_p_values": sequential,
    }))
}

/// Which counts of the synced metrics an experiment compares.
#[derive(Debug, Clone, Copy, Default, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum MetricPair {
    /// Conversions out of clicks.
    #[default]
    ConversionsPerClick,
    /// Clicks out of impressions (CTR).
    ClicksPerImpression,
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FromMetrics {
    /// The platform whose creatives are compared (default: the campaign's first).
    pub platform: Option<String>,
    #[serde(default)]
    pub metric: MetricPair,
    /// Default: "creatives on PLATFORM (METRIC)".
    pub name: Option<String>,
}

/// The experiment of the campaign's creatives on one platform, built from the synced daily
/// metrics: the oldest creative is the control, the others its variants; the counts after each
/// day feed the sequential test.
pub async fn from_metrics(
    store: &Store,
    owner: &str,
    id: &str,
    body: &FromMetrics,
) -> Result<ExperimentRequest, ExperimentError> {
    use crate::store::creatives::CreativeFilter;
    use crate::store::orchestration::MetricFilter;
    let campaign = store
        .get_campaign(owner, id)
        .await?
        .ok_or_else(|| ExperimentError::NotFound(format!("no campaign {id:?}")))?;
    let platform = body
        .platform
        .clone()
        .or_else(|| campaign.platforms.first().cloned())
        .unwrap_or_default();
    if !campaign.platforms.contains(&platform) {
        return Err(ExperimentError::Invalid(format!(
            "platform: the campaign does not list `{platform}` (it lists {})",
            campaign.platforms.join(", ")
        )));
    }
    let mut creatives = store
        .list_creatives(
            owner,
            &CreativeFilter {
                campaign_id: Some(id.to_string()),
                platform: Some(platform.clone()),
                limit: 1000,
                ..CreativeFilter::default()
            },
        )
        .await?;
    creatives.sort_by(|a, b| (a.created_at, &a.id).cmp(&(b.created_at, &b.id)));
    let rows = store
        .list_metrics(
            owner,
            &MetricFilter {
                campaign_id: Some(id.to_string()),
                limit: 200_000,
                ..MetricFilter::default()
            },
        )
        .await?;
    let rows: Vec<_> = rows.iter().filter(|r| r.platform == platform).collect();
    let arms: Vec<&str> = creatives
        .iter()
        .map(|c| c.id.as_str())
        .filter(|c| rows.iter().any(|r| r.creative_id.as_deref() == Some(*c)))
        .collect();
    if arms.len() < 2 {
        return Err(ExperimentError::Invalid(format!(
            "platform: {} creatives on `{platform}` have synced metrics; an experiment needs 2 \
             (deploy and sync first)",
            arms.len()
        )));
    }
    let mut days: Vec<&str> = rows.iter().map(|r| r.day.as_str()).collect();
    days.sort_unstable();
    days.dedup();
    // Cumulative (successes, trials) per arm after each day.
    let pair = |r: &crate::store::orchestration::MetricRow| match body.metric {
        MetricPair::ConversionsPerClick => (
            r.conversions.round().max(0.0) as u64,
            r.clicks.max(0) as u64,
        ),
        MetricPair::ClicksPerImpression => (r.clicks.max(0) as u64, r.impressions.max(0) as u64),
    };
    let mut running = vec![
        Counts {
            conversions: 0,
            users: 0
        };
        arms.len()
    ];
    let mut daily = Vec::with_capacity(days.len());
    for day in &days {
        for r in rows.iter().filter(|r| r.day == *day) {
            let Some(i) = arms
                .iter()
                .position(|a| r.creative_id.as_deref() == Some(*a))
            else {
                continue;
            };
            let (s, t) = pair(r);
            running[i].conversions += s;
            running[i].users += t;
        }
        daily.push(DailyCounts {
            control: running[0],
            variants: running[1..].to_vec(),
        });
    }
    let arm = |i: usize| Arm {
        name: creatives
            .iter()
            .find(|c| c.id == arms[i])
            .map_or_else(|| arms[i].to_string(), |c| format!("{} ({})", c.name, c.id)),
        conversions: running[i].conversions,
        users: running[i].users,
        values: None,
    };
    let metric = match body.metric {
        MetricPair::ConversionsPerClick => "conversions per click",
        MetricPair::ClicksPerImpression => "clicks per impression",
    };
    Ok(ExperimentRequest {
        campaign_id: id.to_string(),
        name: body
            .name
            .clone()
            .unwrap_or_else(|| format!("creatives on {platform} ({metric})")),
        test: AbTestRequest {
            control: arm(0),
            variants: (1..arms.len()).map(arm).collect(),
            confidence: None,
            // The platform, not a randomizer, split the traffic (by its own delivery), so there
            // is no planned split to check: the expected split is the observed one.
            expected_split: {
                let total: u64 = running.iter().map(|c| c.users).sum();
                (total > 0).then(|| {
                    running
                        .iter()
                        .map(|c| c.users as f64 / total as f64)
                        .collect()
                })
            },
            prior_alpha: None,
            prior_beta: None,
        },
        daily,
    })
}

/// One stored experiment with its statistics recomputed.
pub struct Loaded {
    pub id: String,
    pub request: ExperimentRequest,
    pub statistics: Value,
    pub sequential: Vec<Option<f64>>,
}

pub async fn load(
    store: &Store,
    owner: &str,
    campaign_id: &str,
) -> Result<Vec<Loaded>, ExperimentError> {
    let rows = store.campaign_experiments(owner, campaign_id).await?;
    if rows.is_empty() {
        return Err(ExperimentError::NotFound(format!(
            "no experiments recorded for campaign {campaign_id}"
        )));
    }
    rows.into_iter()
        .map(|row| {
            let request: ExperimentRequest = serde_json::from_value(row.data)
                .map_err(|e| ExperimentError::Internal(format!("experiment {}: {e}", row.id)))?;
            Ok(Loaded {
                id: row.id,
                statistics: compute(&request.test)?,
                sequential: sequential(&request)?,
                request,
            })
        })
        .collect()
}

/// Posterior densities drawn at most, so the chart stays readable.
const MAX_POSTERIOR_ARMS: usize = 8;

pub fn draw(name: &str, loaded: &[Loaded]) -> Result<charts::Chart, charts::ChartError> {
    let arm = |e: &Loaded, label: &str| format!("{}: {label}", e.request.name);
    match name {
        "lift" => {
            let mut rows = Vec::new();
            for e in loaded {
                let control = e.statistics["control"]["rate"].as_f64().unwrap_or(0.0);
                for v in e.statistics["variants"].as_array().into_iter().flatten() {
                    let (Some(lift), true) = (v["lift"].as_f64(), control > 0.0) else {
                        continue;
                    };
                    let interval = &v["difference_interval"];
                    rows.push(charts::LiftRow {
                        label: arm(e, v["name"].as_str().unwrap_or("")),
                        lift,
                        low: interval[0].as_f64().unwrap_or(0.0) / control,
                        high: interval[1].as_f64().unwrap_or(0.0) / control,
                    });
                }
            }
            charts::lift_intervals("Lift over control with 95% intervals", &rows)
        }
        "posteriors" => {
            let mut arms = Vec::new();
            for e in loaded {
                let test = &e.request.test;
                for a in std::iter::once(&test.control).chain(&test.variants) {
                    arms.push((
                        arm(e, &a.name),
                        1.0 + a.conversions as f64,
                        1.0 + (a.users - a.conversions) as f64,
                    ));
                }
            }
            arms.truncate(MAX_POSTERIOR_ARMS);
            charts::posterior_densities("Posterior conversion rates", &arms)
        }
        _ => {
            let days = loaded
                .iter()
                .map(|e| e.request.daily.len())
                .max()
                .unwrap_or(0);
            let labels: Vec<String> = (1..=days).map(|d| format!("day {d}")).collect();
            let mut series = Vec::new();
            for e in loaded
                .iter()
                .filter(|e| e.request.daily.len() == days && days > 0)
            {
                let rate = |c: &Counts| c.conversions as f64 / c.users.max(1) as f64;
                series.push((
                    arm(e, &e.request.test.control.name),
                    e.request.daily.iter().map(|d| rate(&d.control)).collect(),
                ));
                for (i, v) in e.request.test.variants.iter().enumerate() {
                    series.push((
                        arm(e, &v.name),
                        e.request
                            .daily
                            .iter()
                            .map(|d| rate(&d.variants[i]))
                            .collect(),
                    ));
                }
            }
            charts::metrics_over_time("Cumulative conversion rate", "rate", &labels, &series)
        }
    }
}

/// The best variant's numbers, read from the computed statistics.
pub fn finding(
    request: &ExperimentRequest,
    statistics: &Value,
    sequential: &[Option<f64>],
) -> ExperimentFinding {
    let variants = statistics["variants"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let best = (0..variants.len())
        .max_by(|&a, &b| {
            let rate = |i: usize| variants[i]["rate"].as_f64().unwrap_or(0.0);
            rate(a).total_cmp(&rate(b))
        })
        .unwrap_or(0);
    let v = &variants.get(best).cloned().unwrap_or(Value::Null);
    let lift = v["lift"].as_f64();
    let p_value_holm = v["z_test"]["p_value_holm"].as_f64().unwrap_or(1.0);
    let sequential_p_value = sequential.get(best).copied().flatten();
    let srm = statistics["sample_ratio_mismatch"]["suspect"]
        .as_bool()
        .unwrap_or(false);
    ExperimentFinding {
        experiment: request.name.clone(),
        control: request.test.control.name.clone(),
        control_rate: statistics["control"]["rate"].as_f64().unwrap_or(0.0),
        best_variant: v["name"].as_str().unwrap_or("").to_string(),
        best_rate: v["rate"].as_f64().unwrap_or(0.0),
        lift,
        p_value_holm,
        probability_to_beat_control: v["bayes"]["probability_to_beat_control"]
            .as_f64()
            .unwrap_or(0.0),
        sequential_p_value,
        sample_ratio_mismatch: srm,
        verdict: Verdict::decide(lift, p_value_holm, sequential_p_value, srm),
    }
}
