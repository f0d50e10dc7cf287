//! What the experiment and analytics routes compute: every A/B statistic of a control and its
//! variants ([`compute`]), the always-valid sequential p-values of daily counts, experiments
//! recorded against a campaign (checked, computed, stored), an experiment built from a
//! campaign's synced metrics ([`from_metrics`]), the stored experiments recomputed, their
//! charts and findings. No HTTP: the handlers in `api/analytics.rs` and `api/experiments.rs`
//! call these and map [`ExperimentError`] to a status.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

use crate::orchestrate::analytics::abtest::Proportion;
use crate::orchestrate::analytics::sequential::msprt;
use crate::orchestrate::narrative::{ExperimentFinding, Verdict};
use crate::store::experiments::{ExperimentRow, MAX_EXPERIMENTS_PER_CAMPAIGN};
use crate::store::{Store, StoreError, now_ms};

mod charts;
mod statistics;

pub use charts::draw;
pub use statistics::{AbTestRequest, Arm, MAX_USERS, MAX_VALUES, MAX_VARIANTS, compute};

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

/// Every statistic of a control and its variants, as [`compute`] answers it: `control` (`name`, `rate`, `rate_interval`, `credible_interval`), `variants`
/// (per variant: `name`, `rate`, `lift`, `difference_interval`, `rate_interval`, `z_test` with
/// Holm and Benjamini-Hochberg adjusted p-values, `chi_square_yates`, `fisher`, `bayes`, and
/// with per-unit values `welch` and `mann_whitney`), `sample_ratio_mismatch` and `confidence`.
#[derive(Debug, Serialize, ToSchema)]
#[serde(transparent)]
#[schema(value_type = Object)]
pub struct AbTestStatistics(pub Value);

/// An experiment as recorded, with its statistics.
#[derive(Debug, Serialize, ToSchema)]
pub struct RecordedExperiment {
    pub id: String,
    pub campaign_id: String,
    pub name: String,
    /// Every statistic of its final counts, as `POST /api/analytics/abtest` answers them.
    pub statistics: AbTestStatistics,
    /// Per variant, the sequential test's last always-valid p-value; null without daily counts.
    pub sequential_p_values: Vec<Option<f64>>,
}

/// Checks, computes and stores one experiment; what the routes answer.
pub async fn store_experiment(
    store: &Store,
    owner: &str,
    body: &ExperimentRequest,
) -> Result<RecordedExperiment, ExperimentError> {
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
    Ok(RecordedExperiment {
        id: row.id,
        campaign_id: row.campaign_id,
        name: row.name,
        statistics: AbTestStatistics(statistics),
        sequential_p_values: sequential,
    })
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
