//! The ad-platform layer: one [`AdPlatform`] trait that the campaign loop drives, with
//! platform-neutral requests, and its implementations: REST clients for Meta ([`meta`]), Google
//! Ads ([`google`]) and TikTok ([`tiktok`]) over one retrying HTTP helper ([`http`]), and an
//! in-memory [`sandbox`] over the seeded simulator. Money is [`Micros`] everywhere inside and is
//! converted to each platform's unit only at the client's edge ([`money`]).
//!
//! Owns no storage and no adforge routes: tokens, account ids and currencies arrive in each
//! client's config; the request shapes follow `/work/shared/PLATFORMS.md`.

pub mod clients;
pub mod google;
pub mod http;
mod md5;
pub mod meta;
pub mod money;
pub mod sandbox;
pub mod tiktok;

use std::path::PathBuf;
use std::time::Duration;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use time::Date;

pub use money::{Currency, Micros, MoneyError};

/// What a campaign is bought for; each client maps it to its platform's objective.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Objective {
    Awareness,
    Traffic,
    Engagement,
    Leads,
    AppPromotion,
    Sales,
}

/// How much a campaign or ad set may spend: per day, or over its whole schedule.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Budget {
    Daily(Micros),
    Lifetime(Micros),
}

impl Budget {
    pub fn amount(self) -> Micros {
        match self {
            Budget::Daily(m) | Budget::Lifetime(m) => m,
        }
    }

    /// Refuses a negative amount, naming the field.
    pub fn check(self, field: &str) -> Result<Self, PlatformError> {
        if self.amount().0 < 0 {
            return Err(PlatformError::invalid(
                field,
                format!("budget {} must not be negative", self.amount()),
            ));
        }
        Ok(self)
    }
}

/// Whether an object delivers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeliveryStatus {
    Active,
    Paused,
}

/// The kinds of object that can be paused, resumed or given a new budget.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ObjectKind {
    Campaign,
    AdSet,
    Ad,
}

/// The button of an ad.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CallToAction {
    LearnMore,
    ShopNow,
    SignUp,
    Download,
    ContactUs,
}

impl CallToAction {
    /// The upper-case name Meta and TikTok both use (`SHOP_NOW`).
    pub fn upper_name(self) -> &'static str {
        match self {
            CallToAction::LearnMore => "LEARN_MORE",
            CallToAction::ShopNow => "SHOP_NOW",
            CallToAction::SignUp => "SIGN_UP",
            CallToAction::Download => "DOWNLOAD",
            CallToAction::ContactUs => "CONTACT_US",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct CampaignSpec {
    pub name: String,
    pub objective: Objective,
    /// A budget for the whole campaign (Meta: campaign budget optimisation; Google: required,
    /// the campaign budget; TikTok: the campaign budget, unlimited without one).
    pub budget: Option<Budget>,
    pub start_date: Date,
    pub end_date: Option<Date>,
    pub status: DeliveryStatus,
}

/// Who sees the ads.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Targeting {
    /// ISO 3166-1 alpha-2 codes (`US`, `FR`).
    pub countries: Vec<String>,
    pub age_min: Option<u8>,
    pub age_max: Option<u8>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct AdSetSpec {
    pub campaign_external_id: String,
    pub name: String,
    /// The campaign's objective; picks the optimisation goal where the platform asks for one.
    pub objective: Objective,
    /// The ad set's own budget (Meta, TikTok); Google ad groups have none and refuse it.
    pub budget: Option<Budget>,
    /// A manual bid per click where the platform takes one (Google `cpcBidMicros`).
    pub bid: Option<Micros>,
    pub targeting: Targeting,
    pub start_date: Date,
    pub end_date: Option<Date>,
    pub status: DeliveryStatus,
}

/// An uploaded image or video, by the reference its platform gives (Meta image hash or video
/// id, Google asset resource name, TikTok image or video id).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AssetRef {
    pub kind: AssetKind,
    pub external_id: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AssetKind {
    Image,
    Video,
}

/// A video to upload: a file on disk or bytes in memory.
#[derive(Debug, Clone)]
pub enum VideoSource {
    Path(PathBuf),
    Bytes(bytes::Bytes),
}

impl VideoSource {
    pub async fn read(&self) -> Result<bytes::Bytes, PlatformError> {
        match self {
            VideoSource::Bytes(b) => Ok(b.clone()),
            VideoSource::Path(path) => tokio::fs::read(path).await.map(Into::into).map_err(|e| {
                PlatformError::invalid("video", format!("cannot read {}: {e}", path.display()))
            }),
        }
    }
}

/// The words of an ad.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AdCopy {
    pub headline: String,
    pub primary_text: String,
    pub description: String,
    pub call_to_action: CallToAction,
    pub link_url: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CreativeSpec {
    pub name: String,
    pub copy: AdCopy,
    /// The main (landscape or feed) image; the cover of a video ad.
    pub image: Option<AssetRef>,
    /// A square image where the platform asks for one (Google); the main image otherwise.
    pub square_image: Option<AssetRef>,
    /// A logo (Google responsive display).
    pub logo: Option<AssetRef>,
    pub video: Option<AssetRef>,
    /// The advertiser's name as shown (Google `businessName`, 25 characters).
    pub business_name: Option<String>,
}

/// A creative as created: platforms with a creative object (Meta) give it an id; the others
/// (Google, TikTok) take the spec inline with the ad.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Creative {
    pub external_id: Option<String>,
    pub spec: CreativeSpec,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AdSpec {
    pub ad_set_external_id: String,
    pub name: String,
    pub creative: Creative,
    pub status: DeliveryStatus,
}

/// Days from `since` to `until`, both included, in the account's time zone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DateRange {
    pub since: Date,
    pub until: Date,
}

/// One ad's delivery on one day, as every platform's report is read into.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DailyAdMetrics {
    pub ad_external_id: String,
    pub date: Date,
    pub impressions: u64,
    pub clicks: u64,
    pub spend: Micros,
    pub conversions: u64,
    pub revenue: Micros,
}

