//! The campaign loop around the models: ad copy, analytics (statistics, the marketing-mix
//! model, the bandit optimizer, charts), the narrative of a campaign's experiments and the
//! seeded ad-platform simulator; the ad platforms (`platforms`: one `AdPlatform` trait, the Meta,
//! Google Ads and TikTok REST clients and an in-memory sandbox over the simulator); campaigns and
//! the planner agent arrive with the rest of the orchestration issue. Uses the engines through their
//! handles (`TextService`, `EmbedService`); knows nothing of HTTP or SQL.

pub mod analytics;
pub mod campaign;
pub mod copy;
pub mod deploy;
pub mod experiments;
pub mod llm;
pub mod narrative;
pub mod optimizer;
pub mod planner;
pub mod platforms;
pub mod simulator;

use serde::{Deserialize, Serialize};

/// The ad platforms adforge writes for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Platform {
    Meta,
    Google,
    Tiktok,
}

impl Platform {
    pub fn label(self) -> &'static str {
        match self {
            Platform::Meta => "Meta (Facebook and Instagram)",
            Platform::Google => "Google responsive display",
            Platform::Tiktok => "TikTok",
        }
    }
}
