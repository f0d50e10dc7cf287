//! Continuous batching for the text engine: which sequences run in the next step, and with how
//! many tokens. Decoding sequences (one token each) go first, oldest first, so a long prompt never
//! stalls them; the token budget left over is spent on prefill chunks of prompts, oldest first.
//! New sequences join at any step and finished ones leave at once (the caller's lists change).

/// Bounds on one step.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BatchLimits {
    /// Sequences in one step.
    pub max_batch: usize,
    /// Tokens in one step (decode tokens plus prefill tokens).
    pub token_budget: usize,
    /// Largest prefill chunk of one prompt in one step.
    pub prefill_chunk: usize,
}

impl Default for BatchLimits {
    fn default() -> Self {
        Self {
            max_batch: 16,
            token_budget: 256,
            prefill_chunk: 128,
        }
    }
}

/// What the planner needs to know of a running sequence, in admission order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SeqState {
    pub id: u64,
    /// Prompt tokens not yet through the model; 0 once it decodes.
    pub prompt_left: usize,
}

/// One entry of a step: sequence `id` feeds `tokens` tokens.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Planned {
    pub id: u64,
    pub tokens: usize,
}

/// The sequences and token counts of the next step (empty when nothing can run).
pub fn plan_step(running: &[SeqState], limits: &BatchLimits) -> Vec<Planned> {
    let mut plan = Vec::new();
    let mut budget = limits.token_budget;
    for seq in running.iter().filter(|s| s.prompt_left == 0) {
        if plan.len() == limits.max_batch || budget == 0 {
            return plan;
        }
        plan.push(Planned {
            id: seq.id,
            tokens: 1,
        });
        budget -= 1;
    }
    for seq in running.iter().filter(|s| s.prompt_left > 0) {
        if plan.len() == limits.max_batch || budget == 0 {
            break;
        }
        let tokens = seq.prompt_left.min(limits.prefill_chunk).min(budget);
        plan.push(Planned { id: seq.id, tokens });
        budget -= tokens;
    }
    plan
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seq(id: u64, prompt_left: usize) -> SeqState {
        SeqState { id, prompt_left }
    }

    #[test]
    fn decodes_first_then_prefill_chunks_within_the_budget() {
        let limits = BatchLimits {
            max_batch: 8,
            token_budget: 10,
            prefill_chunk: 6,
        };
        let running = [seq(1, 20), seq(2, 0), seq(3, 3), seq(4, 0)];
        assert_eq!(
            plan_step(&running, &limits),
            vec![
                Planned { id: 2, tokens: 1 },
                Planned { id: 4, tokens: 1 },
                Planned { id: 1, tokens: 6 },
                Planned { id: 3, tokens: 2 },
            ]
        );
    }

    #[test]
    fn a_long_prompt_is_chunked_and_never_stalls_decoding() {
        let limits = BatchLimits {
            max_batch: 4,
            token_budget: 64,
            prefill_chunk: 32,
        };
        let mut prompt_left = 1000;
        let mut steps = 0;
        while prompt_left > 0 {
            let plan = plan_step(&[seq(1, 0), seq(2, prompt_left)], &limits);
            assert_eq!(
                plan[0],
                Planned { id: 1, tokens: 1 },
                "the decoder runs every step"
            );
            prompt_left -= plan[1].tokens;
            steps += 1;
        }
        assert_eq!(steps, 1000usize.div_ceil(32));
    }

    #[test]
    fn batch_size_and_budget_bound_every_step() {
        let limits = BatchLimits {
            max_batch: 3,
            token_budget: 2,
            prefill_chunk: 8,
        };
        let running: Vec<SeqState> = (0..10).map(|i| seq(i, 0)).collect();
        assert_eq!(plan_step(&running, &limits).len(), 2);
        let limits = BatchLimits {
            max_batch: 3,
            token_budget: 100,
            prefill_chunk: 8,
        };
        assert_eq!(plan_step(&running, &limits).len(), 3);
        assert!(plan_step(&[], &limits).is_empty());
    }
}
