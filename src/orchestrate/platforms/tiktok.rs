//! The TikTok Business API client: campaigns, ad groups, image and video uploads (multipart with
//! the file's MD5 as signature), ads with their creatives inline, status and budget updates, and
//! the integrated report by ad and day. Every answer is an HTTP 200 envelope
//! `{ code, message, request_id, data }`: a non-zero `code` is the error, throttling (40100) and
//! server failures (50000) included. Budgets are floats in whole currency units.

use async_trait::async_trait;
use serde_json::{Value, json};

use super::http::{Auth, BackoffPolicy, HttpClient, Multipart, RawResponse};
use super::md5::md5_hex;
use super::{
    AdPlatform, AdSetSpec, AdSpec, AssetKind, AssetRef, Budget, CampaignSpec, Creative,
    CreativeSpec, DailyAdMetrics, DateRange, DeliveryStatus, Micros, ObjectKind, Objective,
    PlatformError, VideoSource, iso_date, parse_iso_date,
};
use crate::secret::Secret;

/// The most report pages read for one range.
const MAX_PAGES: u64 = 10_000;
/// `ad_text`: 1 to 100 characters (PLATFORMS.md, creative specs: TikTok in-feed).
const AD_TEXT_MAX_CHARS: usize = 100;
/// TikTok's `location_ids` are GeoNames ids; the countries adforge targets by ISO code. Other
/// countries can be given by their GeoNames id directly.
const GEONAMES_COUNTRIES: &[(&str, &str)] = &[
    ("AU", "2077456"),
    ("BR", "3469034"),
    ("CA", "6251999"),
    ("DE", "2921044"),
    ("ES", "2510769"),
    ("FR", "3017382"),
    ("GB", "2635167"),
    ("IT", "3175395"),
    ("JP", "1861060"),
    ("MX", "3996063"),
    ("US", "6252001"),
];
const AGE_GROUPS: &[(u8, u8, &str)] = &[
    (13, 17, "AGE_13_17"),
    (18, 24, "AGE_18_24"),
    (25, 34, "AGE_25_34"),
    (35, 44, "AGE_35_44"),
    (45, 54, "AGE_45_54"),
    (55, 100, "AGE_55_100"),
];

#[derive(Debug, Clone)]
pub struct TikTokConfig {
    /// `https://business-api.tiktok.com` in production; paths go under `/open_api/{version}`.
    pub base_url: String,
    /// `v1.3`.
    pub api_version: String,
    pub advertiser_id: String,
    /// The identity the ads speak as (`identity_type`, `identity_id`).
    pub identity_type: String,
    pub identity_id: String,
    pub access_token: Secret,
    /// The report metric read as revenue, if the account tracks one; revenue is 0 without.
    pub revenue_metric: Option<String>,
    pub backoff: BackoffPolicy,
    pub seed: u64,
}

pub struct TikTokClient {
    config: TikTokConfig,
    http: HttpClient,
}

impl TikTokClient {
    pub fn new(config: TikTokConfig) -> Result<Self, PlatformError> {
        let http = HttpClient::new(
            Auth::TikTok(config.access_token.clone()),
            config.backoff,
            config.seed,
        )?;
        Ok(Self { config, http })
    }

    fn url(&self, path: &str) -> String {
        format!(
            "{}/open_api/{}/{}",
            self.config.base_url.trim_end_matches('/'),
            self.config.api_version,
            path.trim_start_matches('/')
        )
    }

    async fn post(&self, path: &str, mut body: Value) -> Result<Value, PlatformError> {
        body["advertiser_id"] = json!(self.config.advertiser_id);
        let url = self.url(path);
        self.http
            .execute(|c| c.post(&url).json(&body), interpret)
            .await
    }

    async fn post_multipart(&self, path: &str, form: Multipart) -> Result<Value, PlatformError> {
        let (content_type, body) = form
            .text("advertiser_id", &self.config.advertiser_id)
            .finish();
        let body = bytes::Bytes::from(body);
        let url = self.url(path);
        self.http
            .execute(
                |c| {
                    c.post(&url)
                        .header(reqwest::header::CONTENT_TYPE, &content_type)
                        .body(body.clone())
                },
                interpret,
            )
            .await
    }

    async fn set_status(
        &self,
        kind: ObjectKind,
        id: &str,
        status: DeliveryStatus,
    ) -> Result<(), PlatformError> {
        let (path, key) = match kind {
            ObjectKind::Campaign => ("campaign/status/update/", "campaign_ids"),
            ObjectKind::AdSet => ("adgroup/status/update/", "adgroup_ids"),
            ObjectKind::Ad => ("ad/status/update/", "ad_ids"),
        };
        let body = json!({ key: [id], "operation_status": status_name(status) });
        self.post(path, body).await.map(|_| ())
    }
}

