//! The optimizer agent's decision: a campaign's daily results per creative (the arms of each
//! platform's ad set) and per platform, turned into proposed actions with the numbers behind
//! each, or into the reason there is none. Code decides; nothing here is written by a model.
//!
//! Everything is judged on the campaign objective's metric (`objective::ObjectiveMetric`: ROAS,
//! CPA or CTR), the one the campaign report's A/B headline uses too. The statistics are the
//! analytics layer's Thompson-sampling bandit (`analytics::bandit`) with its Gamma-Poisson
//! likelihood over counts per unit of exposure, fed with the metric's counts ([`counts`]):
//! revenue in units of the platform's mean value per conversion over spend (ROAS), conversions
//! over spend (CPA), clicks over hundreds of impressions (CTR). The prior is one count at the
//! pooled rate of the arms compared, so it shrinks toward the arms' own average, not toward an
//! arbitrary one. Arms without delivery are left out (a creative that never ran is no rival).
//!
//! - `scale_winner`: a platform's bandit declares a winner (probability of being best at least
//!   the policy's `win_probability` and mSPRT p < alpha against the runner-up): pause the other
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

use super::analytics::AnalyticsError;
use super::analytics::bandit::{
    Allocation, BanditConfig, GammaParams, Likelihood, Observation, Optimizer, Winner,
};
use super::objective::{ObjectiveMetric, Totals, money};

/// When the optimizer proposes what.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct OptimizerPolicy {
    /// Days with data a platform needs before anything is proposed there.
    pub min_days: u32,
    /// Currency units an arm must have spent before it can be paused.
    pub min_spend: f64,
    /// An arm under this probability of being best is paused.
    pub pause_below: f64,
    /// Probability of being best a winner needs (with the always-valid test).
    pub win_probability: f64,
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
            win_probability: 0.95,
            shift_probability: 0.9,
            shift_fraction: 0.2,
            seed: 7,
        }
    }
}

/// One creative's daily delivery on one platform, oldest day first.
#[derive(Debug, Clone, PartialEq)]
pub struct ArmSeries {
    pub creative_id: String,
    /// What a marketer calls it (concept and format); the id when it has no name.
    pub name: String,
    pub platform: String,
    /// False when it is paused already (it is neither proposed nor counted as a rival).
    pub active: bool,
    /// Day (YYYY-MM-DD) -> that day's totals.
    pub days: BTreeMap<String, Totals>,
}

/// One platform's ad set and its daily budget (micros).
#[derive(Debug, Clone, PartialEq)]
pub struct AdSetBudget {
    pub ad_set_id: String,
    pub platform: String,
    pub daily_budget_micros: i64,
    pub min_daily_micros: i64,
}

/// What the decision is judged on: the metric and the campaign's currency (for the sentences).
#[derive(Debug, Clone, Copy)]
pub struct Scope<'a> {
    pub metric: ObjectiveMetric,
    pub currency: &'a str,
}

/// The numbers behind a proposal, as fields (also in its `params.evidence`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ProposalEvidence {
    /// `roas`, `cpa` or `ctr`.
    pub metric: String,
    /// The metric of the creative (or platform) the action is about; null where undefined
    /// (a CPA without conversions).
    pub value: Option<f64>,
    /// The metric of the leader (for a winner or a platform receiving budget: its own).
    pub leader_value: Option<f64>,
    /// The others pooled (a winner's rivals, the platforms giving budget); null for a pause.
    pub others_value: Option<f64>,
    /// Posterior probability that the subject is the best.
    pub probability_best: f64,
    /// Days with data.
    pub days: u32,
    /// What the subject has spent, in currency units.
    pub spend: f64,
}

/// What the optimizer proposes.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Proposal {
    pub kind: &'static str,
    /// The action's arguments, and `evidence` (a [`ProposalEvidence`]).
    pub params: Value,
    /// A sentence a marketer reads, with the numbers.
    pub reason: String,
}

/// The proposals and the evidence behind them (recorded as the run's trace).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Decision {
    pub proposals: Vec<Proposal>,
    pub evidence: Vec<Value>,
    /// The metric everything was judged on.
    pub metric: ObjectiveMetric,
    /// Why nothing is proposed, in words and numbers; `None` when something is.
    pub no_proposal_reason: Option<String>,
}

