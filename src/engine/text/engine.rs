//! The text engine's worker: one thread owns the model and runs continuous batching. Requests
//! arrive on a bounded channel (full: the caller answers 429); each carries a bounded channel for
//! its events, and a request whose receiver is gone (the client disconnected) is dropped at the
//! next step. The n choices of a request share one prefill: the cache is copied once when the
//! prompt is through.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, TrySendError, sync_channel};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::mpsc;

use llguidance::toktrie::SimpleVob;

use super::grammar::{Constraint, apply_mask};
use super::llama::{Llama, Scratch, SeqCache, StepSeq, StepTimes};
use super::sampler::{Sampled, Sampler, SamplingParams};
use super::tokenizer::TextTokenizer;
use crate::scheduler::{BatchLimits, SeqState, plan_step};

/// A generation request, already tokenized and validated.
#[derive(Debug, Clone)]
pub struct TextRequest {
    pub prompt: Vec<u32>,
    pub params: SamplingParams,
    pub max_tokens: usize,
    pub stop: Vec<String>,
    pub n: usize,
    /// Report the chosen tokens' log-probabilities.
    pub logprobs: bool,
    /// Alternatives to report per token (0: none).
    pub top_logprobs: usize,
    pub ignore_eos: bool,
    /// Output must follow this grammar (`response_format`); each choice decodes with a copy.
    pub constraint: Option<Constraint>,
}

/// Why a choice ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FinishReason {
    Stop,
    Length,
}

impl FinishReason {
    pub fn as_str(self) -> &'static str {
        match self {
            FinishReason::Stop => "stop",
            FinishReason::Length => "length",
        }
    }
}

/// What a request hears back.
#[derive(Debug, Clone, PartialEq)]
pub enum TextEvent {
    /// A new token of choice `choice`, and the text it adds (held back while it could be the
    /// start of a stop string).
    Token {
        choice: usize,
        sampled: Sampled,
        text: String,
    },
    Finished {
        choice: usize,
        reason: FinishReason,
        completion_tokens: usize,
    },
    Failed(String),
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum TextEngineError {
    #[error("the text engine queue is full ({0} requests waiting); retry shortly")]
    QueueFull(usize),
    #[error("the text engine has stopped")]
    Stopped,
    #[error("generation failed: {0}")]
    Failed(String),
}

/// Sizes that protect the machine.
#[derive(Debug, Clone)]
pub struct EngineLimits {
    pub batch: BatchLimits,
    /// Requests waiting to start before new ones are refused.
    pub queue: usize,
    /// Sequences decoding at once (choices count one each).
    pub max_running: usize,
}

impl Default for EngineLimits {
    fn default() -> Self {
        Self {
            batch: BatchLimits::default(),
            queue: 64,
            max_running: 16,
        }
    }
}

/// Where the engine thread's time went since it started: the forward step's parts, sampling
/// (with constrained-decoding masks that were not ready when the logits were), scheduling
/// (admission, batch planning, cache and event bookkeeping) and idle waiting for requests.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct EngineProfile {
    pub steps: u64,
    pub forward: StepTimes,
    pub sampling: Duration,
    pub scheduling: Duration,
    pub idle: Duration,
}

struct Incoming {
    request: TextRequest,
    events: mpsc::Sender<TextEvent>,
}

/// A cloneable handle to the engine thread.
#[derive(Clone)]
pub struct TextEngine {
    tx: SyncSender<Incoming>,
    pub tokenizer: Arc<TextTokenizer>,
    pub context_length: usize,
    waiting: Arc<AtomicUsize>,
    active: Arc<AtomicUsize>,
    profile: Arc<Mutex<EngineProfile>>,
    queue: usize,
}

