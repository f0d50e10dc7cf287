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
use super::copy::CopyLimits;
use super::llm::{LlmError, TextBackend};
use crate::engine::text::ChatMessage;

/// Tool calls the model may make before the plan is written.
pub const MAX_STEPS: usize = 6;
/// Creative concepts per plan.
pub const CONCEPTS: usize = 2;
/// Validation failures of the model's words the planner asks it to repair.
pub const MAX_REPAIRS: usize = 2;
/// Draws of one JSON answer when the model runs out of tokens or breaks the JSON.
pub const DRAWS: usize = 3;
pub const TOOLS: &[&str] = &[
    "read_past_results",
    "estimate_budget_split",
    "generate_copy",
    "render_images",
    "render_video",
];

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
    pub platforms: Vec<String>,
    pub countries: Vec<String>,
    pub age_min: Option<u8>,
    pub age_max: Option<u8>,
    pub landing_url: String,
    pub seed: u64,
}

/// A platform's smallest daily budget adforge plans, in units of the campaign's currency
/// (adforge's conservative table: Meta and Google take about one unit a day per ad set, TikTok
/// asks 20 a day for an ad group; applied as-is to every currency).
pub fn min_daily_units(platform: &str) -> i64 {
    match platform {
        "tiktok" => 20,
        _ => 1,
    }
}

