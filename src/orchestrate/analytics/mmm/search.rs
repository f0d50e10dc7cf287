//! The hyperparameter search: DEMO, differential evolution for multi-objective optimisation
//! (Robič and Filipič, 2005): DE/rand/1/bin variation (Storn and Price, 1997) with NSGA-II's
//! non-dominated sorting and crowding distance (Deb, Pratap, Agarwal and Meyarivan, 2002) to
//! keep the population, over genomes in the unit cube, minimising two objectives together (the
//! model's NRMSE and DECOMP.RSSD). Robyn runs Nevergrad's differential-evolution optimiser
//! (TwoPointsDE) for the same purpose. Seeded: parents, crossover and mutation
//! draw from one RNG on the calling thread; only the evaluation of a generation runs in
//! parallel (rayon), and it is pure, so the result never depends on the thread count.

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use rayon::prelude::*;

/// One evaluated genome.
#[derive(Debug, Clone)]
pub struct Candidate<T> {
    pub genome: Vec<f64>,
    pub objectives: [f64; 2],
    pub detail: T,
}

/// Population size and generations.
#[derive(Debug, Clone, Copy)]
pub struct SearchSize {
    pub population: usize,
    pub generations: usize,
}

/// Every candidate evaluated, and the indices of the non-dominated ones among all of them.
pub struct SearchResult<T> {
    pub evaluated: Vec<Candidate<T>>,
    pub front: Vec<usize>,
}

/// Runs the search. `evaluate` maps a genome to its objectives (both minimised; NaN is treated
/// as the worst) and a detail kept with it; `progress(generation, generations)` is called after
/// each generation and stops the search when it returns false (then `None`).
pub fn demo<T, E, P>(
    dimensions: usize,
    size: SearchSize,
    seed: u64,
    evaluate: E,
    progress: P,
) -> Option<SearchResult<T>>
where
    T: Send,
    E: Fn(&[f64]) -> ([f64; 2], T) + Sync,
    P: Fn(usize, usize) -> bool,
{
    let mut rng = StdRng::seed_from_u64(seed);
    let population = size.population.max(4) & !1;
    let evaluate_all = |genomes: Vec<Vec<f64>>| -> Vec<Candidate<T>> {
        genomes
            .into_par_iter()
            .map(|genome| {
                let (objectives, detail) = evaluate(&genome);
                let objectives = objectives.map(|o| if o.is_nan() { f64::INFINITY } else { o });
                Candidate {
                    genome,
                    objectives,
                    detail,
                }
            })
            .collect()
    };
    let initial: Vec<Vec<f64>> = (0..population)
        .map(|_| (0..dimensions).map(|_| rng.random::<f64>()).collect())
        .collect();
    let mut evaluated = evaluate_all(initial);
    let mut current: Vec<usize> = (0..evaluated.len()).collect();
    if !progress(0, size.generations) {
        return None;
    }
    for generation in 1..=size.generations {
        // DE/rand/1/bin: one trial per member from three others, crossed with the member.
        let trials: Vec<Vec<f64>> = (0..current.len())
            .map(|i| {
                let pick = pick_three(&mut rng, current.len(), i);
                let [r1, r2, r3] = pick.map(|k| &evaluated[current[k]].genome);
                let parent = &evaluated[current[i]].genome;
                let forced = rng.random_range(0..dimensions.max(1));
                (0..dimensions)
                    .map(|j| {
                        if j == forced || rng.random::<f64>() < CROSSOVER {
                            reflect(r1[j] + WEIGHT * (r2[j] - r3[j]))
                        } else {
                            parent[j]
                        }
                    })
                    .collect()
            })
            .collect();
        let start = evaluated.len();
        evaluated.extend(evaluate_all(trials));
        // A trial that dominates its parent replaces it; one its parent dominates is dropped;
        // otherwise both stay, and the population is cut back by fronts and crowding.
        let mut next: Vec<usize> = Vec::with_capacity(2 * current.len());
        for (i, &parent) in current.iter().enumerate() {
            let trial = start + i;
            let (p, t) = (evaluated[parent].objectives, evaluated[trial].objectives);
            if dominates(t, p) {
                next.push(trial);
            } else if dominates(p, t) {
                next.push(parent);
            } else {
                next.push(parent);
                next.push(trial);
            }
        }
        let objectives: Vec<[f64; 2]> = next.iter().map(|&i| evaluated[i].objectives).collect();
        let (rank, crowding) = rank_and_crowding(&objectives);
        let mut order: Vec<usize> = (0..next.len()).collect();
        order.sort_by(|&a, &b| {
            rank[a]
                .cmp(&rank[b])
                .then(crowding[b].total_cmp(&crowding[a]))
                .then(a.cmp(&b))
        });
        current = order.iter().take(population).map(|&k| next[k]).collect();
        if !progress(generation, size.generations) {
            return None;
        }
    }
    let all: Vec<[f64; 2]> = evaluated.iter().map(|c| c.objectives).collect();
    let front = non_dominated_sort(&all)
        .into_iter()
        .next()
        .unwrap_or_default();
    Some(SearchResult { evaluated, front })
}