impl TextEngine {
    /// Starts the worker thread that owns `model`.
    pub fn start(model: Llama, tokenizer: TextTokenizer, limits: EngineLimits) -> Self {
        let (tx, rx) = sync_channel(limits.queue);
        let tokenizer = Arc::new(tokenizer);
        let waiting = Arc::new(AtomicUsize::new(0));
        let active = Arc::new(AtomicUsize::new(0));
        let profile = Arc::new(Mutex::new(EngineProfile::default()));
        let context_length = model.config.context_length;
        let worker = Worker {
            model,
            tokenizer: tokenizer.clone(),
            limits: limits.clone(),
            waiting: waiting.clone(),
            active: active.clone(),
            profile: profile.clone(),
            sampling: Duration::ZERO,
        };
        std::thread::Builder::new()
            .name("text-engine".into())
            .spawn(move || worker.run(rx))
            .map(|_| ())
            .unwrap_or_else(
                |e| tracing::error!(error = %e, "could not start the text engine thread"),
            );
        Self {
            tx,
            tokenizer,
            context_length,
            waiting,
            active,
            profile,
            queue: limits.queue,
        }
    }

    /// Where the engine's time went so far.
    pub fn profile(&self) -> EngineProfile {
        self.profile.lock().map(|p| *p).unwrap_or_default()
    }

    /// Queues a request; its events arrive on the returned receiver. Dropping the receiver
    /// cancels it.
    pub fn submit(
        &self,
        request: TextRequest,
    ) -> Result<mpsc::Receiver<TextEvent>, TextEngineError> {
        // Every event fits: a token and a finish per generated token and choice, plus margin.
        let capacity = (request.max_tokens + 2) * request.n.max(1) + 2;
        let (events, receiver) = mpsc::channel(capacity);
        // Counted before the send: the worker may take the request before try_send returns.
        self.waiting.fetch_add(1, Ordering::Relaxed);
        let sent = self.tx.try_send(Incoming { request, events });
        if sent.is_err() {
            self.waiting.fetch_sub(1, Ordering::Relaxed);
        }
        match sent {
            Ok(()) => Ok(receiver),
            Err(TrySendError::Full(_)) => Err(TextEngineError::QueueFull(self.queue)),
            Err(TrySendError::Disconnected(_)) => Err(TextEngineError::Stopped),
        }
    }

    /// Requests accepted and not yet started.
    pub fn waiting(&self) -> usize {
        self.waiting.load(Ordering::Relaxed)
    }

    /// Requests the engine is working on (prefilling or decoding).
    pub fn active(&self) -> usize {
        self.active.load(Ordering::Relaxed)
    }
}

struct Choice {
    index: usize,
    cache: SeqCache,
    sampler: Sampler,
    generated: Vec<u32>,
    /// Text already sent.
    sent: usize,
    pending: Option<u32>,
    constraint: Option<Constraint>,
}

struct Seq {
    request: TextRequest,
    events: mpsc::Sender<TextEvent>,
    prefilled: usize,
    /// One until the prompt is through, then `n`.
    choices: Vec<Choice>,
}

struct Worker {
    model: Llama,
    tokenizer: Arc<TextTokenizer>,
    limits: EngineLimits,
    waiting: Arc<AtomicUsize>,
    active: Arc<AtomicUsize>,
    profile: Arc<Mutex<EngineProfile>>,
    /// Sampling time of the current step.
    sampling: Duration,
}

