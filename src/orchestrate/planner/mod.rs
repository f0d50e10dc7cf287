//! The planner agent: a brief, a budget and a goal in, a campaign plan out (objective, audiences,
//! channels with their budget split, schedule, creative concepts with copy, KPIs), validated
//! before anything is created.
//!
//! The model is never trusted with facts. Every name (campaign, ad sets, concepts), every
//! audience and every number (the split, dates, KPI targets) is composed by code from the brief
//! ([`compose`]); the model proposes short phrases only (each concept's angle, the ad copy),
//! under a JSON schema, and each phrase passes the guards ([`crate::orchestrate::guards`]) or is
//! replaced by copy written from the brief, recorded in the plan's `phrase_checks` and each
//! concept's `copy_sources`. The tool loop is bounded: at each step the model picks the next tool
//! from those not yet used (or `finish`); code runs it and writes the step's reason from what
//! the tool did. Tools the plan needs that the model did not pick (past results, the budget
//! split, copy) are then run by policy. Sampling is seeded from the brief's seed and the step,
//! so the same brief, seed and model give the same plan and trace.

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use time::Date;

use super::Platform;
use super::llm::{LlmError, TextBackend};
use crate::engine::text::ChatMessage;

pub mod compose;
mod plan;
mod tools;

use plan::assemble;
pub use plan::{
    CampaignPlan, Kpi, KpiTarget, PhraseChecks, PlanAudience, PlanChannel, PlanConcept, PlanPhase,
    PlanSchedule, RejectedPhrase, validate,
};
pub use tools::PlannerTool;
use tools::{ToolState, run_tool};

/// Tool calls the model may make before the plan is written.
pub const MAX_STEPS: usize = 6;
/// Creative concepts per plan.
pub const CONCEPTS: usize = 2;
/// Validation failures of the model's words the planner asks it to repair.
pub const MAX_REPAIRS: usize = 2;
/// Draws of one JSON answer when the model runs out of tokens or breaks the JSON.
pub const DRAWS: usize = 3;

/// A validated brief (the API checks every field before the job is accepted). Its texts are
/// the plan's facts: names, audiences and the numbers a phrase may state come from them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PlanBrief {
    /// The brand's name, as the user writes it.
    #[serde(default)]
    pub brand: Option<String>,
    pub product: String,
    /// 0 to 3 short phrases: what the product does for its buyers.
    #[serde(default)]
    pub benefits: Vec<String>,
    /// The offer, as the user writes it ("Free shipping on 2 bags").
    #[serde(default)]
    pub offer: Option<String>,
    pub audience: String,
    /// awareness, traffic, engagement, leads, app_promotion, sales.
    pub objective: String,
    pub currency: String,
    /// Over the whole schedule, micros.
    pub total_budget_micros: i64,
    pub start_date: String,
    pub end_date: String,
    pub platforms: Vec<Platform>,
    pub countries: Vec<String>,
    pub age_min: Option<u8>,
    pub age_max: Option<u8>,
    /// Interests to target, as the user writes them.
    #[serde(default)]
    pub interests: Vec<String>,
    /// The brand kit (colours, font, logo and product photo ids) stored with the campaign.
    #[serde(default)]
    pub brand_kit: Option<Value>,
    pub landing_url: String,
    pub seed: u64,
}

/// A platform's smallest daily budget adforge plans, in units of the campaign's currency
/// (adforge's conservative table: Meta and Google take about one unit a day per ad set, TikTok
/// asks 20 a day for an ad group; applied as-is to every currency).
pub fn min_daily_units(platform: Platform) -> i64 {
    match platform {
        Platform::Tiktok => 20,
        _ => 1,
    }
}

/// Platform names joined with commas, for prompts.
fn platform_names(platforms: &[Platform]) -> String {
    platforms
        .iter()
        .map(|p| p.name())
        .collect::<Vec<_>>()
        .join(", ")
}

/// Micros in one minor unit of `currency` (a cent: 10,000 when the code is not known).
pub fn minor_unit_micros(currency: &str) -> i64 {
    super::platforms::money::Currency::from_code(currency)
        .map_or(10_000, |c| c.micros_per_minor_unit())
}