fn status_name(status: DeliveryStatus) -> &'static str {
    match status {
        DeliveryStatus::Active => "ENABLE",
        DeliveryStatus::Paused => "DISABLE",
    }
}

fn objective_type(objective: Objective) -> &'static str {
    match objective {
        Objective::Awareness => "REACH",
        Objective::Traffic => "TRAFFIC",
        Objective::Engagement => "VIDEO_VIEWS",
        Objective::Leads => "LEAD_GENERATION",
        Objective::AppPromotion => "APP_PROMOTION",
        Objective::Sales => "WEB_CONVERSIONS",
    }
}

/// `(budget_mode, budget)`: whole units as a float.
fn budget_fields(budget: Option<Budget>) -> Result<(&'static str, Option<f64>), PlatformError> {
    Ok(match budget.map(|b| b.check("budget")).transpose()? {
        None => ("BUDGET_MODE_INFINITE", None),
        Some(Budget::Daily(m)) => ("BUDGET_MODE_DAY", Some(m.to_units_f64())),
        Some(Budget::Lifetime(m)) => ("BUDGET_MODE_TOTAL", Some(m.to_units_f64())),
    })
}

fn location_ids(countries: &[String]) -> Result<Vec<String>, PlatformError> {
    countries
        .iter()
        .map(|c| {
            if !c.is_empty() && c.bytes().all(|b| b.is_ascii_digit()) {
                return Ok(c.clone());
            }
            GEONAMES_COUNTRIES
                .iter()
                .find(|(code, _)| code.eq_ignore_ascii_case(c))
                .map(|(_, id)| id.to_string())
                .ok_or_else(|| {
                    PlatformError::invalid(
                        "targeting.countries",
                        format!("{c:?} has no known tiktok location id; give its geonames id"),
                    )
                })
        })
        .collect()
}

fn age_groups(min: Option<u8>, max: Option<u8>) -> Vec<&'static str> {
    let (min, max) = (min.unwrap_or(0), max.unwrap_or(u8::MAX));
    AGE_GROUPS
        .iter()
        .filter(|(lo, hi, _)| *hi >= min && *lo <= max)
        .map(|(_, _, name)| *name)
        .collect()
}

fn field(value: &Value, pointer: &str) -> Result<String, PlatformError> {
    match value.pointer(pointer) {
        Some(Value::String(s)) => Ok(s.clone()),
        Some(v @ Value::Number(_)) => Ok(v.to_string()),
        _ => Err(PlatformError::unexpected(
            "tiktok response",
            format!("no {pointer}"),
        )),
    }
}

/// A metric as TikTok sends it (a string, sometimes a number), as text.
fn metric(row: &Value, name: &str) -> String {
    match row.pointer(&format!("/metrics/{name}")) {
        Some(Value::String(s)) => s.clone(),
        Some(v @ Value::Number(_)) => v.to_string(),
        _ => "0".to_string(),
    }
}

fn count(row: &Value, name: &str) -> Result<u64, PlatformError> {
    let text = metric(row, name);
    Micros::from_decimal_str(&text)
        .map(|m| (m.0.max(0) / 1_000_000) as u64)
        .map_err(|e| PlatformError::unexpected(&format!("tiktok metric {name}"), e))
}

/// The envelope: `code` 0 is success and `data` the value; anything else an error.
pub fn interpret(response: RawResponse) -> Result<Value, PlatformError> {
    let body = match response.json() {
        Ok(body) => body,
        Err(_) if response.status != 200 => return Err(response.status_error()),
        Err(e) => return Err(e),
    };
    let Some(code) = body.get("code").and_then(Value::as_i64) else {
        return Err(if response.status == 200 {
            PlatformError::unexpected("tiktok envelope", "no code")
        } else {
            response.status_error()
        });
    };
    if code == 0 && response.status == 200 {
        return Ok(body.get("data").cloned().unwrap_or(Value::Null));
    }
    let message = body
        .get("message")
        .and_then(Value::as_str)
        .unwrap_or("no message")
        .to_string();
    Err(match code {
        0 => response.status_error(),
        40100 => PlatformError::RateLimited { retry_after: None },
        40001 | 40104 | 40105 => PlatformError::Auth { message },
        40002 => PlatformError::InvalidRequest {
            field: None,
            message,
        },
        50000 | 50002 => PlatformError::Transient { message },
        _ => PlatformError::Platform {
            code: code.to_string(),
            message,
            request_id: body
                .get("request_id")
                .and_then(Value::as_str)
                .map(str::to_string),
        },
    })
}

