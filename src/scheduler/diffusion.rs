//! Batching policy of the diffusion engine. Requests that share a batch key (model, size,
//! scheduler) are stacked into one UNet forward per step, each at its own step of its own
//! schedule; a request joins at any step and leaves as soon as its last step is done. One key
//! group runs per step: the group holding the oldest request (running or waiting), so no key
//! waits behind newer work for longer than its older rivals take to finish. Within the group,
//! waiting requests join in arrival order while their rows fit (a request with classifier-free
//! guidance takes two rows per image); the first that does not fit stops the admissions, so a
//! large request is never overtaken for ever by small ones.

use std::hash::Hash;

/// A request in the engine, running or waiting.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DiffusionRequest<K> {
    pub id: u64,
    pub key: K,
    /// Arrival order (smaller is older).
    pub arrival: u64,
    /// UNet rows per step: images, twice over with classifier-free guidance.
    pub rows: usize,
}

/// What the next step runs: the key group, the running requests that step, and the waiting
/// ones that join now (in that order).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DiffusionStep<K> {
    pub key: K,
    pub running: Vec<u64>,
    pub joining: Vec<u64>,
}

impl<K> DiffusionStep<K> {
    pub fn rows<'a>(&self, all: impl Iterator<Item = &'a DiffusionRequest<K>>) -> usize
    where
        K: 'a,
    {
        let ids: Vec<u64> = self.running.iter().chain(&self.joining).copied().collect();
        all.filter(|r| ids.contains(&r.id)).map(|r| r.rows).sum()
    }
}

/// Plans the next step. `running`: requests admitted and not finished (cancelled ones already
/// removed by the caller); `waiting`: in arrival order. `max_rows` bounds one forward pass.
/// `None` when there is nothing to run.
pub fn plan_diffusion_step<K: Clone + Eq + Hash>(
    running: &[DiffusionRequest<K>],
    waiting: &[DiffusionRequest<K>],
    max_rows: usize,
) -> Option<DiffusionStep<K>> {
    let oldest = running
        .iter()
        .chain(waiting.first())
        .min_by_key(|r| r.arrival)?;
    let key = oldest.key.clone();
    let members: Vec<&DiffusionRequest<K>> = running.iter().filter(|r| r.key == key).collect();
    let mut rows: usize = members.iter().map(|r| r.rows).sum();
    let mut joining = Vec::new();
    for request in waiting.iter().filter(|r| r.key == key) {
        // An empty group always takes its first request, even one larger than the bound (the
        // engine refuses such requests at submission; the policy must not stall on one).
        if rows + request.rows > max_rows && !(rows == 0 && joining.is_empty()) {
            break;
        }
        rows += request.rows;
        joining.push(request.id);
    }
    Some(DiffusionStep {
        key,
        running: members.iter().map(|r| r.id).collect(),
        joining,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(
        id: u64,
        key: &'static str,
        arrival: u64,
        rows: usize,
    ) -> DiffusionRequest<&'static str> {
        DiffusionRequest {
            id,
            key,
            arrival,
            rows,
        }
    }

    #[test]
    fn nothing_to_plan_when_idle() {
        assert_eq!(plan_diffusion_step::<&str>(&[], &[], 8), None);
    }

    #[test]
    fn same_key_requests_join_a_running_batch_at_any_step() {
        let running = [request(1, "sd15-512", 0, 2)];
        let waiting = [
            request(2, "sd15-512", 1, 2),
            request(3, "sdxl-1024", 2, 2),
            request(4, "sd15-512", 3, 4),
        ];
        let step = plan_diffusion_step(&running, &waiting, 8).unwrap();
        assert_eq!(step.key, "sd15-512");
        assert_eq!(step.running, vec![1]);
        assert_eq!(step.joining, vec![2, 4]);
        assert_eq!(step.rows(running.iter().chain(&waiting)), 8);
    }

    #[test]
    fn admissions_stop_at_the_first_request_that_does_not_fit() {
        let running = [request(1, "k", 0, 4)];
        let waiting = [request(2, "k", 1, 6), request(3, "k", 2, 2)];
        let step = plan_diffusion_step(&running, &waiting, 8).unwrap();
        assert!(
            step.joining.is_empty(),
            "the small request must not overtake the large one"
        );
        // Once request 1 leaves, the large one starts (and the small one fits beside it).
        let step = plan_diffusion_step(&[], &waiting, 8).unwrap();
        assert_eq!(step.joining, vec![2, 3]);
        // A request larger than the bound still runs alone rather than stalling the queue.
        let step = plan_diffusion_step(&[], &[request(9, "k", 0, 12)], 8).unwrap();
        assert_eq!(step.joining, vec![9]);
    }

    #[test]
    fn the_oldest_request_decides_the_group_so_no_key_starves() {
        // Simulate: key "a" keeps receiving requests; "b" arrived early and must get its turn
        // as soon as every "a" request older than it is done.
        let mut running: Vec<DiffusionRequest<&str>> = vec![request(1, "a", 0, 2)];
        let mut waiting = vec![request(2, "b", 1, 2)];
        let mut steps_left = std::collections::HashMap::from([(1u64, 3u32), (2, 3)]);
        let mut order = Vec::new();
        for tick in 0..12u64 {
            let id = 3 + tick;
            waiting.push(request(id, "a", 2 + tick, 2));
            steps_left.insert(id, 3);
            let step = plan_diffusion_step(&running, &waiting, 4).unwrap();
            for id in &step.joining {
                let position = waiting.iter().position(|r| r.id == *id).unwrap();
                running.push(waiting.remove(position));
            }
            order.push(step.key);
            for id in step.running.iter().chain(&step.joining) {
                *steps_left.get_mut(id).unwrap() -= 1;
            }
            running.retain(|r| steps_left[&r.id] > 0);
        }
        let first_b = order.iter().position(|k| *k == "b").unwrap();
        assert!(first_b <= 3, "b waited {first_b} steps: {order:?}");
        assert_eq!(order.iter().filter(|k| **k == "b").count(), 3);
    }
}