/// The copy limits of a campaign platform (the sandbox behaves like Meta).
pub fn copy_platform(platform: &str) -> Platform {
    match platform {
        "google" => Platform::Google,
        "tiktok" => Platform::Tiktok,
        _ => Platform::Meta,
    }
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
    async fn render_images(&self, platform: &str, copy: &Value) -> Result<Value, String>;
    async fn render_video(&self, platform: &str, copy: &Value) -> Result<Value, String>;
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
    pub plan: Value,
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
        brief.platforms.join(", "),
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
/// of 0.01 with the remainder given by largest fraction, so the parts sum exactly.
pub fn budget_split(
    platforms: &[String],
    daily_micros: i64,
    past: &Value,
) -> Result<Vec<(String, i64, f64)>, String> {
    const UNIT: i64 = 10_000; // one cent in micros
    let minimums: Vec<i64> = platforms
        .iter()
        .map(|p| min_daily_units(p) * 1_000_000)
        .collect();
    let floor_total: i64 = minimums.iter().sum();
    if daily_micros < floor_total {
        return Err(format!(
            "budget: {:.2} a day is under the platforms' minimum of {:.2} a day ({})",
            daily_micros as f64 / 1e6,
            floor_total as f64 / 1e6,
            platforms
                .iter()
                .map(|p| format!("{p} {}", min_daily_units(p)))
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    let stat = |p: &str, k: &str| past.get(p).and_then(|v| v.get(k)).and_then(Value::as_f64);
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
    let spare = (daily_micros - floor_total) / UNIT; // cents to share
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
    let remainder = (daily_micros - floor_total) % UNIT; // sub-cent rest goes to the first
    Ok(platforms
        .iter()
        .enumerate()
        .map(|(i, p)| {
            let micros = minimums[i] + cents[i] * UNIT + if i == 0 { remainder } else { 0 };
            (p.clone(), micros, weights[i] / sum_w)
        })
        .collect())
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
    let daily_micros = brief.total_budget_micros / n_days;
    let mut trace: Vec<ToolCall> = Vec::new();

    // The words: name, concepts, audiences (bounded repair when they break a rule).
    let schema = words_schema(brief.platforms.len());
    let mut messages = vec![
        system(),
        ChatMessage::user(format!(
            "{}\nName the campaign, give {CONCEPTS} creative concepts (a name and the angle of \
             each) and one audience per platform ({}).",
            brief_text(brief),
            brief.platforms.join(", ")
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

    // The tool loop.
    let mut state = ToolState::default();
    let mut used: Vec<String> = Vec::new();
    for step in 0..MAX_STEPS {
        let remaining: Vec<&str> = TOOLS
            .iter()
            .copied()
            .filter(|t| !used.iter().any(|u| u == t))
            .collect();
        if remaining.is_empty() {
            break;
        }
        let mut choices: Vec<&str> = remaining.clone();
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
        let tool = pick["tool"].as_str().unwrap_or("finish").to_string();
        if tool == "finish" {
            break;
        }
        let reason = pick["reason"].as_str().unwrap_or_default().to_string();
        for needed in prerequisites(&tool) {
            if !used.iter().any(|u| u == needed) {
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
                    reason: format!("{tool} needs {needed}"),
                    ..call
                });
                used.push(needed.to_string());
            }
        }
        let call = run_tool(
            backend,
            tools,
            brief,
            &words,
            daily_micros,
            &mut state,
            &tool,
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
    for needed in [
        "read_past_results",
        "estimate_budget_split",
        "generate_copy",
    ] {
        if !used.iter().any(|u| u == needed) {
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
            used.push(needed.to_string());
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

fn prerequisites(tool: &str) -> &'static [&'static str] {
    match tool {
        "estimate_budget_split" => &["read_past_results"],
        "render_images" | "render_video" => &["generate_copy"],
        _ => &[],
    }
}

#[derive(Default)]
struct ToolState {
    past: Option<Value>,
    split: Option<Vec<(String, i64, f64)>>,
    /// Per concept, per platform: the copy.
    copy: Option<Vec<Value>>,
    previews: Vec<Value>,
}

#[allow(clippy::too_many_arguments)]
async fn run_tool(
    backend: &TextBackend,
    tools: &dyn PlannerTools,
    brief: &PlanBrief,
    words: &Value,
    daily_micros: i64,
    state: &mut ToolState,
    tool: &str,
    step: usize,
) -> Result<ToolCall, PlanError> {
    let fail = |message: String| PlanError::Tool {
        tool: tool.to_string(),
        message,
    };
    let (arguments, result) = match tool {
        "read_past_results" => {
            let past = tools.read_past_results().await.map_err(fail)?;
            state.past = Some(past.clone());
            (json!({}), past)
        }
        "estimate_budget_split" => {
            let past = state.past.clone().unwrap_or_else(|| json!({}));
            let split =
                budget_split(&brief.platforms, daily_micros, &past).map_err(PlanError::Invalid)?;
            let result = json!(
                split
                    .iter()
                    .map(|(p, m, w)| json!({"platform": p,
                "daily_budget_micros": m, "weight": w}))
                    .collect::<Vec<_>>()
            );
            state.split = Some(split);
            (
                json!({"daily_budget_micros": daily_micros, "platforms": brief.platforms}),
                result,
            )
        }
        "generate_copy" => {
            let mut all = Vec::new();
            for (c, concept) in words["concepts"]
                .as_array()
                .into_iter()
                .flatten()
                .enumerate()
            {
                let mut per_platform = serde_json::Map::new();
                for (p, platform) in brief.platforms.iter().enumerate() {
                    let limits = CopyLimits::of(copy_platform(platform));
                    let ask = vec![
                        ChatMessage::system(
                            "You are an expert advertising copywriter. You write short, vivid, truthful ad copy.",
                        ),
                        ChatMessage::user(format!(
                            "Write one ad for {}.\nProduct: {}\nAudience: {}\nConcept: {} ({})\n\
                             Answer in JSON.",
                            limits.platform.label(),
                            brief.product,
                            brief.audience,
                            concept["name"].as_str().unwrap_or_default(),
                            concept["angle"].as_str().unwrap_or_default()
                        )),
                    ];
                    let seed = brief.seed.wrapping_add(1000 + (c * 16 + p) as u64);
                    let copy = backend
                        .json_retrying(&ask, &limits.schema(), seed, 220, DRAWS)
                        .await?;
                    per_platform.insert(platform.clone(), copy);
                }
                all.push(json!({"concept": concept["name"], "copy": per_platform}));
            }
            state.copy = Some(all.clone());
            (
                json!({"concepts": CONCEPTS, "platforms": brief.platforms}),
                json!(all),
            )
        }
        "render_images" | "render_video" => {
            let Some(copy) = state.copy.as_ref().and_then(|c| c.first()).cloned() else {
                return Err(fail("no copy yet".into()));
            };
            let platform = brief.platforms.first().cloned().unwrap_or_default();
            let this = &copy["copy"][&platform];
            let result = if tool == "render_images" {
                tools.render_images(&platform, this).await
            } else {
                tools.render_video(&platform, this).await
            }
            .map_err(fail)?;
            state.previews.push(json!({"tool": tool, "result": result}));
            (
                json!({"platform": platform, "concept": copy["concept"]}),
                result,
            )
        }
        other => return Err(fail(format!("unknown tool {other}"))),
    };
    Ok(ToolCall {
        step,
        tool: tool.to_string(),
        chosen_by: String::new(),
        reason: String::new(),
        arguments,
        result,
    })
}

/// KPI targets from past results (or stated defaults per objective) and the plan's budget.
fn kpis(brief: &PlanBrief, past: &Value, daily_micros: i64, n_days: i64) -> Value {
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
    json!([
        {"name": "ctr", "target": (ctr * 1e4).round() / 1e4, "basis": basis},
        {"name": "conversion_rate", "target": (cvr * 1e4).round() / 1e4, "basis": basis},
        {"name": "cpa", "target": if expected_conversions > 0.0 { (total / expected_conversions * 100.0).round() / 100.0 } else { 0.0 }, "basis": basis},
        {"name": "conversions", "target": expected_conversions.round(), "basis": basis},
        {"name": "objective", "target": brief.objective, "basis": "brief"},
    ])
}

fn assemble(
    brief: &PlanBrief,
    words: &Value,
    state: &ToolState,
    start: Date,
    end: Date,
    daily_micros: i64,
) -> Result<Value, PlanError> {
    let split = state
        .split
        .as_ref()
        .ok_or_else(|| PlanError::Invalid("channels: no budget split".into()))?;
    let n_days = days(start, end);
    let learning = n_days.min(3);
    let audiences = words["audiences"].as_array().cloned().unwrap_or_default();
    let channels: Vec<Value> = split
        .iter()
        .enumerate()
        .map(|(i, (platform, micros, weight))| {
            let audience = audiences.get(i).cloned().unwrap_or_else(|| json!({}));
            json!({
                "platform": platform,
                "daily_budget_micros": micros,
                "share": (*micros as f64 / daily_micros as f64 * 1e4).round() / 1e4,
                "weight": weight,
                "audience": {
                    "name": audience["name"], "description": audience["description"],
                    "countries": brief.countries, "age_min": brief.age_min, "age_max": brief.age_max
                }
            })
        })
        .collect();
    let concepts: Vec<Value> = words["concepts"]
        .as_array()
        .into_iter()
        .flatten()
        .enumerate()
        .map(|(i, c)| {
            let copy = state
                .copy
                .as_ref()
                .and_then(|all| all.get(i))
                .map(|v| v["copy"].clone())
                .unwrap_or(Value::Null);
            json!({"name": c["name"], "angle": c["angle"], "copy": copy})
        })
        .collect();
    let past = state.past.clone().unwrap_or_else(|| json!({}));
    Ok(json!({
        "name": words["campaign_name"],
        "objective": brief.objective,
        "currency": brief.currency,
        "total_budget_micros": daily_micros * n_days,
        "daily_budget_micros": daily_micros,
        "schedule": {
            "start_date": brief.start_date, "end_date": brief.end_date, "days": n_days,
            "phases": [
                {"name": "learning", "days": learning, "rule": "even split inside each ad set; no optimizer actions"},
                {"name": "optimise", "days": n_days - learning, "rule": "the optimizer proposes actions daily"}
            ]
        },
        "channels": channels,
        "concepts": concepts,
        "kpis": kpis(brief, &past, daily_micros, n_days),
        "landing_url": brief.landing_url,
        "previews": state.previews,
    }))
}

/// The rules a plan must keep before anything is created from it.
pub fn validate(plan: &Value, brief: &PlanBrief) -> Result<(), PlanError> {
    let bad = |m: String| Err(PlanError::Invalid(m));
    let daily = plan["daily_budget_micros"].as_i64().unwrap_or(-1);
    let channels = plan["channels"].as_array().cloned().unwrap_or_default();
    let sum: i64 = channels
        .iter()
        .map(|c| c["daily_budget_micros"].as_i64().unwrap_or(0))
        .sum();
    if daily <= 0 || sum != daily {
        return bad(format!(
            "channels: daily budgets sum to {sum} micros, the plan's daily budget is {daily}"
        ));
    }
    for (i, c) in channels.iter().enumerate() {
        let platform = c["platform"].as_str().unwrap_or_default();
        let min = min_daily_units(platform) * 1_000_000;
        if c["daily_budget_micros"].as_i64().unwrap_or(0) < min {
            return bad(format!(
                "channels[{i}].daily_budget_micros: under {platform}'s minimum of {min}"
            ));
        }
    }
    if plan["schedule"]["end_date"].as_str() < plan["schedule"]["start_date"].as_str() {
        return bad("schedule: end_date is before start_date".into());
    }
    for (i, concept) in plan["concepts"]
        .as_array()
        .into_iter()
        .flatten()
        .enumerate()
    {
        for platform in &brief.platforms {
            let limits = CopyLimits::of(copy_platform(platform));
            let copy = &concept["copy"][platform];
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

#[cfg(test)]
mod tests {
    use super::*;

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
        let platforms = vec![
            "meta".to_string(),
            "tiktok".to_string(),
            "google".to_string(),
        ];
        let past = json!({"meta": {"spend": 1000.0, "conversions": 50.0},
                          "tiktok": {"spend": 1000.0, "conversions": 10.0}});
        let split = budget_split(&platforms, 100_333_333, &past).unwrap();
        assert_eq!(split.iter().map(|s| s.1).sum::<i64>(), 100_333_333);
        assert!(split[1].1 >= 20_000_000);
        assert!(split[0].1 > split[2].1 && split[2].1 > 20_000_000 - 1);
        assert!(budget_split(&platforms, 21_000_000, &past).is_err());
        let even = budget_split(&["meta".into(), "google".into()], 50_000_000, &json!({})).unwrap();
        assert_eq!((even[0].1, even[1].1), (25_000_000, 25_000_000));
    }
}
