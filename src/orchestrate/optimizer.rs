//! The optimizer agent's decision: a campaign's daily results per creative (the arms of each
//! platform's ad set) and per platform, turned into proposed actions with the numbers behind
//! each. Code decides; nothing here is written by a model. The statistics are the analytics
//! layer's Thompson-sampling bandit (`analytics::bandit`): posterior probability that each arm
//! has the most conversions per unit of spend, and the always-valid mSPRT behind a declared
//! winner.
//!
//! - `scale_winner`: a platform's bandit declares a winner (probability of being best at least
//!   the bandit's `win_probability` and mSPRT p < alpha against the runner-up): pause the other
//!   creatives there, so the winner takes the ad set's whole budget.
//! - `pause_creative`: no winner yet, but an arm's probability of being best is under
//!   `pause_below` after `min_days` days and `min_spend` of spend: pause it.
//! - `shift_budget`: with two or more platforms, the platform-level bandit's leader has a
//!   probability of being best of at least `shift_probability`: move `shift_fraction` of every
//!   other platform's daily budget to it (each keeps at least its minimum).
//!
//! Pure, no I/O: the caller reads the metrics and applies (or queues) what comes back.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::analytics::bandit::{BanditConfig, Likelihood, Observation, Optimizer};

/// When the optimizer proposes what.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OptimizerPolicy {
    pub min_days: u32,
    /// Currency units an arm must have spent before it can be paused.
    pub min_spend: f64,
    pub pause_below: f64,
    pub shift_probability: f64,
    pub shift_fraction: f64,
    pub seed: u64,
}

impl Default for OptimizerPolicy {
    fn default() -> Self {
        Self {
            min_days: 5,
            min_spend: 20.0,
            pause_below: 0.05,
            shift_probability: 0.9,
            shift_fraction: 0.2,
            seed: 7,
        }
    }
}

/// One creative's daily counts on one platform, oldest day first.
#[derive(Debug, Clone, PartialEq)]
pub struct ArmSeries {
    pub creative_id: String,
    pub platform: String,
    /// False when it is paused already (it is neither proposed nor counted as a rival).
    pub active: bool,
    /// Day (YYYY-MM-DD) -> that day's counts.
    pub days: BTreeMap<String, Observation>,
}

/// One platform's ad set and its daily budget (micros).
#[derive(Debug, Clone, PartialEq)]
pub struct AdSetBudget {
    pub ad_set_id: String,
    pub platform: String,
    pub daily_budget_micros: i64,
    pub min_daily_micros: i64,
}

/// What the optimizer proposes.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Proposal {
    pub kind: &'static str,
    pub params: Value,
    /// Built from the computed numbers.
    pub reason: String,
}

/// The proposals and the evidence behind them (recorded as the run's trace).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Decision {
    pub proposals: Vec<Proposal>,
    pub evidence: Vec<Value>,
}

fn bandit(seed: u64) -> BanditConfig {
    BanditConfig {
        likelihood: Likelihood::GammaPoisson,
        seed,
        ..BanditConfig::default()
    }
}

/// Sums days into one observation per day over the given days (missing days count as zero).
fn observations(series: &[&ArmSeries], days: &[String]) -> Vec<Vec<Observation>> {
    let zero = Observation {
        spend: 0.0,
        impressions: 0,
        clicks: 0,
        conversions: 0,
    };
    days.iter()
        .map(|day| {
            series
                .iter()
                .map(|s| s.days.get(day).copied().unwrap_or(zero))
                .collect()
        })
        .collect()
}

fn total_spend(s: &ArmSeries) -> f64 {
    s.days.values().map(|o| o.spend).sum()
}

fn total_conversions(s: &ArmSeries) -> u64 {
    s.days.values().map(|o| o.conversions).sum()
}

