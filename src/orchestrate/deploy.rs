//! Deployments and metric syncs: a campaign's planned ad sets and ready creatives pushed to an
//! ad platform through the [`AdPlatform`] trait, and the platform's daily rows read back.
//!
//! Idempotency: every object the platform makes is recorded in the deployment's ledger
//! (`deployment_objects`) the moment its id comes back, keyed by (kind, local id): the campaign
//! by the campaign id, ad sets by ad set id, uploads by asset id, creatives by creative id, ads
//! by `ad set id:creative id`. A retried deployment (a crash, a lost lease, a platform error
//! half-way) reads the ledger first and creates only what is missing, so nothing exists twice.
//! The one window left is between the platform answering and the ledger write (a crash there);
//! the names carry the local id (`... [adforge:ID]`) so such an orphan can be found by hand.
//!
//! Which client a deployment talks through (the sandbox, or a connected account's REST client)
//! is [`super::platforms::clients`]' business.

use crate::orchestrate::Platform;
use std::collections::HashMap;

use serde_json::{Value, json};

use crate::orchestrate::platforms::{
    AdCopy, AdPlatform, AdSetSpec, AdSpec, AssetRef, Budget, CallToAction, CampaignSpec,
    CreativeSpec, DateRange, DeliveryStatus, Micros, ObjectKind, Objective, PlatformError,
    Targeting, VideoSource, parse_iso_date,
};
use crate::store::campaigns::CampaignRow;
use crate::store::creatives::{CreativeFilter, CreativeRow};
use crate::store::orchestration::{AdSetRow, DeploymentRow, MetricRow};
use crate::store::{Store, StoreError, now_ms};

/// Creatives one deployment pushes at most.
pub const MAX_CREATIVES: i64 = 50;

#[derive(Debug, thiserror::Error)]
pub enum DeployError {
    #[error(transparent)]
    Platform(#[from] PlatformError),
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The campaign is not deployable as it stands (the message names the field).
    #[error("{0}")]
    NotReady(String),
}

impl DeployError {
    pub fn is_retryable(&self) -> bool {
        match self {
            DeployError::Platform(e) => e.is_retryable(),
            DeployError::Store(e) => e.is_unavailable(),
            DeployError::NotReady(_) => false,
        }
    }
}

/// The button a copy's call-to-action text asks for.
pub fn call_to_action(text: &str) -> CallToAction {
    let t = text.to_ascii_lowercase();
    if t.contains("shop") || t.contains("buy") || t.contains("order") {
        CallToAction::ShopNow
    } else if t.contains("sign") || t.contains("join") || t.contains("subscribe") {
        CallToAction::SignUp
    } else if t.contains("download") || t.contains("install") {
        CallToAction::Download
    } else if t.contains("contact") || t.contains("call") {
        CallToAction::ContactUs
    } else {
        CallToAction::LearnMore
    }
}

/// What a creative must carry on a platform: the asset keys, in preference order.
fn media_keys(platform: &str) -> (&'static [&'static str], &'static [&'static str]) {
    match Platform::copy_platform_of(platform) {
        Platform::Tiktok => (&["poster:tiktok_in_feed"], &["video:tiktok_in_feed"]),
        Platform::Google => (&["google_display_landscape", "google_display_square"], &[]),
        Platform::Meta | Platform::Sandbox => (
            &["meta_feed_square", "meta_feed_portrait", "meta_link"],
            &[],
        ),
    }
}

/// Checks that a campaign can be deployed to `platform` (nothing is created): its ad sets and
/// ready creatives with the assets the platform needs, and a landing page. The sandbox
/// rehearses the whole plan: every platform's ad sets and creatives, whatever the campaign
/// lists.
pub fn check_deployable(
    campaign: &CampaignRow,
    platform: &str,
    ad_sets: &[AdSetRow],
    creatives: &[CreativeRow],
) -> Result<String, DeployError> {
    let rehearsal = platform == Platform::Sandbox.name();
    if !rehearsal && !campaign.platforms.iter().any(|p| p == platform) {
        return Err(DeployError::NotReady(format!(
            "platform: the campaign does not list `{platform}` (it lists {})",
            campaign.platforms.join(", ")
        )));
    }
    let landing = campaign
        .brief
        .as_ref()
        .and_then(|b| b.get("landing_url").or_else(|| b.get("url")))
        .and_then(Value::as_str)
        .filter(|u| u.starts_with("https://") || u.starts_with("http://"))
        .ok_or_else(|| {
            DeployError::NotReady(
                "brief.landing_url: required (an http(s) URL the ads link to)".into(),
            )
        })?
        .to_string();
    if rehearsal {
        return check_rehearsal(ad_sets, creatives).map(|()| landing);
    }
    if !ad_sets.iter().any(|a| a.platform == platform) {
        return Err(DeployError::NotReady(format!(
            "ad_sets: the campaign has no ad set for `{platform}` (plan it first)"
        )));
    }
    let ready: Vec<&CreativeRow> = creatives
        .iter()
        .filter(|c| c.platform == platform && matches!(c.status.as_str(), "ready" | "approved"))
        .collect();
    if ready.is_empty() {
        return Err(DeployError::NotReady(format!(
            "creatives: no ready or approved creative for `{platform}` (POST /api/generate first)"
        )));
    }
    check_media(platform, &ready)?;
    Ok(landing)
}

