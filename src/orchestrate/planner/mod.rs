//! The planner agent: a brief, a budget and a goal in, a campaign plan out (objective, audiences,
//! channels with their budget split, schedule, creative concepts with copy, KPIs), validated
//! before anything is created.
//!
//! The model writes words only, always under a JSON schema: the campaign name, the creative
//! concepts, audience names, and the copy. Every number (the split, dates, KPI targets) is
//! computed here (ISSUE-NOTES: a 135M model cannot be trusted with numbers). The tool loop is
//! bounded: at each step the model picks the next tool from those not yet used (or `finish`),
//! with a one-line reason; code runs it and records the call and its result. Tools the plan
//! needs that the model did not pick (past results, the budget split, copy) are then run by
//! policy and recorded as such. Sampling is seeded from the brief's seed and the step, so the
//! same brief, seed and model give the same plan and trace.

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use time::Date;

use super::Platform;
use super::llm::{LlmError, TextBackend};
use crate::engine::text::ChatMessage;

mod plan;
mod tools;

use plan::assemble;
pub use plan::{
    CampaignPlan, Kpi, KpiTarget, PlanAudience, PlanChannel, PlanConcept, PlanPhase, PlanSchedule,
    validate,
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

/// A validated brief (the API checks every field before the job is accepted).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PlanBrief {
    pub product: String,
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
    format!(
        "Product: {}\nAudience: {}\nGoal: {}\nPlatforms: {}\nCountries: {}\nSchedule: {} to {}",
        brief.product,
        brief.audience,
        brief.objective,
        platform_names(&brief.platforms),
        brief.countries.join(", "),
        brief.start_date,
        brief.end_date
    )
}

fn words_schema(n_platforms: usize) -> Value {
    let short = |max: usize| json!({"type": "string", "minLength": 3, "maxLength": max});
    json!({
        "type": "object",
        "properties": {
            "campaign_name": short(60),
            "concepts": {"type": "array", "minItems": CONCEPTS, "maxItems": CONCEPTS,
                "items": {"type": "object", "properties": {"name": short(40), "angle": short(120)},
                    "required": ["name", "angle"], "additionalProperties": false}},
            "audiences": {"type": "array", "minItems": n_platforms, "maxItems": n_platforms,
                "items": {"type": "object", "properties": {"name": short(40), "description": short(120)},
                    "required": ["name", "description"], "additionalProperties": false}}
        },
        "required": ["campaign_name", "concepts", "audiences"],
        "additionalProperties": false
    })
}

/// Checks the model's words beyond the schema (the schema cannot say "not blank").
fn check_words(words: &Value) -> Result<(), String> {
    let blank = |v: &Value| v.as_str().is_none_or(|s| s.trim().len() < 3);
    if blank(&words["campaign_name"]) {
        return Err("campaign_name: must have at least 3 visible characters".into());
    }
    for list in ["concepts", "audiences"] {
        for (i, item) in words[list].as_array().into_iter().flatten().enumerate() {
            for (key, value) in item.as_object().into_iter().flatten() {
                if blank(value) {
                    return Err(format!(
                        "{list}[{i}].{key}: must have at least 3 visible characters"
                    ));
                }
            }
        }
    }
    Ok(())
}

/// The lists' names, lower-cased, in order.
fn names(words: &Value, list: &str) -> Vec<String> {
    words[list]
        .as_array()
        .into_iter()
        .flatten()
        .map(|item| {
            item["name"]
                .as_str()
                .unwrap_or_default()
                .trim()
                .to_lowercase()
        })
        .collect()
}

/// Two concepts (or audiences) under one name cannot be told apart in a report: the model is
/// asked to fix it while repairs remain.
fn check_distinct(words: &Value) -> Result<(), String> {
    for list in ["concepts", "audiences"] {
        let names = names(words, list);
        for (i, name) in names.iter().enumerate() {
            if names[..i].contains(name) {
                return Err(format!(
                    "{list}[{i}].name: `{name}` is used twice; give each its own name"
                ));
            }
        }
    }
    Ok(())
}

