//! `/api/campaigns`: create, read, list (paged by cursor, filtered by status and platform),
//! update and delete campaigns, scoped to the caller's owner. Every campaign carries a version;
//! reads return it as the ETag, and `PATCH` must send it back in `If-Match` (428 without,
//! 412 when another editor wrote first), so two editors never overwrite each other.
//! Money arrives as a decimal string or number in the campaign's currency and is kept as
//! integer micros.

use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::extract::{Auth, ValidJson, ValidQuery};
use super::{ApiError, AppState, paging};
use crate::orchestrate::platforms::money::{Currency, Micros};
use crate::store::campaigns::{CampaignFilter, CampaignRow, Versioned};
use crate::store::now_ms;

/// Longest campaign name, in characters.
pub const MAX_NAME_CHARS: usize = 200;
/// Most campaigns one page lists.
pub const MAX_PAGE: i64 = 100;
pub const OBJECTIVES: &[&str] = &[
    "awareness",
    "traffic",
    "engagement",
    "leads",
    "app_promotion",
    "sales",
];
/// A campaign's states: `draft` (planned, not approved), `active`, `paused`, `ended` (its schedule is
/// over) and `archived`.
pub const STATUSES: &[&str] = &["draft", "active", "paused", "ended", "archived"];
pub const PLATFORMS: &[&str] = &crate::orchestrate::Platform::NAMES;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/campaigns", get(list).post(create))
        .route(
            "/api/campaigns/{id}",
            get(read).patch(update).delete(remove),
        )
}

/// A budget as a decimal string ("50.00") or a JSON number.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(untagged)]
pub enum Amount {
    Text(String),
    Number(f64),
}

impl Amount {
    pub(super) fn micros(&self, field: &str) -> Result<Micros, ApiError> {
        let parsed = match self {
            Amount::Text(text) => Micros::budget_from_decimal_str(text),
            Amount::Number(n) => Micros::budget_from_f64(*n),
        };
        parsed.map_err(|e| ApiError::bad_request(format!("{field}: {e}")))
    }
}

/// A new campaign.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewCampaign {
    pub name: String,
    /// awareness, traffic, engagement, leads, app_promotion or sales.
    pub objective: String,
    /// draft (default), active, paused or archived.
    pub status: Option<String>,
    /// ISO 4217, e.g. USD.
    pub currency: String,
    pub daily_budget: Amount,
    /// YYYY-MM-DD.
    pub start_date: String,
    pub end_date: Option<String>,
    /// meta, google, tiktok, sandbox.
    pub platforms: Vec<String>,
    /// The product brief, free-form JSON.
    #[schema(value_type = Option<Object>)]
    pub brief: Option<Value>,
}

/// Fields to change; absent fields stay.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CampaignPatch {
    pub name: Option<String>,
    pub objective: Option<String>,
    pub status: Option<String>,
    pub currency: Option<String>,
    pub daily_budget: Option<Amount>,
    pub start_date: Option<String>,
    pub end_date: Option<String>,
    pub platforms: Option<Vec<String>>,
    #[schema(value_type = Option<Object>)]
    pub brief: Option<Value>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct CampaignView {
    pub id: String,
    pub name: String,
    pub objective: String,
    pub status: String,
    pub currency: String,
    /// A decimal string in the currency's units.
    pub daily_budget: String,
    pub start_date: String,
    pub end_date: Option<String>,
    pub platforms: Vec<String>,
    #[schema(value_type = Option<Object>)]
    pub brief: Option<Value>,
    /// Send it back in `If-Match` to update.
    pub version: i64,
    pub created_at: i64,
    pub updated_at: i64,
}

impl From<CampaignRow> for CampaignView {
    fn from(row: CampaignRow) -> Self {
        let daily_budget = in_units(row.daily_budget_micros, &row.currency);
        CampaignView {
            id: row.id,
            name: row.name,
            objective: row.objective,
            status: row.status,
            currency: row.currency,
            daily_budget,
            start_date: row.start_date,
            end_date: row.end_date,
            platforms: row.platforms,
            brief: row.brief,
            version: row.version,
            created_at: row.created_at,
            updated_at: row.updated_at,
        }
    }
}

