//! `POST /api/analytics/experiments` records an experiment's counts against a campaign;
//! `POST /api/campaigns/{id}/experiment` records one from the campaign's synced metrics (its
//! creatives on a platform as the arms);
//! `GET /api/analytics/campaigns/{id}` summarises the campaign's experiments: every statistic
//! of each (as `/api/analytics/abtest`), the always-valid sequential p-value when daily counts
//! were given, a verdict, and a narrative whose numbers all come from code
//! (`orchestrate::narrative`), headed by the best creative on the campaign objective's metric
//! (`orchestrate::objective`, the optimizer's metric).

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Serialize;
use serde_json::{Value, json};
use utoipa::ToSchema;

use super::extract::{Auth, ValidJson};
use super::{ApiError, AppState};
use crate::orchestrate::analytics::charts;
use crate::orchestrate::experiments::{
    self, ExperimentRequest, FromMetrics, RecordedExperiment, draw, finding, load, store_experiment,
};
use crate::orchestrate::narrative::{self, ExperimentFinding, Narrative};
use crate::orchestrate::objective::{Comparison, ObjectiveMetric, compare_creatives};
use crate::store::orchestration::MetricFilter;

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

/// Records an experiment's counts against a campaign and answers its statistics.
#[utoipa::path(post, path = "/api/analytics/experiments", tag = "analytics",
    request_body = ExperimentRequest,
    responses((status = 201, description = "Recorded, with its statistics", body = RecordedExperiment),
        (status = 400, body = super::ErrorBody), (status = 409, body = super::ErrorBody)),
    security(("api_key" = [])))]
pub async fn record(
    State(state): State<AppState>,
    Auth(principal): Auth,
    ValidJson(body): ValidJson<ExperimentRequest>,
) -> Result<(StatusCode, Json<RecordedExperiment>), ApiError> {
    let stored = store_experiment(&state.store, &principal.owner_id, &body).await?;
    Ok((StatusCode::CREATED, Json(stored)))
}

/// Records the campaign's creatives on one platform as an experiment, from the synced daily
/// metrics: the oldest creative is the control, the others its variants; the counts after each
/// day feed the sequential test. Answers as `POST /api/analytics/experiments` does.
#[utoipa::path(post, path = "/api/campaigns/{id}/experiment", tag = "analytics",
    params(("id" = String, Path)), request_body = FromMetrics,
    responses((status = 201, description = "Recorded, with its statistics", body = RecordedExperiment),
        (status = 400, body = super::ErrorBody), (status = 404, body = super::ErrorBody)),
    security(("api_key" = [])))]
pub async fn from_metrics(
    State(state): State<AppState>,
    Auth(principal): Auth,
    Path(id): Path<String>,
    ValidJson(body): ValidJson<FromMetrics>,
) -> Result<(StatusCode, Json<RecordedExperiment>), ApiError> {
    let owner = &principal.owner_id;
    let request = experiments::from_metrics(&state.store, owner, &id, &body).await?;
    let stored = store_experiment(&state.store, owner, &request).await?;
    Ok((StatusCode::CREATED, Json(stored)))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CampaignSummary {
    pub campaign_id: String,
    /// The metric of the campaign's objective (`roas`, `cpa` or `ctr`), the one the optimizer
    /// and the report's A/B headline judge creatives on; null without synced metrics.
    pub metric: Option<ObjectiveMetric>,
    /// The headline: the best creative on `metric` against the others, from the synced
    /// metrics ("Creative 'X' has ROAS 3.76x against 0.85x for the others."); null without
    /// synced metrics. The findings below compare the recorded experiments' own counts.
    pub headline: Option<String>,
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
    for loaded in load(&state.store, &principal.owner_id, &campaign_id).await? {
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
    let headline = objective_headline(&state, &principal.owner_id, &campaign_id).await?;
    Ok(Json(CampaignSummary {
        metric: headline.as_ref().map(|h| h.0),
        headline: headline.map(|h| h.1.headline),
        campaign_id,
        findings,
        narrative,
        experiments,
    }))
}

/// The campaign's creatives compared on its objective's metric from the synced metrics
/// (`objective::compare_creatives`, as the report's A/B headline); `None` without a campaign
/// of that id or without synced metrics.
async fn objective_headline(
    state: &AppState,
    owner: &str,
    campaign_id: &str,
) -> Result<Option<(ObjectiveMetric, Comparison)>, ApiError> {
    let Some(campaign) = state.store.get_campaign(owner, campaign_id).await? else {
        return Ok(None);
    };
    let rows = state
        .store
        .list_metrics(
            owner,
            &MetricFilter {
                campaign_id: Some(campaign_id.to_string()),
                limit: 200_000,
                ..MetricFilter::default()
            },
        )
        .await?;
    let names = super::deployments::creative_names(state, owner, campaign_id).await?;
    Ok(compare_creatives(
        &campaign.objective,
        &campaign.currency,
        &rows,
        &names,
    ))
}

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
    let loaded = load(&state.store, &principal.owner_id, &campaign_id).await?;
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
