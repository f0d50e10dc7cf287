//! The Google Ads API (REST) client for display campaigns: a campaign budget, then the campaign
//! (with `containsEuPoliticalAdvertising` set, which new campaigns require) and its location
//! criteria, ad groups, image assets, and responsive display ads; statuses and budgets by
//! `update` operations; daily ad metrics by GAQL through `googleAds:searchStream`. Money travels
//! as int64 micros in JSON strings. Objects are named by their resource names
//! (`customers/1/campaigns/2`), which are the external ids this client hands out. Errors come
//! from the `GoogleAdsFailure` in the error details, and from `partialFailureError` in a 200.
//!
//! Not in this slice: age targeting (ad group criteria) is refused rather than dropped, and
//! video ads, which reference a YouTube video the user supplies.

use async_trait::async_trait;
use serde_json::{Value, json};

use super::http::{Auth, BackoffPolicy, HttpClient, RawResponse};
use super::{
    AdPlatform, AdSetSpec, AdSpec, AssetKind, AssetRef, Budget, CampaignSpec, Creative,
    CreativeSpec, DailyAdMetrics, DateRange, DeliveryStatus, Micros, ObjectKind, Objective,
    PlatformError, VideoSource, iso_date, parse_iso_date,
};
use crate::secret::Secret;

/// Responsive display limits (PLATFORMS.md, creative specs: Google responsive display).
const HEADLINE_MAX_CHARS: usize = 30;
const LONG_HEADLINE_MAX_CHARS: usize = 90;
const DESCRIPTION_MAX_CHARS: usize = 90;
const BUSINESS_NAME_MAX_CHARS: usize = 25;
/// ISO 3166 numeric codes of the countries adforge targets by alpha-2; Google's country geo
/// target constants are 2000 + that number (`geoTargetConstants/2840` is the United States).
const ISO_NUMERIC: &[(&str, u32)] = &[
    ("AU", 36),
    ("BR", 76),
    ("CA", 124),
    ("DE", 276),
    ("ES", 724),
    ("FR", 250),
    ("GB", 826),
    ("IT", 380),
    ("JP", 392),
    ("MX", 484),
    ("US", 840),
];

#[derive(Debug, Clone)]
pub struct GoogleConfig {
    /// `https://googleads.googleapis.com` in production.
    pub base_url: String,
    /// `v21`.
    pub api_version: String,
    /// The customer id, digits only.
    pub customer_id: String,
    pub access_token: Secret,
    pub developer_token: Secret,
    /// The manager account acting for the customer, if any.
    pub login_customer_id: Option<String>,
    /// Whether the campaigns contain EU political advertising (new campaigns must say).
    pub contains_eu_political_advertising: bool,
    pub backoff: BackoffPolicy,
    pub seed: u64,
}

pub struct GoogleClient {
    config: GoogleConfig,
    http: HttpClient,
}

impl GoogleClient {
    pub fn new(config: GoogleConfig) -> Result<Self, PlatformError> {
        let auth = Auth::Google {
            access_token: config.access_token.clone(),
            developer_token: config.developer_token.clone(),
            login_customer_id: config.login_customer_id.clone(),
        };
        let http = HttpClient::new(auth, config.backoff, config.seed)?;
        Ok(Self { config, http })
    }

    fn url(&self, method: &str) -> String {
        format!(
            "{}/{}/customers/{}/{method}",
            self.config.base_url.trim_end_matches('/'),
            self.config.api_version,
            self.config.customer_id
        )
    }

