//! Sentence embeddings: BERT-family encoders (all-MiniLM-L6-v2 by default), adforge's own forward
//! pass (`bert.rs`) over candle's matmul. One worker thread owns the model; requests arrive on a
//! bounded channel and the worker gathers the sentences of every request waiting into one batch
//! (up to a sentence budget), packed end to end with no padding. Mean pooling over each
//! sentence's own tokens, then L2 normalisation. The shipped tokenizer.json pads every input to
//! 128 tokens: padding is turned off here.

use std::path::Path;
use std::sync::Arc;
use std::sync::mpsc::{Receiver, SyncSender, TrySendError, sync_channel};

mod bert;

use candle_core::{DType, Device};
use candle_nn::VarBuilder;
use candle_transformers::models::bert::Config;
use tokenizers::Tokenizer;
use tokio::sync::oneshot;

#[derive(Debug, thiserror::Error)]
pub enum EmbedError {
    #[error("reading {path}: {message}")]
    Load { path: String, message: String },
    #[error("the embedding queue is full ({0} requests waiting); retry shortly")]
    QueueFull(usize),
    #[error("the embedding engine has stopped")]
    Stopped,
    #[error("input[{index}]: {tokens} tokens is above the limit of {limit}")]
    TooLong {
        index: usize,
        tokens: usize,
        limit: usize,
    },
    #[error("tokenizing: {0}")]
    Tokenize(String),
    #[error("embedding: {0}")]
    Model(String),
}

/// Sizes that protect the machine.
#[derive(Debug, Clone)]
pub struct EmbedLimits {
    /// Requests waiting before new ones are refused.
    pub queue: usize,
    /// Sentences in one forward pass.
    pub max_batch: usize,
    /// Tokens in one input, special tokens included.
    pub max_tokens: usize,
}

impl Default for EmbedLimits {
    fn default() -> Self {
        Self {
            queue: 64,
            max_batch: 32,
            max_tokens: 512,
        }
    }
}

/// One request's vectors and the tokens it used.
#[derive(Debug, Clone)]
pub struct Embeddings {
    pub vectors: Vec<Vec<f32>>,
    pub tokens: usize,
}

struct Job {
    inputs: Vec<Vec<u32>>,
    reply: oneshot::Sender<Result<Embeddings, EmbedError>>,
}

/// The encoder, its tokenizer and the pooling; used by the worker thread (and by tests directly).
pub struct Encoder {
    model: bert::Bert,
    tokenizer: Tokenizer,
    pub dims: usize,
    pub max_positions: usize,
}

impl Encoder {
    /// Loads `config.json`, `model.safetensors` and `tokenizer.json` from `dir`.
    pub fn load(dir: &Path, device: &Device) -> Result<Self, EmbedError> {
        let fail = |path: &Path, e: &dyn std::fmt::Display| EmbedError::Load {
            path: path.display().to_string(),
            message: e.to_string(),
        };
        let config_path = dir.join("config.json");
        let config: Config = std::fs::read(&config_path)
            .map_err(|e| fail(&config_path, &e))
            .and_then(|b| serde_json::from_slice(&b).map_err(|e| fail(&config_path, &e)))?;
        let tokenizer_path = dir.join("tokenizer.json");
        let mut tokenizer =
            Tokenizer::from_file(&tokenizer_path).map_err(|e| fail(&tokenizer_path, &e))?;
        // The trap: the shipped file pads to 128 and truncates; batches are padded here, masked.
        tokenizer.with_padding(None);
        tokenizer
            .with_truncation(None)
            .map_err(|e| fail(&tokenizer_path, &e))?;
        let weights = dir.join("model.safetensors");
        adforge_input::safetensors::check_path(&weights).map_err(|e| fail(&weights, &e))?;
        // SAFETY: the file is opened read-only and not modified while the model lives.
        let vb = unsafe { VarBuilder::from_mmaped_safetensors(&[&weights], DType::F32, device) }
            .map_err(|e| fail(&weights, &e))?;
        let model = bert::Bert::load(vb, &config).map_err(|e| fail(&weights, &e))?;
        let dims = config.hidden_size;
        Ok(Self {
            model,
            tokenizer,
            dims,
            max_positions: config.max_position_embeddings,
        })
    }

    /// Token ids of each input, special tokens included; an input over `limit` is refused.
    pub fn tokenize(&self, inputs: &[String], limit: usize) -> Result<Vec<Vec<u32>>, EmbedError> {
        let limit = limit.min(self.max_positions);
        inputs
            .iter()
            .enumerate()
            .map(|(index, text)| {
                let ids = self
                    .tokenizer
                    .encode(text.as_str(), true)
                    .map_err(|e| EmbedError::Tokenize(e.to_string()))?
                    .get_ids()
                    .to_vec();
                if ids.len() > limit {
                    return Err(EmbedError::TooLong {
                        index,
                        tokens: ids.len(),
                        limit,
                    });
                }
                Ok(ids)
            })
            .collect()
    }

