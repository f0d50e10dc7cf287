//! `POST /api/analytics/experiments` records an experiment's counts against a campaign;
//! `POST /api/campaigns/{id}/experiment` records one from the campaign's synced metrics (its
//! creatives on a platform as the arms);
//! `GET /api/analytics/campaigns/{id}` summarises the campaign's experiments: every statistic
//! of each (as `/api/analytics/abtest`), the always-valid sequential p-value when daily counts
//! were given, a verdict, and a narrative whose numbers all come from code
//! (`orchestrate::narrative`).

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use utoipa::ToSchema;

use super::analytics::{AbTestRequest, compute};
use super::extract::{Auth, ValidJson};
use super::{ApiError, AppState};
use crate::orchestrate::analytics::abtest::Proportion;
use crate::orchestrate::analytics::charts;
use crate::orchestrate::analytics::sequential::msprt;
use crate::orchestrate::narrative::{self, ExperimentFinding, Narrative, Verdict};
use crate::store::experiments::{ExperimentRow, MAX_EXPERIMENTS_PER_CAMPAIGN};
use crate::store::now_ms;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/analytics/experiments", post(record))
        .route("/api/campaigns/{id}/experiment", post(from_metrics))
        .route(
            "/api/analytics/campaigns/{campaign_id}",
            get(campaign_summary),
        )
        .route(
            "/api/analytics/campaigns/{campaign_id}/charts/{file}",
            get(campaign_chart),
        )
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

fn check_name(field: &str, value: &str, limit: usize) -> Result<(), ApiError> {
    if value.trim().is_empty() || value.chars().count() > limit {
        return Err(ApiError::bad_request(format!(
            "{field}: must be 1 to {limit} characters"
        )));
    }
    Ok(())
}