/// One group of arms looked at (a platform's creatives, or the platforms): its proposals and,
/// when it has none, why.
struct Outcome {
    proposals: Vec<Proposal>,
    evidence: Value,
    waiting: Option<String>,
}

impl Outcome {
    fn waiting(evidence: Value, why: String) -> Self {
        Self {
            proposals: Vec::new(),
            evidence,
            waiting: Some(why),
        }
    }
}

/// A probability as a marketer reads it: `71%`, `4.7%` (one decimal under 10%, so a value
/// just under a 5% threshold never reads as 5%), `under 1%`, `over 99%`.
fn percent(p: f64) -> String {
    let x = 100.0 * p;
    if p < 0.005 {
        "under 1%".into()
    } else if p > 0.995 {
        "over 99%".into()
    } else if x < 10.0 && (x - x.round()).abs() >= 0.05 {
        format!("{x:.1}%")
    } else {
        format!("{x:.0}%")
    }
}

/// A p-value as a reader should see it: never `0.0000`.
fn p_value(p: f64) -> String {
    if p < 0.0001 {
        "p < 0.0001".into()
    } else {
        format!("p = {p:.4}")
    }
}

fn total(s: &ArmSeries) -> Totals {
    let mut t = Totals::default();
    for d in s.days.values() {
        t.add(d);
    }
    t
}

/// The days with data over some arms, sorted.
fn days_of(series: &[&ArmSeries]) -> Vec<String> {
    let mut all: Vec<String> = series.iter().flat_map(|s| s.days.keys().cloned()).collect();
    all.sort();
    all.dedup();
    all
}

/// The count and exposure the bandit reads for `metric` (Gamma-Poisson: counts per unit of
/// exposure): revenue in `unit`s over spend (ROAS), conversions over spend (CPA), clicks over
/// hundreds of impressions (CTR; one exposure unit is then one cent of the sequential test).
pub fn counts(metric: ObjectiveMetric, t: &Totals, unit: f64) -> (f64, f64) {
    match metric {
        ObjectiveMetric::Roas => (t.revenue / unit, t.spend),
        ObjectiveMetric::Cpa => (t.conversions, t.spend),
        ObjectiveMetric::Ctr => (t.clicks as f64, t.impressions as f64 / 100.0),
    }
}

/// The unit of revenue counted as one event for ROAS: the mean value per conversion over the
/// arms (their whole revenue when they have none), so counts have Poisson-like spread.
fn revenue_unit(series: &[&ArmSeries]) -> f64 {
    let t = series.iter().fold(Totals::default(), |mut acc, s| {
        acc.add(&total(s));
        acc
    });
    if t.conversions >= 1.0 {
        t.revenue / t.conversions
    } else {
        t.revenue.max(1e-9)
    }
}

/// Each day's observations, arm by arm, in whole counts rounded on the running sum (so the
/// totals stay exact within half a count); missing days count as zero.
fn observations(
    series: &[&ArmSeries],
    days: &[String],
    metric: ObjectiveMetric,
    unit: f64,
) -> Vec<Vec<Observation>> {
    let mut running = vec![(0.0f64, 0u64); series.len()];
    days.iter()
        .map(|day| {
            series
                .iter()
                .zip(running.iter_mut())
                .map(|(s, (sum, emitted))| {
                    let t = s.days.get(day).copied().unwrap_or_default();
                    let (count, exposure) = counts(metric, &t, unit);
                    *sum += count.max(0.0);
                    let whole = sum.round() as u64;
                    let today = whole.saturating_sub(*emitted);
                    *emitted = whole.max(*emitted);
                    Observation {
                        spend: exposure.max(0.0),
                        impressions: 0,
                        clicks: 0,
                        conversions: today,
                    }
                })
                .collect()
        })
        .collect()
}