/// Micros as a decimal string with the currency's minor-unit digits ("50.25" USD, "5000" JPY).
pub(super) fn in_units(micros: i64, currency: &str) -> String {
    let Ok(currency) = Currency::from_code(currency) else {
        return Micros(micros).to_string();
    };
    let digits = u32::from(currency.exponent());
    let (whole, fraction) = (micros / 1_000_000, (micros % 1_000_000).abs());
    match digits {
        0 => whole.to_string(),
        d => format!(
            "{whole}.{:0width$}",
            fraction / 10_i64.pow(6 - d),
            width = d as usize
        ),
    }
}

pub(super) fn one_of(field: &str, value: &str, allowed: &[&str]) -> Result<(), ApiError> {
    if allowed.contains(&value) {
        return Ok(());
    }
    Err(ApiError::bad_request(format!(
        "{field}: `{value}` is not one of {}",
        allowed.join(", ")
    )))
}

pub(super) fn date(field: &str, value: &str) -> Result<time::Date, ApiError> {
    let refuse = || ApiError::bad_request(format!("{field}: `{value}` is not a YYYY-MM-DD date"));
    if value.len() != 10 {
        return Err(refuse());
    }
    crate::orchestrate::platforms::parse_iso_date(value).map_err(|_| refuse())
}

/// Checks every field of a campaign about to be stored.
fn check(row: &CampaignRow) -> Result<(), ApiError> {
    let chars = row.name.trim().chars().count();
    if chars == 0 || chars > MAX_NAME_CHARS {
        return Err(ApiError::bad_request(format!(
            "name: {chars} characters; 1 to {MAX_NAME_CHARS} allowed"
        )));
    }
    one_of("objective", &row.objective, OBJECTIVES)?;
    one_of("status", &row.status, STATUSES)?;
    let currency = Currency::from_code(&row.currency)
        .map_err(|e| ApiError::bad_request(format!("currency: {e}")))?;
    if row.daily_budget_micros <= 0 {
        return Err(ApiError::bad_request("daily_budget: must be more than 0"));
    }
    Micros(row.daily_budget_micros)
        .to_minor_units(&currency)
        .map_err(|e| ApiError::bad_request(format!("daily_budget: {e}")))?;
    let start = date("start_date", &row.start_date)?;
    if let Some(end) = &row.end_date
        && date("end_date", end)? < start
    {
        return Err(ApiError::bad_request(format!(
            "end_date: {end} is before start_date {}",
            row.start_date
        )));
    }
    if row.platforms.is_empty() {
        return Err(ApiError::bad_request("platforms: at least one is required"));
    }
    for (i, platform) in row.platforms.iter().enumerate() {
        one_of(&format!("platforms[{i}]"), platform, PLATFORMS)?;
        if row.platforms[..i].contains(platform) {
            return Err(ApiError::bad_request(format!(
                "platforms[{i}]: `{platform}` is listed twice"
            )));
        }
    }
    if let Some(brief) = &row.brief
        && !brief.is_object()
    {
        return Err(ApiError::bad_request("brief: must be a JSON object"));
    }
    if let Some(url) = row.brief.as_ref().and_then(|b| b.get("landing_url")) {
        let url = url
            .as_str()
            .ok_or_else(|| ApiError::bad_request("brief.landing_url: must be a string"))?;
        super::urls::public_url("brief.landing_url", url)?;
    }
    Ok(())
}

fn with_etag(status: StatusCode, row: CampaignRow) -> Response {
    let etag = format!("\"{}\"", row.version);
    let mut response = (status, Json(CampaignView::from(row))).into_response();
    if let Ok(v) = HeaderValue::from_str(&etag) {
        response.headers_mut().insert(header::ETAG, v);
    }
    response
}

