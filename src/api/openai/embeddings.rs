//! `/v1/embeddings`: OpenAI's request and response shapes over the embedding engine. Floats as a
//! JSON list, or as base64 little-endian f32 (`encoding_format: "base64"`, which the official
//! Python client asks for by default).

use axum::Json;
use axum::extract::State;
use base64::Engine as _;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

use super::types::{OneOrMany, bad};
use crate::api::extract::{InferenceAuth, ValidJson};
use crate::api::{ApiError, AppState};
use crate::engine::embed::{EmbedError, EmbedService};

/// Inputs in one request.
pub const MAX_INPUTS: usize = 256;
/// Characters in one input, checked before tokenizing (the token limit is checked after).
pub const MAX_INPUT_CHARS: usize = 8192;

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EmbeddingRequest {
    pub model: String,
    /// A string or a list of strings.
    #[schema(value_type = Object)]
    pub input: Value,
    /// `float` (default) or `base64`.
    pub encoding_format: Option<String>,
    /// Must equal the model's size when given (these models cannot be shortened).
    pub dimensions: Option<usize>,
    /// Accepted for compatibility (an end-user id); not used.
    #[serde(default, rename = "user")]
    #[schema(ignore)]
    _user: Option<serde::de::IgnoredAny>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct EmbeddingUsage {
    pub prompt_tokens: usize,
    pub total_tokens: usize,
}

/// One input's embedding: a list of floats, or with `encoding_format: "base64"` the
/// little-endian f32 bytes in base64.
#[derive(Debug, Serialize, ToSchema)]
#[serde(untagged)]
pub enum EmbeddingVector {
    /// The floats (the model's f32 values, widened to f64).
    Float(Vec<f64>),
    /// Base64 of the little-endian f32 bytes.
    Base64(String),
}

/// One input's embedding, in input order.
#[derive(Debug, Serialize, ToSchema)]
pub struct EmbeddingObject {
    /// Always `embedding`.
    pub object: &'static str,
    /// The input's position in the request.
    pub index: usize,
    pub embedding: EmbeddingVector,
}

/// OpenAI's embeddings response.
#[derive(Debug, Serialize, ToSchema)]
pub struct EmbeddingList {
    /// Always `list`.
    pub object: &'static str,
    /// One per input, in input order.
    pub data: Vec<EmbeddingObject>,
    /// The model that embedded them.
    pub model: String,
    pub usage: EmbeddingUsage,
}

fn embed_service(state: &AppState) -> Result<&EmbedService, ApiError> {
    state.embed.as_ref().ok_or_else(|| {
        ApiError::ModelNotLoaded(
            "no embedding model is loaded on this server: install one with `adforge models pull all-minilm-l6-v2` and restart".into(),
        )
    })
}

/// The inputs as strings, within the limits.
fn inputs(input: Value) -> Result<Vec<String>, ApiError> {
    let inputs = match serde_json::from_value::<OneOrMany>(input) {
        Ok(inputs) => inputs.into_vec(),
        Err(_) => {
            return Err(bad(
                "input: must be a string or a list of strings (token-id input is not supported)"
                    .into(),
            ));
        }
    };
    if inputs.is_empty() || inputs.len() > MAX_INPUTS {
        return Err(bad(format!(
            "input: {} inputs is outside 1..={MAX_INPUTS}",
            inputs.len()
        )));
    }
    for (i, text) in inputs.iter().enumerate() {
        if text.is_empty() {
            return Err(bad(format!("input[{i}]: must not be empty")));
        }
        let chars = text.chars().count();
        if chars > MAX_INPUT_CHARS {
            return Err(bad(format!(
                "input[{i}]: {chars} characters is above the limit of {MAX_INPUT_CHARS}"
            )));
        }
    }
    Ok(inputs)
}

/// Sentence embeddings (OpenAI `/v1/embeddings`), L2-normalised, batched across requests.
#[utoipa::path(post, path = "/v1/embeddings", tag = "inference", request_body = EmbeddingRequest,
    responses((status = 200, description = "A list of embedding objects", body = EmbeddingList),
        (status = 400, body = crate::api::ErrorBody), (status = 404, body = crate::api::ErrorBody),
        (status = 429, body = crate::api::ErrorBody), (status = 503, body = crate::api::ErrorBody)))]
pub async fn embeddings(
    State(state): State<AppState>,
    _auth: InferenceAuth,
    ValidJson(body): ValidJson<EmbeddingRequest>,
) -> Result<Json<EmbeddingList>, ApiError> {
    let service = embed_service(&state)?;
    if body.model != service.name {
        return Err(ApiError::NotFound(format!(
            "model: {:?} is not loaded; loaded embedding models: {}",
            body.model, service.name
        )));
    }
    let base64 = match body.encoding_format.as_deref() {
        None | Some("float") => false,
        Some("base64") => true,
        Some(other) => {
            return Err(bad(format!(
                "encoding_format: {other:?} is not one of float, base64"
            )));
        }
    };
    if let Some(dims) = body.dimensions
        && dims != service.dims()
    {
        return Err(bad(format!(
            "dimensions: {dims} is not supported; this model gives {}",
            service.dims()
        )));
    }
    let inputs = inputs(body.input)?;
    let result = service.embed(&inputs).await.map_err(|e| match e {
        EmbedError::QueueFull(_) => ApiError::TooManyRequests(e.to_string()),
        EmbedError::TooLong { .. } => bad(e.to_string()),
        other => ApiError::Internal(other.to_string()),
    })?;
    let data = result
        .vectors
        .iter()
        .enumerate()
        .map(|(index, vector)| {
            let embedding = if base64 {
                let bytes: Vec<u8> = vector.iter().flat_map(|x| x.to_le_bytes()).collect();
                EmbeddingVector::Base64(base64::engine::general_purpose::STANDARD.encode(bytes))
            } else {
                // Widened as `json!` widened them before, so the digits sent are unchanged.
                EmbeddingVector::Float(vector.iter().map(|&x| f64::from(x)).collect())
            };
            EmbeddingObject {
                object: "embedding",
                index,
                embedding,
            }
        })
        .collect();
    Ok(Json(EmbeddingList {
        object: "list",
        data,
        model: service.name.clone(),
        usage: EmbeddingUsage {
            prompt_tokens: result.tokens,
            total_tokens: result.tokens,
        },
    }))
}