/// Whole days from start to end, both included.
pub fn days(start: Date, end: Date) -> i64 {
    (end - start).whole_days() + 1
}

#[derive(Debug, thiserror::Error)]
pub enum PlanError {
    #[error(transparent)]
    Llm(#[from] LlmError),
    /// The plan breaks a rule; names the field.
    #[error("plan invalid: {0}")]
    Invalid(String),
    #[error("tool {tool}: {message}")]
    Tool { tool: String, message: String },
}

/// What the planner's tools reach outside the model (the store, the job queue).
#[async_trait]
pub trait PlannerTools: Send + Sync {
    /// Per platform: spend (units), impressions, clicks, conversions of the owner's earlier
    /// campaigns.
    async fn read_past_results(&self) -> Result<Value, String>;
    /// Submits preview renders of a concept's copy; returns what was submitted.
    async fn render_images(&self, platform: Platform, copy: &Value) -> Result<Value, String>;
    async fn render_video(&self, platform: Platform, copy: &Value) -> Result<Value, String>;
    /// Step `done` of about `total` has finished; `message` says what comes next.
    async fn progress(&self, _done: usize, _total: usize, _message: &str) {}
}

/// One recorded tool call.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ToolCall {
    pub step: usize,
    pub tool: String,
    /// `model` when the model picked it, `policy` when the plan needed it.
    pub chosen_by: String,
    pub reason: String,
    pub arguments: Value,
    pub result: Value,
}

/// The plan and the record of how it was made.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PlanOutcome {
    pub plan: CampaignPlan,
    pub trace: Vec<ToolCall>,
    pub model: String,
}

fn system() -> ChatMessage {
    ChatMessage::system(
        "You are a performance-marketing planner. You answer only in JSON, briefly and concretely.",
    )
}

fn brief_text(brief: &PlanBrief) -> String {
    let mut text = String::new();
    if let Some(brand) = &brief.brand {
        text.push_str(&format!("Brand: {brand}\n"));
    }
    text.push_str(&format!("Product: {}\n", brief.product));
    if !brief.benefits.is_empty() {
        text.push_str(&format!("Benefits: {}\n", brief.benefits.join("; ")));
    }
    if let Some(offer) = &brief.offer {
        text.push_str(&format!("Offer: {offer}\n"));
    }
    text.push_str(&format!(
        "Audience: {}\nGoal: {}\nPlatforms: {}",
        compose::audience_description(brief),
        brief.objective,
        platform_names(&brief.platforms),
    ));
    text
}