    /// One `{resource}:mutate` with `operations`; the resource names of the results.
    async fn mutate(
        &self,
        resource: &str,
        operations: Vec<Value>,
    ) -> Result<Vec<String>, PlatformError> {
        let url = self.url(&format!("{resource}:mutate"));
        let body = json!({ "operations": operations, "partialFailure": true });
        let answer = self
            .http
            .execute(|c| c.post(&url).json(&body), interpret)
            .await?;
        if let Some(failure) = answer.get("partialFailureError").filter(|v| !v.is_null()) {
            return Err(failure_error(failure, 200));
        }
        let names: Vec<String> = answer
            .get("results")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|r| r.get("resourceName").and_then(Value::as_str))
            .map(str::to_string)
            .collect();
        if names.len() != operations.len() {
            return Err(PlatformError::unexpected(
                &format!("google {resource}:mutate"),
                format!(
                    "{} results for {} operations",
                    names.len(),
                    operations.len()
                ),
            ));
        }
        Ok(names)
    }

    async fn mutate_one(&self, resource: &str, operation: Value) -> Result<String, PlatformError> {
        let mut names = self.mutate(resource, vec![operation]).await?;
        names
            .pop()
            .ok_or_else(|| PlatformError::unexpected("google mutate", "no result"))
    }

    /// The rows of a GAQL query, all batches of the stream.
    async fn search(&self, query: &str) -> Result<Vec<Value>, PlatformError> {
        let url = self.url("googleAds:searchStream");
        let body = json!({ "query": query });
        let answer = self
            .http
            .execute(|c| c.post(&url).json(&body), interpret)
            .await?;
        let batches = answer.as_array().cloned().unwrap_or_else(|| vec![answer]);
        Ok(batches
            .iter()
            .flat_map(|b| {
                b.get("results")
                    .and_then(Value::as_array)
                    .cloned()
                    .unwrap_or_default()
            })
            .collect())
    }

    async fn set_status(
        &self,
        kind: ObjectKind,
        resource_name: &str,
        status: DeliveryStatus,
    ) -> Result<(), PlatformError> {
        let operation = json!({
            "update": { "resourceName": resource_name, "status": status_name(status) },
            "updateMask": "status",
        });
        self.mutate_one(resource_of(kind), operation)
            .await
            .map(|_| ())
    }
}

fn resource_of(kind: ObjectKind) -> &'static str {
    match kind {
        ObjectKind::Campaign => "campaigns",
        ObjectKind::AdSet => "adGroups",
        ObjectKind::Ad => "adGroupAds",
    }
}

fn status_name(status: DeliveryStatus) -> &'static str {
    match status {
        DeliveryStatus::Active => "ENABLED",
        DeliveryStatus::Paused => "PAUSED",
    }
}

fn budget_fields(budget: Budget) -> Result<Value, PlatformError> {
    Ok(match budget.check("budget")? {
        Budget::Daily(m) => json!({ "amountMicros": m.to_google_string() }),
        Budget::Lifetime(m) => {
            json!({ "totalAmountMicros": m.to_google_string(), "period": "CUSTOM_PERIOD" })
        }
    })
}

fn check_length(field: &str, text: &str, max: usize) -> Result<(), PlatformError> {
    let n = text.chars().count();
    if n == 0 || n > max {
        return Err(PlatformError::invalid(
            field,
            format!("{n} characters; google responsive display takes 1 to {max}"),
        ));
    }
    Ok(())
}

/// A resource name safe to quote inside GAQL.
fn checked_resource_name(name: &str) -> Result<&str, PlatformError> {
    if name.is_empty()
        || !name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"/~_-".contains(&b))
    {
        return Err(PlatformError::invalid(
            "external_id",
            format!("{name:?} is not a google resource name"),
        ));
    }
    Ok(name)
}