/// The bandit over `series` on `metric`, fed every day: the allocation, or `None` when the arms
/// have no count at all yet (nothing to compare).
fn run_bandit(
    series: &[&ArmSeries],
    days: &[String],
    metric: ObjectiveMetric,
    policy: &OptimizerPolicy,
    seed: u64,
) -> Result<Option<Allocation>, AnalyticsError> {
    let unit = revenue_unit(series);
    let daily = observations(series, days, metric, unit);
    let (count, exposure) = daily
        .iter()
        .flatten()
        .fold((0u64, 0.0), |(c, e), o| (c + o.conversions, e + o.spend));
    if count == 0 || exposure <= 0.0 {
        return Ok(None);
    }
    let config = BanditConfig {
        likelihood: Likelihood::GammaPoisson,
        seed,
        win_probability: policy.win_probability,
        // One count at the pooled rate: shrinks toward the arms' own average.
        spend_prior: GammaParams {
            shape: 1.0,
            rate: exposure / count as f64,
        },
        ..BanditConfig::default()
    };
    let mut optimizer = Optimizer::new(series.len(), config)?;
    for day in daily {
        optimizer.observe(&day)?;
    }
    optimizer.allocate(1.0).map(Some)
}

/// What is missing before `series` (one platform's creatives, or the platforms) can be
/// compared: no delivery, too few days, one arm, no counts. `what` names the arms.
fn not_ready(
    series: &[&ArmSeries],
    days: usize,
    policy: &OptimizerPolicy,
    metric: ObjectiveMetric,
    what: &str,
) -> Option<String> {
    if series.is_empty() || days == 0 {
        return Some("no synced metrics yet".into());
    }
    if (days as u32) < policy.min_days {
        return Some(format!(
            "{days} of {} days of data before the optimizer acts (policy min_days {})",
            policy.min_days, policy.min_days
        ));
    }
    if series.len() < 2 {
        return Some(format!(
            "only one {what} is delivering; a comparison needs two"
        ));
    }
    let t = series.iter().fold(Totals::default(), |mut acc, s| {
        acc.add(&total(s));
        acc
    });
    let (count, _) = counts(metric, &t, 1.0);
    (count <= 0.0).then(|| {
        let counted = match metric {
            ObjectiveMetric::Roas => "revenue",
            ObjectiveMetric::Cpa => "conversions",
            ObjectiveMetric::Ctr => "clicks",
        };
        format!("no {counted} yet after {days} days")
    })
}

/// The proposals for a campaign's results, judged on `scope.metric`, or why there are none.
pub fn decide(
    arms: &[ArmSeries],
    ad_sets: &[AdSetBudget],
    policy: &OptimizerPolicy,
    scope: Scope<'_>,
) -> Result<Decision, AnalyticsError> {
    let mut platforms: BTreeMap<&str, Vec<&ArmSeries>> = BTreeMap::new();
    for arm in arms.iter().filter(|a| a.active) {
        platforms
            .entry(arm.platform.as_str())
            .or_default()
            .push(arm);
    }
    let mut outcomes = Vec::new();
    for (platform, series) in &platforms {
        outcomes.push((
            platform.to_string(),
            creatives(platform, series, policy, scope)?,
        ));
    }
    if let Some(shift) = shift_budget(arms, ad_sets, policy, scope)? {
        outcomes.push(("budget between platforms".into(), shift));
    }
    let mut decision = assemble(outcomes, scope.metric);
    if platforms.is_empty() {
        decision.no_proposal_reason = Some(if arms.is_empty() {
            "no creatives yet".into()
        } else {
            "every creative is paused".into()
        });
    }
    Ok(decision)
}

/// The outcomes put together; the reasons for waiting joined (named by platform when they
/// differ) when nothing is proposed.
fn assemble(outcomes: Vec<(String, Outcome)>, metric: ObjectiveMetric) -> Decision {
    let mut proposals = Vec::new();
    let mut evidence = Vec::new();
    let mut waiting: Vec<(String, String)> = Vec::new();
    for (name, o) in outcomes {
        proposals.extend(o.proposals);
        evidence.push(o.evidence);
        waiting.extend(o.waiting.map(|w| (name, w)));
    }
    let no_proposal_reason = proposals.is_empty().then(|| {
        let same = waiting.windows(2).all(|w| w[0].1 == w[1].1);
        match (waiting.len(), same) {
            (0, _) => "nothing to compare yet".to_string(),
            (_, true) => waiting[0].1.clone(),
            _ => waiting
                .iter()
                .map(|(name, why)| format!("{name}: {why}"))
                .collect::<Vec<_>>()
                .join("; "),
        }
    });
    Decision {
        proposals,
        evidence,
        metric,
        no_proposal_reason,
    }
}

