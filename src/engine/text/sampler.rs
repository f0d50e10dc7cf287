//! Choosing the next token from logits: penalties (repetition, presence, frequency), then
//! temperature, top-k, min-p and top-p, then a draw from a per-sequence seeded generator. The
//! same seed and the same logits give the same token, whatever else is in the batch.

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// Sampling settings of one request (OpenAI names, plus the vLLM/llama.cpp extensions).
#[derive(Debug, Clone, PartialEq)]
pub struct SamplingParams {
    /// 0 means greedy.
    pub temperature: f32,
    pub top_p: f32,
    /// 0 means off.
    pub top_k: usize,
    pub min_p: f32,
    /// Divides positive logits (multiplies negative ones) of tokens already seen; 1 is off.
    pub repetition_penalty: f32,
    /// Subtracted once from the logit of every generated token.
    pub presence_penalty: f32,
    /// Subtracted per occurrence from the logit of generated tokens.
    pub frequency_penalty: f32,
    pub seed: u64,
}

impl Default for SamplingParams {
    fn default() -> Self {
        Self {
            temperature: 1.0,
            top_p: 1.0,
            top_k: 0,
            min_p: 0.0,
            repetition_penalty: 1.0,
            presence_penalty: 0.0,
            frequency_penalty: 0.0,
            seed: 0,
        }
    }
}

/// A chosen token with its log-probability and, if asked, the most likely alternatives.
#[derive(Debug, Clone, PartialEq)]
pub struct Sampled {
    pub token: u32,
    pub logprob: f32,
    pub top: Vec<(u32, f32)>,
}

pub struct Sampler {
    params: SamplingParams,
    rng: StdRng,
}

impl Sampler {
    pub fn new(params: SamplingParams) -> Self {
        let rng = StdRng::seed_from_u64(params.seed);
        Self { params, rng }
    }

    /// Picks the next token. `context` is the prompt and everything generated (for the
    /// repetition penalty); `generated` only what this sequence produced (presence, frequency).
    /// `logprobs`: compute the chosen token's log-probability (a pass over the vocabulary);
    /// `top_logprobs` alternatives are returned with theirs.
    pub fn sample(
        &mut self,
        logits: &[f32],
        context: &[u32],
        generated: &[u32],
        logprobs: bool,
        top_logprobs: usize,
    ) -> Sampled {
        let p = &self.params;
        let penalised =
            p.repetition_penalty != 1.0 || p.presence_penalty != 0.0 || p.frequency_penalty != 0.0;
        if p.temperature <= 0.0 && !penalised && !logprobs && top_logprobs == 0 {
            // The common greedy case: no copy, no softmax.
            return Sampled {
                token: argmax(logits),
                logprob: 0.0,
                top: Vec::new(),
            };
        }
        let mut logits = logits.to_vec();
        if p.repetition_penalty != 1.0 {
            let mut seen = context.to_vec();
            seen.sort_unstable();
            seen.dedup();
            for &t in &seen {
                if let Some(l) = logits.get_mut(t as usize) {
                    *l = if *l > 0.0 {
                        *l / p.repetition_penalty
                    } else {
                        *l * p.repetition_penalty
                    };
                }
            }
        }
        if p.presence_penalty != 0.0 || p.frequency_penalty != 0.0 {
            let mut counts: Vec<(u32, usize)> = Vec::new();
            let mut sorted = generated.to_vec();
            sorted.sort_unstable();
            for t in sorted {
                match counts.last_mut() {
                    Some((last, n)) if *last == t => *n += 1,
                    _ => counts.push((t, 1)),
                }
            }
            for (t, n) in counts {
                if let Some(l) = logits.get_mut(t as usize) {
                    *l -= p.presence_penalty + p.frequency_penalty * n as f32;
                }
            }
        }
        let token = if p.temperature <= 0.0 {
            argmax(&logits)
        } else {
            self.draw(&logits)
        };
        if !logprobs && top_logprobs == 0 {
            return Sampled {
                token,
                logprob: 0.0,
                top: Vec::new(),
            };
        }
        let log_probs = log_softmax(&logits);
        let top = if top_logprobs > 0 {
            top_n(&log_probs, top_logprobs)
        } else {
            Vec::new()
        };
        Sampled {
            token,
            logprob: log_probs[token as usize],
            top,
        }
    }