/// The error a `{ code, message, status, details: [GoogleAdsFailure] }` object says.
fn failure_error(error: &Value, http_status: u16) -> PlatformError {
    let message = error
        .get("message")
        .and_then(Value::as_str)
        .unwrap_or("no message")
        .to_string();
    let failure = error
        .get("details")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .find(|d| {
            d.get("@type")
                .and_then(Value::as_str)
                .is_some_and(|t| t.ends_with("GoogleAdsFailure"))
        });
    let request_id = failure
        .and_then(|f| f.get("requestId"))
        .and_then(Value::as_str)
        .map(str::to_string);
    let first = failure.and_then(|f| f.pointer("/errors/0"));
    let code = first
        .and_then(|e| e.get("errorCode"))
        .and_then(Value::as_object)
        .and_then(|m| m.iter().next())
        .map(|(kind, code)| (kind.clone(), code.as_str().unwrap_or("").to_string()));
    let detail = first
        .and_then(|e| e.get("message"))
        .and_then(Value::as_str)
        .map(str::to_string)
        .unwrap_or_else(|| message.clone());
    let field = first
        .and_then(|e| e.pointer("/location/fieldPathElements"))
        .and_then(Value::as_array)
        .map(|path| {
            path.iter()
                .filter_map(|p| p.get("fieldName").and_then(Value::as_str))
                .collect::<Vec<_>>()
                .join(".")
        })
        .filter(|f| !f.is_empty());
    let status = error.get("status").and_then(Value::as_str).unwrap_or("");
    match code {
        Some((kind, code)) => match kind.as_str() {
            _ if code == "RESOURCE_EXHAUSTED" => PlatformError::RateLimited { retry_after: None },
            "authenticationError" | "authorizationError" => PlatformError::Auth { message: detail },
            "internalError" => PlatformError::Transient { message: detail },
            "fieldError"
            | "requestError"
            | "rangeError"
            | "stringLengthError"
            | "mutateError"
            | "campaignError"
            | "adGroupError"
            | "adError"
            | "assetError"
            | "campaignBudgetError" => PlatformError::InvalidRequest {
                field,
                message: format!("{kind}.{code}: {detail}"),
            },
            _ => PlatformError::Platform {
                code: format!("{kind}.{code}"),
                message: detail,
                request_id,
            },
        },
        None => match (status, http_status) {
            ("RESOURCE_EXHAUSTED", _) | (_, 429) => {
                PlatformError::RateLimited { retry_after: None }
            }
            ("UNAUTHENTICATED" | "PERMISSION_DENIED", _) | (_, 401 | 403) => {
                PlatformError::Auth { message }
            }
            ("NOT_FOUND", _) | (_, 404) => PlatformError::NotFound { message },
            ("INTERNAL" | "UNAVAILABLE" | "DEADLINE_EXCEEDED", _) => {
                PlatformError::Transient { message }
            }
            (_, s) if s >= 500 => PlatformError::Transient { message },
            ("INVALID_ARGUMENT", _) => PlatformError::InvalidRequest { field, message },
            _ => PlatformError::Platform {
                code: if status.is_empty() {
                    http_status.to_string()
                } else {
                    status.to_string()
                },
                message,
                request_id,
            },
        },
    }
}

/// Google's `{ "error": ... }` (also as the element of a searchStream array).
pub fn interpret(response: RawResponse) -> Result<Value, PlatformError> {
    let body = match response.json() {
        Ok(body) => body,
        Err(_) if !(200..300).contains(&response.status) => return Err(response.status_error()),
        Err(e) => return Err(e),
    };
    let error = body.get("error").or_else(|| {
        body.as_array()
            .and_then(|batches| batches.iter().find_map(|b| b.get("error")))
    });
    match error {
        Some(error) => Err(failure_error(error, response.status)),
        None if (200..300).contains(&response.status) => Ok(body),
        None => Err(response.status_error()),
    }
}

fn number(value: Option<&Value>) -> Option<f64> {
    match value? {
        Value::String(s) => s.parse().ok(),
        v => v.as_f64(),
    }
}

fn insight_row(row: &Value) -> Result<DailyAdMetrics, PlatformError> {
    let bad =
        |what: &str| PlatformError::unexpected("google searchStream row", format!("bad {what}"));
    let count = |name: &str| -> Result<u64, PlatformError> {
        // Proto3 JSON leaves zero metrics out.
        Ok(number(row.pointer(&format!("/metrics/{name}")))
            .unwrap_or(0.0)
            .max(0.0) as u64)
    };
    let cost = match row.pointer("/metrics/costMicros").and_then(Value::as_str) {
        Some(text) => Micros::from_google_str(text).map_err(|_| bad("costMicros"))?,
        None => Micros::ZERO,
    };
    let revenue = Micros::from_f64(number(row.pointer("/metrics/conversionsValue")).unwrap_or(0.0))
        .map_err(|_| bad("conversionsValue"))?;
    Ok(DailyAdMetrics {
        ad_external_id: row
            .pointer("/adGroupAd/resourceName")
            .and_then(Value::as_str)
            .ok_or_else(|| bad("adGroupAd.resourceName"))?
            .to_string(),
        date: parse_iso_date(
            row.pointer("/segments/date")
                .and_then(Value::as_str)
                .ok_or_else(|| bad("segments.date"))?,
        )?,
        impressions: count("impressions")?,
        clicks: count("clicks")?,
        spend: cost,
        conversions: count("conversions")?,
        revenue,
    })
}

