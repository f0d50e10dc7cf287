//! OpenAI-compatible inference routes: `/v1/models`, `/v1/completions`,
//! `/v1/chat/completions` (JSON or server-sent event chunks ending in `[DONE]`), `/v1/embeddings`. Requests are
//! validated into engine requests at the edge; a client that disconnects drops its receiver,
//! which frees its slot in the engine at the next step.

pub mod embeddings;
mod types;

use std::convert::Infallible;
use std::time::{SystemTime, UNIX_EPOCH};

use axum::Json;
use axum::Router;
use axum::extract::State;
use axum::response::sse::{Event, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use futures::Stream;
use serde_json::{Value, json};
use tokio::sync::mpsc;

use super::extract::{InferenceAuth, ValidJson};
use super::{ApiError, AppState};
use crate::engine::text::{Sampled, TextEngineError, TextEvent, TextService};
pub use types::{
    ChatCompletionRequest, CompletionRequest, ModelCard, ModelList, Usage, ValidGeneration,
};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/models", get(list_models))
        .route("/v1/completions", post(completions))
        .route("/v1/chat/completions", post(chat_completions))
        .route("/v1/embeddings", post(embeddings::embeddings))
}

fn text_service(state: &AppState) -> Result<&TextService, ApiError> {
    state.text.as_ref().ok_or_else(|| {
        ApiError::ModelNotLoaded(
            "no text model is loaded on this server: install one with `adforge models pull smollm2-135m-instruct` and restart".into(),
        )
    })
}

fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// The models this server can generate with.
#[utoipa::path(get, path = "/v1/models", tag = "inference", responses((status = 200, body = ModelList)))]
pub async fn list_models(State(state): State<AppState>, _auth: InferenceAuth) -> Json<ModelList> {
    let names = state.text.iter().map(|t| t.name.clone());
    let data = names
        .chain(state.embed.iter().map(|e| e.name.clone()))
        .map(|id| ModelCard {
            id,
            object: "model",
            created: now_secs(),
            owned_by: "adforge",
        })
        .collect();
    Json(ModelList {
        object: "list",
        data,
    })
}

/// Which endpoint a response is shaped for.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Shape {
    Chat,
    Completion,
}

impl Shape {
    fn id(self) -> String {
        let prefix = if self == Shape::Chat {
            "chatcmpl"
        } else {
            "cmpl"
        };
        format!("{prefix}-{}", uuid::Uuid::new_v4().simple())
    }
}

/// Text completion (OpenAI `/v1/completions`).
#[utoipa::path(post, path = "/v1/completions", tag = "inference", request_body = CompletionRequest,
    responses((status = 200, description = "A text_completion object, or text/event-stream chunks with `stream`"),
        (status = 400, body = super::ErrorBody), (status = 404, body = super::ErrorBody),
        (status = 429, body = super::ErrorBody), (status = 503, body = super::ErrorBody)))]
pub async fn completions(
    State(state): State<AppState>,
    _auth: InferenceAuth,
    ValidJson(body): ValidJson<CompletionRequest>,
) -> Result<Response, ApiError> {
    let service = text_service(&state)?;
    let valid = body.validate(service)?;
    respond(service, valid, Shape::Completion).await
}

/// Chat completion (OpenAI `/v1/chat/completions`), with the model's own chat template.
#[utoipa::path(post, path = "/v1/chat/completions", tag = "inference", request_body = ChatCompletionRequest,
    responses((status = 200, description = "A chat.completion object, or text/event-stream chunks with `stream`"),
        (status = 400, body = super::ErrorBody), (status = 404, body = super::ErrorBody),
        (status = 429, body = super::ErrorBody), (status = 503, body = super::ErrorBody)))]
pub async fn chat_completions(
    State(state): State<AppState>,
    _auth: InferenceAuth,
    ValidJson(body): ValidJson<ChatCompletionRequest>,
) -> Result<Response, ApiError> {
    let service = text_service(&state)?;
    let valid = body.validate(service)?;
    respond(service, valid, Shape::Chat).await
}