/// A rehearsal needs ad sets and, for each ad set's platform, a ready creative with that
/// platform's assets.
fn check_rehearsal(ad_sets: &[AdSetRow], creatives: &[CreativeRow]) -> Result<(), DeployError> {
    if ad_sets.is_empty() {
        return Err(DeployError::NotReady(
            "ad_sets: the campaign has no ad sets to rehearse (plan it first)".into(),
        ));
    }
    for ad_set in ad_sets {
        let mine: Vec<&CreativeRow> = creatives
            .iter()
            .filter(|c| c.platform == ad_set.platform)
            .collect();
        if mine.is_empty() {
            return Err(DeployError::NotReady(format!(
                "creatives: no ready or approved creative for `{}` (POST /api/generate first)",
                ad_set.platform
            )));
        }
        if let Some(bare) = mine.iter().find(|c| any_image(c).is_none()) {
            return Err(DeployError::NotReady(format!(
                "creatives[{}].assets: a rehearsal needs an image of the creative (it has none)",
                bare.id
            )));
        }
    }
    Ok(())
}

/// Any image of a creative (a format's render or a video's poster): what a rehearsal shows when
/// the creative lacks its platform's preferred format.
fn any_image(creative: &CreativeRow) -> Option<String> {
    creative.assets.as_object().and_then(|assets| {
        assets
            .iter()
            .find(|(k, v)| (!k.contains(':') || k.starts_with("poster:")) && v.is_string())
            .and_then(|(_, v)| v.as_str().map(str::to_string))
    })
}

/// Each creative carries the assets `platform` needs.
fn check_media(platform: &str, creatives: &[&CreativeRow]) -> Result<(), DeployError> {
    let (images, videos) = media_keys(platform);
    for creative in creatives {
        let has = |keys: &[&str]| keys.iter().any(|k| creative.assets.get(*k).is_some());
        if !has(images) || (!videos.is_empty() && !has(videos)) {
            let needed: Vec<&str> = images.iter().chain(videos).copied().collect();
            return Err(DeployError::NotReady(format!(
                "creatives[{}].assets: `{platform}` needs one of {} (the creative has {})",
                creative.id,
                needed.join(", "),
                creative
                    .assets
                    .as_object()
                    .map(|o| o.keys().cloned().collect::<Vec<_>>().join(", "))
                    .unwrap_or_default()
            )));
        }
    }
    Ok(())
}

/// Everything a deployment pushes, read from the store.
pub struct DeployInput {
    pub campaign: CampaignRow,
    pub ad_sets: Vec<AdSetRow>,
    pub creatives: Vec<CreativeRow>,
    pub landing_url: String,
}

impl DeployInput {
    pub async fn load(store: &Store, deployment: &DeploymentRow) -> Result<Self, DeployError> {
        let owner = &deployment.owner_id;
        let campaign = store
            .get_campaign(owner, &deployment.campaign_id)
            .await?
            .ok_or_else(|| DeployError::NotReady("campaign: it no longer exists".into()))?;
        // The sandbox rehearses the whole plan: every platform's ad sets and creatives.
        let rehearsal = deployment.platform == Platform::Sandbox.name();
        let ad_sets: Vec<AdSetRow> = store
            .list_ad_sets(owner, &campaign.id)
            .await?
            .into_iter()
            .filter(|a| rehearsal || a.platform == deployment.platform)
            .collect();
        let filter = CreativeFilter {
            campaign_id: Some(campaign.id.clone()),
            platform: (!rehearsal).then(|| deployment.platform.clone()),
            limit: MAX_CREATIVES,
            ..CreativeFilter::default()
        };
        let mut creatives: Vec<CreativeRow> = store
            .list_creatives(owner, &filter)
            .await?
            .into_iter()
            .filter(|c| matches!(c.status.as_str(), "ready" | "approved"))
            .collect();
        creatives.sort_by(|a, b| (a.created_at, &a.id).cmp(&(b.created_at, &b.id)));
        let landing_url = check_deployable(&campaign, &deployment.platform, &ad_sets, &creatives)?;
        Ok(Self {
            campaign,
            ad_sets,
            creatives,
            landing_url,
        })
    }
}

