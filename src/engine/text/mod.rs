//! The text engine: GGUF models of the llama family, tokenizers built from GGUF metadata, and a
//! batched forward step on the engine's own quantized kernels.

pub mod chat;
pub mod engine;
pub mod gguf;
pub mod grammar;
pub mod hf;
pub mod kernels;
pub mod llama;
pub mod sampler;
pub mod spm;
pub mod tokenizer;

pub use chat::{ChatMessage, ChatTemplate};
pub use engine::{
    EngineLimits, EngineProfile, FinishReason, TextEngine, TextEngineError, TextEvent, TextRequest,
};
pub use gguf::{GgufError, GgufFile};
pub use grammar::{Constraint, GrammarCompiler, GrammarError};
pub use llama::{Llama, LlamaConfig, Scratch, SeqCache, StepError, StepSeq, StepTimes};
pub use sampler::{Sampled, SamplingParams};
pub use tokenizer::TextTokenizer;

use std::path::Path;

/// A loaded text model ready to serve: the engine thread, the tokenizer and the chat template.
#[derive(Clone)]
pub struct TextService {
    pub name: String,
    pub engine: TextEngine,
    pub template: std::sync::Arc<ChatTemplate>,
    /// Compiles `response_format` schemas against this model's vocabulary.
    pub grammar: std::sync::Arc<GrammarCompiler>,
    pub max_context: usize,
}

#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error(transparent)]
    Gguf(#[from] GgufError),
    #[error(transparent)]
    Tokenizer(#[from] tokenizer::TokenizerError),
    #[error(transparent)]
    Template(#[from] chat::TemplateError),
    #[error(transparent)]
    Grammar(#[from] GrammarError),
}

impl TextService {
    fn read_gguf(path: &Path) -> Result<(Llama, TextTokenizer, ChatTemplate), LoadError> {
        let mut gguf = GgufFile::open(path)?;
        let tokenizer = TextTokenizer::from_gguf(&gguf)?;
        let gemma = gguf
            .string("general.architecture")
            .is_ok_and(|a| a.starts_with("gemma"));
        let template_source = gguf
            .string("tokenizer.chat_template")
            .ok()
            .or_else(|| gemma.then(|| chat::GEMMA.to_string()));
        let token = |key: &str| {
            gguf.u32(key)
                .ok()
                .and_then(|id| tokenizer.id_to_token(id))
                .unwrap_or_default()
        };
        let template = ChatTemplate::new(
            template_source,
            token("tokenizer.ggml.bos_token_id"),
            token("tokenizer.ggml.eos_token_id"),
        )?;
        let model = Llama::load(&mut gguf)?;
        Ok((model, tokenizer, template))
    }

    fn read_checkpoint(dir: &Path) -> Result<(Llama, TextTokenizer, ChatTemplate), LoadError> {
        let tokenizer = TextTokenizer::from_hf_dir(dir)?;
        let eos = tokenizer
            .eos_ids
            .first()
            .and_then(|&id| tokenizer.id_to_token(id))
            .unwrap_or_default();
        let template = ChatTemplate::new(hf::chat_template(dir), String::new(), eos)?;
        let config = hf::config(dir)?;
        let model = Llama::from_weights(config, &mut hf::HfWeights::open(dir)?)?;
        Ok((model, tokenizer, template))
    }

    /// Loads a model and starts its engine thread: a GGUF file, or a Hugging Face checkpoint
    /// directory (config.json, safetensors, tokenizer.json). Blocking: call from a blocking
    /// context.
    pub fn load(
        name: &str,
        path: &Path,
        limits: EngineLimits,
        max_context: usize,
    ) -> Result<Self, LoadError> {
        let (model, tokenizer, template) = if path.is_dir() {
            Self::read_checkpoint(path)?
        } else {
            Self::read_gguf(path)?
        };
        let max_context = max_context.min(model.config.context_length);
        tracing::info!(
            model = name,
            layers = model.config.n_layer,
            context = max_context,
            "text model loaded"
        );
        let engine = TextEngine::start(model, tokenizer, limits);
        let grammar = GrammarCompiler::new(engine.tokenizer.clone())?;
        Ok(Self {
            name: name.to_string(),
            engine,
            template: std::sync::Arc::new(template),
            grammar: std::sync::Arc::new(grammar),
            max_context,
        })
    }
}

/// One choice of a finished completion.
#[derive(Debug, Clone)]
pub struct Completion {
    pub index: usize,
    pub text: String,
    /// `None` only if the engine stopped before the choice finished.
    pub finish: Option<FinishReason>,
    pub completion_tokens: usize,
}

impl TextService {
    /// The prompt tokens of a chat, through the model's template.
    pub fn chat_prompt(&self, messages: &[ChatMessage]) -> Result<Vec<u32>, LoadError> {
        let text = self.template.render(messages)?;
        Ok(self.engine.tokenizer.encode(&text)?)
    }

    /// Runs `request` to the end and returns its choices in order (for callers inside the
    /// server: the copy generator, the planner). Dropping the future cancels the request.
    pub async fn complete(&self, request: TextRequest) -> Result<Vec<Completion>, TextEngineError> {
        let n = request.n.max(1);
        let mut events = self.engine.submit(request)?;
        let mut choices: Vec<Completion> = (0..n)
            .map(|index| Completion {
                index,
                text: String::new(),
                finish: None,
                completion_tokens: 0,
            })
            .collect();
        let mut open = n;
        while open > 0 {
            match events.recv().await {
                Some(TextEvent::Token { choice, text, .. }) => {
                    if let Some(c) = choices.get_mut(choice) {
                        c.text.push_str(&text);
                    }
                }
                Some(TextEvent::Finished {
                    choice,
                    reason,
                    completion_tokens,
                }) => {
                    if let Some(c) = choices.get_mut(choice) {
                        c.finish = Some(reason);
                        c.completion_tokens = completion_tokens;
                    }
                    open -= 1;
                }
                Some(TextEvent::Failed(message)) => return Err(TextEngineError::Failed(message)),
                None => return Err(TextEngineError::Stopped),
            }
        }
        Ok(choices)
    }
}
