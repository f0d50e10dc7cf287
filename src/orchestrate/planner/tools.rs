//! The planner's tools ([`PlannerTool`]): what each does when the model (or the policy) picks
//! it, recorded as a [`super::ToolCall`]. Past results and preview renders go through
//! [`super::PlannerTools`]; the budget split and the copy are computed here.

use serde_json::{Value, json};

use super::compose::{fallback_copy, short_label};
use super::plan::PhraseChecks;
use super::{Concept, DRAWS, PlanBrief, PlanError, PlannerTools, ToolCall, budget_split};
use crate::engine::text::ChatMessage;
use crate::orchestrate::Platform;
use crate::orchestrate::copy::CopyLimits;
use crate::orchestrate::guards::{Facts, repeated_field};
use crate::orchestrate::llm::TextBackend;

/// The planner's tools. The model picks them by name (under a schema whose enum lists the
/// names left); code runs them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PlannerTool {
    /// Earlier campaigns' results per platform.
    ReadPastResults,
    /// The daily budget per platform (needs past results).
    EstimateBudgetSplit,
    /// Ad copy per concept and platform.
    GenerateCopy,
    /// Preview images of the first concept (needs copy).
    RenderImages,
    /// A preview video of the first concept (needs copy).
    RenderVideo,
}

impl PlannerTool {
    pub const ALL: [PlannerTool; 5] = [
        PlannerTool::ReadPastResults,
        PlannerTool::EstimateBudgetSplit,
        PlannerTool::GenerateCopy,
        PlannerTool::RenderImages,
        PlannerTool::RenderVideo,
    ];
    /// What every plan needs, run by policy when the model did not pick them.
    pub const NEEDED: [PlannerTool; 3] = [
        PlannerTool::ReadPastResults,
        PlannerTool::EstimateBudgetSplit,
        PlannerTool::GenerateCopy,
    ];

    /// The name the model picks and the trace records.
    pub fn name(self) -> &'static str {
        match self {
            PlannerTool::ReadPastResults => "read_past_results",
            PlannerTool::EstimateBudgetSplit => "estimate_budget_split",
            PlannerTool::GenerateCopy => "generate_copy",
            PlannerTool::RenderImages => "render_images",
            PlannerTool::RenderVideo => "render_video",
        }
    }

    /// What the planner is doing while it runs, for progress.
    pub fn doing(self) -> &'static str {
        match self {
            PlannerTool::ReadPastResults => "reading earlier results",
            PlannerTool::EstimateBudgetSplit => "splitting the budget",
            PlannerTool::GenerateCopy => "writing copy",
            PlannerTool::RenderImages => "submitting preview images",
            PlannerTool::RenderVideo => "submitting a preview video",
        }
    }

    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|t| t.name() == name)
    }

    /// Tools that must have run before this one.
    pub fn prerequisites(self) -> &'static [PlannerTool] {
        match self {
            PlannerTool::EstimateBudgetSplit => &[PlannerTool::ReadPastResults],
            PlannerTool::RenderImages | PlannerTool::RenderVideo => &[PlannerTool::GenerateCopy],
            _ => &[],
        }
    }
}

#[derive(Default)]
pub(super) struct ToolState {
    pub(super) past: Option<Value>,
    pub(super) split: Option<Vec<(Platform, i64, f64)>>,
    /// Per concept, per platform: the copy.
    pub(super) copy: Option<Vec<Value>>,
    pub(super) previews: Vec<Value>,
    pub(super) checks: PhraseChecks,
}

