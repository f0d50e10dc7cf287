//! The Meta Marketing API (Graph API) client: campaigns, ad sets, images (base64 `bytes`),
//! videos (the three-phase upload on the `graph-video` host), ad creatives with
//! `object_story_spec`, ads, status and budget updates, and ad-level daily insights read page by
//! page through `paging.cursors.after`. Budgets go out as integers in the account currency's
//! minor unit; insights come back as strings and are read into [`Micros`] exactly.

use serde_json::{Value, json};

use super::http::{Auth, BackoffPolicy, HttpClient, Multipart, RawResponse, retry_after};
use super::{
    AdPlatform, AdSetSpec, AdSpec, AssetKind, AssetRef, Budget, CampaignSpec, Creative,
    CreativeSpec, Currency, DailyAdMetrics, DateRange, DeliveryStatus, Micros, ObjectKind,
    Objective, PlatformError, VideoSource, iso_date, parse_iso_date,
};
use crate::secret::Secret;
use async_trait::async_trait;

/// The most insight pages read for one range, against a cursor that never ends.
const MAX_PAGES: usize = 10_000;

/// Where and as whom the client talks.
#[derive(Debug, Clone)]
pub struct MetaConfig {
    /// `https://graph.facebook.com` in production.
    pub base_url: String,
    /// `https://graph-video.facebook.com`: video uploads go there.
    pub video_base_url: String,
    /// `v23.0`; the path's version segment.
    pub api_version: String,
    /// The ad account's id, without `act_`.
    pub ad_account_id: String,
    /// The Facebook page the ads speak as.
    pub page_id: String,
    pub currency: Currency,
    pub access_token: Secret,
    /// Send the token as `?access_token=` instead of `Authorization: Bearer`.
    pub token_in_query: bool,
    /// The app secret, where the app requires `appsecret_proof` on every call.
    pub app_secret: Option<Secret>,
    /// The `actions` entry counted as a conversion, and its `action_values` as revenue.
    pub conversion_action_type: String,
    /// Bytes per `transfer` request of a video upload.
    pub video_chunk_bytes: usize,
    pub backoff: BackoffPolicy,
    /// Draws the retry jitter.
    pub seed: u64,
}

pub struct MetaClient {
    config: MetaConfig,
    http: HttpClient,
}

impl MetaClient {
    pub fn new(config: MetaConfig) -> Result<Self, PlatformError> {
        let auth = Auth::Meta {
            access_token: config.access_token.clone(),
            token_in_query: config.token_in_query,
            appsecret_proof: config
                .app_secret
                .as_ref()
                .map(|secret| appsecret_proof(secret, &config.access_token)),
        };
        let http = HttpClient::new(auth, config.backoff, config.seed)?;
        Ok(Self { config, http })
    }

    fn url(&self, path: &str) -> String {
        format!(
            "{}/{}/{}",
            self.config.base_url.trim_end_matches('/'),
            self.config.api_version,
            path
        )
    }

    fn account_url(&self, edge: &str) -> String {
        self.url(&format!("act_{}/{edge}", self.config.ad_account_id))
    }

    async fn post(&self, url: &str, body: &Value) -> Result<Value, PlatformError> {
        self.http
            .execute(|c| c.post(url).json(body), interpret)
            .await
    }

    fn money(&self, budget: Budget, field: &str) -> Result<(String, i64), PlatformError> {
        let budget = budget.check(field)?;
        let minor = budget
            .amount()
            .to_minor_units(&self.config.currency)
            .map_err(|e| PlatformError::invalid(field, e.to_string()))?;
        let key = match budget {
            Budget::Daily(_) => "daily_budget",
            Budget::Lifetime(_) => "lifetime_budget",
        };
        Ok((key.to_string(), minor))
    }

    async fn set_status(&self, id: &str, status: DeliveryStatus) -> Result<(), PlatformError> {
        self.post(&self.url(id), &json!({ "status": status_name(status) }))
            .await
            .map(|_| ())
    }