/// The proposals for a campaign's results.
pub fn decide(
    arms: &[ArmSeries],
    ad_sets: &[AdSetBudget],
    policy: &OptimizerPolicy,
) -> Result<Decision, super::analytics::AnalyticsError> {
    let mut proposals = Vec::new();
    let mut evidence = Vec::new();
    let mut platforms: BTreeMap<&str, Vec<&ArmSeries>> = BTreeMap::new();
    for arm in arms.iter().filter(|a| a.active) {
        platforms
            .entry(arm.platform.as_str())
            .or_default()
            .push(arm);
    }
    for (platform, series) in &platforms {
        let days: Vec<String> = {
            let mut all: Vec<String> = series.iter().flat_map(|s| s.days.keys().cloned()).collect();
            all.sort();
            all.dedup();
            all
        };
        if series.len() < 2 || (days.len() as u32) < policy.min_days {
            evidence.push(
                json!({"platform": platform, "arms": series.len(), "days": days.len(),
                "decision": "not enough arms or days yet"}),
            );
            continue;
        }
        let mut optimizer = Optimizer::new(series.len(), bandit(policy.seed))?;
        for day in observations(series, &days) {
            optimizer.observe(&day)?;
        }
        let allocation = optimizer.allocate(1.0)?;
        let arms_view: Vec<Value> = series
            .iter()
            .zip(&allocation.arms)
            .map(|(s, d)| {
                json!({"creative_id": s.creative_id, "spend": total_spend(s),
                    "conversions": total_conversions(s), "probability_best": d.probability_best,
                    "conversions_per_unit": d.posterior_mean, "p_value_vs_leader": d.p_value_vs_leader})
            })
            .collect();
        evidence.push(
            json!({"platform": platform, "days": days.len(), "arms": arms_view,
            "leader": series[allocation.leader].creative_id,
            "winner": allocation.winner.map(|w| series[w.arm].creative_id.clone())}),
        );
        if let Some(winner) = allocation.winner {
            let others: Vec<String> = series
                .iter()
                .enumerate()
                .filter(|(i, _)| *i != winner.arm)
                .map(|(_, s)| s.creative_id.clone())
                .collect();
            let best = series[winner.arm];
            proposals.push(Proposal {
                kind: "scale_winner",
                params: json!({"platform": platform, "creative_id": best.creative_id,
                    "pause": others}),
                reason: format!(
                    "{platform}: creative {} converts best ({} conversions on {:.2} spent over {} days; \
                     probability of being best {:.3}, always-valid p = {:.4} against {}); pause the \
                     other {} so it takes the whole budget",
                    best.creative_id,
                    total_conversions(best),
                    total_spend(best),
                    days.len(),
                    winner.probability_best,
                    winner.p_value,
                    series[winner.runner_up].creative_id,
                    others.len()
                ),
            });
            continue;
        }
        for (s, d) in series.iter().zip(&allocation.arms) {
            if d.probability_best < policy.pause_below && total_spend(s) >= policy.min_spend {
                proposals.push(Proposal {
                    kind: "pause_creative",
                    params: json!({"platform": platform, "creative_id": s.creative_id}),
                    reason: format!(
                        "{platform}: creative {} has {} conversions on {:.2} spent over {} days; its \
                         probability of being the best is {:.3}, under {:.2}",
                        s.creative_id,
                        total_conversions(s),
                        total_spend(s),
                        days.len(),
                        d.probability_best,
                        policy.pause_below
                    ),
                });
            }
        }
    }
    if let Some(shift) = shift_budget(arms, ad_sets, policy)? {
        evidence.push(shift.1);
        proposals.push(shift.0);
    }
    Ok(Decision {
        proposals,
        evidence,
    })
}

