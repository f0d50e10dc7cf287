//! Tokenizers for GGUF models that ship none as tokenizer.json: built from the GGUF metadata
//! (`tokenizer.ggml.*`). For the GPT-2 style byte-level BPE of SmolLM2 and other llama-family
//! models (`gpt2`): the vocabulary and merges from the file, digits split one by one, then
//! byte-level pre-tokenization without a prefix space; tokens of type 3 (control) are special.
//! For SentencePiece vocabularies (`llama`, as Gemma ships): pieces and scores, see [`super::spm`].

use ahash::AHashMap;
use tokenizers::decoders::byte_level::ByteLevel as ByteLevelDecoder;
use tokenizers::models::bpe::BPE;
use tokenizers::pre_tokenizers::byte_level::ByteLevel;
use tokenizers::pre_tokenizers::digits::Digits;
use tokenizers::pre_tokenizers::sequence::Sequence;
use tokenizers::{AddedToken, Tokenizer};

use super::gguf::{GgufError, GgufFile};
use super::spm::SpmTokenizer;

#[derive(Debug, thiserror::Error)]
pub enum TokenizerError {
    #[error(transparent)]
    Gguf(#[from] GgufError),
    #[error(
        "tokenizer model {0:?} is not supported (gpt2 byte-level BPE and llama SentencePiece are)"
    )]
    Unsupported(String),
    #[error("building the tokenizer: {0}")]
    Build(String),
}

/// Tokens that end a turn in the chat formats the engine serves.
const END_TOKENS: [&str; 4] = ["<|im_end|>", "<|endoftext|>", "<end_of_turn>", "<|eot_id|>"];

/// Token type of control tokens in `tokenizer.ggml.token_type`.
const CONTROL: i32 = 3;

enum Backend {
    Bpe(Box<Tokenizer>),
    Spm(Box<SpmTokenizer>),
}

/// A tokenizer and the ids the engine needs.
pub struct TextTokenizer {
    backend: Backend,
    /// Ids that end generation (end of text, end of turn).
    pub eos_ids: Vec<u32>,
    /// Put before every prompt that does not start with it (`tokenizer.ggml.add_bos_token`).
    pub bos: Option<u32>,
    pub vocab_size: usize,
}

fn token_strings(gguf: &GgufFile) -> Result<Vec<String>, GgufError> {
    Ok(gguf
        .array("tokenizer.ggml.tokens")?
        .iter()
        .map(|v| v.to_string().cloned().unwrap_or_default())
        .collect())
}

fn token_types(gguf: &GgufFile) -> Vec<i32> {
    gguf.array("tokenizer.ggml.token_type")
        .map(|a| a.iter().map(|v| v.to_i32().unwrap_or(1)).collect())
        .unwrap_or_default()
}

impl TextTokenizer {
    pub fn from_gguf(gguf: &GgufFile) -> Result<Self, TokenizerError> {
        let model = gguf.string("tokenizer.ggml.model")?;
        let tokens = token_strings(gguf)?;
        let types = token_types(gguf);
        let id = |key: &str| gguf.u32(key).ok();
        let mut eos_ids: Vec<u32> = [id("tokenizer.ggml.eos_token_id")]
            .into_iter()
            .flatten()
            .collect();
        for end in END_TOKENS {
            if let Some(i) = tokens.iter().position(|t| t == end)
                && !eos_ids.contains(&(i as u32))
            {
                eos_ids.push(i as u32);
            }
        }
        let add_bos = gguf.bool("tokenizer.ggml.add_bos_token").unwrap_or(false);
        let vocab_size = tokens.len();
        let backend = match model.as_str() {
            "gpt2" => Backend::Bpe(Box::new(Self::bpe(gguf, &tokens, &types)?)),
            "llama" => {
                let scores = gguf
                    .array("tokenizer.ggml.scores")?
                    .iter()
                    .map(|v| v.to_f32().unwrap_or(0.0))
                    .collect();
                let unknown = gguf.u32("tokenizer.ggml.unknown_token_id").unwrap_or(0);
                Backend::Spm(Box::new(SpmTokenizer::new(tokens, scores, &types, unknown)))
            }
            _ => return Err(TokenizerError::Unsupported(model)),
        };
        Ok(Self {
            backend,
            eos_ids,
            bos: add_bos.then(|| id("tokenizer.ggml.bos_token_id")).flatten(),
            vocab_size,
        })
    }

