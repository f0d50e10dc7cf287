//! Ad copy from a product brief: n variants of headline, primary text, description and call to
//! action, each field within its platform's character limit. The limits go into a JSON schema
//! (`maxLength` counts characters) that constrains decoding, so every variant parses and fits;
//! near-duplicates are then removed by sentence-embedding similarity, and more variants are
//! generated (a bounded number of rounds) until n distinct ones remain.

use serde::Serialize;
use serde_json::{Value, json};

use super::Platform;
use crate::engine::embed::{EmbedError, EmbedService, cosine};
use crate::engine::text::{
    ChatMessage, FinishReason, GrammarError, LoadError, SamplingParams, TextEngineError,
    TextRequest, TextService,
};

/// Character limits of one copy field, and whether the platform requires it.
#[derive(Debug, Clone, Copy, Serialize, utoipa::ToSchema)]
pub struct FieldLimit {
    pub field: &'static str,
    pub min_chars: usize,
    pub max_chars: usize,
}

/// What a platform accepts: the character limits (Meta's recommended lengths, Google responsive
/// display ads' limits, TikTok's ad text 1-100) and its call-to-action buttons.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct CopyLimits {
    pub platform: Platform,
    pub fields: [FieldLimit; 3],
    pub calls_to_action: &'static [&'static str],
}

impl CopyLimits {
    pub fn of(platform: Platform) -> Self {
        let field = |field, min_chars, max_chars| FieldLimit {
            field,
            min_chars,
            max_chars,
        };
        // The sandbox rehearses with Meta's limits.
        let platform = platform.copy_platform();
        match platform {
            // Meta: primary text 125, headline 40, description 30 (recommended, before truncation).
            Platform::Meta | Platform::Sandbox => Self {
                platform,
                fields: [
                    field("headline", 3, 40),
                    field("primary_text", 10, 125),
                    field("description", 3, 30),
                ],
                calls_to_action: &[
                    "Shop Now",
                    "Learn More",
                    "Sign Up",
                    "Book Now",
                    "Get Offer",
                    "Order Now",
                    "Download",
                    "Subscribe",
                    "Contact Us",
                ],
            },
            // Google responsive display: headline 30, long headline 90 (adforge's primary text),
            // description 90.
            Platform::Google => Self {
                platform,
                fields: [
                    field("headline", 3, 30),
                    field("primary_text", 10, 90),
                    field("description", 3, 90),
                ],
                calls_to_action: &[
                    "Shop now",
                    "Learn more",
                    "Sign up",
                    "Book now",
                    "Get quote",
                    "Apply now",
                    "Contact us",
                    "Download",
                    "Subscribe",
                ],
            },
            // TikTok: ad text 1-100 (primary text); the headline is the display name's 40 and
            // the description shares the ad text's 100.
            Platform::Tiktok => Self {
                platform,
                fields: [
                    field("headline", 3, 40),
                    field("primary_text", 1, 100),
                    field("description", 3, 100),
                ],
                calls_to_action: &[
                    "Shop now",
                    "Learn more",
                    "Sign up",
                    "Book now",
                    "Download",
                    "Order now",
                    "Contact us",
                    "Apply now",
                ],
            },
        }
    }

    /// The JSON schema every variant is decoded under.
    pub fn schema(&self) -> Value {
        let mut properties = serde_json::Map::new();
        for f in &self.fields {
            properties.insert(
                f.field.into(),
                json!({"type": "string", "minLength": f.min_chars, "maxLength": f.max_chars}),
            );
        }
        properties.insert(
            "call_to_action".into(),
            json!({"enum": self.calls_to_action}),
        );
        json!({
            "type": "object",
            "properties": properties,
            "required": ["headline", "primary_text", "description", "call_to_action"],
            "additionalProperties": false
        })
    }
}

/// A validated brief.
#[derive(Debug, Clone)]
pub struct CopyBrief {
    pub product: String,
    pub audience: String,
    pub tone: String,
    pub platform: Platform,
    pub language: String,
    pub n: usize,
    pub seed: u64,
}

/// One variant, as the model wrote it and the schema guarantees.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct CopyVariant {
    pub headline: String,
    pub primary_text: String,
    pub description: String,
    pub call_to_action: String,
}

