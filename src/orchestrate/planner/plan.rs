//! The campaign plan the planner returns: its typed shape (what `campaign.plan` stores as
//! JSON beside the draft campaign), assembled from the model's checked words and the numbers the
//! planner computes (budget split, schedule, KPI targets), and the rules it must keep before
//! anything is created from it.

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use time::Date;

use super::tools::ToolState;
use super::{Concept, PlanBrief, PlanError, compose, days, min_daily_units};
use crate::orchestrate::Platform;
use crate::orchestrate::copy::CopyLimits;
use crate::orchestrate::guards::{Facts, check_echo, check_phrase};

/// A campaign plan: what `campaign.plan` stores (as JSON, in this shape) beside the draft
/// campaign and its ad sets. Names, audiences, numbers and dates are composed by code from the
/// brief; the model's phrases (angles, copy) are used only where they passed the guards.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CampaignPlan {
    /// "Brand · Product · Mon YYYY", from the brief.
    pub name: String,
    /// The brief's brand (null when it named none).
    #[serde(default)]
    pub brand: Option<String>,
    pub objective: String,
    pub currency: String,
    /// The brief's total, exactly.
    pub total_budget_micros: i64,
    /// Whole minor units of the currency: the total over the schedule, rounded down.
    pub daily_budget_micros: i64,
    /// What the whole-minor-unit daily budget leaves of the total over the schedule (less than
    /// one minor unit a day): not allocated to any day, so never spent. `daily_budget_micros`
    /// times the schedule's days plus this is the total.
    pub unallocated_micros: i64,
    pub schedule: PlanSchedule,
    /// One ad set per platform, with its share of the daily budget.
    pub channels: Vec<PlanChannel>,
    pub concepts: Vec<PlanConcept>,
    pub kpis: Vec<Kpi>,
    pub landing_url: String,
    /// The preview jobs the planner's render tools submitted.
    pub previews: Vec<Value>,
    /// How many of the model's phrases were proposed and passed the guards, and why the others
    /// were refused.
    #[serde(default)]
    pub phrase_checks: PhraseChecks,
}

/// The guards' record over one plan.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PhraseChecks {
    /// Phrases the model proposed.
    pub proposed: usize,
    /// Of those, used as written.
    pub accepted: usize,
    /// The first refused ones (at most [`PhraseChecks::KEEP`]), with the rule they broke.
    pub rejected: Vec<RejectedPhrase>,
    /// The instructions the phrases are asked with: a phrase that echoes them is refused.
    #[serde(skip)]
    pub instructions: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RejectedPhrase {
    /// Where it was to go: `concepts[0].angle`, `concepts[1].copy.meta.headline`.
    pub field: String,
    pub text: String,
    pub reason: String,
}

impl PhraseChecks {
    /// Refused phrases kept in the plan.
    pub const KEEP: usize = 24;

    /// Checks one proposed phrase; answers it (tidied) when it passed, and records it.
    pub fn check(&mut self, field: &str, text: &str, facts: &Facts, max: usize) -> Option<String> {
        self.check_with(field, text, facts, max, |_| Ok(()))
    }

    /// [`check`](Self::check) with the caller's own rule on the tidied phrase (a minimum
    /// length, another field it must not repeat); a phrase it refuses is recorded as refused.
    pub fn check_with(
        &mut self,
        field: &str,
        text: &str,
        facts: &Facts,
        max: usize,
        rule: impl FnOnce(&str) -> Result<(), String>,
    ) -> Option<String> {
        self.proposed += 1;
        let checked = check_phrase(text, facts, max)
            .and_then(|ok| check_echo(&ok, &self.instructions).map(|()| ok))
            .map_err(|why| why.to_string())
            .and_then(|ok| rule(&ok).map(|()| ok));
        match checked {
            Ok(ok) => {
                self.accepted += 1;
                Some(ok)
            }
            Err(why) => {
                self.refuse(field, text, why);
                None
            }
        }
    }