    /// The `tokenizer.json` of a Hugging Face checkpoint; end tokens from `config.json`'s
    /// `eos_token_id` and the usual end-of-turn tokens.
    pub fn from_hf_dir(dir: &std::path::Path) -> Result<Self, TokenizerError> {
        let tokenizer = Tokenizer::from_file(dir.join("tokenizer.json"))
            .map_err(|e| TokenizerError::Build(format!("tokenizer.json: {e}")))?;
        let config: serde_json::Value = std::fs::read_to_string(dir.join("config.json"))
            .ok()
            .and_then(|t| serde_json::from_str(&t).ok())
            .unwrap_or_default();
        let mut eos_ids: Vec<u32> = match &config["eos_token_id"] {
            serde_json::Value::Number(n) => n.as_u64().into_iter().map(|v| v as u32).collect(),
            serde_json::Value::Array(ids) => ids
                .iter()
                .filter_map(|v| v.as_u64().map(|v| v as u32))
                .collect(),
            _ => Vec::new(),
        };
        for end in END_TOKENS {
            if let Some(id) = tokenizer.token_to_id(end)
                && !eos_ids.contains(&id)
            {
                eos_ids.push(id);
            }
        }
        Ok(Self {
            vocab_size: tokenizer.get_vocab_size(true),
            backend: Backend::Bpe(Box::new(tokenizer)),
            eos_ids,
            bos: None,
        })
    }

    /// Byte-level BPE over the file's `tokens` with its merges; control tokens special.
    fn bpe(gguf: &GgufFile, tokens: &[String], types: &[i32]) -> Result<Tokenizer, TokenizerError> {
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
            .zip(types)
            .filter(|(_, kind)| **kind == CONTROL)
            .map(|(t, _)| AddedToken::from(t.clone(), true))
            .collect();
        tokenizer
            .add_special_tokens(special)
            .map_err(|e| TokenizerError::Build(e.to_string()))?;
        Ok(tokenizer)
    }

    /// Prompt token ids of `text`: special tokens written in the text are recognised, and the
    /// model's BOS goes first when it wants one and the text does not already start with it.
    pub fn encode(&self, text: &str) -> Result<Vec<u32>, TokenizerError> {
        let mut ids = self.encode_plain(text)?;
        if let Some(bos) = self.bos
            && ids.first() != Some(&bos)
        {
            ids.insert(0, bos);
        }
        Ok(ids)
    }

    /// Token ids of `text` alone (no BOS): a piece of text in the middle of a sequence.
    pub fn encode_plain(&self, text: &str) -> Result<Vec<u32>, TokenizerError> {
        match &self.backend {
            Backend::Bpe(t) => t
                .encode(text, false)
                .map(|e| e.get_ids().to_vec())
                .map_err(|e| TokenizerError::Build(e.to_string())),
            Backend::Spm(t) => Ok(t.encode(text)),
        }
    }

    /// Text of `ids`, special tokens left out.
    pub fn decode(&self, ids: &[u32]) -> Result<String, TokenizerError> {
        match &self.backend {
            Backend::Bpe(t) => t
                .decode(ids, true)
                .map_err(|e| TokenizerError::Build(e.to_string())),
            Backend::Spm(t) => Ok(t.decode(ids, true)),
        }
    }

    /// The vocabulary entry of `id` as written in the file.
    pub fn id_to_token(&self, id: u32) -> Option<String> {
        match &self.backend {
            Backend::Bpe(t) => t.id_to_token(id),
            Backend::Spm(t) => t.piece(id).map(str::to_string),
        }
    }

    /// Every token's raw bytes, special tokens prefixed with 0xFF (llguidance's convention).
    pub fn token_bytes(&self) -> Result<Vec<Vec<u8>>, TokenizerError> {
        let build = |e: String| TokenizerError::Build(e);
        let mut words = match &self.backend {
            Backend::Bpe(t) => {
                let json: serde_json::Value = t
                    .to_string(false)
                    .map_err(|e| build(e.to_string()))
                    .and_then(|s| serde_json::from_str(&s).map_err(|e| build(e.to_string())))?;
                llguidance::token_bytes_from_tokenizer_json(&json)
                    .map_err(|e| build(e.to_string()))?
            }
            Backend::Spm(t) => (0..t.vocab_size() as u32)
                .map(|id| {
                    let mut bytes = t.token_bytes(id);
                    if t.is_special(id) {
                        bytes.insert(0, 0xFF);
                    }
                    bytes
                })
                .collect(),
        };
        words.resize(self.vocab_size, Vec::new());
        Ok(words)
    }
}