/// One platform's creatives: a winner scaled, losers paused, or why neither.
fn creatives(
    platform: &str,
    series: &[&ArmSeries],
    policy: &OptimizerPolicy,
    scope: Scope<'_>,
) -> Result<Outcome, AnalyticsError> {
    let delivering: Vec<&ArmSeries> = series
        .iter()
        .copied()
        .filter(|s| {
            let t = total(s);
            t.spend > 0.0 || t.impressions > 0
        })
        .collect();
    let days = days_of(&delivering);
    let mut evidence = json!({"platform": platform, "metric": scope.metric.name(),
        "arms": series.len(), "delivering": delivering.len(), "days": days.len()});
    let ready = not_ready(&delivering, days.len(), policy, scope.metric, "creative");
    let allocation = match ready {
        Some(why) => None.ok_or(why),
        None => run_bandit(&delivering, &days, scope.metric, policy, policy.seed)?
            .ok_or_else(|| "nothing to compare yet".to_string()),
    };
    let allocation = match allocation {
        Ok(a) => a,
        Err(why) => {
            evidence["decision"] = json!(why);
            return Ok(Outcome::waiting(evidence, why));
        }
    };
    let arms = Arms {
        series: &delivering,
        allocation: &allocation,
        days: days.len() as u32,
        scope,
    };
    evidence["arms"] = json!(arms.view());
    evidence["leader"] = json!(delivering[allocation.leader].creative_id);
    evidence["winner"] = json!(allocation.winner.map(|w| &delivering[w.arm].creative_id));
    let proposals = match allocation.winner {
        Some(w) => vec![arms.scale_winner(platform, w)],
        None => arms.pauses(platform, policy),
    };
    let waiting = proposals.is_empty().then(|| arms.waiting(policy));
    Ok(Outcome {
        proposals,
        evidence,
        waiting,
    })
}

/// One platform's delivering creatives with the bandit's allocation over them.
struct Arms<'a> {
    series: &'a [&'a ArmSeries],
    allocation: &'a Allocation,
    days: u32,
    scope: Scope<'a>,
}

