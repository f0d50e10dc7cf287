//! Tokenizers for GGUF models that ship none as tokenizer.json: built from the GGUF metadata
//! (`tokenizer.ggml.*`). For the GPT-2 style byte-level BPE of SmolLM2 and other llama-family
//! models: the vocabulary and merges from the file, digits split one by one, then byte-level
//! pre-tokenization without a prefix space; tokens of type 3 (control) are special.

use ahash::AHashMap;
use tokenizers::decoders::byte_level::ByteLevel as ByteLevelDecoder;
use tokenizers::models::bpe::BPE;
use tokenizers::pre_tokenizers::byte_level::ByteLevel;
use tokenizers::pre_tokenizers::digits::Digits;
use tokenizers::pre_tokenizers::sequence::Sequence;
use tokenizers::{AddedToken, Tokenizer};

use super::gguf::{GgufError, GgufFile};

#[derive(Debug, thiserror::Error)]
pub enum TokenizerError {
    #[error(transparent)]
    Gguf(#[from] GgufError),
    #[error("tokenizer model {0:?} is not supported (gpt2 byte-level BPE is)")]
    Unsupported(String),
    #[error("building the tokenizer: {0}")]
    Build(String),
}

/// Token type of control tokens in `tokenizer.ggml.token_type`.
const CONTROL: i32 = 3;

/// A tokenizer and the ids the engine needs.
pub struct TextTokenizer {
    pub inner: Tokenizer,
    /// Ids that end generation (end of text, end of turn).
    pub eos_ids: Vec<u32>,
    pub vocab_size: usize,
}

impl TextTokenizer {
    pub fn from_gguf(gguf: &GgufFile) -> Result<Self, TokenizerError> {
        let model = gguf.string("tokenizer.ggml.model")?;
        if model != "gpt2" {
            return Err(TokenizerError::Unsupported(model));
        }
        let tokens: Vec<String> = gguf
            .array("tokenizer.ggml.tokens")?
            .iter()
            .map(|v| v.to_string().cloned().unwrap_or_default())
            .collect();
        let types: Vec<i32> = gguf
            .array("tokenizer.ggml.token_type")
            .map(|a| a.iter().map(|v| v.to_i32().unwrap_or(1)).collect())
            .unwrap_or_default();
        let merges: Vec<(String, String)> = gguf
            .array("tokenizer.ggml.merges")?
            .iter()
            .filter_map(|v| v.to_string().ok())
            .filter_map(|m| {
                m.split_once(' ')
                    .map(|(a, b)| (a.to_string(), b.to_string()))
            })
            .collect();
        let vocab: AHashMap<String, u32> = tokens
            .iter()
            .enumerate()
            .map(|(i, t)| (t.clone(), i as u32))
            .collect();
        let bpe = BPE::builder()
            .vocab_and_merges(vocab, merges)
            .build()
            .map_err(|e| TokenizerError::Build(e.to_string()))?;
        let mut tokenizer = Tokenizer::new(bpe);
        tokenizer.with_pre_tokenizer(Some(Sequence::new(vec![
            Digits::new(true).into(),
            ByteLevel::new(false, true, true).into(),
        ])));
        tokenizer.with_decoder(Some(ByteLevelDecoder::default()));
        let special: Vec<AddedToken> = tokens
            .iter()
            .zip(&types)
            .filter(|(_, kind)| **kind == CONTROL)
            .map(|(t, _)| AddedToken::from(t.clone(), true))
            .collect();
        tokenizer
            .add_special_tokens(special)
            .map_err(|e| TokenizerError::Build(e.to_string()))?;
        let id = |key: &str| gguf.u32(key).ok();
        let mut eos_ids: Vec<u32> = [id("tokenizer.ggml.eos_token_id")]
            .into_iter()
            .flatten()
            .collect();
        for end in ["<|im_end|>", "<|endoftext|>", "<end_of_turn>", "<|eot_id|>"] {
            if let Some(i) = tokens.iter().position(|t| t == end)
                && !eos_ids.contains(&(i as u32))
            {
                eos_ids.push(i as u32);
            }
        }
        Ok(Self {
            inner: tokenizer,
            eos_ids,
            vocab_size: tokens.len(),
        })
    }

    /// Token ids of `text`; special tokens written in the text are recognised.
    pub fn encode(&self, text: &str) -> Result<Vec<u32>, TokenizerError> {
        self.inner
            .encode(text, false)
            .map(|e| e.get_ids().to_vec())
            .map_err(|e| TokenizerError::Build(e.to_string()))
    }

    /// Text of `ids`, special tokens left out.
    pub fn decode(&self, ids: &[u32]) -> Result<String, TokenizerError> {
        self.inner
            .decode(ids, true)
            .map_err(|e| TokenizerError::Build(e.to_string()))
    }
}
