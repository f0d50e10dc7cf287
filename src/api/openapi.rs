//! `/openapi.json`, generated from the handlers' own types and annotations (utoipa).

use axum::Json;
use axum::Router;
use axum::routing::get;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

use super::{
    AppState, agents, analytics, assets, campaigns, connections, creative_rows, creatives,
    deployments, events, experiments, generate, generations, health, images, jobs, mmm, openai,
    users, videos, webhooks, workers,
};

#[derive(OpenApi)]
#[openapi(
    info(title = "adforge", description = "Creative generation server: jobs, models and operations."),
    paths(
        health::health, health::ready, health::metrics, workers::list,
        openai::list_models, openai::completions, openai::chat_completions, openai::embeddings::embeddings, images::upscale,
        generations::generations, generations::edits, generations::capabilities,
        creatives::render,
        generate::generate_set, generate::generate_copy_route,
        creative_rows::list, creative_rows::read, creative_rows::update, creative_rows::remove, creative_rows::regenerate, analytics::abtest, mmm::submit_mmm, mmm::allocate_budget,
        experiments::record, experiments::from_metrics, experiments::campaign_summary, experiments::campaign_chart, assets::upload, assets::asset, assets::content, assets::download_url,
        videos::create, videos::content,
        campaigns::create, campaigns::list, campaigns::read, campaigns::update, campaigns::remove,
        agents::plan, agents::read_plan, agents::runs, agents::run_optimizer, agents::actions, agents::approve, agents::reject, agents::policy,
        deployments::create, deployments::list, deployments::read, deployments::remove, deployments::sync, deployments::redeploy, deployments::pause, deployments::resume, deployments::metrics, deployments::report,
        jobs::submit_job, jobs::submit_batch, jobs::list_jobs, jobs::get_job, jobs::cancel_job, jobs::job_events,
        users::login, users::logout, users::setup, users::create_user, users::me, users::create_key, users::list_keys, users::revoke_key,
        connections::connect, connections::list, connections::remove,
        events::events, webhooks::meta_handshake, webhooks::meta_delivery, webhooks::tiktok_delivery, webhooks::google_delivery,
    ),
    components(schemas(super::ErrorBody, super::ErrorDetail)),
    modifiers(&ApiKeyAuth),
    tags((name = "ops", description = "Health, readiness and metrics"),
         (name = "jobs", description = "Queued background work with progress"),
         (name = "generate", description = "Creatives from a product brief"),
         (name = "analytics", description = "Experiment statistics, marketing-mix models, budget allocation"),
         (name = "assets", description = "Uploaded files and files made by jobs (charts, renders)"),
         (name = "campaigns", description = "Campaigns, version-checked (ETag / If-Match)"),
         (name = "videos", description = "Video renders: specs or the ad template to MP4 per format"),
         (name = "inference", description = "OpenAI-compatible text generation and embeddings"),
         (name = "auth", description = "Sign-in, users and API keys"),
         (name = "platforms", description = "Ad-platform connections, tokens sealed at rest"),
         (name = "events", description = "Updates out as server-sent events, resumable by Last-Event-ID"),
         (name = "webhooks", description = "Deliveries from the ad platforms, authenticated by signature"))
)]
struct ApiDoc;

struct ApiKeyAuth;

impl Modify for ApiKeyAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        if let Some(components) = openapi.components.as_mut() {
            components.add_security_scheme(
                "api_key",
                SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
            );
        }
    }
}

/// The OpenAPI document of every route.
pub fn openapi_json() -> utoipa::openapi::OpenApi {
    ApiDoc::openapi()
}

pub fn router() -> Router<AppState> {
    Router::new().route("/openapi.json", get(|| async { Json(openapi_json()) }))
}
