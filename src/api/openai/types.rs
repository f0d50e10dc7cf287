//! OpenAI request and response shapes, and their validation into engine requests. Limits are
//! named in every error: `max_tokens: 5000 is above the limit of 2048`.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::api::ApiError;
use crate::engine::text::{ChatMessage, Constraint, SamplingParams, TextRequest, TextService};

pub const MAX_N: usize = 8;
pub const MAX_STOP: usize = 4;
pub const MAX_STOP_LEN: usize = 64;
pub const MAX_TOP_LOGPROBS: usize = 20;
pub const MAX_MESSAGES: usize = 256;
/// The largest `response_format` schema accepted, serialized.
pub const MAX_SCHEMA_BYTES: usize = 32 * 1024;

/// A string or a list of strings (OpenAI's `stop` and `prompt`).
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(untagged)]
pub enum OneOrMany {
    One(String),
    Many(Vec<String>),
}

impl OneOrMany {
    pub fn into_vec(self) -> Vec<String> {
        match self {
            OneOrMany::One(s) => vec![s],
            OneOrMany::Many(v) => v,
        }
    }
}

/// Message content: a string, or a list of `{"type": "text", "text": ...}` parts.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(untagged)]
pub enum Content {
    Text(String),
    Parts(Vec<ContentPart>),
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ContentPart {
    #[serde(rename = "type")]
    pub kind: String,
    pub text: Option<String>,
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Message {
    /// system, user or assistant.
    pub role: String,
    pub content: Content,
    /// Accepted for compatibility; not shown to the model.
    #[serde(default, rename = "name")]
    #[schema(ignore)]
    _name: Option<serde::de::IgnoredAny>,
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StreamOptions {
    #[serde(default)]
    pub include_usage: bool,
}

/// Sampling fields shared by both endpoints (OpenAI's, plus top_k, min_p, repetition_penalty
/// and ignore_eos as vLLM and llama.cpp accept them).
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
pub struct Sampling {
    pub temperature: Option<f32>,
    pub top_p: Option<f32>,
    pub top_k: Option<usize>,
    pub min_p: Option<f32>,
    pub repetition_penalty: Option<f32>,
    pub presence_penalty: Option<f32>,
    pub frequency_penalty: Option<f32>,
    pub seed: Option<u64>,
    pub n: Option<usize>,
    pub stop: Option<OneOrMany>,
    #[serde(default)]
    pub ignore_eos: bool,
    #[serde(default)]
    pub stream: bool,
    pub stream_options: Option<StreamOptions>,
    /// Accepted for compatibility (an end-user id); not used.
    #[serde(default, rename = "user")]
    #[schema(ignore)]
    _user: Option<serde::de::IgnoredAny>,
    /// Fields no one asked for: refused by name (serde cannot deny them through `flatten`).
    #[serde(flatten)]
    #[schema(ignore)]
    pub unknown: std::collections::BTreeMap<String, serde_json::Value>,
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
pub struct ChatCompletionRequest {
    pub model: String,
    pub messages: Vec<Message>,
    pub max_tokens: Option<usize>,
    pub max_completion_tokens: Option<usize>,
    /// Return log-probabilities of the chosen tokens.
    #[serde(default)]
    pub logprobs: bool,
    pub top_logprobs: Option<usize>,
    #[schema(value_type = Option<Object>)]
    pub response_format: Option<serde_json::Value>,
    #[serde(flatten)]
    pub sampling: Sampling,
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
pub struct CompletionRequest {
    pub model: String,
    pub prompt: OneOrMany,
    pub max_tokens: Option<usize>,
    /// Alternatives to return per token (0..=20).
    pub logprobs: Option<usize>,
    #[serde(default)]
    pub echo: bool,
    #[serde(flatten)]
    pub sampling: Sampling,
}

/// A request checked against the model and the limits.
#[derive(Debug, Clone)]
pub struct ValidGeneration {
    pub request: TextRequest,
    pub stream: bool,
    pub include_usage: bool,
    pub logprobs: bool,
}

pub(super) fn bad(message: String) -> ApiError {
    ApiError::bad_request(message)
}

fn check_model(service: &TextService, model: &str) -> Result<(), ApiError> {
    if model == service.name {
        return Ok(());
    }
    Err(ApiError::NotFound(format!(
        "model: {model:?} is not loaded; loaded models: {}",
        service.name
    )))
}

/// Checks the shared fields and builds the engine request around the prompt tokens.
fn generation(
    service: &TextService,
    prompt: Vec<u32>,
    max_tokens: Option<usize>,
    top_logprobs: usize,
    sampling: Sampling,
) -> Result<ValidGeneration, ApiError> {
    if let Some(field) = sampling.unknown.keys().next() {
        return Err(ApiError::BadRequest {
            code: "unknown_field",
            message: format!("{field}: unknown field"),
        });
    }
    let context = service.max_context;
    if prompt.is_empty() {
        return Err(bad("prompt: is empty".into()));
    }
    if prompt.len() >= context {
        return Err(bad(format!(
            "prompt: {} tokens is over the context limit of {context}",
            prompt.len()
        )));
    }
    let room = context - prompt.len();
    let max_tokens = max_tokens.unwrap_or(room.min(512));
    if max_tokens == 0 || max_tokens > room {
        return Err(bad(format!(
            "max_tokens: {max_tokens} is outside 1..={room} (context {context} minus {} prompt tokens)",
            prompt.len()
        )));
    }
    let n = sampling.n.unwrap_or(1);
    if !(1..=MAX_N).contains(&n) {
        return Err(bad(format!("n: {n} is outside 1..={MAX_N}")));
    }
    let temperature = sampling.temperature.unwrap_or(1.0);
    if !(0.0..=2.0).contains(&temperature) {
        return Err(bad(format!("temperature: {temperature} is outside 0..=2")));
    }
    let top_p = sampling.top_p.unwrap_or(1.0);
    if !(top_p > 0.0 && top_p <= 1.0) {
        return Err(bad(format!("top_p: {top_p} is outside (0, 1]")));
    }
    let min_p = sampling.min_p.unwrap_or(0.0);
    if !(0.0..=1.0).contains(&min_p) {
        return Err(bad(format!("min_p: {min_p} is outside 0..=1")));
    }
    let repetition_penalty = sampling.repetition_penalty.unwrap_or(1.0);
    if !(repetition_penalty > 0.0 && repetition_penalty <= 10.0) {
        return Err(bad(format!(
            "repetition_penalty: {repetition_penalty} is outside (0, 10]"
        )));
    }
    for (name, value) in [
        ("presence_penalty", sampling.presence_penalty),
        ("frequency_penalty", sampling.frequency_penalty),
    ] {
        if let Some(v) = value
            && !(-2.0..=2.0).contains(&v)
        {
            return Err(bad(format!("{name}: {v} is outside -2..=2")));
        }
    }
    if top_logprobs > MAX_TOP_LOGPROBS {
        return Err(bad(format!(
            "logprobs: {top_logprobs} alternatives is above the limit of {MAX_TOP_LOGPROBS}"
        )));
    }
    let stop = sampling.stop.map(OneOrMany::into_vec).unwrap_or_default();
    if stop.len() > MAX_STOP || stop.iter().any(|s| s.is_empty() || s.len() > MAX_STOP_LEN) {
        return Err(bad(format!(
            "stop: at most {MAX_STOP} strings of 1 to {MAX_STOP_LEN} bytes"
        )));
    }
    let seed = sampling.seed.unwrap_or_else(rand::random);
    Ok(ValidGeneration {
        request: TextRequest {
            prompt,
            params: SamplingParams {
                temperature,
                top_p,
                top_k: sampling.top_k.unwrap_or(0),
                min_p,
                repetition_penalty,
                presence_penalty: sampling.presence_penalty.unwrap_or(0.0),
                frequency_penalty: sampling.frequency_penalty.unwrap_or(0.0),
                seed,
            },
            max_tokens,
            stop,
            n,
            logprobs: false,
            top_logprobs,
            ignore_eos: sampling.ignore_eos,
            constraint: None,
        },
        stream: sampling.stream,
        include_usage: sampling.stream_options.is_some_and(|o| o.include_usage),
        logprobs: false,
    })
}

/// The grammar a `response_format` asks for: none for `text`, any JSON object for
/// `json_object`, the schema for `json_schema` (OpenAI's shape: `{"type": "json_schema",
/// "json_schema": {"name": ..., "schema": {...}}}`).
fn response_constraint(
    service: &TextService,
    format: &serde_json::Value,
) -> Result<Option<Constraint>, ApiError> {
    let kind = format.get("type").and_then(|t| t.as_str());
    let compiled = match kind {
        Some("text") => return Ok(None),
        Some("json_object") => service.grammar.json_object(),
        Some("json_schema") => {
            let Some(schema) = format.pointer("/json_schema/schema") else {
                return Err(bad(
                    "response_format.json_schema.schema: is required for type json_schema".into(),
                ));
            };
            let size = schema.to_string().len();
            if size > MAX_SCHEMA_BYTES {
                return Err(bad(format!(
                    "response_format.json_schema.schema: {size} bytes is above the limit of {MAX_SCHEMA_BYTES}"
                )));
            }
            service.grammar.json_schema(schema.clone())
        }
        other => {
            return Err(bad(format!(
                "response_format.type: {other:?} is not one of text, json_object, json_schema"
            )));
        }
    };
    compiled.map(Some).map_err(|e| {
        bad(format!(
            "response_format.json_schema.schema: cannot be compiled: {e}"
        ))
    })
}

fn tokenize(service: &TextService, text: &str) -> Result<Vec<u32>, ApiError> {
    service
        .engine
        .tokenizer
        .encode(text)
        .map_err(|e| ApiError::Internal(format!("tokenizing: {e}")))
}

impl ChatCompletionRequest {
    pub fn validate(self, service: &TextService) -> Result<ValidGeneration, ApiError> {
        check_model(service, &self.model)?;
        if self.messages.is_empty() {
            return Err(bad("messages: at least one message is required".into()));
        }
        if self.messages.len() > MAX_MESSAGES {
            return Err(bad(format!(
                "messages: {} is above the limit of {MAX_MESSAGES}",
                self.messages.len()
            )));
        }
        let constraint = match &self.response_format {
            Some(format) => response_constraint(service, format)?,
            None => None,
        };
        let mut messages = Vec::with_capacity(self.messages.len());
        for (i, message) in self.messages.into_iter().enumerate() {
            if !matches!(message.role.as_str(), "system" | "user" | "assistant") {
                return Err(bad(format!(
                    "messages[{i}].role: {:?} is not one of system, user, assistant",
                    message.role
                )));
            }
            let content = match message.content {
                Content::Text(text) => text,
                Content::Parts(parts) => {
                    let mut text = String::new();
                    for (j, part) in parts.into_iter().enumerate() {
                        match (part.kind.as_str(), part.text) {
                            ("text", Some(t)) => text.push_str(&t),
                            _ => {
                                return Err(bad(format!(
                                    "messages[{i}].content[{j}]: only text parts are supported"
                                )));
                            }
                        }
                    }
                    text
                }
            };
            messages.push(ChatMessage {
                role: message.role,
                content,
            });
        }
        let prompt_text = service
            .template
            .render(&messages)
            .map_err(|e| bad(format!("messages: {e}")))?;
        let prompt = tokenize(service, &prompt_text)?;
        let top_logprobs = if self.logprobs {
            self.top_logprobs.unwrap_or(0)
        } else {
            0
        };
        if self.top_logprobs.is_some() && !self.logprobs {
            return Err(bad("top_logprobs: needs logprobs: true".into()));
        }
        let max_tokens = self.max_completion_tokens.or(self.max_tokens);
        let mut valid = generation(service, prompt, max_tokens, top_logprobs, self.sampling)?;
        valid.logprobs = self.logprobs;
        valid.request.logprobs = self.logprobs;
        valid.request.constraint = constraint;
        Ok(valid)
    }
}

impl CompletionRequest {
    pub fn validate(self, service: &TextService) -> Result<ValidGeneration, ApiError> {
        check_model(service, &self.model)?;
        let prompts = self.prompt.into_vec();
        let [prompt] = &prompts[..] else {
            return Err(bad(format!(
                "prompt: one prompt per request is supported, got {}",
                prompts.len()
            )));
        };
        if self.echo {
            return Err(bad("echo: is not supported".into()));
        }
        let tokens = tokenize(service, prompt)?;
        let top_logprobs = self.logprobs.unwrap_or(0);
        let mut valid = generation(
            service,
            tokens,
            Some(self.max_tokens.unwrap_or(16)),
            top_logprobs,
            self.sampling,
        )?;
        valid.logprobs = self.logprobs.is_some();
        valid.request.logprobs = valid.logprobs;
        Ok(valid)
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Usage {
    pub prompt_tokens: usize,
    pub completion_tokens: usize,
    pub total_tokens: usize,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ModelCard {
    pub id: String,
    pub object: &'static str,
    pub created: u64,
    pub owned_by: &'static str,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ModelList {
    pub object: &'static str,
    pub data: Vec<ModelCard>,
}
