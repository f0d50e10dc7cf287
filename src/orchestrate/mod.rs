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
pub mod guards;
pub mod llm;
pub mod narrative;
pub mod objective;
pub mod optimizer;
pub mod planner;
pub mod platforms;
pub mod simulator;

/// The ad platforms: one enum for the whole server (see [`adforge_input::platform`]).
pub use adforge_input::platform::Platform;