    async fn upload_video_bytes(&self, name: &str, data: &[u8]) -> Result<String, PlatformError> {
        let url = format!(
            "{}/{}/act_{}/advideos",
            self.config.video_base_url.trim_end_matches('/'),
            self.config.api_version,
            self.config.ad_account_id
        );
        let start = self
            .post(
                &url,
                &json!({ "upload_phase": "start", "file_size": data.len() }),
            )
            .await?;
        let session = text_field(&start, "upload_session_id")?;
        let video_id = text_field(&start, "video_id")?;
        let mut offset = offset_field(&start, "start_offset")?;
        let mut end = offset_field(&start, "end_offset")?;
        let chunk = self.config.video_chunk_bytes.max(1);
        let mut rounds = 0usize;
        while offset < end && offset < data.len() {
            rounds += 1;
            if rounds > data.len() / chunk + 2 {
                return Err(PlatformError::unexpected(
                    "video transfer",
                    "offsets do not advance",
                ));
            }
            let stop = end.min(offset + chunk).min(data.len());
            let (content_type, body) = Multipart::new(offset as u64)
                .text("upload_phase", "transfer")
                .text("upload_session_id", &session)
                .text("start_offset", &offset.to_string())
                .file("video_file_chunk", name, &data[offset..stop])
                .finish();
            let body = bytes::Bytes::from(body);
            let answer = self
                .http
                .execute(
                    |c| {
                        c.post(&url)
                            .header(reqwest::header::CONTENT_TYPE, &content_type)
                            .body(body.clone())
                    },
                    interpret,
                )
                .await?;
            offset = offset_field(&answer, "start_offset")?;
            end = offset_field(&answer, "end_offset")?;
        }
        self.post(
            &url,
            &json!({ "upload_phase": "finish", "upload_session_id": session, "title": name }),
        )
        .await?;
        Ok(video_id)
    }

    fn creative_body(&self, spec: &CreativeSpec) -> Result<Value, PlatformError> {
        let copy = &spec.copy;
        let cta =
            json!({ "type": copy.call_to_action.upper_name(), "value": { "link": copy.link_url } });
        let image_hash = spec.image.as_ref().map(|a| a.external_id.clone());
        let story = match &spec.video {
            Some(video) => json!({
                "page_id": self.config.page_id,
                "video_data": {
                    "video_id": video.external_id,
                    "image_hash": image_hash.ok_or_else(|| PlatformError::invalid(
                        "image", "a meta video creative needs a cover image"))?,
                    "title": copy.headline,
                    "message": copy.primary_text,
                    "link_description": copy.description,
                    "call_to_action": cta,
                },
            }),
            None => json!({
                "page_id": self.config.page_id,
                "link_data": {
                    "image_hash": image_hash.ok_or_else(|| PlatformError::invalid(
                        "image", "a meta link creative needs an image"))?,
                    "link": copy.link_url,
                    "message": copy.primary_text,
                    "name": copy.headline,
                    "description": copy.description,
                    "call_to_action": cta,
                },
            }),
        };
        Ok(json!({ "name": spec.name, "object_story_spec": story }))
    }