#[async_trait]
impl AdPlatform for TikTokClient {
    async fn create_campaign(&self, spec: &CampaignSpec) -> Result<String, PlatformError> {
        let (mode, budget) = budget_fields(spec.budget)?;
        let mut body = json!({
            "campaign_name": spec.name,
            "objective_type": objective_type(spec.objective),
            "budget_mode": mode,
            "operation_status": status_name(spec.status),
        });
        if let Some(budget) = budget {
            body["budget"] = json!(budget);
        }
        let data = self.post("campaign/create/", body).await?;
        field(&data, "/campaign_id")
    }

    async fn create_ad_set(&self, spec: &AdSetSpec) -> Result<String, PlatformError> {
        let (mode, budget) = budget_fields(spec.budget)?;
        let (goal, billing) = match spec.objective {
            Objective::Awareness => ("REACH", "CPM"),
            Objective::Sales | Objective::Leads | Objective::AppPromotion => ("CONVERT", "OCPM"),
            Objective::Traffic | Objective::Engagement => ("CLICK", "CPC"),
        };
        let mut body = json!({
            "campaign_id": spec.campaign_external_id,
            "adgroup_name": spec.name,
            "placement_type": "PLACEMENT_TYPE_NORMAL",
            "placements": ["PLACEMENT_TIKTOK"],
            "location_ids": location_ids(&spec.targeting.countries)?,
            "age_groups": age_groups(spec.targeting.age_min, spec.targeting.age_max),
            "budget_mode": mode,
            "schedule_type": if spec.end_date.is_some() { "SCHEDULE_START_END" } else { "SCHEDULE_FROM_NOW" },
            "schedule_start_time": format!("{} 00:00:00", iso_date(spec.start_date)),
            "optimization_goal": goal,
            "billing_event": billing,
            "bid_type": "BID_TYPE_NO_BID",
            "operation_status": status_name(spec.status),
        });
        if let Some(budget) = budget {
            body["budget"] = json!(budget);
        }
        if let Some(end) = spec.end_date {
            body["schedule_end_time"] = json!(format!("{} 23:59:59", iso_date(end)));
        }
        if let Some(bid) = spec.bid {
            body["bid_type"] = json!("BID_TYPE_CUSTOM");
            body["bid_price"] = json!(bid.non_negative()?.to_units_f64());
        }
        let data = self.post("adgroup/create/", body).await?;
        field(&data, "/adgroup_id")
    }

    async fn upload_image(&self, name: &str, bytes: &[u8]) -> Result<AssetRef, PlatformError> {
        let form = Multipart::new(bytes.len() as u64)
            .text("upload_type", "UPLOAD_BY_FILE")
            .text("image_signature", &md5_hex(bytes))
            .file("image_file", name, bytes);
        let data = self.post_multipart("file/image/ad/upload/", form).await?;
        Ok(AssetRef {
            kind: AssetKind::Image,
            external_id: field(&data, "/image_id")?,
        })
    }

    async fn upload_video(
        &self,
        name: &str,
        video: &VideoSource,
    ) -> Result<AssetRef, PlatformError> {
        let data = video.read().await?;
        if data.is_empty() {
            return Err(PlatformError::invalid(
                "video",
                "0 bytes; a video needs some",
            ));
        }
        let form = Multipart::new(data.len() as u64)
            .text("upload_type", "UPLOAD_BY_FILE")
            .text("file_name", name)
            .text("video_signature", &md5_hex(&data))
            .file("video_file", name, &data);
        let answer = self.post_multipart("file/video/ad/upload/", form).await?;
        Ok(AssetRef {
            kind: AssetKind::Video,
            external_id: field(&answer, "/0/video_id")?,
        })
    }

    /// TikTok has no creative object: the spec travels inline with the ad.
    async fn create_creative(&self, spec: &CreativeSpec) -> Result<Creative, PlatformError> {
        let n_chars = spec.copy.primary_text.chars().count();
        if !(1..=AD_TEXT_MAX_CHARS).contains(&n_chars) {
            return Err(PlatformError::invalid(
                "copy.primary_text",
                format!("{n_chars} characters; tiktok ad_text takes 1 to {AD_TEXT_MAX_CHARS}"),
            ));
        }
        Ok(Creative {
            external_id: None,
            spec: spec.clone(),
        })
    }

