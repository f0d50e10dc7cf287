//! `/openapi.json`, generated from the handlers' own types and annotations (utoipa).

use axum::Json;
use axum::Router;
use axum::routing::get;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

use super::{
    AppState, agents, analytics, assets, campaigns, connections, creatives, deployments, events,
    experiments, generate, health, image_generations, images, jobs, mmm, openai, renders, users,
    videos, webhooks, workers,
};

#[derive(OpenApi)]
#[openapi(
    info(title = "adforge", description = "Creative generation server: jobs, models and operations."),
    paths(
        health::health, health::ready, health::metrics, workers::list,
        openai::list_models, openai::completions, openai::chat_completions, openai::embeddings::embeddings, images::upscale,
        image_generations::generations, image_generations::edits, image_generations::capabilities,
        renders::render,
        generate::generate_set, generate::generate_copy_route,
        creatives::list, creatives::read, creatives::update, creatives::remove, creatives::regenerate, analytics::abtest, mmm::submit_mmm, mmm::allocate_budget,
        experiments::record, experiments::from_metrics, experiments::campaign_summary, experiments::campaign_chart, assets::upload, assets::asset, assets::content, assets::download_url,
        videos::create, videos::content,
        campaigns::create, campaigns::list, campaigns::read, campaigns::update, campaigns::remove,
        agents::plan, agents::read_plan, agents::runs, agents::run_optimizer, agents::optimizer_status, agents::actions, agents::approve, agents::reject, agents::policy,
        deployments::create, deployments::list, deployments::read, deployments::remove, deployments::sync, deployments::redeploy, deployments::pause, deployments::resume, deployments::sandbox_rates, deployments::metrics, deployments::report,
        jobs::submit_job, jobs::submit_batch, jobs::list_jobs, jobs::get_job, jobs::cancel_job, jobs::job_events,
        users::login, users::logout, users::setup, users::create_user, users::me, users::create_key, users::list_keys, users::revoke_key,
        connections::connect, connections::list, connections::remove, connections::test,
        events::events, webhooks::meta_handshake, webhooks::meta_delivery, webhooks::tiktok_delivery, webhooks::google_delivery,
    ),
    components(schemas(super::ErrorBody, super::ErrorDetail)),
    modifiers(&ApiKeyAuth, &CommonErrors),
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

/// The answers any route can give besides its own, documented on every operation (each with the
/// error envelope): a body over the size limit, a rate limit or a full queue, a dependency down
/// or a request that took too long, an unexpected failure; and on routes with a key, a missing
/// or wrong key; on routes with a path id, not found; on routes with a body, a bad one.
struct CommonErrors;

impl Modify for CommonErrors {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::{ContentBuilder, Ref, ResponseBuilder};
        let error = |description: &str| {
            ResponseBuilder::new()
                .description(description)
                .content(
                    "application/json",
                    ContentBuilder::new()
                        .schema(Some(Ref::from_schema_name("ErrorBody")))
                        .build(),
                )
                .build()
        };
        for (path, item) in openapi.paths.paths.iter_mut() {
            let has_id = path.contains('{');
            let operations = [
                item.get.as_mut(),
                item.put.as_mut(),
                item.post.as_mut(),
                item.delete.as_mut(),
                item.patch.as_mut(),
            ];
            for operation in operations.into_iter().flatten() {
                // `/v1/*` needs a key too unless the server is open on loopback.
                let secured = operation.security.is_some() || path.starts_with("/v1/");
                let with_body = operation.request_body.is_some();
                let responses = &mut operation.responses.responses;
                let mut add = |code: &str, description: &str| {
                    responses
                        .entry(code.to_string())
                        .or_insert_with(|| error(description).into());
                };
                add(
                    "400",
                    "The request is malformed or breaks a limit (the message names the field)",
                );
                add("405", "The method is not allowed on this path");
                add("413", "The request body is over the size limit");
                add(
                    "429",
                    "Over the caller's rate limit, or a queue is full (see Retry-After)",
                );
                add("500", "An unexpected failure (details in the server log)");
                add(
                    "503",
                    "A dependency is down or the request took too long (see Retry-After)",
                );
                if secured {
                    add("401", "No key, or a key or session that is not valid");
                    add("403", "The caller may not do this");
                }
                if has_id || secured {
                    add("404", "No such object for this caller");
                }
                if with_body {
                    add("415", "The body is not of a type this route takes");
                    add(
                        "422",
                        "The body is well-formed but not what this route takes",
                    );
                }
            }
        }
    }
}

/// The OpenAPI document of every route.
pub fn openapi_json() -> utoipa::openapi::OpenApi {
    ApiDoc::openapi()
}

/// The document as served: `allOf` members lose `additionalProperties: false` and the whole
/// is closed with `unevaluatedProperties: false` instead (a flattened request type is closed as a
/// whole by serde; closed members would contradict each other and describe no body at all).
pub fn openapi_document() -> serde_json::Value {
    fn open_all_of(value: &mut serde_json::Value) {
        match value {
            serde_json::Value::Object(map) => {
                let mut closed = false;
                if let Some(serde_json::Value::Array(parts)) = map.get_mut("allOf") {
                    for part in parts.iter_mut() {
                        if let Some(part) = part.as_object_mut() {
                            closed |= part.remove("additionalProperties")
                                == Some(serde_json::Value::Bool(false));
                        }
                    }
                }
                if closed {
                    map.insert(
                        "unevaluatedProperties".into(),
                        serde_json::Value::Bool(false),
                    );
                }
                map.values_mut().for_each(open_all_of);
            }
            serde_json::Value::Array(items) => items.iter_mut().for_each(open_all_of),
            _ => {}
        }
    }
    let mut doc = serde_json::to_value(openapi_json()).unwrap_or_default();
    open_all_of(&mut doc);
    doc
}

pub fn router() -> Router<AppState> {
    Router::new().route("/openapi.json", get(|| async { Json(openapi_document()) }))
}