    fn insight_row(&self, row: &Value) -> Result<DailyAdMetrics, PlatformError> {
        let count = |field: &str| -> Result<u64, PlatformError> {
            match row.get(field) {
                None | Some(Value::Null) => Ok(0),
                Some(v) => number_text(v)
                    .parse::<u64>()
                    .map_err(|e| PlatformError::unexpected(&format!("insights {field}"), e)),
            }
        };
        let wanted = &self.config.conversion_action_type;
        let action = |list: &str| -> Option<String> {
            row.get(list)?
                .as_array()?
                .iter()
                .find(|a| a.get("action_type").and_then(Value::as_str) == Some(wanted))
                .and_then(|a| a.get("value"))
                .map(number_text)
        };
        let conversions = match action("actions") {
            // Conversions can be fractional after attribution; whole ones are counted.
            Some(text) => Micros::from_decimal_str(&text)
                .map(|m| (m.0.max(0) / 1_000_000) as u64)
                .map_err(|e| PlatformError::unexpected("insights actions", e))?,
            None => 0,
        };
        let money = |text: Option<String>, what: &str| -> Result<Micros, PlatformError> {
            text.map_or(Ok(Micros::ZERO), |t| {
                Micros::from_decimal_str(&t).map_err(|e| PlatformError::unexpected(what, e))
            })
        };
        Ok(DailyAdMetrics {
            ad_external_id: text_field(row, "ad_id")?,
            date: parse_iso_date(&text_field(row, "date_start")?)?,
            impressions: count("impressions")?,
            clicks: count("clicks")?,
            spend: money(row.get("spend").map(number_text), "insights spend")?,
            conversions,
            revenue: money(action("action_values"), "insights action_values")?,
        })
    }
}

/// `appsecret_proof`: hex HMAC-SHA256 of the access token keyed by the app secret (RFC 2104).
pub fn appsecret_proof(app_secret: &Secret, access_token: &Secret) -> String {
    use sha2::{Digest, Sha256};
    const BLOCK: usize = 64;
    let mut key = app_secret.expose().as_bytes().to_vec();
    if key.len() > BLOCK {
        key = Sha256::digest(&key).to_vec();
    }
    key.resize(BLOCK, 0);
    let pad = |byte: u8| key.iter().map(|k| k ^ byte).collect::<Vec<u8>>();
    let inner = Sha256::new()
        .chain_update(pad(0x36))
        .chain_update(access_token.expose().as_bytes())
        .finalize();
    let outer = Sha256::new()
        .chain_update(pad(0x5c))
        .chain_update(inner)
        .finalize();
    hex::encode(outer)
}

fn status_name(status: DeliveryStatus) -> &'static str {
    match status {
        DeliveryStatus::Active => "ACTIVE",
        DeliveryStatus::Paused => "PAUSED",
    }
}

fn objective_name(objective: Objective) -> &'static str {
    match objective {
        Objective::Awareness => "OUTCOME_AWARENESS",
        Objective::Traffic => "OUTCOME_TRAFFIC",
        Objective::Engagement => "OUTCOME_ENGAGEMENT",
        Objective::Leads => "OUTCOME_LEADS",
        Objective::AppPromotion => "OUTCOME_APP_PROMOTION",
        Objective::Sales => "OUTCOME_SALES",
    }
}

fn optimization_goal(objective: Objective) -> &'static str {
    match objective {
        Objective::Awareness => "REACH",
        Objective::Traffic => "LINK_CLICKS",
        Objective::Engagement => "POST_ENGAGEMENT",
        Objective::Leads => "LEAD_GENERATION",
        Objective::AppPromotion => "APP_INSTALLS",
        Objective::Sales => "OFFSITE_CONVERSIONS",
    }
}