fn objective(name: &str) -> Objective {
    match name {
        "awareness" => Objective::Awareness,
        "traffic" => Objective::Traffic,
        "engagement" => Objective::Engagement,
        "leads" => Objective::Leads,
        "app_promotion" => Objective::AppPromotion,
        _ => Objective::Sales,
    }
}

fn targeting(value: &Value) -> Targeting {
    Targeting {
        countries: value
            .get("countries")
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(Value::as_str)
                    .map(str::to_string)
                    .collect()
            })
            .unwrap_or_default(),
        age_min: value
            .get("age_min")
            .and_then(Value::as_u64)
            .map(|v| v as u8),
        age_max: value
            .get("age_max")
            .and_then(Value::as_u64)
            .map(|v| v as u8),
    }
}

/// One step of a deployment: the ledger's id for (kind, local id), or the object made now and
/// recorded before anything else happens.
async fn step<F, Fut>(
    store: &Store,
    deployment: &DeploymentRow,
    kind: &str,
    local_id: &str,
    made: &mut Vec<String>,
    make: F,
) -> Result<String, DeployError>
where
    F: FnOnce() -> Fut,
    Fut: std::future::Future<Output = Result<String, PlatformError>>,
{
    if let Some(id) = store.ledger_get(&deployment.id, kind, local_id).await? {
        return Ok(id);
    }
    let external = make().await?;
    let id = store
        .ledger_put(deployment, kind, local_id, &external, now_ms())
        .await?;
    made.push(format!("{kind}:{local_id}"));
    Ok(id)
}

fn tagged(name: &str, local_id: &str) -> String {
    let short: String = name.chars().take(120).collect();
    format!("{short} [adforge:{local_id}]")
}