/// The sequential test's last always-valid p-value per variant, or a 400 naming the day.
fn sequential(request: &ExperimentRequest) -> Result<Vec<Option<f64>>, ApiError> {
    let variants = request.test.variants.len();
    if request.daily.len() > MAX_DAYS {
        return Err(ApiError::bad_request(format!(
            "daily: {} days is above the limit of {MAX_DAYS}",
            request.daily.len()
        )));
    }
    if request.daily.is_empty() {
        return Ok(vec![None; variants]);
    }
    for (d, day) in request.daily.iter().enumerate() {
        if day.variants.len() != variants {
            return Err(ApiError::bad_request(format!(
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
                .map_err(|e| ApiError::bad_request(format!("daily: {}: {}", e.field, e.problem)))
        })
        .collect()
}

/// Records an experiment's counts against a campaign and answers its statistics.
#[utoipa::path(post, path = "/api/analytics/experiments", tag = "analytics",
    request_body = ExperimentRequest,
    responses((status = 201, description = "Recorded, with its statistics"),
        (status = 400, body = super::ErrorBody), (status = 409, body = super::ErrorBody)),
    security(("api_key" = [])))]
pub async fn record(
    State(state): State<AppState>,
    Auth(principal): Auth,
    ValidJson(body): ValidJson<ExperimentRequest>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let recorded = store_experiment(&state, &principal.owner_id, &body).await?;
    Ok((StatusCode::CREATED, Json(recorded)))
}

/// Checks, computes and stores one experiment; what the routes answer.
async fn store_experiment(
    state: &AppState,
    owner: &str,
    body: &ExperimentRequest,
) -> Result<Value, ApiError> {
    check_name("campaign_id", &body.campaign_id, 128)?;
    check_name("name", &body.name, 200)?;
    // CPU work: off the async runtime.
    let (test, request) = (body.test.clone(), body.clone());
    let (statistics, sequential) = tokio::task::spawn_blocking(move || {
        Ok::<_, ApiError>((compute(&test)?, sequential(&request)?))
    })
    .await
    .map_err(|e| ApiError::Internal(format!("the statistics task failed: {e}")))??;
    let count = state
        .store
        .count_experiments(owner, &body.campaign_id)
        .await?;
    if count >= MAX_EXPERIMENTS_PER_CAMPAIGN {
        return Err(ApiError::Conflict {
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
        data: serde_json::to_value(body).map_err(|e| ApiError::Internal(e.to_string()))?,
        created_at: now_ms(),
    };
    state.store.insert_experiment(&row).await?;
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

/// Records the campaign's creatives on one platform as an experiment, from the synced daily
/// metrics: the oldest creative is the control, the others its variants; the counts after each
/// day feed the sequential test. Answers as `POST /api/analytics/experiments` does.
#[utoipa::path(post, path = "/api/campaigns/{id}/experiment", tag = "analytics",
    params(("id" = String, Path)), request_body = FromMetrics,
    responses((status = 201, description = "Recorded, with its statistics"),
        (status = 400, body = super::ErrorBody), (status = 404, body = super::ErrorBody)),
    security(("api_key" = [])))]
pub async fn from_metrics(
    State(state): State<AppState>,
    Auth(principal): Auth,
    Path(id): Path<String>,
    ValidJson(body): ValidJson<FromMetrics>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    use crate::store::creatives::CreativeFilter;
    use crate::store::orchestration::MetricFilter;
    let owner = &principal.owner_id;
    let campaign = state
        .store
        .get_campaign(owner, &id)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("no campaign {id:?}")))?;
    let platform = body
        .platform
        .clone()
        .or_else(|| campaign.platforms.first().cloned())
        .unwrap_or_default();
    if !campaign.platforms.contains(&platform) {
        return Err(ApiError::bad_request(format!(
            "platform: the campaign does not list `{platform}` (it lists {})",
            campaign.platforms.join(", ")
        )));
    }
    let mut creatives = state
        .store
        .list_creatives(
            owner,
            &CreativeFilter {
                campaign_id: Some(id.clone()),
                platform: Some(platform.clone()),
                limit: 1000,
                ..CreativeFilter::default()
            },
        )
        .await?;
    creatives.sort_by(|a, b| (a.created_at, &a.id).cmp(&(b.created_at, &b.id)));
    let rows = state
        .store
        .list_metrics(
            owner,
            &MetricFilter {
                campaign_id: Some(id.clone()),
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
        return Err(ApiError::bad_request(format!(
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
    let arm = |i: usize| crate::api::analytics::Arm {
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
    let request = ExperimentRequest {
        campaign_id: id.clone(),
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
    };
    let recorded = store_experiment(&state, owner, &request).await?;
    Ok((StatusCode::CREATED, Json(recorded)))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CampaignSummary {
    pub campaign_id: String,
    pub findings: Vec<ExperimentFinding>,
    pub narrative: Narrative,
    #[schema(value_type = Vec<Object>)]
    pub experiments: Vec<Value>,
}

/// A campaign's experiments: statistics, verdicts and a narrative built on the numbers.
#[utoipa::path(get, path = "/api/analytics/campaigns/{campaign_id}", tag = "analytics",
    params(("campaign_id" = String, Path, description = "The campaign the experiments were recorded against")),
    responses((status = 200, body = CampaignSummary), (status = 404, body = super::ErrorBody)),
    security(("api_key" = [])))]
pub async fn campaign_summary(
    State(state): State<AppState>,
    Auth(principal): Auth,
    Path(campaign_id): Path<String>,
) -> Result<Json<CampaignSummary>, ApiError> {
    let mut findings = Vec::new();
    let mut experiments = Vec::new();
    for loaded in load(&state, &principal.owner_id, &campaign_id).await? {
        findings.push(finding(
            &loaded.request,
            &loaded.statistics,
            &loaded.sequential,
        ));
        experiments.push(json!({
            "id": loaded.id, "name": loaded.request.name, "statistics": loaded.statistics,
            "sequential_p_values": loaded.sequential,
        }));
    }
    let narrative = narrative::narrate(state.text.as_ref(), &campaign_id, &findings).await;
    Ok(Json(CampaignSummary {
        campaign_id,
        findings,
        narrative,
        experiments,
    }))
}

/// One stored experiment with its statistics recomputed.
struct Loaded {
    id: String,
    request: ExperimentRequest,
    statistics: Value,
    sequential: Vec<Option<f64>>,
}

async fn load(state: &AppState, owner: &str, campaign_id: &str) -> Result<Vec<Loaded>, ApiError> {
    let rows = state.store.campaign_experiments(owner, campaign_id).await?;
    if rows.is_empty() {
        return Err(ApiError::NotFound(format!(
            "no experiments recorded for campaign {campaign_id}"
        )));
    }
    rows.into_iter()
        .map(|row| {
            let request: ExperimentRequest = serde_json::from_value(row.data)
                .map_err(|e| ApiError::Internal(format!("experiment {}: {e}", row.id)))?;
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

/// A chart of the campaign's experiments: `lift` (each variant's relative lift with Newcombe's
/// interval of the difference over the control's rate), `posteriors` (Beta posteriors of the
/// conversion rates, the first 8 arms) or `rates` (cumulative conversion rate per day, from the
/// daily counts), as `.svg` or `.png`.
#[utoipa::path(get, path = "/api/analytics/campaigns/{campaign_id}/charts/{file}", tag = "analytics",
    params(("campaign_id" = String, Path), ("file" = String, Path, description = "lift, posteriors or rates, with .svg or .png")),
    responses((status = 200, description = "The chart"), (status = 404, body = super::ErrorBody)),
    security(("api_key" = [])))]
pub async fn campaign_chart(
    State(state): State<AppState>,
    Auth(principal): Auth,
    Path((campaign_id, file)): Path<(String, String)>,
) -> Result<axum::response::Response, ApiError> {
    use axum::response::IntoResponse;
    let (name, extension) = file.rsplit_once('.').unwrap_or((file.as_str(), ""));
    if !["svg", "png"].contains(&extension) || !["lift", "posteriors", "rates"].contains(&name) {
        return Err(ApiError::NotFound(format!(
            "no chart {file}: use lift, posteriors or rates with .svg or .png"
        )));
    }
    let loaded = load(&state, &principal.owner_id, &campaign_id).await?;
    let chart = draw(name, &loaded).map_err(|e| match e {
        charts::ChartError::Input(e) => {
            ApiError::bad_request(format!("{name}: {}: {}", e.field, e.problem))
        }
        charts::ChartError::Draw(e) => ApiError::Internal(e),
    })?;
    let (content_type, bytes) = if extension == "svg" {
        ("image/svg+xml", chart.svg.into_bytes())
    } else {
        ("image/png", chart.png)
    };
    Ok(([(axum::http::header::CONTENT_TYPE, content_type)], bytes).into_response())
}

fn draw(name: &str, loaded: &[Loaded]) -> Result<charts::Chart, charts::ChartError> {
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
fn finding(
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