/// A number Meta may send as a string or a JSON number, as text.
fn number_text(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn text_field(value: &Value, field: &str) -> Result<String, PlatformError> {
    value
        .get(field)
        .filter(|v| !v.is_null())
        .map(number_text)
        .ok_or_else(|| PlatformError::unexpected("meta response", format!("no {field}")))
}

fn offset_field(value: &Value, field: &str) -> Result<usize, PlatformError> {
    text_field(value, field)?
        .parse()
        .map_err(|e| PlatformError::unexpected(&format!("meta {field}"), e))
}

/// Meta's `{ "error": { message, type, code, error_subcode, is_transient, fbtrace_id } }`.
pub fn interpret(response: RawResponse) -> Result<Value, PlatformError> {
    let body = match response.json() {
        Ok(body) => body,
        Err(_) if !(200..300).contains(&response.status) => return Err(response.status_error()),
        Err(e) => return Err(e),
    };
    let Some(error) = body.get("error") else {
        if (200..300).contains(&response.status) {
            return Ok(body);
        }
        return Err(response.status_error());
    };
    let code = error.get("code").and_then(Value::as_i64).unwrap_or(0);
    let subcode = error.get("error_subcode").and_then(Value::as_i64);
    let message = error
        .get("message")
        .and_then(Value::as_str)
        .unwrap_or("no message")
        .to_string();
    let transient = error.get("is_transient").and_then(Value::as_bool) == Some(true)
        || subcode == Some(1_363_037);
    Err(match code {
        4 | 17 | 32 | 613 | 80_000..=80_014 => PlatformError::RateLimited {
            retry_after: retry_after(&response.headers),
        },
        _ if transient || matches!(code, 1 | 2) => PlatformError::Transient { message },
        102 | 190 | 10 | 200..=299 => PlatformError::Auth { message },
        100 if response.status == 404 || subcode == Some(33) => PlatformError::NotFound { message },
        100 => PlatformError::InvalidRequest {
            field: error
                .pointer("/error_data/blame_field_specs/0/0")
                .and_then(Value::as_str)
                .map(str::to_string),
            message,
        },
        _ => PlatformError::Platform {
            code: match subcode {
                Some(sub) => format!("{code}/{sub}"),
                None => code.to_string(),
            },
            message,
            request_id: error
                .get("fbtrace_id")
                .and_then(Value::as_str)
                .map(str::to_string),
        },
    })
}

#[async_trait]
impl AdPlatform for MetaClient {
    async fn create_campaign(&self, spec: &CampaignSpec) -> Result<String, PlatformError> {
        let mut body = json!({
            "name": spec.name,
            "objective": objective_name(spec.objective),
            "status": status_name(spec.status),
            "special_ad_categories": [],
        });
        if let Some(budget) = spec.budget {
            let (key, minor) = self.money(budget, "budget")?;
            body[key] = json!(minor);
        }
        let answer = self.post(&self.account_url("campaigns"), &body).await?;
        text_field(&answer, "id")
    }

    async fn create_ad_set(&self, spec: &AdSetSpec) -> Result<String, PlatformError> {
        let mut targeting = json!({ "geo_locations": { "countries": spec.targeting.countries } });
        if let Some(age) = spec.targeting.age_min {
            targeting["age_min"] = json!(age);
        }
        if let Some(age) = spec.targeting.age_max {
            targeting["age_max"] = json!(age);
        }
        let mut body = json!({
            "name": spec.name,
            "campaign_id": spec.campaign_external_id,
            "billing_event": "IMPRESSIONS",
            "optimization_goal": optimization_goal(spec.objective),
            "bid_strategy": "LOWEST_COST_WITHOUT_CAP",
            "targeting": targeting,
            "start_time": format!("{}T00:00:00", iso_date(spec.start_date)),
            "status": status_name(spec.status),
        });
        if let Some(end) = spec.end_date {
            body["end_time"] = json!(format!("{}T23:59:59", iso_date(end)));
        }
        if let Some(budget) = spec.budget {
            let (key, minor) = self.money(budget, "budget")?;
            body[key] = json!(minor);
        }
        if let Some(bid) = spec.bid {
            body["bid_strategy"] = json!("LOWEST_COST_WITH_BID_CAP");
            body["bid_amount"] = json!(self.money(Budget::Daily(bid), "bid")?.1);
        }
        let answer = self.post(&self.account_url("adsets"), &body).await?;
        text_field(&answer, "id")
    }

    async fn upload_image(&self, name: &str, bytes: &[u8]) -> Result<AssetRef, PlatformError> {
        use base64::Engine;
        let encoded = base64::engine::general_purpose::STANDARD.encode(bytes);
        let answer = self
            .post(
                &self.account_url("adimages"),
                &json!({ "bytes": encoded, "name": name }),
            )
            .await?;
        let hash = answer
            .get("images")
            .and_then(Value::as_object)
            .and_then(|images| images.values().next())
            .and_then(|image| image.get("hash"))
            .and_then(Value::as_str)
            .ok_or_else(|| PlatformError::unexpected("meta adimages", "no images.{name}.hash"))?;
        Ok(AssetRef {
            kind: AssetKind::Image,
            external_id: hash.to_string(),
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
        Ok(AssetRef {
            kind: AssetKind::Video,
            external_id: self.upload_video_bytes(name, &data).await?,
        })
    }

    async fn create_creative(&self, spec: &CreativeSpec) -> Result<Creative, PlatformError> {
        let body = self.creative_body(spec)?;
        let answer = self.post(&self.account_url("adcreatives"), &body).await?;
        Ok(Creative {
            external_id: Some(text_field(&answer, "id")?),
            spec: spec.clone(),
        })
    }

    async fn create_ad(&self, spec: &AdSpec) -> Result<String, PlatformError> {
        let creative_id = spec.creative.external_id.as_ref().ok_or_else(|| {
            PlatformError::invalid(
                "creative",
                "a meta ad needs a creative made by create_creative",
            )
        })?;
        let body = json!({
            "name": spec.name,
            "adset_id": spec.ad_set_external_id,
            "creative": { "creative_id": creative_id },
            "status": status_name(spec.status),
        });
        let answer = self.post(&self.account_url("ads"), &body).await?;
        text_field(&answer, "id")
    }

    async fn pause(&self, _kind: ObjectKind, external_id: &str) -> Result<(), PlatformError> {
        self.set_status(external_id, DeliveryStatus::Paused).await
    }

    async fn resume(&self, _kind: ObjectKind, external_id: &str) -> Result<(), PlatformError> {
        self.set_status(external_id, DeliveryStatus::Active).await
    }

    async fn update_budget(
        &self,
        kind: ObjectKind,
        external_id: &str,
        budget: Budget,
    ) -> Result<(), PlatformError> {
        if kind == ObjectKind::Ad {
            return Err(PlatformError::invalid("kind", "a meta ad has no budget"));
        }
        let (key, minor) = self.money(budget, "budget")?;
        self.post(&self.url(external_id), &json!({ key: minor }))
            .await
            .map(|_| ())
    }

    async fn fetch_insights(&self, range: DateRange) -> Result<Vec<DailyAdMetrics>, PlatformError> {
        let url = self.account_url("insights");
        let time_range =
            json!({ "since": iso_date(range.since), "until": iso_date(range.until) }).to_string();
        let mut rows = Vec::new();
        let mut after: Option<String> = None;
        for _ in 0..MAX_PAGES {
            let mut query = vec![
                (
                    "fields",
                    "ad_id,impressions,clicks,spend,ctr,cpc,actions,action_values".to_string(),
                ),
                ("level", "ad".to_string()),
                ("time_increment", "1".to_string()),
                ("time_range", time_range.clone()),
                ("limit", "500".to_string()),
            ];
            if let Some(cursor) = &after {
                query.push(("after", cursor.clone()));
            }
            let page = self
                .http
                .execute(|c| c.get(&url).query(&query), interpret)
                .await?;
            for row in page
                .get("data")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                rows.push(self.insight_row(row)?);
            }
            after = page
                .pointer("/paging/cursors/after")
                .and_then(Value::as_str)
                .filter(|_| page.pointer("/paging/next").is_some())
                .map(str::to_string);
            if after.is_none() {
                return Ok(rows);
            }
        }
        Err(PlatformError::unexpected(
            "meta insights",
            format!("more than {MAX_PAGES} pages"),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn appsecret_proof_is_rfc_4231_hmac_sha256() {
        // RFC 4231, test case 2.
        assert_eq!(
            appsecret_proof(
                &Secret::new("Jefe"),
                &Secret::new("what do ya want for nothing?")
            ),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
        // A key longer than the block is hashed first (the value from Python's hmac module).
        assert_eq!(
            appsecret_proof(&Secret::new("k".repeat(100)), &Secret::new("meta-token")),
            "3ee67e06f4815cf779240ea02f2d4ca02f53704f147bdea80e424a6f4ac077d5"
        );
    }
}