/// What went wrong talking to a platform, in terms the campaign loop acts on.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum PlatformError {
    #[error("authentication failed: {message}")]
    Auth { message: String },
    #[error("invalid request{}: {message}", field.as_ref().map(|f| format!(" ({f})")).unwrap_or_default())]
    InvalidRequest {
        field: Option<String>,
        message: String,
    },
    #[error("rate limited{}", retry_after.map(|d| format!(", retry after {d:?}")).unwrap_or_default())]
    RateLimited { retry_after: Option<Duration> },
    #[error("transient platform failure: {message}")]
    Transient { message: String },
    #[error("not found: {message}")]
    NotFound { message: String },
    #[error("platform error {code}: {message}{}", request_id.as_ref().map(|r| format!(" (request {r})")).unwrap_or_default())]
    Platform {
        code: String,
        message: String,
        request_id: Option<String>,
    },
    #[error("transport: {message}")]
    Transport { message: String },
}

impl PlatformError {
    /// Whether the same request may succeed later: rate limits, transient failures, transport.
    pub fn is_retryable(&self) -> bool {
        matches!(
            self,
            PlatformError::RateLimited { .. }
                | PlatformError::Transient { .. }
                | PlatformError::Transport { .. }
        )
    }

    pub fn invalid(field: &str, message: impl Into<String>) -> Self {
        PlatformError::InvalidRequest {
            field: Some(field.to_string()),
            message: message.into(),
        }
    }

    /// A response that does not have the documented shape.
    pub fn unexpected(what: &str, detail: impl std::fmt::Display) -> Self {
        PlatformError::Platform {
            code: "unexpected_response".to_string(),
            message: format!("{what}: {detail}"),
            request_id: None,
        }
    }
}

impl From<MoneyError> for PlatformError {
    fn from(e: MoneyError) -> Self {
        PlatformError::InvalidRequest {
            field: None,
            message: e.to_string(),
        }
    }
}

/// One ad account on one platform. Every method is one logical operation; transient failures
/// have already been retried within the client's backoff policy when an error comes back.
#[async_trait]
pub trait AdPlatform: Send + Sync {
    /// Creates a campaign; returns its external id.
    async fn create_campaign(&self, spec: &CampaignSpec) -> Result<String, PlatformError>;
    /// Creates an ad set (Google: ad group) in a campaign; returns its external id.
    async fn create_ad_set(&self, spec: &AdSetSpec) -> Result<String, PlatformError>;
    async fn upload_image(&self, name: &str, bytes: &[u8]) -> Result<AssetRef, PlatformError>;
    async fn upload_video(
        &self,
        name: &str,
        video: &VideoSource,
    ) -> Result<AssetRef, PlatformError>;
    async fn create_creative(&self, spec: &CreativeSpec) -> Result<Creative, PlatformError>;
    /// Creates an ad in an ad set; returns its external id.
    async fn create_ad(&self, spec: &AdSpec) -> Result<String, PlatformError>;
    async fn pause(&self, kind: ObjectKind, external_id: &str) -> Result<(), PlatformError>;
    async fn resume(&self, kind: ObjectKind, external_id: &str) -> Result<(), PlatformError>;
    async fn update_budget(
        &self,
        kind: ObjectKind,
        external_id: &str,
        budget: Budget,
    ) -> Result<(), PlatformError>;
    /// Every ad's daily rows over `range`, all pages read.
    async fn fetch_insights(&self, range: DateRange) -> Result<Vec<DailyAdMetrics>, PlatformError>;
}

/// `YYYY-MM-DD`.
pub fn iso_date(date: Date) -> String {
    format!(
        "{:04}-{:02}-{:02}",
        date.year(),
        u8::from(date.month()),
        date.day()
    )
}

/// Reads the `YYYY-MM-DD` at the start of `text` (TikTok adds ` 00:00:00`).
pub fn parse_iso_date(text: &str) -> Result<Date, PlatformError> {
    let bad = || PlatformError::unexpected("date", format!("{text:?} is not YYYY-MM-DD"));
    let head = text.get(..10).ok_or_else(bad)?;
    let mut parts = head.split('-');
    let mut next = || -> Result<i32, PlatformError> {
        parts
            .next()
            .and_then(|p| p.parse::<i32>().ok())
            .ok_or_else(bad)
    };
    let (year, month, day) = (next()?, next()?, next()?);
    let month = u8::try_from(month)
        .ok()
        .and_then(|m| time::Month::try_from(m).ok())
        .ok_or_else(bad)?;
    let day = u8::try_from(day).map_err(|_| bad())?;
    Date::from_calendar_date(year, month, day).map_err(|_| bad())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_round_trip_and_bad_ones_are_named() {
        let d = parse_iso_date("2026-01-09 00:00:00").unwrap();
        assert_eq!(iso_date(d), "2026-01-09");
        assert!(parse_iso_date("2026-13-01").is_err());
        assert!(parse_iso_date("26-1-1").is_err());
    }

    #[test]
    fn retryable_errors() {
        assert!(PlatformError::RateLimited { retry_after: None }.is_retryable());
        assert!(
            !PlatformError::Auth {
                message: "x".into()
            }
            .is_retryable()
        );
        assert_eq!(
            PlatformError::invalid("name", "too long").to_string(),
            "invalid request (name): too long"
        );
    }
}