/// Names as people write them: a small model sometimes joins words with `_`.
fn tidy_names(words: &mut Value) {
    let tidy = |text: &str| {
        text.replace('_', " ")
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ")
    };
    if let Some(name) = words["campaign_name"].as_str() {
        words["campaign_name"] = json!(tidy(name));
    }
    for list in ["concepts", "audiences"] {
        for item in words[list].as_array_mut().into_iter().flatten() {
            if let Some(name) = item["name"].as_str() {
                item["name"] = json!(tidy(name));
            }
        }
    }
}

/// After the last repair, a repeated name gets a number (" 2", " 3") so every name is distinct.
fn make_distinct(words: &mut Value) {
    for list in ["concepts", "audiences"] {
        let lower = names(words, list);
        let Some(items) = words[list].as_array_mut() else {
            continue;
        };
        for (i, item) in items.iter_mut().enumerate() {
            let repeats = lower[..i].iter().filter(|n| **n == lower[i]).count();
            if repeats > 0 {
                let name = item["name"].as_str().unwrap_or_default().trim().to_string();
                item["name"] = json!(format!("{name} {}", repeats + 1));
            }
        }
    }
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
    let sum_w: f64 = weights.iter().sum();
    let spare = (daily_micros - floor_total) / unit; // minor units to share
    let raw: Vec<f64> = weights.iter().map(|w| spare as f64 * w / sum_w).collect();
    let mut cents: Vec<i64> = raw.iter().map(|r| r.floor() as i64).collect();
    let mut left = spare - cents.iter().sum::<i64>();
    let mut order: Vec<usize> = (0..raw.len()).collect();
    order.sort_by(|&a, &b| {
        (raw[b] - raw[b].floor())
            .total_cmp(&(raw[a] - raw[a].floor()))
            .then(a.cmp(&b))
    });
    for &i in order.iter().cycle().take(raw.len() * 2) {
        if left == 0 {
            break;
        }
        cents[i] += 1;
        left -= 1;
    }
    let remainder = (daily_micros - floor_total) % unit; // a fraction of a unit goes to the first
    Ok(platforms
        .iter()
        .enumerate()
        .map(|(i, p)| {
            let micros = minimums[i] + cents[i] * unit + if i == 0 { remainder } else { 0 };
            (*p, micros, weights[i] / sum_w)
        })
        .collect())
}