async fn respond(
    service: &TextService,
    valid: ValidGeneration,
    shape: Shape,
) -> Result<Response, ApiError> {
    let events = service
        .engine
        .submit(valid.request.clone())
        .map_err(|e| match e {
            TextEngineError::QueueFull(_) => ApiError::TooManyRequests(e.to_string()),
            TextEngineError::Stopped | TextEngineError::Failed(_) => {
                ApiError::Internal(e.to_string())
            }
        })?;
    let ctx = Ctx {
        id: shape.id(),
        created: now_secs(),
        model: service.name.clone(),
        shape,
        logprobs: valid.logprobs,
        prompt_tokens: valid.request.prompt.len(),
        n: valid.request.n,
        include_usage: valid.include_usage,
        service: service.clone(),
    };
    if valid.stream {
        Ok(Sse::new(chunk_stream(ctx, events)).into_response())
    } else {
        Ok(Json(collect(ctx, events).await?).into_response())
    }
}

struct Ctx {
    id: String,
    created: u64,
    model: String,
    shape: Shape,
    logprobs: bool,
    prompt_tokens: usize,
    n: usize,
    include_usage: bool,
    service: TextService,
}

impl Ctx {
    fn token_text(&self, id: u32) -> String {
        self.service
            .engine
            .tokenizer
            .decode(&[id])
            .unwrap_or_default()
    }

    /// The logprobs object of one token, in the endpoint's own shape.
    fn logprob_entry(&self, sampled: &Sampled) -> Value {
        let token = self.token_text(sampled.token);
        match self.shape {
            Shape::Chat => json!({
                "token": token,
                "logprob": sampled.logprob,
                "bytes": token.as_bytes(),
                "top_logprobs": sampled.top.iter().map(|(id, lp)| {
                    let t = self.token_text(*id);
                    json!({"token": t, "logprob": lp, "bytes": t.as_bytes()})
                }).collect::<Vec<_>>(),
            }),
            Shape::Completion => json!({
                "token": token,
                "logprob": sampled.logprob,
                "top": sampled.top.iter().map(|(id, lp)| (self.token_text(*id), json!(lp))).collect::<serde_json::Map<_, _>>(),
            }),
        }
    }

    fn usage(&self, completion_tokens: usize) -> Usage {
        Usage {
            prompt_tokens: self.prompt_tokens,
            completion_tokens,
            total_tokens: self.prompt_tokens + completion_tokens,
        }
    }
}

#[derive(Default)]
struct ChoiceAcc {
    text: String,
    entries: Vec<Value>,
    finish: Option<&'static str>,
    tokens: usize,
}

async fn collect(ctx: Ctx, mut events: mpsc::Receiver<TextEvent>) -> Result<Value, ApiError> {
    let mut choices: Vec<ChoiceAcc> = (0..ctx.n).map(|_| ChoiceAcc::default()).collect();
    while choices.iter().any(|c| c.finish.is_none()) {
        match events.recv().await {
            Some(TextEvent::Token {
                choice,
                sampled,
                text,
            }) => {
                let acc = &mut choices[choice];
                acc.text.push_str(&text);
                if ctx.logprobs {
                    acc.entries.push(ctx.logprob_entry(&sampled));
                }
            }
            Some(TextEvent::Finished {
                choice,
                reason,
                completion_tokens,
            }) => {
                choices[choice].finish = Some(reason.as_str());
                choices[choice].tokens = completion_tokens;
            }
            Some(TextEvent::Failed(message)) => return Err(ApiError::Internal(message)),
            None => {
                return Err(ApiError::Internal(
                    "the text engine dropped the request".into(),
                ));
            }
        }
    }
    let completion_tokens = choices.iter().map(|c| c.tokens).sum();
    let body_choices: Vec<Value> = choices
        .into_iter()
        .enumerate()
        .map(|(index, c)| {
            let logprobs = ctx.logprobs.then(|| completion_logprobs(ctx.shape, c.entries));
            match ctx.shape {
                Shape::Chat => json!({
                    "index": index,
                    "message": {"role": "assistant", "content": c.text},
                    "logprobs": logprobs,
                    "finish_reason": c.finish,
                }),
                Shape::Completion => json!({"index": index, "text": c.text, "logprobs": logprobs, "finish_reason": c.finish}),
            }
        })
        .collect();
    let object = if ctx.shape == Shape::Chat {
        "chat.completion"
    } else {
        "text_completion"
    };
    Ok(json!({
        "id": ctx.id,
        "object": object,
        "created": ctx.created,
        "model": ctx.model,
        "choices": body_choices,
        "usage": ctx.usage(completion_tokens),
    }))
}