/// Splits `daily_micros` over the platforms: weights from past conversions per spend (each
/// platform's rate shrunk toward the pooled rate with the weight of 100 units of spend; equal
/// weights without history), every platform at least its minimum, rounded to whole minor units
/// (`unit` micros each) with the remainder given by largest fraction, so the parts sum exactly.
/// A daily budget in whole minor units gives parts in whole minor units.
pub fn budget_split(
    platforms: &[Platform],
    daily_micros: i64,
    unit: i64,
    past: &Value,
) -> Result<Vec<(Platform, i64, f64)>, String> {
    let unit = unit.max(1);
    let minimums: Vec<i64> = platforms
        .iter()
        .map(|p| min_daily_units(*p) * 1_000_000)
        .collect();
    let floor_total: i64 = minimums.iter().sum();
    if daily_micros < floor_total {
        return Err(format!(
            "budget: {:.2} a day is under the platforms' minimum of {:.2} a day ({})",
            daily_micros as f64 / 1e6,
            floor_total as f64 / 1e6,
            platforms
                .iter()
                .map(|p| format!("{p} {}", min_daily_units(*p)))
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    let stat = |p: &Platform, k: &str| {
        past.get(p.name())
            .and_then(|v| v.get(k))
            .and_then(Value::as_f64)
    };
    let (pooled_conv, pooled_spend) = platforms.iter().fold((0.0, 0.0), |(c, s), p| {
        (
            c + stat(p, "conversions").unwrap_or(0.0),
            s + stat(p, "spend").unwrap_or(0.0),
        )
    });
    let pooled = if pooled_spend > 0.0 {
        pooled_conv / pooled_spend
    } else {
        1.0
    };
    const PRIOR_SPEND: f64 = 100.0;
    let weights: Vec<f64> = platforms
        .iter()
        .map(|p| {
            let conv = stat(p, "conversions").unwrap_or(0.0);
            let spend = stat(p, "spend").unwrap_or(0.0);
            ((conv + pooled * PRIOR_SPEND) / (spend + PRIOR_SPEND)).max(1e-9)
        })
        .collect();
    // Shares by weight; a platform whose share is under its minimum gets the minimum and the
    // rest is shared again among the others ("water filling"), so an even split stays even
    // wherever the minimums allow.
    let n = platforms.len();
    let mut fixed = vec![false; n];
    let mut target = vec![0.0_f64; n];
    loop {
        let left = daily_micros
            - (0..n)
                .filter(|&i| fixed[i])
                .map(|i| minimums[i])
                .sum::<i64>();
        let free_w: f64 = (0..n).filter(|&i| !fixed[i]).map(|i| weights[i]).sum();
        let mut raised = false;
        for i in 0..n {
            target[i] = if fixed[i] {
                minimums[i] as f64
            } else {
                left as f64 * weights[i] / free_w
            };
            if !fixed[i] && target[i] < minimums[i] as f64 {
                fixed[i] = true;
                raised = true;
            }
        }
        if !raised {
            break;
        }
    }
    // Whole minor units, the leftover units by largest fraction.
    let whole = daily_micros / unit;
    let raw: Vec<f64> = target.iter().map(|t| t / unit as f64).collect();
    let mut units: Vec<i64> = raw.iter().map(|r| r.floor() as i64).collect();
    let mut left = whole - units.iter().sum::<i64>();
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by(|&a, &b| {
        (raw[b] - raw[b].floor())
            .total_cmp(&(raw[a] - raw[a].floor()))
            .then(a.cmp(&b))
    });
    for &i in order.iter().cycle().take(n * 2) {
        if left <= 0 {
            break;
        }
        units[i] += 1;
        left -= 1;
    }
    let remainder = daily_micros % unit; // a fraction of a unit goes to the first
    let sum_w: f64 = weights.iter().sum();
    Ok(platforms
        .iter()
        .enumerate()
        .map(|(i, p)| {
            let micros = units[i] * unit + if i == 0 { remainder } else { 0 };
            (*p, micros, weights[i] / sum_w)
        })
        .collect())
}

/// A creative concept before its copy: its name and lead (from the brief) and its angle (the
/// model's phrase when it passed the guards, else written from the brief).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Concept {
    pub(crate) name: String,
    pub(crate) angle: String,
    pub(crate) angle_source: &'static str,
}

/// Longest angle, in characters.
const ANGLE_CHARS: usize = 100;
/// What the model is asked for the angles (a phrase that echoes it is refused).
const ANGLE_INSTRUCTIONS: &str = "For each creative concept below, write its angle: one short \
    sentence on how the ad shows it. Use only facts from the brief; no names, numbers or dates \
    it does not give.";
/// The copywriter's system prompt (a phrase that echoes it is refused too).
const COPY_SYSTEM: &str = "You are an expert advertising copywriter. You write short, vivid, \
    truthful ad copy, using only the facts you are given.";
/// The fixed words of the copy request (around the platform, the brief and the concept), as the
/// echo check reads them.
const COPY_REQUEST: &str = "Write one ad. Answer in JSON.";

/// The concepts: names from the brief's leads, angles proposed by the model and checked.
async fn write_concepts(
    backend: &TextBackend,
    brief: &PlanBrief,
    checks: &mut PhraseChecks,
) -> Result<Vec<Concept>, PlanError> {
    let leads: Vec<String> = brief.leads().into_iter().take(CONCEPTS).collect();
    let angle = json!({"type": "string", "minLength": 10, "maxLength": ANGLE_CHARS});
    let schema = json!({"type": "object",
        "properties": {"angles": {"type": "array", "minItems": leads.len(), "maxItems": leads.len(),
            "items": angle}},
        "required": ["angles"], "additionalProperties": false});
    let ask = vec![
        system(),
        ChatMessage::user(format!(
            "{}\n{ANGLE_INSTRUCTIONS}\n{}",
            brief_text(brief),
            leads
                .iter()
                .enumerate()
                .map(|(i, l)| format!("{}. {l}", i + 1))
                .collect::<Vec<_>>()
                .join("\n")
        )),
    ];
    let proposed = backend
        .json_retrying(&ask, &schema, brief.seed, 200, DRAWS)
        .await?;
    let facts = brief.facts();
    Ok(leads
        .iter()
        .enumerate()
        .map(|(i, lead)| {
            let text = proposed["angles"][i].as_str().unwrap_or_default();
            let field = format!("concepts[{i}].angle");
            match checks.check(&field, text, &facts, ANGLE_CHARS) {
                Some(angle) => Concept {
                    name: lead.clone(),
                    angle,
                    angle_source: "model",
                },
                None => Concept {
                    name: lead.clone(),
                    angle: compose::fallback_angle(brief, lead),
                    angle_source: "brief",
                },
            }
        })
        .collect())
}

/// One planner run: what the tools have made so far and the record of each call.
struct Run<'a> {
    backend: &'a TextBackend,
    tools: &'a dyn PlannerTools,
    brief: &'a PlanBrief,
    concepts: Vec<Concept>,
    daily_micros: i64,
    state: ToolState,
    trace: Vec<ToolCall>,
    used: Vec<PlannerTool>,
}

/// Steps a plan takes at most: the angles, every tool, the plan itself.
const PROGRESS_STEPS: usize = PlannerTool::ALL.len() + 2;

impl Run<'_> {
    /// Runs `tool` (its prerequisites first, by policy) and records it with a reason written
    /// from what it did.
    async fn call(&mut self, tool: PlannerTool, chosen_by: &str) -> Result<(), PlanError> {
        for &needed in tool.prerequisites() {
            if !self.used.contains(&needed) {
                Box::pin(self.call(needed, "policy")).await?;
            }
        }
        self.tools
            .progress(
                self.trace.len() + 1,
                PROGRESS_STEPS,
                &format!(
                    "step {} of {PROGRESS_STEPS}: {}",
                    self.trace.len() + 2,
                    tool.doing()
                ),
            )
            .await;
        let call = run_tool(
            self.backend,
            self.tools,
            self.brief,
            &self.concepts,
            self.daily_micros,
            &mut self.state,
            tool,
            self.trace.len(),
        )
        .await?;
        self.trace.push(ToolCall {
            chosen_by: chosen_by.into(),
            ..call
        });
        self.used.push(tool);
        Ok(())
    }

    /// The model picks the next tool from those left (or `finish`); `None` when it finishes.
    async fn pick(&self, step: usize) -> Result<Option<PlannerTool>, PlanError> {
        let remaining: Vec<PlannerTool> = PlannerTool::ALL
            .into_iter()
            .filter(|t| !self.used.contains(t))
            .collect();
        if remaining.is_empty() {
            return Ok(None);
        }
        let mut choices: Vec<&str> = remaining.iter().map(|t| t.name()).collect();
        choices.push("finish");
        let done: Vec<String> = self
            .trace
            .iter()
            .map(|c| format!("- {}: {}", c.tool, c.reason))
            .collect();
        let schema = json!({"type": "object", "properties": {
            "tool": {"type": "string", "enum": choices}},
            "required": ["tool"], "additionalProperties": false});
        let ask = vec![
            system(),
            ChatMessage::user(format!(
                "{}\nTools: read_past_results (earlier campaigns' results), estimate_budget_split \
                 (daily budget per platform), generate_copy (ad copy per concept and platform), \
                 render_images (preview images), render_video (preview video), finish.\nDone so \
                 far:\n{}\nWhich tool next?",
                brief_text(self.brief),
                if done.is_empty() {
                    "- nothing".to_string()
                } else {
                    done.join("\n")
                }
            )),
        ];
        let pick = self
            .backend
            .json_retrying(
                &ask,
                &schema,
                self.brief
                    .seed
                    .wrapping_add(100 + step as u64 * DRAWS as u64),
                30,
                DRAWS,
            )
            .await?;
        // The schema's enum allows only the tools left and `finish`.
        Ok(pick["tool"].as_str().and_then(PlannerTool::from_name))
    }
}