fn dominates(a: [f64; 2], b: [f64; 2]) -> bool {
    a[0] <= b[0] && a[1] <= b[1] && (a[0] < b[0] || a[1] < b[1])
}

/// Fronts of indices, best first.
pub fn non_dominated_sort(objectives: &[[f64; 2]]) -> Vec<Vec<usize>> {
    let n = objectives.len();
    let mut dominated_by = vec![0usize; n];
    let mut dominates_list: Vec<Vec<usize>> = vec![Vec::new(); n];
    for a in 0..n {
        for b in 0..n {
            if dominates(objectives[a], objectives[b]) {
                dominates_list[a].push(b);
            } else if dominates(objectives[b], objectives[a]) {
                dominated_by[a] += 1;
            }
        }
    }
    let mut fronts = Vec::new();
    let mut front: Vec<usize> = (0..n).filter(|&i| dominated_by[i] == 0).collect();
    while !front.is_empty() {
        let mut next = Vec::new();
        for &a in &front {
            for &b in &dominates_list[a] {
                dominated_by[b] -= 1;
                if dominated_by[b] == 0 {
                    next.push(b);
                }
            }
        }
        fronts.push(front);
        front = next;
    }
    fronts
}

fn rank_and_crowding(objectives: &[[f64; 2]]) -> (Vec<usize>, Vec<f64>) {
    let n = objectives.len();
    let mut rank = vec![0; n];
    let mut crowding = vec![0.0; n];
    for (r, front) in non_dominated_sort(objectives).iter().enumerate() {
        for &i in front {
            rank[i] = r;
        }
        for m in [0, 1] {
            let mut sorted = front.clone();
            sorted.sort_by(|&a, &b| objectives[a][m].total_cmp(&objectives[b][m]));
            let (Some(&first), Some(&last)) = (sorted.first(), sorted.last()) else {
                continue;
            };
            crowding[first] = f64::INFINITY;
            crowding[last] = f64::INFINITY;
            let span = objectives[last][m] - objectives[first][m];
            if !(span > 0.0 && span.is_finite()) {
                continue;
            }
            for w in sorted.windows(3) {
                crowding[w[1]] += (objectives[w[2]][m] - objectives[w[0]][m]) / span;
            }
        }
    }
    (rank, crowding)
}

/// DE's differential weight and crossover rate (Storn and Price's common choice).
const WEIGHT: f64 = 0.5;
const CROSSOVER: f64 = 0.9;

/// Three distinct members other than `not`.
fn pick_three(rng: &mut StdRng, len: usize, not: usize) -> [usize; 3] {
    let mut picked = [usize::MAX; 3];
    for k in 0..3 {
        picked[k] = loop {
            let r = rng.random_range(0..len);
            if r != not && !picked[..k].contains(&r) {
                break r;
            }
        };
    }
    picked
}

/// Back into the unit interval by reflection at the walls.
fn reflect(v: f64) -> f64 {
    let v = v.rem_euclid(2.0);
    if v > 1.0 { 2.0 - v } else { v }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sorting_finds_the_fronts() {
        let points = [[1.0, 5.0], [2.0, 2.0], [5.0, 1.0], [3.0, 3.0], [6.0, 6.0]];
        let fronts = non_dominated_sort(&points);
        assert_eq!(fronts[0], vec![0, 1, 2]);
        assert_eq!(fronts[1], vec![3]);
        assert_eq!(fronts[2], vec![4]);
    }

    /// Schaffer's problem in two genes: f1 = x^2, f2 = (x - 2)^2 on x in [-1, 3] from the first
    /// gene; the second gene only adds to both. The Pareto set is x in [0, 2], gene 2 at 0.
    #[test]
    fn converges_to_a_known_pareto_front_deterministically() {
        let run = || {
            demo(
                2,
                SearchSize {
                    population: 24,
                    generations: 30,
                },
                7,
                |g| {
                    let x = -1.0 + 4.0 * g[0];
                    let extra = g[1] * g[1];
                    ([x * x + extra, (x - 2.0).powi(2) + extra], ())
                },
                |_, _| true,
            )
            .unwrap()
        };
        let result = run();
        assert!(result.front.len() >= 10);
        for &i in &result.front {
            let g = &result.evaluated[i].genome;
            let x = -1.0 + 4.0 * g[0];
            assert!((-0.05..=2.05).contains(&x), "x {x}");
        }
        let again = run();
        let genomes = |r: &SearchResult<()>| -> Vec<Vec<f64>> {
            r.front
                .iter()
                .map(|&i| r.evaluated[i].genome.clone())
                .collect()
        };
        assert_eq!(genomes(&result), genomes(&again));
        assert!(
            demo(
                2,
                SearchSize {
                    population: 8,
                    generations: 5
                },
                1,
                |_| ([0.0, 0.0], ()),
                |g, _| g < 2
            )
            .is_none()
        );
    }
}