/// The version in `If-Match` (`"3"`, `W/"3"` or `3`), if any.
pub(super) fn if_match(headers: &HeaderMap) -> Result<Option<i64>, ApiError> {
    let Some(value) = headers.get(header::IF_MATCH) else {
        return Ok(None);
    };
    let text = value.to_str().unwrap_or("").trim();
    let text = text.strip_prefix("W/").unwrap_or(text).trim_matches('"');
    text.parse::<i64>().map(Some).map_err(|_| {
        ApiError::bad_request(format!(
            "If-Match header: `{text}` is not a campaign version (the ETag of a read)"
        ))
    })
}

fn not_found(id: &str) -> ApiError {
    ApiError::NotFound(format!("no campaign {id:?}"))
}

/// Creates a campaign (version 1).
#[utoipa::path(post, path = "/api/campaigns", tag = "campaigns", request_body = NewCampaign,
    responses((status = 201, body = CampaignView), (status = 400, body = super::ErrorBody)),
    security(("api_key" = [])))]
pub async fn create(
    State(state): State<AppState>,
    Auth(principal): Auth,
    ValidJson(body): ValidJson<NewCampaign>,
) -> Result<Response, ApiError> {
    let now = now_ms();
    let row = CampaignRow {
        id: uuid::Uuid::now_v7().to_string(),
        owner_id: principal.owner_id.clone(),
        name: body.name.trim().to_string(),
        objective: body.objective,
        status: body.status.unwrap_or_else(|| "draft".into()),
        currency: body.currency.to_ascii_uppercase(),
        daily_budget_micros: body.daily_budget.micros("daily_budget")?.0,
        start_date: body.start_date,
        end_date: body.end_date,
        platforms: body.platforms,
        brief: body.brief,
        version: 1,
        created_at: now,
        updated_at: now,
    };
    check(&row)?;
    state.store.insert_campaign(&row).await?;
    let location = format!("/api/campaigns/{}", row.id);
    let mut response = with_etag(StatusCode::CREATED, row);
    if let Ok(v) = HeaderValue::from_str(&location) {
        response.headers_mut().insert(header::LOCATION, v);
    }
    Ok(response)
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    pub status: Option<String>,
    pub platform: Option<String>,
    /// 1 to 100 (default 20).
    pub limit: Option<i64>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct CampaignPage {
    pub campaigns: Vec<CampaignView>,
    /// Pass as `cursor` for the next page; absent on the last.
    pub next_cursor: Option<String>,
}

/// The caller's campaigns, newest first.
#[utoipa::path(get, path = "/api/campaigns", tag = "campaigns", params(ListQuery),
    responses((status = 200, body = CampaignPage), (status = 400, body = super::ErrorBody)),
    security(("api_key" = [])))]
pub async fn list(
    State(state): State<AppState>,
    Auth(principal): Auth,
    ValidQuery(query): ValidQuery<ListQuery>,
) -> Result<Json<CampaignPage>, ApiError> {
    let limit = paging::limit(query.limit, 20, MAX_PAGE)?;
    if let Some(status) = &query.status {
        one_of("status", status, STATUSES)?;
    }
    if let Some(platform) = &query.platform {
        one_of("platform", platform, PLATFORMS)?;
    }
    let before = paging::cursor(query.cursor.as_deref())?;
    let filter = CampaignFilter {
        status: query.status,
        platform: query.platform,
        limit: limit + 1,
        before,
    };
    let mut rows = state
        .store
        .list_campaigns(&principal.owner_id, &filter)
        .await?;
    let next_cursor = paging::next_cursor(&mut rows, limit, |r| (r.created_at, &r.id));
    Ok(Json(CampaignPage {
        campaigns: rows.into_iter().map(CampaignView::from).collect(),
        next_cursor,
    }))
}

/// One campaign; its version is the ETag (`If-None-Match` with it gets 304).
#[utoipa::path(get, path = "/api/campaigns/{id}", tag = "campaigns", params(("id" = String, Path)),
    responses((status = 200, body = CampaignView), (status = 304, description = "Not modified"),
        (status = 404, body = super::ErrorBody)),
    security(("api_key" = [])))]