#[allow(clippy::too_many_arguments)]
pub(super) async fn run_tool(
    backend: &TextBackend,
    tools: &dyn PlannerTools,
    brief: &PlanBrief,
    concepts: &[Concept],
    daily_micros: i64,
    state: &mut ToolState,
    tool: PlannerTool,
    step: usize,
) -> Result<ToolCall, PlanError> {
    let fail = |message: String| PlanError::Tool {
        tool: tool.name().to_string(),
        message,
    };
    let (arguments, result) = match tool {
        PlannerTool::ReadPastResults => {
            let past = tools.read_past_results().await.map_err(fail)?;
            state.past = Some(past.clone());
            (json!({}), past)
        }
        PlannerTool::EstimateBudgetSplit => {
            let past = state.past.clone().unwrap_or_else(|| json!({}));
            let split = budget_split(
                &brief.platforms,
                daily_micros,
                super::minor_unit_micros(&brief.currency),
                &past,
            )
            .map_err(PlanError::Invalid)?;
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
        PlannerTool::GenerateCopy => {
            let all = write_copy(backend, brief, concepts, &mut state.checks).await?;
            state.copy = Some(all.clone());
            (
                json!({"concepts": concepts.len(), "platforms": brief.platforms}),
                json!(all),
            )
        }
        PlannerTool::RenderImages | PlannerTool::RenderVideo => {
            let Some(copy) = state.copy.as_ref().and_then(|c| c.first()).cloned() else {
                return Err(fail("no copy yet".into()));
            };
            let platform = brief
                .platforms
                .first()
                .copied()
                .unwrap_or(Platform::Sandbox);
            let this = &copy["copy"][platform.name()];
            let result = if tool == PlannerTool::RenderImages {
                tools.render_images(platform, this).await
            } else {
                tools.render_video(platform, this).await
            }
            .map_err(fail)?;
            state
                .previews
                .push(json!({"tool": tool.name(), "result": result}));
            (
                json!({"platform": platform, "concept": copy["concept"]}),
                result,
            )
        }
    };
    Ok(ToolCall {
        step,
        tool: tool.name().to_string(),
        chosen_by: String::new(),
        reason: reason(tool, brief, daily_micros, state, &result),
        arguments,
        result,
    })
}

/// Money as the plan shows it: units of the currency with two places ("107.14").
fn units(micros: i64) -> String {
    format!("{:.2}", micros as f64 / 1e6)
}

/// The step's reason, written from what the tool did.
fn reason(
    tool: PlannerTool,
    brief: &PlanBrief,
    daily_micros: i64,
    state: &ToolState,
    result: &Value,
) -> String {
    match tool {
        PlannerTool::ReadPastResults => {
            let seen: Vec<String> = result
                .as_object()
                .into_iter()
                .flatten()
                .map(|(p, v)| {
                    format!(
                        "{p} {} spent, {} conversions",
                        units((v["spend"].as_f64().unwrap_or(0.0) * 1e6) as i64),
                        v["conversions"].as_f64().unwrap_or(0.0).round()
                    )
                })
                .collect();
            if seen.is_empty() {
                "No earlier results: the budget starts split evenly.".into()
            } else {
                format!("Earlier results: {}.", seen.join("; "))
            }
        }
        PlannerTool::EstimateBudgetSplit => {
            let parts: Vec<String> = state
                .split
                .iter()
                .flatten()
                .map(|(p, m, _)| format!("{} {}", short_label(*p), units(*m)))
                .collect();
            // Past results count for the split only on the brief's own platforms.
            let history = state.past.as_ref().is_some_and(|p| {
                brief
                    .platforms
                    .iter()
                    .any(|platform| p.get(platform.name()).is_some())
            });
            let basis = if history {
                "weighted by earlier conversions per spend"
            } else {
                "even, no history yet"
            };
            format!(
                "{} {} a day split {} ({basis}).",
                units(daily_micros),
                brief.currency,
                parts.join(", ")
            )
        }
        PlannerTool::GenerateCopy => {
            let checks = &state.checks;
            format!(
                "Copy for {} concepts on {} platforms: {} of {} phrases from the model passed the \
                 checks; the rest were written from the brief.",
                result.as_array().map_or(0, Vec::len),
                brief.platforms.len(),
                checks.accepted,
                checks.proposed
            )
        }
        PlannerTool::RenderImages | PlannerTool::RenderVideo => match result["error"].as_str() {
            Some(error) => format!("The preview was not submitted: {error}."),
            None => format!(
                "Submitted preview job {} ({}).",
                result["job_id"].as_str().unwrap_or("?"),
                result["kind"].as_str().unwrap_or("?")
            ),
        },
    }
}

/// Copy per concept and platform: the model's fields where they pass the guards (and do not
/// repeat another field), the brief's words where not. Each entry is `{concept, copy: {platform:
/// fields}, sources: {platform: {field: model|brief}}}`.
async fn write_copy(
    backend: &TextBackend,
    brief: &PlanBrief,
    concepts: &[Concept],
    checks: &mut PhraseChecks,
) -> Result<Vec<Value>, PlanError> {
    let facts = brief.facts();
    let mut all = Vec::new();
    for (c, concept) in concepts.iter().enumerate() {
        let mut copy = serde_json::Map::new();
        let mut sources = serde_json::Map::new();
        for (p, platform) in brief.platforms.iter().enumerate() {
            let limits = CopyLimits::of(*platform);
            let ask = vec![
                ChatMessage::system(super::COPY_SYSTEM),
                ChatMessage::user(format!(
                    "Write one ad for {}.\n{}\nConcept: {} ({})\nAnswer in JSON.",
                    limits.platform.label(),
                    super::brief_text(brief),
                    concept.name,
                    concept.angle
                )),
            ];
            let seed = brief.seed.wrapping_add(1000 + (c * 16 + p) as u64);
            let proposed = backend
                .json_retrying(&ask, &limits.schema(), seed, 220, DRAWS)
                .await?;
            let (fields, from) = guard_copy(brief, &facts, concept, &limits, &proposed, c, checks);
            copy.insert(platform.name().to_string(), fields);
            sources.insert(platform.name().to_string(), from);
        }
        all.push(json!({"concept": concept.name, "copy": copy, "sources": sources}));
    }
    Ok(all)
}

/// One ad's fields checked: each text field the model's (tidied) when it passes the guards and
/// says something the earlier fields did not, else written from the brief.
fn guard_copy(
    brief: &PlanBrief,
    facts: &Facts,
    concept: &Concept,
    limits: &CopyLimits,
    proposed: &Value,
    c: usize,
    checks: &mut PhraseChecks,
) -> (Value, Value) {
    let mut fields = serde_json::Map::new();
    let mut sources = serde_json::Map::new();
    let mut kept: Vec<(&str, String)> = Vec::new();
    for limit in &limits.fields {
        let where_ = format!("concepts[{c}].copy.{}.{}", limits.platform, limit.field);
        let text = proposed[limit.field].as_str().unwrap_or_default();
        let chosen = checks.check_with(&where_, text, facts, limit.max_chars, |t| {
            if t.chars().count() < limit.min_chars {
                return Err(format!("under {} characters", limit.min_chars));
            }
            let mut with: Vec<(&str, &str)> = kept.iter().map(|(f, v)| (*f, v.as_str())).collect();
            with.push((limit.field, t));
            match repeated_field(&with) {
                Some(_) => Err("repeats another field".into()),
                None => Ok(()),
            }
        });
        let source = if chosen.is_some() { "model" } else { "brief" };
        let value = chosen.unwrap_or_else(|| {
            fallback_copy(brief, &concept.name, limit.field, limit.max_chars)
                .unwrap_or_else(|| brief.who())
        });
        sources.insert(limit.field.into(), json!(source));
        kept.push((limit.field, value));
    }
    for (field, value) in kept {
        fields.insert(field.into(), json!(value));
    }
    fields.insert("call_to_action".into(), proposed["call_to_action"].clone());
    (Value::Object(fields), Value::Object(sources))
}