impl Arms<'_> {
    fn value(&self, i: usize) -> Option<f64> {
        self.scope.metric.value(&total(self.series[i]))
    }

    fn show(&self, i: usize) -> String {
        format!(
            "{} {}",
            self.scope.metric.label(),
            self.scope
                .metric
                .describe(self.value(i), self.scope.currency)
        )
    }

    fn shown_value(&self, i: usize) -> String {
        self.scope
            .metric
            .describe(self.value(i), self.scope.currency)
    }

    /// Each arm's numbers, for the run's trace.
    fn view(&self) -> Vec<Value> {
        self.series
            .iter()
            .zip(&self.allocation.arms)
            .enumerate()
            .map(|(i, (s, d))| {
                let t = total(s);
                json!({"creative_id": s.creative_id, "name": s.name, "spend": t.spend,
                    "conversions": t.conversions, "revenue": t.revenue, "clicks": t.clicks,
                    "impressions": t.impressions, "value": self.value(i),
                    "probability_best": d.probability_best, "p_value_vs_leader": d.p_value_vs_leader})
            })
            .collect()
    }

    fn evidence(&self, i: usize, others_value: Option<f64>) -> Value {
        json!(ProposalEvidence {
            metric: self.scope.metric.name().into(),
            value: self.value(i),
            leader_value: self.value(self.allocation.leader),
            others_value,
            probability_best: self.allocation.arms[i].probability_best,
            days: self.days,
            spend: total(self.series[i]).spend,
        })
    }

    /// The declared winner takes the ad set: the others are paused.
    fn scale_winner(&self, platform: &str, w: Winner) -> Proposal {
        let best = self.series[w.arm];
        let others: Vec<usize> = (0..self.series.len()).filter(|&i| i != w.arm).collect();
        let mut rest = Totals::default();
        for &i in &others {
            rest.add(&total(self.series[i]));
        }
        let others_value = self.scope.metric.value(&rest);
        let n = others.len();
        Proposal {
            kind: "scale_winner",
            params: json!({"platform": platform, "creative_id": best.creative_id,
                "pause": others.iter().map(|&i| &self.series[i].creative_id).collect::<Vec<_>>(),
                "evidence": self.evidence(w.arm, others_value)}),
            reason: format!(
                "Creative '{}' leads on {} with {} against {} for the others; {} chance to be best \
                 after {} days and {} spent (always-valid {} against '{}'); pausing the \
                 other {n} creative{} gives it the ad set's whole budget.",
                best.name,
                self.scope.metric.label(),
                self.shown_value(w.arm),
                self.scope
                    .metric
                    .describe(others_value, self.scope.currency),
                percent(w.probability_best),
                self.days,
                money(total(best).spend, self.scope.currency),
                p_value(w.p_value),
                self.series[w.runner_up].name,
                if n == 1 { "" } else { "s" },
            ),
        }
    }

    /// Every arm under `pause_below` that has spent `min_spend`.
    fn pauses(&self, platform: &str, policy: &OptimizerPolicy) -> Vec<Proposal> {
        let leader = self.allocation.leader;
        (0..self.series.len())
            .filter(|&i| {
                self.allocation.arms[i].probability_best < policy.pause_below
                    && total(self.series[i]).spend >= policy.min_spend
            })
            .map(|i| Proposal {
                kind: "pause_creative",
                params: json!({"platform": platform, "creative_id": self.series[i].creative_id,
                    "evidence": self.evidence(i, None)}),
                reason: format!(
                    "Creative '{}' has {} against {} for the leader '{}'; {} chance to be best \
                     after {} days and {} spent; pausing it moves its share to the others.",
                    self.series[i].name,
                    self.show(i),
                    self.shown_value(leader),
                    self.series[leader].name,
                    percent(self.allocation.arms[i].probability_best),
                    self.days,
                    money(total(self.series[i]).spend, self.scope.currency),
                ),
            })
            .collect()
    }

    /// Why neither a winner nor a pause: the leader's probability against the thresholds, the
    /// sequential test still open, or a loser that has not spent enough yet.
    fn waiting(&self, policy: &OptimizerPolicy) -> String {
        let a = self.allocation;
        let (leader, p) = (a.leader, a.arms[a.leader].probability_best);
        let name = &self.series[leader].name;
        let alpha = BanditConfig::default().alpha;
        let runner_up = (0..self.series.len())
            .filter(|&i| i != leader)
            .max_by(|&x, &y| {
                a.arms[x]
                    .posterior_mean
                    .total_cmp(&a.arms[y].posterior_mean)
            });
        if let Some(r) = runner_up.filter(|_| p >= policy.win_probability) {
            return format!(
                "leader '{name}' ({}) at {} chance to be best, but the always-valid test against \
                 '{}' has {}; a winner needs under {alpha}",
                self.show(leader),
                percent(p),
                self.series[r].name,
                p_value(a.arms[r].p_value_vs_leader)
            );
        }
        let lowest = (0..self.series.len())
            .min_by(|&x, &y| {
                a.arms[x]
                    .probability_best
                    .total_cmp(&a.arms[y].probability_best)
            })
            .unwrap_or(leader);
        let low_p = a.arms[lowest].probability_best;
        if low_p < policy.pause_below {
            return format!(
                "'{}' ({}) is at {} chance to be best but has spent {} of the policy's min_spend {}",
                self.series[lowest].name,
                self.show(lowest),
                percent(low_p),
                money(total(self.series[lowest]).spend, self.scope.currency),
                money(policy.min_spend, self.scope.currency)
            );
        }
        format!(
            "leader '{name}' ({}) at {} chance to be best; proposals start at {} (scale the \
             leader) or under {} for another creative (pause it; the lowest, '{}', is at {})",
            self.show(leader),
            percent(p),
            percent(policy.win_probability),
            percent(policy.pause_below),
            self.series[lowest].name,
            percent(low_p)
        )
    }
}

/// One merged series per ad set's platform (every creative's days there, paused ones too).
fn merged_platforms(arms: &[ArmSeries], ad_sets: &[AdSetBudget]) -> Vec<ArmSeries> {
    ad_sets
        .iter()
        .map(|a| {
            let mut days: BTreeMap<String, Totals> = BTreeMap::new();
            for arm in arms.iter().filter(|s| s.platform == a.platform) {
                for (day, o) in &arm.days {
                    days.entry(day.clone()).or_default().add(o);
                }
            }
            ArmSeries {
                creative_id: a.ad_set_id.clone(),
                name: a.platform.clone(),
                platform: a.platform.clone(),
                active: true,
                days,
            }
        })
        .collect()
}