/// Runs the planner; the plan is validated before it is returned.
pub async fn plan(
    backend: &TextBackend,
    tools: &dyn PlannerTools,
    brief: &PlanBrief,
) -> Result<PlanOutcome, PlanError> {
    let start = super::platforms::parse_iso_date(&brief.start_date)
        .map_err(|_| PlanError::Invalid("start_date: not a date".into()))?;
    let end = super::platforms::parse_iso_date(&brief.end_date)
        .map_err(|_| PlanError::Invalid("end_date: not a date".into()))?;
    if end < start {
        return Err(PlanError::Invalid(format!(
            "end_date: {} is before start_date {}",
            brief.end_date, brief.start_date
        )));
    }
    let n_days = days(start, end);
    // The daily budget in whole minor units of the currency (platforms and the campaign's own
    // checks refuse a fraction of one); what that leaves of the total is stated in the plan.
    let unit = minor_unit_micros(&brief.currency);
    let daily_micros = brief.total_budget_micros / n_days / unit * unit;

    tools
        .progress(
            0,
            PROGRESS_STEPS,
            &format!("step 1 of {PROGRESS_STEPS}: writing the concepts' angles"),
        )
        .await;
    let mut checks = PhraseChecks {
        instructions: format!("{ANGLE_INSTRUCTIONS} {COPY_SYSTEM} {COPY_REQUEST}"),
        ..PhraseChecks::default()
    };
    let concepts = write_concepts(backend, brief, &mut checks).await?;
    let mut run = Run {
        backend,
        tools,
        brief,
        concepts,
        daily_micros,
        state: ToolState {
            checks,
            ..ToolState::default()
        },
        trace: Vec::new(),
        used: Vec::new(),
    };
    for step in 0..MAX_STEPS {
        match run.pick(step).await? {
            Some(tool) => run.call(tool, "model").await?,
            None => break,
        }
    }
    for needed in PlannerTool::NEEDED {
        if !run.used.contains(&needed) {
            run.call(needed, "policy").await?;
        }
    }
    tools
        .progress(PROGRESS_STEPS - 1, PROGRESS_STEPS, "checking the plan")
        .await;
    let plan = assemble(brief, &run.concepts, &run.state, start, end, daily_micros)?;
    validate(&plan, brief)?;
    Ok(PlanOutcome {
        plan,
        trace: run.trace,
        model: backend.describe(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Plans over currencies (0, 2 and 3 decimals), totals that do not divide evenly, schedule
    /// lengths and platform sets: the daily budget and every ad set's are whole minor units
    /// (what the campaign's PATCH and the platforms require), the ad sets sum to the daily
    /// budget, and daily x days + unallocated is the brief's total exactly, with less than one
    /// minor unit a day unallocated.
    #[test]
    fn plans_keep_whole_minor_units_and_the_exact_total() {
        use crate::orchestrate::platforms::money::{Currency, Micros};
        let platform_sets: [&[Platform]; 4] = [
            &[Platform::Meta, Platform::Google, Platform::Tiktok],
            &[Platform::Sandbox],
            &[Platform::Google, Platform::Meta],
            &[Platform::Tiktok],
        ];
        let concepts = [Concept {
            name: "Morning".into(),
            angle: "calm".into(),
            angle_source: "brief",
        }];
        let start = Date::from_calendar_date(2026, time::Month::December, 14).unwrap();
        let mut checked = 0;
        for currency in ["USD", "JPY", "KWD", "EUR"] {
            let unit = minor_unit_micros(currency);
            let money = Currency::from_code(currency).unwrap();
            for total_units in [
                3_000_000_000_i64,
                1_400_000_000,
                999_990_000,
                12_345_678_000,
            ] {
                // Whole minor units of this currency, as the API accepts them.
                let total = total_units / unit * unit;
                for n_days in [1_i64, 7, 28, 31, 90] {
                    for platforms in platform_sets {
                        let end = start + time::Duration::days(n_days - 1);
                        let brief = PlanBrief {
                            brand: Some("Ridgeline Roasters".into()),
                            benefits: vec![],
                            offer: None,
                            interests: vec![],
                            brand_kit: None,
                            product: "coffee subscription".into(),
                            audience: String::new(),
                            objective: "sales".into(),
                            currency: currency.into(),
                            total_budget_micros: total,
                            start_date: start.to_string(),
                            end_date: end.to_string(),
                            platforms: platforms.to_vec(),
                            countries: vec!["US".into()],
                            age_min: None,
                            age_max: None,
                            landing_url: "https://example.com".into(),
                            seed: 1,
                        };
                        let daily = total / n_days / unit * unit;
                        let Ok(split) = budget_split(platforms, daily, unit, &json!({})) else {
                            continue; // under the platforms' minimum: the API refuses it
                        };
                        let state = ToolState {
                            split: Some(split),
                            ..ToolState::default()
                        };
                        let plan = assemble(&brief, &concepts, &state, start, end, daily).unwrap();
                        validate(&plan, &brief).unwrap();
                        assert_eq!(plan.total_budget_micros, total);
                        assert_eq!(
                            plan.daily_budget_micros * n_days + plan.unallocated_micros,
                            total
                        );
                        assert!((0..n_days * unit).contains(&plan.unallocated_micros));
                        Micros(plan.daily_budget_micros)
                            .to_minor_units(&money)
                            .unwrap();
                        for c in &plan.channels {
                            Micros(c.daily_budget_micros)
                                .to_minor_units(&money)
                                .unwrap();
                        }
                        assert_eq!(
                            plan.channels
                                .iter()
                                .map(|c| c.daily_budget_micros)
                                .sum::<i64>(),
                            plan.daily_budget_micros
                        );
                        checked += 1;
                    }
                }
            }
        }
        assert!(
            checked > 200,
            "only {checked} plans were within the minimums"
        );
        // The case: $3,000 over 28 days is 107.14 a day, 0.08 unallocated.
        let unit = minor_unit_micros("USD");
        let daily = 3_000_000_000 / 28 / unit * unit;
        assert_eq!((daily, 3_000_000_000 - daily * 28), (107_140_000, 80_000));
    }

    #[test]
    fn splits_sum_exactly_and_keep_minimums() {
        let platforms = vec![Platform::Meta, Platform::Tiktok, Platform::Google];
        let past = json!({"meta": {"spend": 1000.0, "conversions": 50.0},
                          "tiktok": {"spend": 1000.0, "conversions": 10.0}});
        let split = budget_split(&platforms, 100_333_333, 10_000, &past).unwrap();
        assert_eq!(split.iter().map(|s| s.1).sum::<i64>(), 100_333_333);
        assert!(split[1].1 >= 20_000_000);
        assert!(split[0].1 > split[2].1 && split[2].1 > 20_000_000 - 1);
        assert!(budget_split(&platforms, 21_000_000, 10_000, &past).is_err());
        let even = budget_split(
            &[Platform::Meta, Platform::Google],
            50_000_000,
            10_000,
            &json!({}),
        )
        .unwrap();
        assert_eq!((even[0].1, even[1].1), (25_000_000, 25_000_000));
        // The plan: 107.14 a day over three platforms is even (TikTok's minimum of 20
        // is below its share), the leftover cent by largest fraction.
        let three = budget_split(
            &[Platform::Meta, Platform::Google, Platform::Tiktok],
            107_140_000,
            10_000,
            &json!({}),
        )
        .unwrap();
        let parts: Vec<i64> = three.iter().map(|s| s.1).collect();
        assert_eq!(parts, [35_720_000, 35_710_000, 35_710_000]);
        // A share under a minimum is raised to it and the rest shared evenly.
        let low = budget_split(
            &[Platform::Meta, Platform::Google, Platform::Tiktok],
            40_000_000,
            10_000,
            &json!({}),
        )
        .unwrap();
        let parts: Vec<i64> = low.iter().map(|s| s.1).collect();
        assert_eq!(parts, [10_000_000, 10_000_000, 20_000_000]);
    }
}
