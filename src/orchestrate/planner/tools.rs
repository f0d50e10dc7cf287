//! The planner's tools ([`PlannerTool`]): what each does when the model (or the policy) picks
//! it, recorded as a [`super::ToolCall`]. Past results and preview renders go through
//! [`super::PlannerTools`]; the budget split and the copy are computed here.

use serde_json::{Value, json};

use super::{CONCEPTS, DRAWS, PlanBrief, PlanError, PlannerTools, ToolCall, budget_split};
use crate::engine::text::ChatMessage;
use crate::orchestrate::Platform;
use crate::orchestrate::copy::CopyLimits;
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
}

#[allow(clippy::too_many_arguments)]
pub(super) async fn run_tool(
    backend: &TextBackend,
    tools: &dyn PlannerTools,
    brief: &PlanBrief,
    words: &Value,
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
            let mut all = Vec::new();
            for (c, concept) in words["concepts"]
                .as_array()
                .into_iter()
                .flatten()
                .enumerate()
            {
                let mut per_platform = serde_json::Map::new();
                for (p, platform) in brief.platforms.iter().enumerate() {
                    let limits = CopyLimits::of(*platform);
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
                    per_platform.insert(platform.name().to_string(), copy);
                }
                all.push(json!({"concept": concept["name"], "copy": per_platform}));
            }
            state.copy = Some(all.clone());
            (
                json!({"concepts": CONCEPTS, "platforms": brief.platforms}),
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
        reason: String::new(),
        arguments,
        result,
    })
}
