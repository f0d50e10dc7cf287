//! The text engine: GGUF models of the llama family, tokenizers built from GGUF metadata, and a
//! batched forward step on the engine's own quantized kernels.

pub mod gguf;
pub mod kernels;
pub mod llama;
pub mod tokenizer;

pub use gguf::{GgufError, GgufFile};
pub use llama::{Llama, LlamaConfig, Scratch, SeqCache, StepError, StepSeq};
pub use tokenizer::TextTokenizer;