    /// Embeds token sequences in one forward pass (packed, no padding): the mean of each
    /// sequence's token states, L2 normalised. Each row depends only on its own tokens.
    pub fn embed(&self, batch: &[&[u32]]) -> Result<Vec<Vec<f32>>, EmbedError> {
        if batch.iter().any(|s| s.is_empty()) {
            return Err(EmbedError::Model("an input has no tokens".into()));
        }
        let hidden = self
            .model
            .forward(batch)
            .map_err(|e| EmbedError::Model(e.to_string()))?;
        let mut vectors = Vec::with_capacity(batch.len());
        let mut start = 0;
        for seq in batch {
            let mut mean = vec![0.0f32; self.dims];
            for row in
                hidden[start * self.dims..(start + seq.len()) * self.dims].chunks_exact(self.dims)
            {
                for (m, v) in mean.iter_mut().zip(row) {
                    *m += v;
                }
            }
            start += seq.len();
            let norm = mean.iter().map(|v| v * v).sum::<f32>().sqrt().max(1e-12);
            // The mean's 1/len cancels in the normalisation.
            mean.iter_mut().for_each(|v| *v /= norm);
            vectors.push(mean);
        }
        Ok(vectors)
    }
}

/// A cloneable handle to the embedding worker.
#[derive(Clone)]
pub struct EmbedService {
    pub name: String,
    tx: SyncSender<Job>,
    encoder: Arc<Encoder>,
    pub limits: EmbedLimits,
}

impl EmbedService {
    /// Loads the model in `dir` and starts its worker thread. Blocking.
    pub fn load(name: &str, dir: &Path, limits: EmbedLimits) -> Result<Self, EmbedError> {
        let encoder = Arc::new(Encoder::load(dir, &Device::Cpu)?);
        let (tx, rx) = sync_channel(limits.queue.max(1));
        let worker = encoder.clone();
        let max_batch = limits.max_batch.max(1);
        std::thread::Builder::new()
            .name("embed-engine".into())
            .spawn(move || run(&worker, rx, max_batch))
            .map_err(|e| EmbedError::Model(format!("starting the worker: {e}")))?;
        tracing::info!(model = name, dims = encoder.dims, "embedding model loaded");
        Ok(Self {
            name: name.to_string(),
            tx,
            encoder,
            limits,
        })
    }

    pub fn dims(&self) -> usize {
        self.encoder.dims
    }

    /// Tokenizes and queues `inputs`; the vectors arrive on the returned receiver.
    pub fn submit(
        &self,
        inputs: &[String],
    ) -> Result<oneshot::Receiver<Result<Embeddings, EmbedError>>, EmbedError> {
        let inputs = self.encoder.tokenize(inputs, self.limits.max_tokens)?;
        let (reply, receiver) = oneshot::channel();
        match self.tx.try_send(Job { inputs, reply }) {
            Ok(()) => Ok(receiver),
            Err(TrySendError::Full(_)) => Err(EmbedError::QueueFull(self.limits.queue)),
            Err(TrySendError::Disconnected(_)) => Err(EmbedError::Stopped),
        }
    }

    /// Submits and waits.
    pub async fn embed(&self, inputs: &[String]) -> Result<Embeddings, EmbedError> {
        self.submit(inputs)?
            .await
            .map_err(|_| EmbedError::Stopped)?
    }
}

/// The worker: gathers waiting requests up to `max_batch` sentences, runs them in chunks of
/// `max_batch` (packed, so their lengths need no sorting), and answers each request with its
/// own rows.
fn run(encoder: &Encoder, rx: Receiver<Job>, max_batch: usize) {
    while let Ok(first) = rx.recv() {
        let mut jobs = vec![first];
        let mut sentences = jobs[0].inputs.len();
        while sentences < max_batch {
            match rx.try_recv() {
                Ok(job) => {
                    sentences += job.inputs.len();
                    jobs.push(job);
                }
                Err(_) => break,
            }
        }
        // A client that went away is not worked for.
        jobs.retain(|j| !j.reply.is_closed());
        let order: Vec<(usize, usize)> = jobs
            .iter()
            .enumerate()
            .flat_map(|(j, job)| (0..job.inputs.len()).map(move |i| (j, i)))
            .collect();
        let mut results: Vec<Vec<Vec<f32>>> = jobs
            .iter()
            .map(|j| vec![Vec::new(); j.inputs.len()])
            .collect();
        let mut failure = None;
        for chunk in order.chunks(max_batch) {
            let batch: Vec<&[u32]> = chunk
                .iter()
                .map(|&(j, i)| jobs[j].inputs[i].as_slice())
                .collect();
            match encoder.embed(&batch) {
                Ok(vectors) => {
                    for (&(j, i), v) in chunk.iter().zip(vectors) {
                        results[j][i] = v;
                    }
                }
                Err(e) => {
                    failure = Some(e.to_string());
                    break;
                }
            }
        }
        for (job, vectors) in jobs.into_iter().zip(results) {
            let answer = match &failure {
                Some(message) => Err(EmbedError::Model(message.clone())),
                None => Ok(Embeddings {
                    tokens: job.inputs.iter().map(Vec::len).sum(),
                    vectors,
                }),
            };
            let _ = job.reply.send(answer);
        }
    }
}

/// Cosine similarity of two L2-normalised vectors.
pub fn cosine(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}