/// A budget shift between platforms, when one is clearly better on the metric; `None` with
/// fewer than two delivering ad sets.
fn shift_budget(
    arms: &[ArmSeries],
    ad_sets: &[AdSetBudget],
    policy: &OptimizerPolicy,
    scope: Scope<'_>,
) -> Result<Option<Outcome>, AnalyticsError> {
    let merged = merged_platforms(arms, ad_sets);
    let live: Vec<usize> = (0..merged.len())
        .filter(|&i| !merged[i].days.is_empty())
        .collect();
    if live.len() < 2 {
        return Ok(None);
    }
    let refs: Vec<&ArmSeries> = live.iter().map(|&i| &merged[i]).collect();
    let days = days_of(&refs);
    let evidence = json!({"level": "platform", "metric": scope.metric.name(), "days": days.len()});
    if let Some(why) = not_ready(&refs, days.len(), policy, scope.metric, "platform") {
        return Ok(Some(Outcome::waiting(evidence, why)));
    }
    let Some(allocation) = run_bandit(&refs, &days, scope.metric, policy, policy.seed ^ 0xa5)?
    else {
        return Ok(None);
    };
    let live_sets: Vec<&AdSetBudget> = live.iter().map(|&i| &ad_sets[i]).collect();
    let shift = Shift {
        series: &refs,
        ad_sets: &live_sets,
        allocation: &allocation,
        days: days.len() as u32,
        scope,
    };
    Ok(Some(shift.outcome(policy, evidence)))
}

/// The platforms compared, with the bandit's allocation over them.
struct Shift<'a> {
    series: &'a [&'a ArmSeries],
    ad_sets: &'a [&'a AdSetBudget],
    allocation: &'a Allocation,
    days: u32,
    scope: Scope<'a>,
}