/// Pushes the campaign, its ad sets, uploads, creatives and ads; returns what exists now and
/// which steps were made by this call (`made`). Progress goes to the job, when there is one.
pub async fn deploy(
    store: &Store,
    assets: &crate::store::assets::AssetStore,
    platform: &dyn AdPlatform,
    deployment: &DeploymentRow,
    input: &DeployInput,
    job: Option<&crate::jobs::JobContext>,
) -> Result<Value, DeployError> {
    let progress = async |done: usize, total: usize, what: String| {
        if let Some(ctx) = job {
            // A lost attempt is noticed by the lease keeper; the ledger keeps the work.
            let _ = ctx
                .progress(
                    done as f64 / total.max(1) as f64,
                    &format!("deployed {what}"),
                )
                .await;
        }
    };
    let campaign = &input.campaign;
    let start = parse_iso_date(&campaign.start_date)?;
    let end = campaign
        .end_date
        .as_deref()
        .map(parse_iso_date)
        .transpose()?;
    let goal = objective(&campaign.objective);
    let ads: usize = input
        .creatives
        .iter()
        .map(|c| {
            input
                .ad_sets
                .iter()
                .filter(|a| a.platform == c.platform)
                .count()
        })
        .sum();
    let total = 1 + input.ad_sets.len() + input.creatives.len() * 2 + ads;
    let mut done = 0;
    let mut made = Vec::new();
    let campaign_spec = CampaignSpec {
        name: tagged(&campaign.name, &campaign.id),
        objective: goal,
        budget: None,
        start_date: start,
        end_date: end,
        status: DeliveryStatus::Active,
    };
    let campaign_id = step(
        store,
        deployment,
        "campaign",
        &campaign.id,
        &mut made,
        || platform.create_campaign(&campaign_spec),
    )
    .await?;
    done += 1;
    progress(done, total, "campaign".into()).await;
    let mut ad_set_ids = Vec::new();
    for ad_set in &input.ad_sets {
        let spec = AdSetSpec {
            campaign_external_id: campaign_id.clone(),
            name: tagged(&ad_set.name, &ad_set.id),
            objective: goal,
            budget: Some(Budget::Daily(Micros(ad_set.daily_budget_micros))),
            bid: None,
            targeting: targeting(&ad_set.targeting),
            start_date: start,
            end_date: end,
            status: DeliveryStatus::Active,
        };
        let id = step(store, deployment, "ad_set", &ad_set.id, &mut made, || {
            platform.create_ad_set(&spec)
        })
        .await?;
        ad_set_ids.push((ad_set.id.clone(), ad_set.platform.clone(), id));
        done += 1;
        progress(done, total, format!("ad set {}", ad_set.name)).await;
    }
    let rehearsal = deployment.platform == Platform::Sandbox.name();
    for creative in &input.creatives {
        // A creative is made for its own platform (in a rehearsal, each platform's).
        let (image_keys, video_keys) = media_keys(&creative.platform);
        let pick = |keys: &[&str]| {
            keys.iter()
                .find_map(|k| creative.assets.get(*k).and_then(Value::as_str))
                .map(str::to_string)
        };
        let image = pick(image_keys).or_else(|| rehearsal.then(|| any_image(creative)).flatten());
        let (image, video) = upload_media(
            store,
            assets,
            platform,
            deployment,
            &creative.id,
            (image, pick(video_keys)),
            &mut made,
        )
        .await?;
        done += 1;
        let text = |k: &str| {
            creative
                .copy
                .get(k)
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string()
        };
        let spec = CreativeSpec {
            name: tagged(&creative.name, &creative.id),
            copy: AdCopy {
                headline: text("headline"),
                primary_text: text("primary_text"),
                description: text("description"),
                call_to_action: call_to_action(&text("call_to_action")),
                link_url: input.landing_url.clone(),
            },
            square_image: image.clone(),
            image,
            logo: None,
            video,
            business_name: None,
        };
        let created_creative =
            ledgered_creative(store, platform, deployment, &creative.id, spec, &mut made).await?;
        done += 1;
        progress(done, total, format!("creative {}", creative.name)).await;
        for (ad_set_local, _, ad_set_external) in ad_set_ids
            .iter()
            .filter(|(_, platform, _)| *platform == creative.platform)
        {
            let local = format!("{ad_set_local}:{}", creative.id);
            let ad = AdSpec {
                ad_set_external_id: ad_set_external.clone(),
                name: tagged(&creative.name, &local),
                creative: created_creative.clone(),
                status: DeliveryStatus::Active,
            };
            step(store, deployment, "ad", &local, &mut made, || {
                platform.create_ad(&ad)
            })
            .await?;
            done += 1;
            progress(done, total, format!("ad for {}", creative.name)).await;
        }
    }
    let ledger = store.ledger(&deployment.owner_id, &deployment.id).await?;
    Ok(json!({
        "campaign_external_id": campaign_id,
        "objects": ledger.iter().map(|l| json!({"kind": l.kind, "local_id": l.local_id,
            "external_id": l.external_id})).collect::<Vec<_>>(),
        "made_now": made,
    }))
}

/// Uploads a creative's image and video (each once, through the ledger): the platform's refs.
async fn upload_media(
    store: &Store,
    assets: &crate::store::assets::AssetStore,
    platform: &dyn AdPlatform,
    deployment: &DeploymentRow,
    creative_id: &str,
    (image_asset, video_asset): (Option<String>, Option<String>),
    made: &mut Vec<String>,
) -> Result<(Option<AssetRef>, Option<AssetRef>), DeployError> {
    let image = match &image_asset {
        Some(asset_id) => {
            let row = assets
                .get(&deployment.owner_id, asset_id)
                .await?
                .ok_or_else(|| {
                    DeployError::NotReady(format!(
                        "creatives[{}].assets: asset {asset_id} no longer exists",
                        creative_id
                    ))
                })?;
            let external = step(store, deployment, "image", asset_id, made, || async {
                let bytes = assets.read(&row).await.map_err(|e| {
                    PlatformError::invalid("image", format!("reading asset {asset_id}: {e}"))
                })?;
                Ok(platform.upload_image(&row.name, &bytes).await?.external_id)
            })
            .await?;
            Some(AssetRef {
                kind: crate::orchestrate::platforms::AssetKind::Image,
                external_id: external,
            })
        }
        None => None,
    };
    let video = match video_asset {
        Some(asset_id) => {
            let row = assets
                .get(&deployment.owner_id, &asset_id)
                .await?
                .ok_or_else(|| {
                    DeployError::NotReady(format!(
                        "creatives[{}].assets: video asset {asset_id} no longer exists",
                        creative_id
                    ))
                })?;
            let external = step(store, deployment, "video", &asset_id, made, || async {
                let path = assets.local_file(&row).await.map_err(|e| {
                    PlatformError::invalid("video", format!("reading asset {asset_id}: {e}"))
                })?;
                let source = VideoSource::Path(path);
                Ok(platform.upload_video(&row.name, &source).await?.external_id)
            })
            .await?;
            Some(AssetRef {
                kind: crate::orchestrate::platforms::AssetKind::Video,
                external_id: external,
            })
        }
        None => None,
    };
    Ok((image, video))
}