/// How near-duplicates were found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Dedupe {
    /// Cosine similarity of sentence embeddings above the threshold.
    Embedding,
    /// No embedding model loaded: identical text (case and spacing ignored) only.
    Exact,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct CopySet {
    pub variants: Vec<CopyVariant>,
    pub limits: CopyLimits,
    /// Variants generated in all, and how many were dropped as near-duplicates or unfinished.
    pub generated: usize,
    pub duplicates_removed: usize,
    pub dedupe: Dedupe,
    pub seed: u64,
}

#[derive(Debug, thiserror::Error)]
pub enum CopyError {
    #[error(transparent)]
    Engine(#[from] TextEngineError),
    #[error(transparent)]
    Embed(#[from] EmbedError),
    #[error("building the prompt: {0}")]
    Prompt(#[from] LoadError),
    #[error("compiling the copy schema: {0}")]
    Schema(#[from] GrammarError),
    #[error(transparent)]
    Remote(#[from] super::llm::LlmError),
}

/// Two variants closer than this (cosine of their headline + primary text embeddings) are
/// near-duplicates. Paraphrases of one line score about 0.9; distinct angles on one product
/// 0.5-0.8.
pub const DUPLICATE_COSINE: f32 = 0.92;
/// Generation rounds before returning fewer than n distinct variants.
pub const MAX_ROUNDS: usize = 3;
/// Choices in one generation round (they share one prefill).
const MAX_CHOICES_PER_ROUND: usize = 8;
/// Output tokens per variant: the longest field set (Meta, 195 characters plus the JSON) fits
/// in about 110.
const MAX_TOKENS: usize = 220;

fn prompt(brief: &CopyBrief, limits: &CopyLimits) -> Vec<ChatMessage> {
    let fields: Vec<String> = limits
        .fields
        .iter()
        .map(|f| format!("{} (at most {} characters)", f.field, f.max_chars))
        .collect();
    let system =
        "You are an expert advertising copywriter. You write short, vivid, truthful ad copy.";
    let user = format!(
        "Write one ad for {platform}.\nProduct: {product}\nAudience: {audience}\nTone: {tone}\n\
         Language: {language}\nGive {fields}, and a call_to_action. Answer in JSON.",
        platform = limits.platform.label(),
        product = brief.product,
        audience = brief.audience,
        tone = brief.tone,
        language = brief.language,
        fields = fields.join(", "),
    );
    vec![ChatMessage::system(system), ChatMessage::user(user)]
}

fn normalised(v: &CopyVariant) -> String {
    format!("{} {}", v.headline, v.primary_text)
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .to_lowercase()
}

/// Generates `brief.n` distinct variants (fewer only if `MAX_ROUNDS` rounds cannot find them).
pub async fn generate_copy(
    text: &TextService,
    embed: Option<&EmbedService>,
    brief: &CopyBrief,
) -> Result<CopySet, CopyError> {
    let limits = CopyLimits::of(brief.platform);
    let constraint = text.grammar.json_schema(limits.schema())?;
    let prompt = text.chat_prompt(&prompt(brief, &limits))?;
    let mut kept: Vec<(CopyVariant, Option<Vec<f32>>)> = Vec::new();
    let mut generated = 0;
    for round in 0..MAX_ROUNDS {
        let missing = brief.n - kept.len();
        if missing == 0 {
            break;
        }
        // Over-generate a little: some will be near-duplicates.
        let n = (missing + missing.div_ceil(2)).min(MAX_CHOICES_PER_ROUND);
        let request = TextRequest {
            prompt: prompt.clone(),
            params: SamplingParams {
                temperature: 0.7,
                top_p: 0.9,
                seed: brief.seed.wrapping_add((round * 1000) as u64),
                ..SamplingParams::default()
            },
            max_tokens: MAX_TOKENS,
            stop: Vec::new(),
            n,
            logprobs: false,
            top_logprobs: 0,
            ignore_eos: false,
            constraint: Some(constraint.clone()),
        };
        let candidates: Vec<CopyVariant> = text
            .complete(request)
            .await?
            .into_iter()
            .filter(|c| c.finish == Some(FinishReason::Stop))
            .filter_map(|c| serde_json::from_str(&c.text).ok())
            .collect();
        generated += n;
        let vectors = match embed {
            Some(embed) => {
                let texts: Vec<String> = candidates.iter().map(normalised).collect();
                if texts.is_empty() {
                    Vec::new()
                } else {
                    embed
                        .embed(&texts)
                        .await?
                        .vectors
                        .into_iter()
                        .map(Some)
                        .collect()
                }
            }
            None => vec![None; candidates.len()],
        };
        for (variant, vector) in candidates.into_iter().zip(vectors) {
            if kept.len() == brief.n {
                break;
            }
            let duplicate =
                kept.iter()
                    .any(|(other, other_vector)| match (&vector, other_vector) {
                        (Some(a), Some(b)) => cosine(a, b) > DUPLICATE_COSINE,
                        _ => normalised(other) == normalised(&variant),
                    });
            if !duplicate {
                kept.push((variant, vector));
            }
        }
    }
    Ok(CopySet {
        duplicates_removed: generated - kept.len(),
        variants: kept.into_iter().map(|(v, _)| v).collect(),
        limits,
        generated,
        dedupe: if embed.is_some() {
            Dedupe::Embedding
        } else {
            Dedupe::Exact
        },
        seed: brief.seed,
    })
}

/// Copy variants from whichever text model the orchestration layer has: this process's engine
/// ([`generate_copy`], embedding dedupe when `embed` is loaded), or a remote server asked for one
/// variant at a time under the same schema (seeds `seed`, `seed + 1`, ...; exact dedupe), so
/// the campaign loop can run on a machine without models.
pub async fn copy_variants(
    text: &super::llm::TextBackend,
    embed: Option<&EmbedService>,
    brief: &CopyBrief,
) -> Result<CopySet, CopyError> {
    use super::llm::{LlmError, TextBackend};
    if let TextBackend::Local(service) = text {
        return generate_copy(service, embed, brief).await;
    }
    let limits = CopyLimits::of(brief.platform);
    let schema = limits.schema();
    let messages = prompt(brief, &limits);
    let mut kept: Vec<CopyVariant> = Vec::new();
    let mut generated = 0;
    for i in 0..brief.n * MAX_ROUNDS {
        if kept.len() == brief.n {
            break;
        }
        generated += 1;
        let seed = brief.seed.wrapping_add(i as u64);
        let answer = match text.json(&messages, &schema, seed, MAX_TOKENS).await {
            Ok(answer) => answer,
            Err(LlmError::Unfinished | LlmError::BadJson(_)) => continue,
            Err(e) => return Err(e.into()),
        };
        let Ok(variant) = serde_json::from_value::<CopyVariant>(answer) else {
            continue;
        };
        if !kept.iter().any(|k| normalised(k) == normalised(&variant)) {
            kept.push(variant);
        }
    }
    Ok(CopySet {
        duplicates_removed: generated - kept.len(),
        generated,
        variants: kept,
        limits,
        dedupe: Dedupe::Exact,
        seed: brief.seed,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schemas_carry_each_platforms_limits() {
        let meta = CopyLimits::of(Platform::Meta).schema();
        assert_eq!(meta["properties"]["primary_text"]["maxLength"], 125);
        assert_eq!(meta["properties"]["headline"]["maxLength"], 40);
        assert_eq!(meta["properties"]["description"]["maxLength"], 30);
        let google = CopyLimits::of(Platform::Google).schema();
        assert_eq!(google["properties"]["headline"]["maxLength"], 30);
        assert_eq!(google["properties"]["description"]["maxLength"], 90);
        let tiktok = CopyLimits::of(Platform::Tiktok).schema();
        assert_eq!(tiktok["properties"]["primary_text"]["minLength"], 1);
        assert_eq!(tiktok["properties"]["primary_text"]["maxLength"], 100);
        assert_eq!(tiktok["additionalProperties"], false);
        assert!(
            tiktok["properties"]["call_to_action"]["enum"]
                .as_array()
                .unwrap()
                .len()
                > 3
        );
    }

    #[test]
    fn normalising_ignores_case_and_spacing() {
        let v = |h: &str| CopyVariant {
            headline: h.into(),
            primary_text: "Fresh  bread".into(),
            description: "d".into(),
            call_to_action: "Shop Now".into(),
        };
        assert_eq!(
            normalised(&v("Hello World")),
            normalised(&v("hello   world"))
        );
        assert_ne!(normalised(&v("Hello")), normalised(&v("Goodbye")));
    }
}