impl Shift<'_> {
    /// The proposal, or why there is none.
    fn outcome(&self, policy: &OptimizerPolicy, mut evidence: Value) -> Outcome {
        let leader = self.allocation.leader;
        let p = self.allocation.arms[leader].probability_best;
        let value = self.scope.metric.value(&total(self.series[leader]));
        let shown = format!(
            "{} {}",
            self.scope.metric.label(),
            self.scope.metric.describe(value, self.scope.currency)
        );
        evidence["probability_best"] = json!(
            self.allocation
                .arms
                .iter()
                .map(|a| a.probability_best)
                .collect::<Vec<_>>()
        );
        evidence["leader"] = json!(self.ad_sets[leader].platform);
        if p < policy.shift_probability {
            let why = format!(
                "platform leader {} ({shown}) at {} chance to be best; budget shifts start at {}",
                self.ad_sets[leader].platform,
                percent(p),
                percent(policy.shift_probability)
            );
            return Outcome::waiting(evidence, why);
        }
        let (moves, gained) = self.moves(policy);
        if gained == 0 {
            let why = format!(
                "platform leader {} ({shown}) at {} chance to be best, but every other platform \
                 is at its minimum daily budget",
                self.ad_sets[leader].platform,
                percent(p)
            );
            return Outcome::waiting(evidence, why);
        }
        Outcome {
            proposals: vec![self.proposal(moves, gained, policy)],
            evidence,
            waiting: None,
        }
    }

    /// The new daily budgets: `shift_fraction` of each other platform's (whole cents, never
    /// under its minimum) to the leader; and the micros gained.
    fn moves(&self, policy: &OptimizerPolicy) -> (Vec<Value>, i64) {
        let leader = self.allocation.leader;
        let mut moves = Vec::new();
        let mut gained = 0i64;
        for (_, a) in self
            .ad_sets
            .iter()
            .enumerate()
            .filter(|(i, _)| *i != leader)
        {
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
        let to = self.ad_sets[leader];
        moves.push(json!({"ad_set_id": to.ad_set_id, "platform": to.platform,
            "daily_budget_micros": to.daily_budget_micros + gained}));
        (moves, gained)
    }

    fn proposal(&self, moves: Vec<Value>, gained: i64, policy: &OptimizerPolicy) -> Proposal {
        let leader = self.allocation.leader;
        let metric = self.scope.metric;
        let mut rest = Totals::default();
        for (_, s) in self.series.iter().enumerate().filter(|(i, _)| *i != leader) {
            rest.add(&total(s));
        }
        let lead = total(self.series[leader]);
        let evidence = ProposalEvidence {
            metric: metric.name().into(),
            value: metric.value(&lead),
            leader_value: metric.value(&lead),
            others_value: metric.value(&rest),
            probability_best: self.allocation.arms[leader].probability_best,
            days: self.days,
            spend: lead.spend,
        };
        let reason = format!(
            "{} has {} {} against {} for the other platforms; {} chance to be best after {} days \
             and {} spent there: move {} a day to it ({:.0}% of each other platform's budget, \
             never under its minimum).",
            self.ad_sets[leader].platform,
            metric.label(),
            metric.describe(evidence.value, self.scope.currency),
            metric.describe(evidence.others_value, self.scope.currency),
            percent(evidence.probability_best),
            self.days,
            money(lead.spend, self.scope.currency),
            money(gained as f64 / 1e6, self.scope.currency),
            policy.shift_fraction * 100.0
        );
        Proposal {
            kind: "shift_budget",
            params: json!({"budgets": moves, "evidence": evidence}),
            reason,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CPA: Scope<'static> = Scope {
        metric: ObjectiveMetric::Cpa,
        currency: "USD",
    };
    const ROAS: Scope<'static> = Scope {
        metric: ObjectiveMetric::Roas,
        currency: "USD",
    };

    /// `days` days of `spend` a day with `conversions` and `revenue` a day.
    fn arm(id: &str, days: u32, spend: f64, conversions: f64, revenue: f64) -> ArmSeries {
        ArmSeries {
            creative_id: id.into(),
            name: format!("Concept {id} · meta_feed_square"),
            platform: "sandbox".into(),
            active: true,
            days: (0..days)
                .map(|d| {
                    let day = time::Date::from_calendar_date(2026, time::Month::December, 1)
                        .unwrap()
                        + time::Duration::days(d.into());
                    (
                        day.to_string(),
                        Totals {
                            spend,
                            impressions: 5000,
                            clicks: 100,
                            conversions,
                            revenue,
                        },
                    )
                })
                .collect(),
        }
    }

    /// $50 a day converting at `rate` conversions per unit of spend.
    fn series(id: &str, rate: f64, days: u32) -> ArmSeries {
        arm(id, days, 50.0, (50.0 * rate).floor(), 0.0)
    }

    #[test]
    fn a_clear_winner_is_scaled_and_too_little_data_waits() {
        // "idle" never delivered: it is no rival and is not paused.
        let arms = [
            series("a", 0.4, 10),
            series("b", 0.1, 10),
            arm("idle", 0, 0.0, 0.0, 0.0),
        ];
        let d = decide(&arms, &[], &OptimizerPolicy::default(), CPA).unwrap();
        assert_eq!(d.proposals.len(), 1, "{:?}", d.proposals);
        assert_eq!(d.proposals[0].kind, "scale_winner");
        assert_eq!(d.proposals[0].params["creative_id"], "a");
        assert_eq!(d.proposals[0].params["pause"], json!(["b"]));
        assert_eq!(d.no_proposal_reason, None);
        let early = [series("a", 0.4, 2), series("b", 0.1, 2)];
        let d = decide(&early, &[], &OptimizerPolicy::default(), CPA).unwrap();
        assert!(d.proposals.is_empty());
        assert_eq!(
            d.no_proposal_reason.as_deref(),
            Some("2 of 5 days of data before the optimizer acts (policy min_days 5)")
        );
    }

    #[test]
    fn equal_arms_get_no_action_and_say_why() {
        let arms = [series("a", 0.2, 10), series("b", 0.2, 10)];
        let d = decide(&arms, &[], &OptimizerPolicy::default(), CPA).unwrap();
        assert!(d.proposals.is_empty(), "{:?}", d.proposals);
        let why = d.no_proposal_reason.unwrap();
        let leader = d.evidence[0]["leader"].as_str().unwrap();
        let p = d.evidence[0]["arms"]
            .as_array()
            .unwrap()
            .iter()
            .find(|a| a["creative_id"] == leader)
            .unwrap()["probability_best"]
            .as_f64()
            .unwrap();
        assert!(
            why.starts_with(&format!(
                "leader 'Concept {leader} · meta_feed_square' (CPA $5.00) at {:.0}% chance to be best; proposals start at 95%",
                100.0 * p
            )),
            "{why}"
        );
        assert!(why.contains("under 5% for another creative"), "{why}");
    }

    #[test]
    fn no_metrics_and_too_few_days_are_named() {
        let none = [arm("a", 0, 0.0, 0.0, 0.0), arm("b", 0, 0.0, 0.0, 0.0)];
        let d = decide(&none, &[], &OptimizerPolicy::default(), ROAS).unwrap();
        assert_eq!(
            d.no_proposal_reason.as_deref(),
            Some("no synced metrics yet")
        );
        let three = [arm("a", 3, 10.0, 1.0, 5.0), arm("b", 3, 10.0, 1.0, 9.0)];
        let d = decide(&three, &[], &OptimizerPolicy::default(), ROAS).unwrap();
        assert_eq!(
            d.no_proposal_reason.as_deref(),
            Some("3 of 5 days of data before the optimizer acts (policy min_days 5)")
        );
        assert_eq!(d.metric, ObjectiveMetric::Roas);
    }

    /// 42 days, $310 each: "a" converts twice as often as the others but earns ROAS 0.26x
    /// against 0.64x and 0.60x.
    fn roas_case() -> [ArmSeries; 3] {
        let spend = 310.0 / 42.0;
        [
            arm("a", 42, spend, 1.0, 0.26 * spend),
            arm("b", 42, spend, 0.5, 0.64 * spend),
            arm("c", 42, spend, 0.5, 0.60 * spend),
        ]
    }

    #[test]
    fn a_low_roas_creative_is_paused_with_its_numbers() {
        let d = decide(&roas_case(), &[], &OptimizerPolicy::default(), ROAS).unwrap();
        assert_eq!(d.proposals.len(), 1, "{:#?}", d);
        let p = &d.proposals[0];
        assert_eq!(p.kind, "pause_creative");
        assert_eq!(p.params["creative_id"], "a");
        for part in [
            "Creative 'Concept a · meta_feed_square' has ROAS 0.26x against 0.64x for the leader 'Concept b · meta_feed_square'",
            "after 42 days and $310 spent; pausing it moves its share to the others.",
        ] {
            assert!(p.reason.contains(part), "{part} missing from {}", p.reason);
        }
        let e: ProposalEvidence = serde_json::from_value(p.params["evidence"].clone()).unwrap();
        assert_eq!((e.metric.as_str(), e.days), ("roas", 42));
        assert!(
            (e.value.unwrap() - 0.26).abs() < 1e-9 && (e.leader_value.unwrap() - 0.64).abs() < 1e-9
        );
        assert!(
            e.probability_best < 0.05 && (e.spend - 310.0).abs() < 1e-6,
            "{e:?}"
        );
        assert_eq!(d.no_proposal_reason, None);
        // On conversions per spend the same creative leads: the metric is what changed.
        let cpa = decide(&roas_case(), &[], &OptimizerPolicy::default(), CPA).unwrap();
        assert!(
            cpa.proposals.iter().all(|p| p.params["creative_id"] != "a"),
            "{cpa:#?}"
        );
    }

    #[test]
    fn probabilities_read_plainly() {
        let shown: Vec<String> = [0.001, 0.0465, 0.05, 0.02, 0.71, 0.999]
            .into_iter()
            .map(percent)
            .collect();
        assert_eq!(shown, ["under 1%", "4.7%", "5%", "2%", "71%", "over 99%"]);
    }

    #[test]
    fn budget_moves_to_the_platform_with_the_better_roas() {
        let mut meta = arm("m", 14, 50.0, 2.0, 100.0);
        meta.platform = "meta".into();
        let mut google = arm("g", 14, 50.0, 1.0, 25.0);
        google.platform = "google".into();
        let sets = [("s1", "meta"), ("s2", "google")].map(|(id, p)| AdSetBudget {
            ad_set_id: id.into(),
            platform: p.into(),
            daily_budget_micros: 50_000_000,
            min_daily_micros: 1_000_000,
        });
        let d = decide(&[meta, google], &sets, &OptimizerPolicy::default(), ROAS).unwrap();
        let shift = d
            .proposals
            .iter()
            .find(|p| p.kind == "shift_budget")
            .unwrap();
        assert_eq!(
            shift.params["budgets"][1]["daily_budget_micros"],
            60_000_000
        );
        assert!(
            shift
                .reason
                .starts_with("meta has ROAS 2.00x against 0.50x"),
            "{}",
            shift.reason
        );
    }
}
