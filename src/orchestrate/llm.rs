//! The text model as the orchestration layer sees it: JSON under a schema, from the text engine
//! of this process or from a remote adforge (or any OpenAI-compatible server that honours
//! `response_format: json_schema`) given by URL, so the campaign loop can run on a machine
//! without models. Same seed, same prompt, same model: same answer on either path.

use serde_json::{Value, json};

use crate::engine::text::{ChatMessage, FinishReason, SamplingParams, TextRequest, TextService};
use crate::secret::Secret;

#[derive(Debug, thiserror::Error)]
pub enum LlmError {
    #[error("text model: {0}")]
    Engine(String),
    #[error("remote inference server {url}: {message}")]
    Remote { url: String, message: String },
    #[error("the model's answer is not the JSON the schema asks for: {0}")]
    BadJson(String),
    #[error("the model ran out of tokens before finishing its JSON answer")]
    Unfinished,
}

/// Where the text model runs.
#[derive(Clone)]
pub enum TextBackend {
    Local(TextService),
    Remote {
        /// `http://host:port` of the server (its `/v1/chat/completions` is called).
        base_url: String,
        api_key: Option<Secret>,
        /// The model name to ask for (`None`: the server's default).
        model: Option<String>,
        client: reqwest::Client,
    },
}

impl std::fmt::Debug for TextBackend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            TextBackend::Local(t) => write!(f, "Local({})", t.name),
            TextBackend::Remote { base_url, .. } => write!(f, "Remote({base_url})"),
        }
    }
}

impl TextBackend {
    pub fn remote(base_url: &str, api_key: Option<Secret>, model: Option<String>) -> Self {
        TextBackend::Remote {
            base_url: base_url.trim_end_matches('/').to_string(),
            api_key,
            model,
            client: reqwest::Client::builder()
                .timeout(std::time::Duration::from_secs(300))
                .build()
                .unwrap_or_default(),
        }
    }

    /// Which model answers (for the record).
    pub fn describe(&self) -> String {
        match self {
            TextBackend::Local(t) => format!("local:{}", t.name),
            TextBackend::Remote {
                base_url, model, ..
            } => {
                format!(
                    "remote:{base_url}/{}",
                    model.as_deref().unwrap_or("default")
                )
            }
        }
    }

    /// [`Self::json`], drawn again (`seed + 1`, ..., with half as many tokens more each time)
    /// when the model runs out of tokens or its answer does not parse, at most `attempts`
    /// times in all. A small model sometimes rambles inside a long string field: another draw
    /// usually finishes.
    pub async fn json_retrying(
        &self,
        messages: &[ChatMessage],
        schema: &Value,
        seed: u64,
        max_tokens: usize,
        attempts: usize,
    ) -> Result<Value, LlmError> {
        let mut budget = max_tokens;
        let mut last = LlmError::Unfinished;
        for i in 0..attempts.max(1) {
            match self
                .json(messages, schema, seed.wrapping_add(i as u64), budget)
                .await
            {
                Ok(value) => return Ok(value),
                Err(e @ (LlmError::Unfinished | LlmError::BadJson(_))) => {
                    tracing::debug!(attempt = i + 1, error = %e, "drawing the JSON answer again");
                    last = e;
                    budget += budget / 2;
                }
                Err(e) => return Err(e),
            }
        }
        Err(last)
    }

    /// One JSON answer under `schema`, sampled with `seed`.
    pub async fn json(
        &self,
        messages: &[ChatMessage],
        schema: &Value,
        seed: u64,
        max_tokens: usize,
    ) -> Result<Value, LlmError> {
        let text = match self {
            TextBackend::Local(service) => {
                let constraint = service
                    .grammar
                    .json_schema(schema.clone())
                    .map_err(|e| LlmError::Engine(e.to_string()))?;
                let prompt = service
                    .chat_prompt(messages)
                    .map_err(|e| LlmError::Engine(e.to_string()))?;
                let request = TextRequest {
                    prompt,
                    params: SamplingParams {
                        temperature: 0.7,
                        top_p: 0.9,
                        seed,
                        ..SamplingParams::default()
                    },
                    max_tokens,
                    stop: Vec::new(),
                    n: 1,
                    logprobs: false,
                    top_logprobs: 0,
                    ignore_eos: false,
                    constraint: Some(constraint),
                };
                let choice = service
                    .complete(request)
                    .await
                    .map_err(|e| LlmError::Engine(e.to_string()))?
                    .into_iter()
                    .next()
                    .ok_or(LlmError::Unfinished)?;
                if choice.finish != Some(FinishReason::Stop) {
                    return Err(LlmError::Unfinished);
                }
                choice.text
            }
            TextBackend::Remote {
                base_url,
                api_key,
                model,
                client,
            } => {
                let url = format!("{base_url}/v1/chat/completions");
                let mut body = json!({
                    "messages": messages.iter().map(|m| json!({"role": m.role, "content": m.content}))
                        .collect::<Vec<_>>(),
                    "response_format": {"type": "json_schema",
                        "json_schema": {"name": "answer", "schema": schema}},
                    "seed": seed, "temperature": 0.7, "top_p": 0.9, "max_tokens": max_tokens,
                });
                if let Some(model) = model {
                    body["model"] = json!(model);
                }
                let mut request = client.post(&url).json(&body);
                if let Some(key) = api_key {
                    request = request.bearer_auth(key.expose());
                }
                let remote = |message: String| LlmError::Remote {
                    url: base_url.clone(),
                    message,
                };
                let response = request.send().await.map_err(|e| remote(e.to_string()))?;
                let status = response.status();
                let answer: Value = response.json().await.map_err(|e| remote(e.to_string()))?;
                if !status.is_success() {
                    return Err(remote(format!("HTTP {status}: {answer}")));
                }
                if answer.pointer("/choices/0/finish_reason") != Some(&json!("stop")) {
                    return Err(LlmError::Unfinished);
                }
                answer
                    .pointer("/choices/0/message/content")
                    .and_then(Value::as_str)
                    .ok_or_else(|| remote(format!("no message content in {answer}")))?
                    .to_string()
            }
        };
        serde_json::from_str(&text).map_err(|e| LlmError::BadJson(format!("{e}: {text}")))
    }
}