impl Worker {
    fn run(mut self, rx: Receiver<Incoming>) {
        let mut running: Vec<Seq> = Vec::new();
        let mut scratch = Scratch::default();
        loop {
            // Idle: block for work. Busy: take what has arrived, up to the running limit.
            let slots = |running: &Vec<Seq>| running.iter().map(|s| s.request.n).sum::<usize>();
            if running.is_empty() {
                let waited = Instant::now();
                let received = rx.recv_timeout(Duration::from_secs(1));
                if let Ok(mut profile) = self.profile.lock() {
                    profile.idle += waited.elapsed();
                }
                match received {
                    Ok(incoming) => self.admit(incoming, &mut running),
                    Err(std::sync::mpsc::RecvTimeoutError::Timeout) => continue,
                    Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => return,
                }
            }
            let started = Instant::now();
            let forward_before = scratch.times;
            while slots(&running) < self.limits.max_running {
                match rx.try_recv() {
                    Ok(incoming) => self.admit(incoming, &mut running),
                    Err(_) => break,
                }
            }
            running.retain(|s| !s.events.is_closed());
            self.active.store(running.len(), Ordering::Relaxed);
            if running.is_empty() {
                continue;
            }
            self.sampling = Duration::ZERO;
            self.step(&mut running, &mut scratch);
            self.active.store(running.len(), Ordering::Relaxed);
            let forward = scratch.times;
            let forward_time = forward.total().saturating_sub(forward_before.total());
            if let Ok(mut profile) = self.profile.lock() {
                profile.steps += 1;
                profile.forward = forward;
                profile.sampling += self.sampling;
                profile.scheduling += started
                    .elapsed()
                    .saturating_sub(forward_time + self.sampling);
            }
        }
    }

    fn admit(&mut self, incoming: Incoming, running: &mut Vec<Seq>) {
        self.waiting.fetch_sub(1, Ordering::Relaxed);
        let Incoming { request, events } = incoming;
        let capacity = request.prompt.len() + request.max_tokens;
        let first = Choice {
            index: 0,
            cache: self.model.new_cache(capacity),
            sampler: Sampler::new(request.params.clone()),
            generated: Vec::new(),
            sent: 0,
            pending: None,
            constraint: request.constraint.clone(),
        };
        running.push(Seq {
            request,
            events,
            prefilled: 0,
            choices: vec![first],
        });
    }