#[async_trait]
impl AdPlatform for GoogleClient {
    async fn create_campaign(&self, spec: &CampaignSpec) -> Result<String, PlatformError> {
        let budget = spec
            .budget
            .ok_or_else(|| PlatformError::invalid("budget", "a google campaign needs a budget"))?;
        let mut budget_body = budget_fields(budget)?;
        budget_body["name"] = json!(format!("{} budget", spec.name));
        budget_body["deliveryMethod"] = json!("STANDARD");
        budget_body["explicitlyShared"] = json!(false);
        let budget_name = self
            .mutate_one("campaignBudgets", json!({ "create": budget_body }))
            .await?;
        let mut campaign = json!({
            "name": spec.name,
            "status": status_name(spec.status),
            "advertisingChannelType": "DISPLAY",
            "campaignBudget": budget_name,
            "startDate": iso_date(spec.start_date),
            "containsEuPoliticalAdvertising": if self.config.contains_eu_political_advertising {
                "CONTAINS_EU_POLITICAL_ADVERTISING"
            } else {
                "DOES_NOT_CONTAIN_EU_POLITICAL_ADVERTISING"
            },
        });
        match spec.objective {
            Objective::Sales | Objective::Leads | Objective::AppPromotion => {
                campaign["maximizeConversions"] = json!({})
            }
            _ => campaign["manualCpc"] = json!({}),
        }
        if let Some(end) = spec.end_date {
            campaign["endDate"] = json!(iso_date(end));
        }
        self.mutate_one("campaigns", json!({ "create": campaign }))
            .await
    }

    async fn create_ad_set(&self, spec: &AdSetSpec) -> Result<String, PlatformError> {
        if spec.budget.is_some() {
            return Err(PlatformError::invalid(
                "budget",
                "google ad groups have no budget; set it on the campaign",
            ));
        }
        if spec.targeting.age_min.is_some() || spec.targeting.age_max.is_some() {
            return Err(PlatformError::invalid(
                "targeting.age_min",
                "age targeting is not sent to google yet; leave the ages empty",
            ));
        }
        let mut locations = Vec::new();
        for country in &spec.targeting.countries {
            let numeric = ISO_NUMERIC
                .iter()
                .find(|(code, _)| code.eq_ignore_ascii_case(country))
                .map(|(_, n)| 2000 + n)
                .ok_or_else(|| {
                    PlatformError::invalid(
                        "targeting.countries",
                        format!("{country:?} has no known google geo target constant"),
                    )
                })?;
            locations.push(json!({ "create": {
                "campaign": spec.campaign_external_id,
                "location": { "geoTargetConstant": format!("geoTargetConstants/{numeric}") },
            }}));
        }
        if !locations.is_empty() {
            self.mutate("campaignCriteria", locations).await?;
        }
        let mut group = json!({
            "name": spec.name,
            "campaign": spec.campaign_external_id,
            "status": status_name(spec.status),
            "type": "DISPLAY_STANDARD",
        });
        if let Some(bid) = spec.bid {
            group["cpcBidMicros"] = json!(bid.non_negative()?.to_google_string());
        }
        self.mutate_one("adGroups", json!({ "create": group }))
            .await
    }

    async fn upload_image(&self, name: &str, bytes: &[u8]) -> Result<AssetRef, PlatformError> {
        use base64::Engine;
        let data = base64::engine::general_purpose::STANDARD.encode(bytes);
        let operation = json!({ "create": {
            "name": name,
            "type": "IMAGE",
            "imageAsset": { "data": data },
        }});
        Ok(AssetRef {
            kind: AssetKind::Image,
            external_id: self.mutate_one("assets", operation).await?,
        })
    }

