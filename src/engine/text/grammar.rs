//! Constrained decoding: `response_format` JSON schemas compiled by llguidance into a token-level
//! matcher. The engine asks each constrained choice's matcher for the set of allowed next tokens
//! while the forward step runs (the mask never waits for the logits, nor they for it), masks the
//! logits, and commits the sampled token.

use std::sync::Arc;

use llguidance::api::TopLevelGrammar;
use llguidance::toktrie::{SimpleVob, TokEnv, TokRxInfo, TokTrie, TokenId, TokenizerEnv};
use llguidance::{JsonCompileOptions, Matcher, ParserFactory};

use super::tokenizer::TextTokenizer;

#[derive(Debug, thiserror::Error)]
pub enum GrammarError {
    #[error("building the token trie: {0}")]
    Trie(String),
    #[error("{0}")]
    Compile(String),
}

/// The llguidance view of a model's tokenizer: every token's bytes (special tokens marked) and
/// the model's own BPE for re-tokenizing text.
struct TokenizerView {
    trie: TokTrie,
    tokenizer: Arc<TextTokenizer>,
}

impl TokenizerEnv for TokenizerView {
    fn tok_trie(&self) -> &TokTrie {
        &self.trie
    }

    fn tokenize_bytes(&self, s: &[u8]) -> Vec<TokenId> {
        self.tokenizer
            .encode_plain(&String::from_utf8_lossy(s))
            .unwrap_or_default()
    }
}

/// Compiles `response_format` schemas for one tokenizer. Built once per model.
pub struct GrammarCompiler {
    factory: ParserFactory,
}

/// A compiled constraint for one request; each choice decodes with its own copy.
#[derive(Clone)]
pub struct Constraint(Matcher);

impl std::fmt::Debug for Constraint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Constraint")
    }
}

impl GrammarCompiler {
    pub fn new(tokenizer: Arc<TextTokenizer>) -> Result<Self, GrammarError> {
        let words = tokenizer
            .token_bytes()
            .map_err(|e| GrammarError::Trie(e.to_string()))?;
        let eos = tokenizer.eos_ids.first().copied().unwrap_or(0);
        let info = TokRxInfo::new(tokenizer.vocab_size as u32, eos);
        let trie = TokTrie::from(&info, &words).with_eos_tokens(&tokenizer.eos_ids);
        let env: TokEnv = Arc::new(TokenizerView { trie, tokenizer });
        let mut factory =
            ParserFactory::new_simple(&env).map_err(|e| GrammarError::Trie(e.to_string()))?;
        factory.quiet();
        Ok(Self { factory })
    }

    /// A constraint that the output is JSON valid against `schema`. Unless the schema says
    /// otherwise (`x-guidance`), whitespace is fixed: one space after `:` and `,`, no newlines,
    /// so a small model cannot wander off into endless indentation.
    pub fn json_schema(&self, mut schema: serde_json::Value) -> Result<Constraint, GrammarError> {
        if !schema.is_object() {
            return Err(GrammarError::Compile(
                "the schema must be a JSON object".into(),
            ));
        }
        if schema.get("x-guidance").is_none() {
            JsonCompileOptions {
                item_separator: ", ".into(),
                key_separator: ": ".into(),
                whitespace_flexible: false,
                ..Default::default()
            }
            .apply_to(&mut schema);
        }
        let grammar = TopLevelGrammar::from_json_schema(schema);
        let parser = self
            .factory
            .create_parser(grammar)
            .map_err(|e| GrammarError::Compile(e.to_string()))?;
        let matcher = Matcher::new(Ok(parser));
        if let Some(e) = matcher.get_error() {
            return Err(GrammarError::Compile(e));
        }
        Ok(Constraint(matcher))
    }

    /// Any JSON object (`response_format: {"type": "json_object"}`).
    pub fn json_object(&self) -> Result<Constraint, GrammarError> {
        self.json_schema(serde_json::json!({"type": "object"}))
    }
}

impl Constraint {
    /// The tokens allowed next. `None` once the constraint has failed or finished (the caller
    /// then ends the choice).
    pub fn mask(&mut self) -> Option<SimpleVob> {
        if self.0.is_stopped() {
            return None;
        }
        self.0.compute_mask().ok()
    }

    /// Records the sampled token. False when the matcher refused it.
    pub fn commit(&mut self, token: u32) -> bool {
        self.0.consume_token(token).is_ok()
    }

    /// The grammar is complete: nothing more may follow.
    pub fn is_finished(&self) -> bool {
        self.0.is_stopped()
    }

    /// What went wrong, if the matcher failed.
    pub fn error(&self) -> Option<String> {
        self.0.get_error()
    }
}

/// Sets every logit the mask forbids to minus infinity. Tokens beyond the mask (padding rows of
/// the output layer) are forbidden too.
pub fn apply_mask(logits: &mut [f32], mask: &SimpleVob) {
    let allowed = mask.len();
    for (token, logit) in logits.iter_mut().enumerate() {
        if token >= allowed || !mask.is_allowed(token as TokenId) {
            *logit = f32::NEG_INFINITY;
        }
    }
}