    fn step(&mut self, running: &mut Vec<Seq>, scratch: &mut Scratch) {
        // Each decoding choice is its own scheduling unit; a prefilling request is one.
        let mut units = Vec::new();
        for (si, seq) in running.iter().enumerate() {
            let left = seq.request.prompt.len() - seq.prefilled;
            if left > 0 {
                units.push((
                    SeqState {
                        id: (si as u64) << 16,
                        prompt_left: left,
                    },
                    si,
                    0,
                ));
            } else {
                for (ci, _) in seq
                    .choices
                    .iter()
                    .enumerate()
                    .filter(|(_, c)| c.pending.is_some())
                {
                    units.push((
                        SeqState {
                            id: ((si as u64) << 16) | ci as u64,
                            prompt_left: 0,
                        },
                        si,
                        ci,
                    ));
                }
            }
        }
        let states: Vec<SeqState> = units.iter().map(|u| u.0).collect();
        let plan = plan_step(&states, &self.limits.batch);
        // Gather the tokens of each planned unit.
        let mut work: Vec<(usize, usize, Vec<u32>, bool)> = Vec::new();
        for planned in &plan {
            let Some(&(_, si, ci)) = units.iter().find(|u| u.0.id == planned.id) else {
                continue;
            };
            let seq = &running[si];
            if seq.prefilled < seq.request.prompt.len() {
                let end = seq.prefilled + planned.tokens;
                let last = end == seq.request.prompt.len();
                work.push((
                    si,
                    ci,
                    seq.request.prompt[seq.prefilled..end].to_vec(),
                    last,
                ));
            } else if let Some(token) = seq.choices[ci].pending {
                work.push((si, ci, vec![token], true));
            }
        }
        let mut caches: Vec<(usize, usize, SeqCache)> = Vec::new();
        // Constrained choices that sample this step: their masks are computed while the forward
        // pass runs.
        let mut constrained: Vec<(usize, usize, Constraint, Option<SimpleVob>)> = Vec::new();
        for (si, ci, _, wants_logits) in &work {
            let choice = &mut running[*si].choices[*ci];
            caches.push((*si, *ci, std::mem::take(&mut choice.cache)));
            if *wants_logits && let Some(constraint) = choice.constraint.take() {
                constrained.push((*si, *ci, constraint, None));
            }
        }
        let model = &self.model;
        let (result, ()) = rayon::join(
            || {
                let mut batch: Vec<StepSeq<'_>> = work
                    .iter()
                    .zip(caches.iter_mut())
                    .map(|((_, _, tokens, logits), (_, _, cache))| StepSeq {
                        tokens,
                        cache,
                        logits: *logits,
                    })
                    .collect();
                model.forward(&mut batch, scratch)
            },
            || {
                use rayon::prelude::*;
                constrained
                    .par_iter_mut()
                    .for_each(|(_, _, constraint, mask)| *mask = constraint.mask());
            },
        );
        for (si, ci, cache) in caches {
            running[si].choices[ci].cache = cache;
        }
        let mut masks: Vec<(usize, usize, Option<SimpleVob>)> = Vec::new();
        for (si, ci, constraint, mask) in constrained {
            running[si].choices[ci].constraint = Some(constraint);
            masks.push((si, ci, mask));
        }
        let mut logits = match result {
            Ok(logits) => logits.into_iter(),
            Err(e) => {
                for (si, ..) in &work {
                    let _ = running[*si]
                        .events
                        .try_send(TextEvent::Failed(e.to_string()));
                }
                let failed: Vec<usize> = work.iter().map(|w| w.0).collect();
                let mut index = 0;
                running.retain(|_| {
                    index += 1;
                    !failed.contains(&(index - 1))
                });
                return;
            }
        };
        for (si, ci, tokens, wants_logits) in work {
            let seq = &mut running[si];
            if seq.prefilled < seq.request.prompt.len() {
                seq.prefilled += tokens.len();
                if seq.prefilled == seq.request.prompt.len() {
                    // The prompt is through: fork the other choices from this cache.
                    for index in 1..seq.request.n {
                        let params = SamplingParams {
                            seed: seq.request.params.seed.wrapping_add(index as u64),
                            ..seq.request.params.clone()
                        };
                        let cache = seq.choices[0].cache.clone();
                        seq.choices.push(Choice {
                            index,
                            cache,
                            sampler: Sampler::new(params),
                            generated: Vec::new(),
                            sent: 0,
                            pending: None,
                            constraint: seq.request.constraint.clone(),
                        });
                    }
                }
            }
            if !wants_logits {
                continue;
            }
            let Some(step_logits) = logits.next() else {
                continue;
            };
            let mask = masks
                .iter()
                .find(|m| m.0 == si && m.1 == ci)
                .and_then(|m| m.2.as_ref());
            if seq.choices.len() > 1
                && ci == 0
                && seq
                    .choices
                    .iter()
                    .skip(1)
                    .all(|c| c.generated.is_empty() && c.pending.is_none())
            {
                // First logits after a shared prefill: every choice samples from them.
                // Their constraints are fresh copies of one grammar: the mask is shared too.
                for c in 0..seq.choices.len() {
                    self.sample_into(seq, c, &step_logits, mask);
                }
            } else {
                self.sample_into(seq, ci, &step_logits, mask);
            }
        }
        running.retain(|s| {
            s.choices.iter().any(|c| c.pending.is_some()) || s.prefilled < s.request.prompt.len()
        });
    }

    /// Samples the next token of choice `ci`, sends it, and finishes the choice when it should.
    fn sample_into(&mut self, seq: &mut Seq, ci: usize, logits: &[f32], mask: Option<&SimpleVob>) {
        let started = Instant::now();
        self.sample_choice(seq, ci, logits, mask);
        self.sampling += started.elapsed();
    }