    async fn upload_video(
        &self,
        _name: &str,
        _video: &VideoSource,
    ) -> Result<AssetRef, PlatformError> {
        Err(PlatformError::invalid(
            "video",
            "google ads video creatives reference a youtube video id the user supplies; uploading is out of scope",
        ))
    }

    /// Google has no creative object: the responsive display ad is made with the ad. The
    /// limits are checked here, before anything is sent.
    async fn create_creative(&self, spec: &CreativeSpec) -> Result<Creative, PlatformError> {
        check_length("copy.headline", &spec.copy.headline, HEADLINE_MAX_CHARS)?;
        check_length(
            "copy.primary_text",
            &spec.copy.primary_text,
            LONG_HEADLINE_MAX_CHARS,
        )?;
        check_length(
            "copy.description",
            &spec.copy.description,
            DESCRIPTION_MAX_CHARS,
        )?;
        let business = spec.business_name.as_deref().unwrap_or_default();
        check_length("business_name", business, BUSINESS_NAME_MAX_CHARS)?;
        if spec.image.is_none() {
            return Err(PlatformError::invalid(
                "image",
                "a responsive display ad needs an image",
            ));
        }
        Ok(Creative {
            external_id: None,
            spec: spec.clone(),
        })
    }

    async fn create_ad(&self, spec: &AdSpec) -> Result<String, PlatformError> {
        let creative = &spec.creative.spec;
        let link = |asset: &Option<AssetRef>| -> Vec<Value> {
            asset
                .iter()
                .map(|a| json!({ "asset": a.external_id }))
                .collect()
        };
        let marketing = link(&creative.image);
        let square = match &creative.square_image {
            Some(_) => link(&creative.square_image),
            None => marketing.clone(),
        };
        let mut display = json!({
            "marketingImages": marketing,
            "squareMarketingImages": square,
            "headlines": [{ "text": creative.copy.headline }],
            "longHeadline": { "text": creative.copy.primary_text },
            "descriptions": [{ "text": creative.copy.description }],
            "businessName": creative.business_name.clone().unwrap_or_default(),
        });
        if creative.logo.is_some() {
            display["logoImages"] = json!(link(&creative.logo));
        }
        let operation = json!({ "create": {
            "adGroup": spec.ad_set_external_id,
            "status": status_name(spec.status),
            "ad": {
                "name": spec.name,
                "finalUrls": [creative.copy.link_url],
                "responsiveDisplayAd": display,
            },
        }});
        self.mutate_one("adGroupAds", operation).await
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
        if kind != ObjectKind::Campaign {
            return Err(PlatformError::invalid(
                "kind",
                "google budgets belong to campaigns",
            ));
        }
        let name = checked_resource_name(external_id)?;
        let rows = self
            .search(&format!(
                "SELECT campaign.campaign_budget FROM campaign WHERE campaign.resource_name = '{name}'"
            ))
            .await?;
        let budget_name = rows
            .first()
            .and_then(|r| r.pointer("/campaign/campaignBudget"))
            .and_then(Value::as_str)
            .ok_or_else(|| PlatformError::NotFound {
                message: format!("campaign {name}"),
            })?
            .to_string();
        let mut update = budget_fields(budget)?;
        let mask = if update.get("amountMicros").is_some() {
            "amountMicros"
        } else {
            "totalAmountMicros"
        };
        if let Some(fields) = update.as_object_mut() {
            fields.remove("period");
        }
        update["resourceName"] = json!(budget_name);
        self.mutate_one(
            "campaignBudgets",
            json!({ "update": update, "updateMask": mask }),
        )
        .await
        .map(|_| ())
    }

    async fn fetch_insights(&self, range: DateRange) -> Result<Vec<DailyAdMetrics>, PlatformError> {
        let query = format!(
            "SELECT ad_group_ad.resource_name, ad_group_ad.ad.id, segments.date, metrics.impressions, \
             metrics.clicks, metrics.cost_micros, metrics.conversions, metrics.conversions_value \
             FROM ad_group_ad WHERE segments.date BETWEEN '{}' AND '{}'",
            iso_date(range.since),
            iso_date(range.until)
        );
        self.search(&query).await?.iter().map(insight_row).collect()
    }
}