    async fn create_ad(&self, spec: &AdSpec) -> Result<String, PlatformError> {
        let creative = &spec.creative.spec;
        let mut item = json!({
            "ad_name": spec.name,
            "ad_text": creative.copy.primary_text,
            "call_to_action": creative.copy.call_to_action.upper_name(),
            "landing_page_url": creative.copy.link_url,
            "identity_type": self.config.identity_type,
            "identity_id": self.config.identity_id,
        });
        let images: Vec<&str> = creative
            .image
            .iter()
            .map(|a| a.external_id.as_str())
            .collect();
        match &creative.video {
            Some(video) => {
                item["ad_format"] = json!("SINGLE_VIDEO");
                item["video_id"] = json!(video.external_id);
            }
            None if images.is_empty() => {
                return Err(PlatformError::invalid(
                    "creative",
                    "a tiktok ad needs a video or an image",
                ));
            }
            None => item["ad_format"] = json!("SINGLE_IMAGE"),
        }
        item["image_ids"] = json!(images);
        let body = json!({
            "adgroup_id": spec.ad_set_external_id,
            "operation_status": status_name(spec.status),
            "creatives": [item],
        });
        let data = self.post("ad/create/", body).await?;
        field(&data, "/ad_ids/0")
    }

    async fn pause(&self, kind: ObjectKind, external_id: &str) -> Result<(), PlatformError> {
        self.set_status(kind, external_id, DeliveryStatus::Paused)
            .await
    }

    async fn resume(&self, kind: ObjectKind, external_id: &str) -> Result<(), PlatformError> {
        self.set_status(kind, external_id, DeliveryStatus::Active)
            .await
    }

    async fn update_budget(
        &self,
        kind: ObjectKind,
        external_id: &str,
        budget: Budget,
    ) -> Result<(), PlatformError> {
        let amount = budget.check("budget")?.amount().to_units_f64();
        let (path, key) = match kind {
            ObjectKind::Campaign => ("campaign/update/", "campaign_id"),
            ObjectKind::AdSet => ("adgroup/update/", "adgroup_id"),
            ObjectKind::Ad => {
                return Err(PlatformError::invalid("kind", "a tiktok ad has no budget"));
            }
        };
        self.post(path, json!({ key: external_id, "budget": amount }))
            .await
            .map(|_| ())
    }

    async fn fetch_insights(&self, range: DateRange) -> Result<Vec<DailyAdMetrics>, PlatformError> {
        let mut metrics = vec!["spend", "impressions", "clicks", "conversion"];
        if let Some(revenue) = &self.config.revenue_metric {
            metrics.push(revenue.as_str());
        }
        let metrics = json!(metrics).to_string();
        let url = self.url("report/integrated/get/");
        let mut rows = Vec::new();
        for page in 1..=MAX_PAGES {
            let query = [
                ("advertiser_id", self.config.advertiser_id.clone()),
                ("report_type", "BASIC".to_string()),
                ("data_level", "AUCTION_AD".to_string()),
                ("dimensions", json!(["ad_id", "stat_time_day"]).to_string()),
                ("metrics", metrics.clone()),
                ("start_date", iso_date(range.since)),
                ("end_date", iso_date(range.until)),
                ("page", page.to_string()),
                ("page_size", "1000".to_string()),
            ];
            let data = self
                .http
                .execute(|c| c.get(&url).query(&query), interpret)
                .await?;
            for row in data
                .get("list")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                let money = |name: &str| {
                    Micros::from_decimal_str(&metric(row, name))
                        .map_err(|e| PlatformError::unexpected(&format!("tiktok metric {name}"), e))
                };
                rows.push(DailyAdMetrics {
                    ad_external_id: field(row, "/dimensions/ad_id")?,
                    date: parse_iso_date(&field(row, "/dimensions/stat_time_day")?)?,
                    impressions: count(row, "impressions")?,
                    clicks: count(row, "clicks")?,
                    spend: money("spend")?,
                    conversions: count(row, "conversion")?,
                    revenue: match &self.config.revenue_metric {
                        Some(name) => money(name)?,
                        None => Micros::ZERO,
                    },
                });
            }
            let total_pages = data
                .pointer("/page_info/total_page")
                .and_then(Value::as_u64)
                .unwrap_or(1);
            if page >= total_pages {
                return Ok(rows);
            }
        }
        Err(PlatformError::unexpected(
            "tiktok report",
            format!("more than {MAX_PAGES} pages"),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn countries_and_ages_map_to_tiktok_ids() {
        assert_eq!(
            location_ids(&["us".into(), "1234".into()]).unwrap(),
            vec!["6252001", "1234"]
        );
        assert!(location_ids(&["ZZ".into()]).is_err());
        assert_eq!(
            age_groups(Some(25), Some(40)),
            vec!["AGE_25_34", "AGE_35_44"]
        );
        assert_eq!(age_groups(None, None).len(), AGE_GROUPS.len());
    }
}