/// The model's words (campaign name, concepts, audiences) under their schema, repaired at
/// most [`MAX_REPAIRS`] times when they break a rule, then tidied and made distinct.
async fn write_words(backend: &TextBackend, brief: &PlanBrief) -> Result<Value, PlanError> {
    let schema = words_schema(brief.platforms.len());
    let mut messages = vec![
        system(),
        ChatMessage::user(format!(
            "{}\nName the campaign, give {CONCEPTS} creative concepts (a name and the angle of \
             each) and one audience per platform ({}).",
            brief_text(brief),
            platform_names(&brief.platforms)
        )),
    ];
    let mut words = Value::Null;
    for attempt in 0..=MAX_REPAIRS {
        words = backend
            .json_retrying(
                &messages,
                &schema,
                brief.seed.wrapping_add(attempt as u64 * DRAWS as u64),
                400,
                DRAWS,
            )
            .await?;
        let checked = check_words(&words).and_then(|()| {
            if attempt < MAX_REPAIRS {
                check_distinct(&words)
            } else {
                Ok(())
            }
        });
        match checked {
            Ok(()) => break,
            Err(problem) if attempt < MAX_REPAIRS => {
                messages.push(ChatMessage {
                    role: "assistant".into(),
                    content: words.to_string(),
                });
                messages.push(ChatMessage::user(format!(
                    "Fix this and answer again: {problem}"
                )));
            }
            Err(problem) => return Err(PlanError::Invalid(problem)),
        }
    }
    tidy_names(&mut words);
    make_distinct(&mut words);
    Ok(words)
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
    let mut trace: Vec<ToolCall> = Vec::new();

    let words = write_words(backend, brief).await?;

    // The tool loop.
    let mut state = ToolState::default();
    let mut used: Vec<PlannerTool> = Vec::new();
    for step in 0..MAX_STEPS {
        let remaining: Vec<PlannerTool> = PlannerTool::ALL
            .into_iter()
            .filter(|t| !used.contains(t))
            .collect();
        if remaining.is_empty() {
            break;
        }
        let mut choices: Vec<&str> = remaining.iter().map(|t| t.name()).collect();
        choices.push("finish");
        let done: Vec<String> = trace
            .iter()
            .map(|c| format!("- {} -> {}", c.tool, summary(&c.result)))
            .collect();
        let pick_schema = json!({"type": "object", "properties": {
            "tool": {"type": "string", "enum": choices},
            "reason": {"type": "string", "minLength": 3, "maxLength": 100}},
            "required": ["tool", "reason"], "additionalProperties": false});
        let ask = vec![
            system(),
            ChatMessage::user(format!(
                "{}\nTools: read_past_results (earlier campaigns' results), estimate_budget_split \
                 (daily budget per platform), generate_copy (ad copy per concept and platform), \
                 render_images (preview images), render_video (preview video), finish.\nDone so \
                 far:\n{}\nWhich tool next, and why?",
                brief_text(brief),
                if done.is_empty() {
                    "- nothing".to_string()
                } else {
                    done.join("\n")
                }
            )),
        ];
        let pick = backend
            .json_retrying(
                &ask,
                &pick_schema,
                brief.seed.wrapping_add(100 + step as u64 * DRAWS as u64),
                60,
                DRAWS,
            )
            .await?;
        // The schema's enum allows only the tools left and `finish`.
        let Some(tool) = pick["tool"].as_str().and_then(PlannerTool::from_name) else {
            break;
        };
        let reason = pick["reason"].as_str().unwrap_or_default().to_string();
        for &needed in tool.prerequisites() {
            if !used.contains(&needed) {
                let call = run_tool(
                    backend,
                    tools,
                    brief,
                    &words,
                    daily_micros,
                    &mut state,
                    needed,
                    trace.len(),
                )
                .await?;
                trace.push(ToolCall {
                    chosen_by: "policy".into(),
                    reason: format!("{} needs {}", tool.name(), needed.name()),
                    ..call
                });
                used.push(needed);
            }
        }
        let call = run_tool(
            backend,
            tools,
            brief,
            &words,
            daily_micros,
            &mut state,
            tool,
            trace.len(),
        )
        .await?;
        trace.push(ToolCall {
            chosen_by: "model".into(),
            reason,
            ..call
        });
        used.push(tool);
    }
    for needed in PlannerTool::NEEDED {
        if !used.contains(&needed) {
            let call = run_tool(
                backend,
                tools,
                brief,
                &words,
                daily_micros,
                &mut state,
                needed,
                trace.len(),
            )
            .await?;
            trace.push(ToolCall {
                chosen_by: "policy".into(),
                reason: "the plan needs it".into(),
                ..call
            });
            used.push(needed);
        }
    }
    let plan = assemble(brief, &words, &state, start, end, daily_micros)?;
    validate(&plan, brief)?;
    Ok(PlanOutcome {
        plan,
        trace,
        model: backend.describe(),
    })
}

fn summary(result: &Value) -> String {
    let text = result.to_string();
    text.chars().take(160).collect()
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
        let words = json!({"campaign_name": "Ridgeline Roasters",
            "concepts": [{"name": "Morning", "angle": "calm"}],
            "audiences": [{"name": "Home brewers", "description": "people who brew at home"}]});
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
                        let plan = assemble(&brief, &words, &state, start, end, daily).unwrap();
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
    fn repeated_names_are_asked_again_then_numbered() {
        let mut words = json!({"campaign_name": "Cold brew",
            "concepts": [{"name": "Morning", "angle": "calm"}, {"name": "morning ", "angle": "fast"}],
            "audiences": [{"name": "Commuters", "description": "people on trains"}]});
        assert!(check_words(&words).is_ok());
        let problem = check_distinct(&words).unwrap_err();
        assert!(problem.starts_with("concepts[1].name"), "{problem}");
        make_distinct(&mut words);
        assert_eq!(words["concepts"][0]["name"], "Morning");
        let mut joined =
            json!({"campaign_name": "Cold_Brew__Now", "concepts": [], "audiences": []});
        tidy_names(&mut joined);
        assert_eq!(joined["campaign_name"], "Cold Brew Now");
        assert_eq!(words["concepts"][1]["name"], "morning 2");
        assert!(check_distinct(&words).is_ok());
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
    }
}