    fn draw(&mut self, logits: &[f32]) -> u32 {
        let p = &self.params;
        if p.top_k == 0 && p.top_p >= 1.0 && p.min_p <= 0.0 {
            // Plain temperature sampling: no need to sort the vocabulary.
            let max = logits.iter().copied().fold(f32::NEG_INFINITY, f32::max);
            let weights: Vec<f32> = logits
                .iter()
                .map(|l| ((l - max) / p.temperature).exp())
                .collect();
            let total: f32 = weights.iter().sum();
            let mut target = self.rng.random::<f32>() * total;
            for (i, w) in weights.iter().enumerate() {
                if target < *w {
                    return i as u32;
                }
                target -= w;
            }
            return argmax(logits);
        }
        // Candidates sorted by logit, best first; ties broken by id so the order is total.
        let mut candidates: Vec<(u32, f32)> = logits
            .iter()
            .enumerate()
            .map(|(i, l)| (i as u32, l / p.temperature))
            .collect();
        candidates.sort_unstable_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
        if p.top_k > 0 {
            candidates.truncate(p.top_k);
        }
        let max = candidates[0].1;
        let mut probs: Vec<f32> = candidates.iter().map(|(_, l)| (l - max).exp()).collect();
        let total: f32 = probs.iter().sum();
        probs.iter_mut().for_each(|q| *q /= total);
        if p.min_p > 0.0 {
            let floor = probs[0] * p.min_p;
            let keep = probs.iter().take_while(|q| **q >= floor).count().max(1);
            candidates.truncate(keep);
            probs.truncate(keep);
        }
        if p.top_p < 1.0 {
            let mut cumulative = 0.0;
            let mut keep = probs.len();
            for (i, q) in probs.iter().enumerate() {
                cumulative += q;
                if cumulative >= p.top_p {
                    keep = i + 1;
                    break;
                }
            }
            candidates.truncate(keep);
            probs.truncate(keep);
        }
        let total: f32 = probs.iter().sum();
        let mut target = self.rng.random::<f32>() * total;
        for (candidate, q) in candidates.iter().zip(&probs) {
            if target < *q {
                return candidate.0;
            }
            target -= q;
        }
        candidates[candidates.len() - 1].0
    }
}

pub fn argmax(logits: &[f32]) -> u32 {
    let mut best = (0usize, f32::NEG_INFINITY);
    for (i, &l) in logits.iter().enumerate() {
        if l > best.1 {
            best = (i, l);
        }
    }
    best.0 as u32
}

fn log_softmax(logits: &[f32]) -> Vec<f32> {
    let max = logits.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let log_sum = logits.iter().map(|l| (l - max).exp()).sum::<f32>().ln();
    logits.iter().map(|l| l - max - log_sum).collect()
}

fn top_n(log_probs: &[f32], n: usize) -> Vec<(u32, f32)> {
    let mut indexed: Vec<(u32, f32)> = log_probs
        .iter()
        .enumerate()
        .map(|(i, l)| (i as u32, *l))
        .collect();
    let n = n.min(indexed.len());
    indexed.select_nth_unstable_by(n.saturating_sub(1), |a, b| b.1.total_cmp(&a.1));
    indexed.truncate(n);
    indexed.sort_by(|a, b| b.1.total_cmp(&a.1));
    indexed
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(temperature: f32) -> SamplingParams {
        SamplingParams {
            temperature,
            seed: 7,
            ..SamplingParams::default()
        }
    }

    #[test]
    fn greedy_takes_the_argmax_and_reports_logprobs() {
        let mut s = Sampler::new(params(0.0));
        let out = s.sample(&[0.0, 2.0, 1.0], &[], &[], true, 2);
        assert_eq!(out.token, 1);
        let expected = 2.0 - (1.0f32 + 2.0f32.exp() + 1.0f32.exp()).ln();
        assert!((out.logprob - expected).abs() < 1e-6);
        assert_eq!(out.top.iter().map(|t| t.0).collect::<Vec<_>>(), vec![1, 2]);
    }

    #[test]
    fn same_seed_same_draws() {
        let logits: Vec<f32> = (0..50).map(|i| (i as f32 * 0.37).sin()).collect();
        let draws = |seed| {
            let mut s = Sampler::new(SamplingParams {
                seed,
                ..params(1.0)
            });
            (0..20)
                .map(|_| s.sample(&logits, &[], &[], false, 0).token)
                .collect::<Vec<_>>()
        };
        assert_eq!(draws(1), draws(1));
        assert_ne!(draws(1), draws(2));
    }

    #[test]
    fn filters_limit_the_candidates() {
        let logits = [5.0, 4.9, 0.0, -1.0];
        for _ in 0..50 {
            let mut s = Sampler::new(SamplingParams {
                top_k: 2,
                ..params(1.0)
            });
            assert!(s.sample(&logits, &[], &[], false, 0).token < 2);
        }
        let mut s = Sampler::new(SamplingParams {
            top_p: 0.01,
            ..params(1.0)
        });
        assert_eq!(s.sample(&logits, &[], &[], false, 0).token, 0);
        let mut s = Sampler::new(SamplingParams {
            min_p: 0.99,
            seed: 3,
            ..params(1.0)
        });
        assert_eq!(s.sample(&logits, &[], &[], false, 0).token, 0);
    }

    #[test]
    fn penalties_move_away_from_seen_tokens() {
        let logits = [1.0, 0.9];
        let mut s = Sampler::new(SamplingParams {
            repetition_penalty: 2.0,
            ..params(0.0)
        });
        assert_eq!(s.sample(&logits, &[0], &[], false, 0).token, 1);
        let mut s = Sampler::new(SamplingParams {
            frequency_penalty: 0.06,
            ..params(0.0)
        });
        assert_eq!(
            s.sample(&logits, &[], &[0], false, 0).token,
            0,
            "one occurrence: 0.94 > 0.9"
        );
        assert_eq!(
            s.sample(&logits, &[], &[0, 0], false, 0).token,
            1,
            "two: 0.88 < 0.9"
        );
        let mut s = Sampler::new(SamplingParams {
            presence_penalty: 0.2,
            ..params(0.0)
        });
        assert_eq!(s.sample(&logits, &[], &[0], false, 0).token, 1);
    }
}