/// The platform's creative for `spec`, made once: the ledger keeps its id (or, for platforms
/// that take the spec inline, a marker) so a retried deployment does not make it again.
async fn ledgered_creative(
    store: &Store,
    platform: &dyn AdPlatform,
    deployment: &DeploymentRow,
    creative_id: &str,
    spec: CreativeSpec,
    made: &mut Vec<String>,
) -> Result<crate::orchestrate::platforms::Creative, DeployError> {
    // Platforms without a creative object (Google, TikTok) take the spec inline: the
    // ledger then records the spec's name so the step is not repeated either.
    let created = match store
        .ledger_get(&deployment.id, "creative", creative_id)
        .await?
    {
        Some(id) => crate::orchestrate::platforms::Creative {
            external_id: Some(id).filter(|i| !i.starts_with("inline:")),
            spec,
        },
        None => {
            let c = platform.create_creative(&spec).await?;
            let recorded = c
                .external_id
                .clone()
                .unwrap_or_else(|| format!("inline:{}", creative_id));
            store
                .ledger_put(deployment, "creative", creative_id, &recorded, now_ms())
                .await?;
            made.push(format!("creative:{}", creative_id));
            c
        }
    };
    Ok(created)
}

/// Reads the platform's daily rows over `range` into the metrics table, each ad mapped to its
/// creative through the ledger. Returns the rows written.
pub async fn sync_metrics(
    store: &Store,
    platform: &dyn AdPlatform,
    deployment: &DeploymentRow,
    range: DateRange,
) -> Result<Vec<MetricRow>, DeployError> {
    let ledger = store.ledger(&deployment.owner_id, &deployment.id).await?;
    let creative_of: HashMap<&str, &str> = ledger
        .iter()
        .filter(|l| l.kind == "ad")
        .filter_map(|l| {
            let creative = l.local_id.split_once(':')?.1;
            Some((l.external_id.as_str(), creative))
        })
        .collect();
    let rows: Vec<MetricRow> = platform
        .fetch_insights(range)
        .await?
        .into_iter()
        .filter(|r| creative_of.contains_key(r.ad_external_id.as_str()))
        .map(|r| MetricRow {
            deployment_id: deployment.id.clone(),
            creative_id: creative_of
                .get(r.ad_external_id.as_str())
                .map(|c| c.to_string()),
            ad_external_id: r.ad_external_id,
            day: crate::orchestrate::platforms::iso_date(r.date),
            owner_id: deployment.owner_id.clone(),
            campaign_id: deployment.campaign_id.clone(),
            platform: deployment.platform.clone(),
            impressions: r.impressions as i64,
            clicks: r.clicks as i64,
            spend_micros: r.spend.0,
            conversions: r.conversions as f64,
            revenue_micros: r.revenue.0,
        })
        .collect();
    store.upsert_metrics(&rows, now_ms()).await?;
    Ok(rows)
}

/// Pauses or resumes every ad of a creative in a deployment; returns the ads touched.
pub async fn set_creative_delivery(
    store: &Store,
    platform: &dyn AdPlatform,
    deployment: &DeploymentRow,
    creative_id: &str,
    active: bool,
) -> Result<Vec<String>, DeployError> {
    let ledger = store.ledger(&deployment.owner_id, &deployment.id).await?;
    let mut touched = Vec::new();
    for ad in ledger
        .iter()
        .filter(|l| l.kind == "ad" && l.local_id.ends_with(&format!(":{creative_id}")))
    {
        if active {
            platform.resume(ObjectKind::Ad, &ad.external_id).await?;
        } else {
            platform.pause(ObjectKind::Ad, &ad.external_id).await?;
        }
        touched.push(ad.external_id.clone());
    }
    Ok(touched)
}