    fn sample_choice(&self, seq: &mut Seq, ci: usize, logits: &[f32], mask: Option<&SimpleVob>) {
        let request = &seq.request;
        let choice = &mut seq.choices[ci];
        let masked;
        let logits = match (&choice.constraint, mask) {
            (None, _) => logits,
            (Some(_), Some(mask)) => {
                masked = {
                    let mut l = logits.to_vec();
                    apply_mask(&mut l, mask);
                    l
                };
                &masked
            }
            (Some(constraint), None) => {
                let error = constraint
                    .error()
                    .unwrap_or_else(|| "no token can follow".into());
                let _ = seq
                    .events
                    .try_send(TextEvent::Failed(format!("constrained decoding: {error}")));
                choice.pending = None;
                return;
            }
        };
        let context: Vec<u32> = if request.params.repetition_penalty != 1.0 {
            request
                .prompt
                .iter()
                .chain(&choice.generated)
                .copied()
                .collect()
        } else {
            Vec::new()
        };
        let sampled = choice.sampler.sample(
            logits,
            &context,
            &choice.generated,
            request.logprobs,
            request.top_logprobs,
        );
        let token = sampled.token;
        let is_eos = !request.ignore_eos && self.tokenizer.eos_ids.contains(&token);
        if !is_eos {
            choice.generated.push(token);
        }
        // The grammar takes the token; when it is complete the choice ends here.
        let mut grammar_done = false;
        if let Some(constraint) = choice.constraint.as_mut()
            && !is_eos
        {
            if !constraint.commit(token) {
                let error = constraint.error().unwrap_or_default();
                let _ = seq
                    .events
                    .try_send(TextEvent::Failed(format!("constrained decoding: {error}")));
                choice.pending = None;
                return;
            }
            grammar_done = constraint.is_finished();
        }
        let text = self.tokenizer.decode(&choice.generated).unwrap_or_default();
        let stop_at = request
            .stop
            .iter()
            .filter_map(|s| text.find(s.as_str()))
            .min();
        let finish = if is_eos || grammar_done || stop_at.is_some() {
            Some(FinishReason::Stop)
        } else if choice.generated.len() >= request.max_tokens {
            Some(FinishReason::Length)
        } else {
            None
        };
        // Text that is safe to send: up to a stop string, and never a possible stop prefix or a
        // half-decoded character while generation goes on.
        let end = match (stop_at, finish) {
            (Some(at), _) => at,
            (None, Some(_)) => text.len(),
            (None, None) => {
                let mut end = text.len() - held_back(&text, &request.stop);
                if text[..end].ends_with('\u{FFFD}') {
                    end -= '\u{FFFD}'.len_utf8();
                }
                end
            }
        };
        let delta = if end > choice.sent {
            text[choice.sent..end].to_string()
        } else {
            String::new()
        };
        choice.sent = choice.sent.max(end);
        let index = choice.index;
        let _ = seq.events.try_send(TextEvent::Token {
            choice: index,
            sampled,
            text: delta,
        });
        match finish {
            Some(reason) => {
                let _ = seq.events.try_send(TextEvent::Finished {
                    choice: index,
                    reason,
                    completion_tokens: choice.generated.len(),
                });
                choice.pending = None;
            }
            None => choice.pending = Some(token),
        }
    }
}

/// Bytes at the end of `text` that could be the start of a stop string: held back until the
/// next token tells whether the stop string follows.
fn held_back(text: &str, stops: &[String]) -> usize {
    stops
        .iter()
        .map(|stop| {
            (1..stop.len())
                .rev()
                .find(|&k| stop.is_char_boundary(k) && text.ends_with(&stop[..k]))
                .unwrap_or(0)
        })
        .max()
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn holds_back_possible_stop_prefixes() {
        let stops = vec!["\n\nUser:".to_string(), "END".to_string()];
        assert_eq!(held_back("Hello\n", &stops), 1);
        assert_eq!(held_back("Hello\n\nUs", &stops), 4);
        assert_eq!(held_back("THE EN", &stops), 2);
        assert_eq!(held_back("Hello", &stops), 0);
        assert_eq!(held_back("Hello", &[]), 0);
        assert_eq!(held_back("caf\u{e9}", &["\u{e9}t\u{e9}".to_string()]), 2);
    }
}
