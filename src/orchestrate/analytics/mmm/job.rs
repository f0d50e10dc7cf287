//! `analytics.mmm`: fits a marketing-mix model to a dataset (CSV text or JSON rows) on a
//! blocking thread, reports each generation of the search as progress, stops at the next
//! generation when cancelled, and stores its charts (response curves, spend against effect
//! share, fitted against actual response) as SVG and PNG assets of the job.

use std::sync::atomic::Ordering;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::jobs::{JobContext, JobError, JobHandler};
use crate::orchestrate::analytics::AnalyticsError;
use crate::orchestrate::analytics::charts::{self, Chart, ResponseCurve, ShareRow};
use crate::orchestrate::analytics::mmm::{self, Columns, Dataset, MmmConfig, MmmError, MmmFit};
use crate::store::assets::{AssetError, AssetStore};
use crate::store::now_ms;

/// The dataset: CSV text with a header row, or JSON rows.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum MmmData {
    Csv(String),
    Rows(Vec<serde_json::Map<String, Value>>),
}

/// `POST /api/analytics/mmm` and the job's payload.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MmmRequest {
    pub data: MmmData,
    pub columns: Columns,
    /// Holiday dates (YYYY-MM-DD): a period containing one gets the holiday regressor.
    #[serde(default)]
    pub holidays: Vec<String>,
    #[serde(default)]
    pub config: MmmConfig,
}

impl MmmRequest {
    /// The request from a job payload, or the first problem, named by field.
    pub fn parse(payload: &Value) -> Result<(Self, Dataset), AnalyticsError> {
        let request: MmmRequest = serde_json::from_value(payload.clone())
            .map_err(|e| AnalyticsError::new("body", e.to_string()))?;
        request.config.check()?;
        let dataset = match &request.data {
            MmmData::Csv(text) => Dataset::from_csv(text, &request.columns, &request.holidays),
            MmmData::Rows(rows) => Dataset::from_rows(rows, &request.columns, &request.holidays),
        }?;
        Ok((request, dataset))
    }
}

pub struct MmmJob {
    pub assets: AssetStore,
}

#[async_trait]
impl JobHandler for MmmJob {
    fn kind(&self) -> &'static str {
        "analytics.mmm"
    }

    fn describe(&self) -> &'static str {
        "fit a marketing-mix model to a dataset; charts stored as assets"
    }

    fn validate(&self, payload: &Value) -> Result<(), String> {
        MmmRequest::parse(payload)
            .map(|_| ())
            .map_err(|e| format!("{}: {}", e.field, e.problem))
    }

    async fn run(&self, ctx: &JobContext) -> Result<Value, JobError> {
        let (request, dataset) = MmmRequest::parse(&ctx.job.payload)
            .map_err(|e| JobError::Fatal(format!("{}: {}", e.field, e.problem)))?;
        let config = request.config.clone();
        let data = dataset.clone();
        let fit = ctx
            .run_blocking("fit", move |report, cancelled| {
                mmm::fit(&data, &config, |generation, generations| {
                    report(
                        0.9 * generation as f64 / generations as f64,
                        format!("search generation {generation} of {generations}"),
                    );
                    !cancelled.load(Ordering::Relaxed)
                })
            })
            .await?;
        let fit = match fit {
            Ok(fit) => fit,
            Err(MmmError::Cancelled) => return Err(JobError::Cancelled),
            Err(MmmError::Input(e)) => {
                return Err(JobError::Fatal(format!("{}: {}", e.field, e.problem)));
            }
        };
        ctx.progress(0.9, "drawing charts").await?;
        let drawn = tokio::task::spawn_blocking({
            let fit = fit.clone();
            move || draw(&dataset, &fit)
        })
        .await
        .map_err(|e| JobError::Fatal(format!("chart task failed: {e}")))?
        .map_err(|e| JobError::Fatal(e.to_string()))?;
        let mut stored = Vec::new();
        for (name, chart) in drawn {
            for (extension, content_type, bytes) in [
                ("svg", "image/svg+xml", chart.svg.as_bytes()),
                ("png", "image/png", chart.png.as_slice()),
            ] {
                let asset = self
                    .assets
                    .put(
                        &ctx.job.owner_id,
                        &ctx.job.id,
                        &format!("{name}.{extension}"),
                        content_type,
                        bytes,
                        now_ms(),
                    )
                    .await
                    .map_err(|e| match e {
                        AssetError::Store(e) if e.is_unavailable() => {
                            JobError::Retryable(e.to_string())
                        }
                        AssetError::Io { .. } => JobError::Retryable(e.to_string()),
                        e => JobError::Fatal(e.to_string()),
                    })?;
                stored.push(asset);
            }
        }
        Ok(json!({ "fit": fit, "assets": stored }))
    }
}

/// The three charts of a fit, by asset name.
fn draw(data: &Dataset, fit: &MmmFit) -> Result<Vec<(&'static str, Chart)>, charts::ChartError> {
    let model = &fit.model;
    let curves: Vec<ResponseCurve> = model
        .channels
        .iter()
        .map(|c| ResponseCurve {
            channel: c.name.clone(),
            points: c.response_curve.clone(),
            current: (c.mean_spend, c.response.response(c.mean_spend)),
        })
        .collect();
    let period = if data.step_days == 7 { "week" } else { "day" };
    let shares: Vec<ShareRow> = model
        .channels
        .iter()
        .map(|c| ShareRow {
            channel: c.name.clone(),
            spend_share: c.spend_share,
            effect_share: c.effect_share,
        })
        .collect();
    let dates: Vec<String> = data.dates.iter().map(|d| d.to_string()).collect();
    Ok(vec![
        (
            "response_curves",
            charts::response_curves(
                &format!("Response per {period} against spend per {period} (steady state)"),
                &curves,
            )?,
        ),
        (
            "spend_vs_effect",
            charts::spend_vs_effect("Share of spend and share of effect", &shares)?,
        ),
        (
            "fit",
            charts::metrics_over_time(
                &format!(
                    "Response: actual and fitted (R² {:.2}, NRMSE {:.3})",
                    model.r_squared, model.nrmse
                ),
                "response",
                &dates,
                &[
                    ("actual".to_string(), data.response.clone()),
                    ("fitted".to_string(), model.fitted.clone()),
                ],
            )?,
        ),
    ])
}