/// A budget shift between platforms, when one is clearly better per unit of spend.
fn shift_budget(
    arms: &[ArmSeries],
    ad_sets: &[AdSetBudget],
    policy: &OptimizerPolicy,
) -> Result<Option<(Proposal, Value)>, super::analytics::AnalyticsError> {
    if ad_sets.len() < 2 {
        return Ok(None);
    }
    // One merged series per ad set's platform.
    let merged: Vec<ArmSeries> = ad_sets
        .iter()
        .map(|a| {
            let mut days: BTreeMap<String, Observation> = BTreeMap::new();
            for arm in arms.iter().filter(|s| s.platform == a.platform) {
                for (day, o) in &arm.days {
                    let e = days.entry(day.clone()).or_insert(Observation {
                        spend: 0.0,
                        impressions: 0,
                        clicks: 0,
                        conversions: 0,
                    });
                    e.spend += o.spend;
                    e.impressions += o.impressions;
                    e.clicks += o.clicks;
                    e.conversions += o.conversions;
                }
            }
            ArmSeries {
                creative_id: a.ad_set_id.clone(),
                platform: a.platform.clone(),
                active: true,
                days,
            }
        })
        .collect();
    let refs: Vec<&ArmSeries> = merged.iter().collect();
    let mut days: Vec<String> = merged.iter().flat_map(|s| s.days.keys().cloned()).collect();
    days.sort();
    days.dedup();
    if (days.len() as u32) < policy.min_days {
        return Ok(None);
    }
    let mut optimizer = Optimizer::new(refs.len(), bandit(policy.seed ^ 0xa5))?;
    for day in observations(&refs, &days) {
        optimizer.observe(&day)?;
    }
    let allocation = optimizer.allocate(1.0)?;
    let leader = allocation.leader;
    let p = allocation.arms[leader].probability_best;
    let evidence = json!({"level": "platform", "probability_best": allocation.arms.iter()
        .map(|a| a.probability_best).collect::<Vec<_>>(), "leader": ad_sets[leader].platform});
    if p < policy.shift_probability {
        return Ok(None);
    }
    let mut moves = Vec::new();
    let mut gained = 0i64;
    for (i, a) in ad_sets.iter().enumerate() {
        if i == leader {
            continue;
        }
        let cut = ((a.daily_budget_micros as f64 * policy.shift_fraction) as i64)
            .min(a.daily_budget_micros - a.min_daily_micros)
            .max(0);
        // Whole cents: budgets travel in minor units.
        let cut = cut / 10_000 * 10_000;
        if cut > 0 {
            moves.push(json!({"ad_set_id": a.ad_set_id, "platform": a.platform,
                "daily_budget_micros": a.daily_budget_micros - cut}));
            gained += cut;
        }
    }
    if gained == 0 {
        return Ok(None);
    }
    let to = &ad_sets[leader];
    moves.push(json!({"ad_set_id": to.ad_set_id, "platform": to.platform,
        "daily_budget_micros": to.daily_budget_micros + gained}));
    Ok(Some((
        Proposal {
            kind: "shift_budget",
            params: json!({"budgets": moves}),
            reason: format!(
                "{} converts best per unit of spend (probability {:.3} over {} days): move {:.2} a \
                 day to it from the other platforms ({:.0}% of each, never under their minimum)",
                to.platform,
                p,
                days.len(),
                gained as f64 / 1e6,
                policy.shift_fraction * 100.0
            ),
        },
        evidence,
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn series(id: &str, rate: f64, days: u32) -> ArmSeries {
        ArmSeries {
            creative_id: id.into(),
            platform: "sandbox".into(),
            active: true,
            days: (0..days)
                .map(|d| {
                    (
                        format!("2026-12-{:02}", d + 1),
                        Observation {
                            spend: 50.0,
                            impressions: 5000,
                            clicks: 100,
                            conversions: (50.0 * rate) as u64,
                        },
                    )
                })
                .collect(),
        }
    }

    #[test]
    fn a_clear_winner_is_scaled_and_too_little_data_waits() {
        let arms = [series("a", 0.4, 10), series("b", 0.1, 10)];
        let d = decide(&arms, &[], &OptimizerPolicy::default()).unwrap();
        assert_eq!(d.proposals.len(), 1, "{:?}", d.proposals);
        assert_eq!(d.proposals[0].kind, "scale_winner");
        assert_eq!(d.proposals[0].params["creative_id"], "a");
        assert_eq!(d.proposals[0].params["pause"], json!(["b"]));
        let early = [series("a", 0.4, 2), series("b", 0.1, 2)];
        assert!(
            decide(&early, &[], &OptimizerPolicy::default())
                .unwrap()
                .proposals
                .is_empty()
        );
    }

    #[test]
    fn equal_arms_get_no_action() {
        let arms = [series("a", 0.2, 10), series("b", 0.2, 10)];
        let d = decide(&arms, &[], &OptimizerPolicy::default()).unwrap();
        assert!(d.proposals.is_empty(), "{:?}", d.proposals);
    }
}