    /// Records a proposed phrase refused for `reason`.
    fn refuse(&mut self, field: &str, text: &str, reason: String) {
        if self.rejected.len() < Self::KEEP {
            self.rejected.push(RejectedPhrase {
                field: field.into(),
                text: text.chars().take(200).collect(),
                reason,
            });
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PlanSchedule {
    pub start_date: String,
    pub end_date: String,
    /// Whole days, both ends included.
    pub days: i64,
    pub phases: Vec<PlanPhase>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PlanPhase {
    pub name: String,
    pub days: i64,
    pub rule: String,
}

/// One platform's ad set in the plan.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PlanChannel {
    pub platform: Platform,
    pub daily_budget_micros: i64,
    /// Of the plan's daily budget, rounded to 4 places.
    pub share: f64,
    /// The split's weight for this platform (from past results, or even).
    pub weight: f64,
    pub audience: PlanAudience,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PlanAudience {
    /// "Meta · US, CA · 25–54": the platform and who it reaches.
    pub name: Option<String>,
    /// The brief's audience, in the user's words.
    pub description: Option<String>,
    pub countries: Vec<String>,
    pub age_min: Option<u8>,
    pub age_max: Option<u8>,
    #[serde(default)]
    pub interests: Vec<String>,
}

/// A creative concept: its name (what it leads with, from the brief), angle and copy per
/// platform (`null` when no copy was made).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PlanConcept {
    pub name: Option<String>,
    pub angle: Option<String>,
    pub copy: Value,
    /// Per platform and field (and `angle`): `model` (its phrase passed the guards) or `brief`
    /// (written from the brief instead).
    #[serde(default)]
    pub copy_sources: Value,
}

/// A KPI target and where it comes from (`past results`, `defaults (no history)`, `brief`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Kpi {
    pub name: String,
    pub target: KpiTarget,
    pub basis: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum KpiTarget {
    Number(f64),
    Text(String),
}

/// KPI targets from past results (or stated defaults per objective) and the plan's budget.
fn kpis(brief: &PlanBrief, past: &Value, daily_micros: i64, n_days: i64) -> Vec<Kpi> {
    let totals =
        past.as_object()
            .into_iter()
            .flatten()
            .fold((0.0, 0.0, 0.0, 0.0), |acc, (_, v)| {
                let g = |k: &str| v.get(k).and_then(Value::as_f64).unwrap_or(0.0);
                (
                    acc.0 + g("spend"),
                    acc.1 + g("impressions"),
                    acc.2 + g("clicks"),
                    acc.3 + g("conversions"),
                )
            });
    let (spend, impressions, clicks, conversions) = totals;
    let history = impressions > 0.0 && clicks > 0.0 && conversions > 0.0;
    // Defaults: CTR 1%, conversion rate 2% of clicks, CPM 10 units.
    let ctr = if history { clicks / impressions } else { 0.01 };
    let cvr = if history { conversions / clicks } else { 0.02 };
    let cpm = if history {
        spend / impressions * 1000.0
    } else {
        10.0
    };
    let total = daily_micros as f64 * n_days as f64 / 1e6;
    let expected_impressions = total / cpm * 1000.0;
    let expected_conversions = expected_impressions * ctr * cvr;
    let basis = if history {
        "past results"
    } else {
        "defaults (no history)"
    };
    let cpa = if expected_conversions > 0.0 {
        (total / expected_conversions * 100.0).round() / 100.0
    } else {
        0.0
    };
    let kpi = |name: &str, target: KpiTarget, basis: &str| Kpi {
        name: name.into(),
        target,
        basis: basis.into(),
    };
    vec![
        kpi("ctr", KpiTarget::Number((ctr * 1e4).round() / 1e4), basis),
        kpi(
            "conversion_rate",
            KpiTarget::Number((cvr * 1e4).round() / 1e4),
            basis,
        ),
        kpi("cpa", KpiTarget::Number(cpa), basis),
        kpi(
            "conversions",
            KpiTarget::Number(expected_conversions.round()),
            basis,
        ),
        kpi(
            "objective",
            KpiTarget::Text(brief.objective.clone()),
            "brief",
        ),
    ]
}

pub(super) fn assemble(
    brief: &PlanBrief,
    concepts: &[Concept],
    state: &ToolState,
    start: Date,
    end: Date,
    daily_micros: i64,
) -> Result<CampaignPlan, PlanError> {
    let split = state
        .split
        .as_ref()
        .ok_or_else(|| PlanError::Invalid("channels: no budget split".into()))?;
    let n_days = days(start, end);
    let learning = n_days.min(3);
    let channels = split
        .iter()
        .map(|(platform, micros, weight)| PlanChannel {
            platform: *platform,
            daily_budget_micros: *micros,
            share: (*micros as f64 / daily_micros as f64 * 1e4).round() / 1e4,
            weight: *weight,
            audience: PlanAudience {
                name: Some(compose::ad_set_name(brief, *platform)),
                description: Some(compose::audience_description(brief)),
                countries: brief.countries.clone(),
                age_min: brief.age_min,
                age_max: brief.age_max,
                interests: brief.interests.clone(),
            },
        })
        .collect();
    let concepts = concepts
        .iter()
        .enumerate()
        .map(|(i, c)| {
            let made = state.copy.as_ref().and_then(|all| all.get(i));
            let mut sources = made
                .map(|v| v["sources"].clone())
                .unwrap_or_else(|| json!({}));
            sources["angle"] = json!(c.angle_source);
            PlanConcept {
                name: Some(c.name.clone()),
                angle: Some(c.angle.clone()),
                copy: made.map(|v| v["copy"].clone()).unwrap_or(Value::Null),
                copy_sources: sources,
            }
        })
        .collect();
    let past = state.past.clone().unwrap_or_else(|| json!({}));
    let phase = |name: &str, days: i64, rule: &str| PlanPhase {
        name: name.into(),
        days,
        rule: rule.into(),
    };
    Ok(CampaignPlan {
        name: compose::campaign_name(brief, start),
        brand: brief.brand.clone(),
        objective: brief.objective.clone(),
        currency: brief.currency.clone(),
        total_budget_micros: brief.total_budget_micros,
        daily_budget_micros: daily_micros,
        unallocated_micros: brief.total_budget_micros - daily_micros * n_days,
        schedule: PlanSchedule {
            start_date: brief.start_date.clone(),
            end_date: brief.end_date.clone(),
            days: n_days,
            phases: vec![
                phase(
                    "learning",
                    learning,
                    "even split inside each ad set; no optimizer actions",
                ),
                phase(
                    "optimise",
                    n_days - learning,
                    "the optimizer proposes actions daily",
                ),
            ],
        },
        channels,
        concepts,
        kpis: kpis(brief, &past, daily_micros, n_days),
        landing_url: brief.landing_url.clone(),
        previews: state.previews.clone(),
        phrase_checks: state.checks.clone(),
    })
}

/// The rules a plan must keep before anything is created from it.
pub fn validate(plan: &CampaignPlan, brief: &PlanBrief) -> Result<(), PlanError> {
    let bad = |m: String| Err(PlanError::Invalid(m));
    let daily = plan.daily_budget_micros;
    let unit = super::minor_unit_micros(&brief.currency);
    let days = plan.schedule.days;
    if plan.total_budget_micros != brief.total_budget_micros
        || daily * days + plan.unallocated_micros != plan.total_budget_micros
        || !(0..days * unit).contains(&plan.unallocated_micros)
    {
        return bad(format!(
            "total_budget_micros: {} a day for {days} days and {} unallocated is not the \
             brief's total of {}",
            daily, plan.unallocated_micros, brief.total_budget_micros
        ));
    }
    if let Some((i, c)) = plan
        .channels
        .iter()
        .enumerate()
        .find(|(_, c)| c.daily_budget_micros % unit != 0)
    {
        return bad(format!(
            "channels[{i}].daily_budget_micros: {} is not a whole number of {} minor units",
            c.daily_budget_micros, brief.currency
        ));
    }
    let sum: i64 = plan.channels.iter().map(|c| c.daily_budget_micros).sum();
    if daily <= 0 || sum != daily {
        return bad(format!(
            "channels: daily budgets sum to {sum} micros, the plan's daily budget is {daily}"
        ));
    }
    for (i, c) in plan.channels.iter().enumerate() {
        let min = min_daily_units(c.platform) * 1_000_000;
        if c.daily_budget_micros < min {
            return bad(format!(
                "channels[{i}].daily_budget_micros: under {}'s minimum of {min}",
                c.platform
            ));
        }
    }
    if plan.schedule.end_date < plan.schedule.start_date {
        return bad("schedule: end_date is before start_date".into());
    }
    for (i, concept) in plan.concepts.iter().enumerate() {
        for platform in &brief.platforms {
            let limits = CopyLimits::of(*platform);
            let copy = &concept.copy[platform.name()];
            for field in &limits.fields {
                let chars = copy[field.field].as_str().map_or(0, |s| s.chars().count());
                if chars > field.max_chars {
                    return bad(format!(
                        "concepts[{i}].copy.{platform}.{}: {chars} characters, the limit is {}",
                        field.field, field.max_chars
                    ));
                }
            }
        }
    }
    Ok(())
}