pub async fn read(
    State(state): State<AppState>,
    Auth(principal): Auth,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let row = state
        .store
        .get_campaign(&principal.owner_id, &id)
        .await?
        .ok_or_else(|| not_found(&id))?;
    let etag = format!("\"{}\"", row.version);
    let unchanged = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.trim() == etag);
    if unchanged {
        return Ok(StatusCode::NOT_MODIFIED.into_response());
    }
    Ok(with_etag(StatusCode::OK, row))
}

/// Changes a campaign. `If-Match` must carry the version read (428 without it, 412 when the
/// campaign changed since).
#[utoipa::path(patch, path = "/api/campaigns/{id}", tag = "campaigns", params(("id" = String, Path)),
    request_body = CampaignPatch,
    responses((status = 200, body = CampaignView), (status = 400, body = super::ErrorBody),
        (status = 404, body = super::ErrorBody), (status = 412, body = super::ErrorBody),
        (status = 428, body = super::ErrorBody)),
    security(("api_key" = [])))]
pub async fn update(
    State(state): State<AppState>,
    Auth(principal): Auth,
    Path(id): Path<String>,
    headers: HeaderMap,
    ValidJson(patch): ValidJson<CampaignPatch>,
) -> Result<Response, ApiError> {
    let current = state
        .store
        .get_campaign(&principal.owner_id, &id)
        .await?
        .ok_or_else(|| not_found(&id))?;
    let expected = if_match(&headers)?.ok_or_else(|| ApiError::PreconditionRequired(
        "If-Match header: required; send the ETag of your last read so another editor's change is not overwritten".into(),
    ))?;
    let mut row = current;
    if let Some(name) = patch.name {
        row.name = name.trim().to_string();
    }
    if let Some(budget) = &patch.daily_budget {
        row.daily_budget_micros = budget.micros("daily_budget")?.0;
    }
    row.objective = patch.objective.unwrap_or(row.objective);
    row.status = patch.status.unwrap_or(row.status);
    row.currency = patch
        .currency
        .map_or(row.currency, |c| c.to_ascii_uppercase());
    row.start_date = patch.start_date.unwrap_or(row.start_date);
    row.end_date = patch.end_date.or(row.end_date);
    row.platforms = patch.platforms.unwrap_or(row.platforms);
    row.brief = patch.brief.or(row.brief);
    row.updated_at = now_ms();
    check(&row)?;
    match state.store.update_campaign(&row, expected).await? {
        Versioned::Done(row) => Ok(with_etag(StatusCode::OK, row)),
        Versioned::Stale { current } => Err(stale(&id, expected, current)),
        Versioned::NotFound => Err(not_found(&id)),
    }
}

fn stale(id: &str, expected: i64, current: i64) -> ApiError {
    ApiError::PreconditionFailed(format!(
        "campaign {id} is at version {current}, not {expected}: someone else changed it; read it again and reapply your change"
    ))
}

/// Deletes a campaign (with `If-Match`, only at that version).
#[utoipa::path(delete, path = "/api/campaigns/{id}", tag = "campaigns", params(("id" = String, Path)),
    responses((status = 204, description = "Deleted"), (status = 404, body = super::ErrorBody),
        (status = 412, body = super::ErrorBody)),
    security(("api_key" = [])))]
pub async fn remove(
    State(state): State<AppState>,
    Auth(principal): Auth,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<StatusCode, ApiError> {
    let expected = if_match(&headers)?;
    match state
        .store
        .delete_campaign(&principal.owner_id, &id, expected)
        .await?
    {
        Versioned::Done(()) => Ok(StatusCode::NO_CONTENT),
        Versioned::Stale { current } => Err(stale(&id, expected.unwrap_or(0), current)),
        Versioned::NotFound => Err(not_found(&id)),
    }
}