/// Per-token entries in the endpoint's logprobs shape.
fn completion_logprobs(shape: Shape, entries: Vec<Value>) -> Value {
    match shape {
        Shape::Chat => json!({"content": entries}),
        Shape::Completion => json!({
            "tokens": entries.iter().map(|e| e["token"].clone()).collect::<Vec<_>>(),
            "token_logprobs": entries.iter().map(|e| e["logprob"].clone()).collect::<Vec<_>>(),
            "top_logprobs": entries.iter().map(|e| e["top"].clone()).collect::<Vec<_>>(),
        }),
    }
}

fn chunk_stream(
    ctx: Ctx,
    events: mpsc::Receiver<TextEvent>,
) -> impl Stream<Item = Result<Event, Infallible>> {
    struct Run {
        ctx: Ctx,
        events: mpsc::Receiver<TextEvent>,
        started: Vec<bool>,
        finished: usize,
        completion_tokens: usize,
        done: bool,
    }
    let n = ctx.n;
    let run = Run {
        ctx,
        events,
        started: vec![false; n],
        finished: 0,
        completion_tokens: 0,
        done: false,
    };
    futures::stream::unfold(run, |mut run| async move {
        if run.done {
            return None;
        }
        let object = if run.ctx.shape == Shape::Chat {
            "chat.completion.chunk"
        } else {
            "text_completion"
        };
        let chunk = |run: &Run, choices: Value, usage: Option<Usage>| {
            let mut body = json!({"id": run.ctx.id, "object": object, "created": run.ctx.created, "model": run.ctx.model, "choices": choices});
            if let Some(usage) = usage {
                body["usage"] = json!(usage);
            }
            Event::default().data(body.to_string())
        };
        if run.finished == run.ctx.n {
            run.done = true;
            if run.ctx.include_usage {
                let usage = run.ctx.usage(run.completion_tokens);
                // The usage chunk, then [DONE] on the next poll.
                let event = chunk(&run, json!([]), Some(usage));
                run.ctx.include_usage = false;
                run.done = false;
                return Some((Ok(event), run));
            }
            return Some((Ok(Event::default().data("[DONE]")), run));
        }
        let event = match run.events.recv().await {
            Some(TextEvent::Token {
                choice,
                sampled,
                text,
            }) => {
                let logprobs = run.ctx.logprobs.then(|| {
                    completion_logprobs(run.ctx.shape, vec![run.ctx.logprob_entry(&sampled)])
                });
                let body = match run.ctx.shape {
                    Shape::Chat => {
                        let mut delta = json!({"content": text});
                        if !run.started[choice] {
                            delta["role"] = json!("assistant");
                            run.started[choice] = true;
                        }
                        json!([{"index": choice, "delta": delta, "logprobs": logprobs, "finish_reason": null}])
                    }
                    Shape::Completion => {
                        json!([{"index": choice, "text": text, "logprobs": logprobs, "finish_reason": null}])
                    }
                };
                chunk(&run, body, None)
            }
            Some(TextEvent::Finished {
                choice,
                reason,
                completion_tokens,
            }) => {
                run.finished += 1;
                run.completion_tokens += completion_tokens;
                let body = match run.ctx.shape {
                    Shape::Chat => {
                        json!([{"index": choice, "delta": {}, "logprobs": null, "finish_reason": reason.as_str()}])
                    }
                    Shape::Completion => {
                        json!([{"index": choice, "text": "", "logprobs": null, "finish_reason": reason.as_str()}])
                    }
                };
                chunk(&run, body, None)
            }
            Some(TextEvent::Failed(message)) => {
                run.done = true;
                tracing::error!(%message, "generation failed mid-stream");
                Event::default().data(
                    json!({"error": {"code": "internal", "message": "generation failed"}})
                        .to_string(),
                )
            }
            None => return None,
        };
        Some((Ok(event), run))
    })
}
