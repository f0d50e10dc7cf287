//! The ad-platform client a deployment talks through.
//!
//! - `sandbox`: an in-memory simulator, one per deployment, seeded from the deployment id. Its
//!   simulated days live as long as the process (a restart loses them; redeploy).
//! - `meta`, `google`, `tiktok`: the REST client of the owner's newest connection to that
//!   platform (`POST /api/platforms/{platform}/connections`), its tokens unsealed for the call
//!   and never kept; a Google access token about to expire is refreshed (and stored sealed)
//!   first. Base URLs and API versions come from [`PlatformEndpoints`], so a test or a proxy can
//!   stand in for the real hosts.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use sha2::{Digest, Sha256};
use time::Date;

use crate::auth::{GoogleOAuth, SecretBox, google_refresh};
use crate::config::PlatformEndpoints;
use crate::orchestrate::Platform;
use crate::orchestrate::deploy::DeployError;
use crate::orchestrate::platforms::google::{GoogleClient, GoogleConfig};
use crate::orchestrate::platforms::http::BackoffPolicy;
use crate::orchestrate::platforms::meta::{MetaClient, MetaConfig};
use crate::orchestrate::platforms::money::Currency;
use crate::orchestrate::platforms::sandbox::SandboxPlatform;
use crate::orchestrate::platforms::tiktok::{TikTokClient, TikTokConfig};
use crate::orchestrate::platforms::{AdPlatform, PlatformError, parse_iso_date};
use crate::store::campaigns::CampaignRow;
use crate::store::orchestration::DeploymentRow;
use crate::store::{ConnectionRow, Store};

/// What a process needs to reach connected ad accounts.
pub struct Connected {
    pub store: Store,
    pub secrets: Arc<SecretBox>,
    pub endpoints: PlatformEndpoints,
    pub backoff: BackoffPolicy,
    http: reqwest::Client,
}

impl Connected {
    pub fn new(store: Store, secrets: Arc<SecretBox>, endpoints: PlatformEndpoints) -> Self {
        Self {
            store,
            secrets,
            endpoints,
            backoff: BackoffPolicy::default(),
            http: reqwest::Client::new(),
        }
    }
}

/// The platform clients of this process.
#[derive(Default)]
pub struct Platforms {
    sandboxes: Mutex<HashMap<String, Arc<SandboxPlatform>>>,
    /// `None`: only the sandbox (a process with no sealed-credential keys).
    connected: Option<Connected>,
}

fn seed_of(text: &str) -> u64 {
    let digest = Sha256::digest(text.as_bytes());
    u64::from_le_bytes(digest[..8].try_into().unwrap_or([0; 8]))
}

fn not_ready(message: String) -> DeployError {
    DeployError::NotReady(message)
}

impl Platforms {
    pub fn new(connected: Option<Connected>) -> Self {
        Self {
            sandboxes: Mutex::default(),
            connected,
        }
    }

    /// The sandbox of a deployment, made on first use (first day: the campaign's start).
    pub fn sandbox(
        &self,
        deployment_id: &str,
        first_day: Date,
    ) -> Result<Arc<SandboxPlatform>, PlatformError> {
        let mut map = self
            .sandboxes
            .lock()
            .map_err(|_| PlatformError::Transient {
                message: "sandbox registry poisoned".into(),
            })?;
        if let Some(found) = map.get(deployment_id) {
            return Ok(found.clone());
        }
        let sandbox = Arc::new(SandboxPlatform::new(seed_of(deployment_id), first_day)?);
        map.insert(deployment_id.to_string(), sandbox.clone());
        Ok(sandbox)
    }

    /// The existing sandbox of a deployment, if this process made one.
    pub fn existing_sandbox(&self, deployment_id: &str) -> Option<Arc<SandboxPlatform>> {
        self.sandboxes.lock().ok()?.get(deployment_id).cloned()
    }

    /// The client for a deployment's platform.
    pub async fn client(
        &self,
        deployment: &DeploymentRow,
        campaign: &CampaignRow,
    ) -> Result<Arc<dyn AdPlatform>, DeployError> {
        let platform = Platform::from_name(&deployment.platform).ok_or_else(|| {
            not_ready(format!("platform: `{}` is not known", deployment.platform))
        })?;
        if platform.is_sandbox() {
            let first = parse_iso_date(&campaign.start_date)?;
            return Ok(self.sandbox(&deployment.id, first)?);
        }
        let needs_connection = || {
            not_ready(format!(
                "platform: `{platform}` needs a connected account \
                 (POST /api/platforms/{platform}/connections)"
            ))
        };
        let connected = self.connected.as_ref().ok_or_else(needs_connection)?;
        let row = connected
            .store
            .platform_connection(&deployment.owner_id, platform.name())
            .await?
            .ok_or_else(needs_connection)?;
        if row.currency != campaign.currency {
            return Err(not_ready(format!(
                "currency: the campaign is in {} but the {platform} account {} bills in {}",
                campaign.currency, row.account_id, row.currency
            )));
        }
        connected.client(&row, &deployment.id).await
    }
}

impl Platforms {
    /// Tests a connection with a read-only call the platform answers only for valid
    /// credentials: yesterday's insights of the account. Answers what it read, or why not.
    pub async fn test_connection(&self, row: &ConnectionRow) -> Result<String, String> {
        let connected = self
            .connected
            .as_ref()
            .ok_or("connections are not set up on this server")?;
        let client = connected
            .client(row, &format!("connection-test-{}", row.id))
            .await
            .map_err(|e| e.to_string())?;
        let yesterday = time::OffsetDateTime::now_utc().date() - time::Duration::days(1);
        let rows = client
            .fetch_insights(super::DateRange {
                since: yesterday,
                until: yesterday,
            })
            .await
            .map_err(|e| format!("{} refused: {e}", row.platform))?;
        Ok(format!(
            "{} account {} answered: {} rows of yesterday's delivery",
            row.platform,
            row.account_id,
            rows.len()
        ))
    }
}

impl Connected {
    /// The REST client of one connection.
    async fn client(
        &self,
        row: &ConnectionRow,
        deployment_id: &str,
    ) -> Result<Arc<dyn AdPlatform>, DeployError> {
        let platform = Platform::from_name(&row.platform)
            .ok_or_else(|| not_ready(format!("platform: `{}` is not known", row.platform)))?;
        let row = if platform == Platform::Google {
            self.fresh_google(row).await?
        } else {
            row.clone()
        };
        let credentials = self.secrets.open_credentials(&row).map_err(|e| {
            not_ready(format!(
                "connection {}: its credentials cannot be opened ({e}); connect the account again",
                row.id
            ))
        })?;
        let currency = Currency::from_code(&row.currency)
            .map_err(|e| not_ready(format!("connection {}: currency: {e}", row.id)))?;
        let missing = |field: &str| {
            not_ready(format!(
                "connection {}: `{field}` is required for {}; connect the account again with it",
                row.id, row.platform
            ))
        };
        let e = &self.endpoints;
        let seed = seed_of(deployment_id);
        let client: Arc<dyn AdPlatform> = match platform {
            Platform::Meta => Arc::new(MetaClient::new(MetaConfig {
                base_url: e.meta_base_url.clone(),
                video_base_url: e.meta_video_base_url.clone(),
                api_version: e.meta_api_version.clone(),
                ad_account_id: row.account_id.clone(),
                page_id: row.page_id.clone().ok_or_else(|| missing("page_id"))?,
                currency,
                access_token: credentials.access_token,
                token_in_query: false,
                app_secret: credentials.app_secret,
                conversion_action_type: e.meta_conversion_action.clone(),
                video_chunk_bytes: 4 * 1024 * 1024,
                backoff: self.backoff,
                seed,
            })?),
            Platform::Google => Arc::new(GoogleClient::new(GoogleConfig {
                base_url: e.google_ads_base_url.clone(),
                api_version: e.google_ads_api_version.clone(),
                customer_id: row
                    .customer_id
                    .clone()
                    .ok_or_else(|| missing("customer_id"))?,
                access_token: credentials.access_token,
                developer_token: credentials
                    .developer_token
                    .ok_or_else(|| missing("developer_token"))?,
                login_customer_id: row.login_customer_id.clone(),
                contains_eu_political_advertising: false,
                backoff: self.backoff,
                seed,
            })?),
            Platform::Tiktok => Arc::new(TikTokClient::new(TikTokConfig {
                base_url: e.tiktok_base_url.clone(),
                api_version: e.tiktok_api_version.clone(),
                advertiser_id: row.account_id.clone(),
                identity_type: "CUSTOMIZED_USER".into(),
                identity_id: row
                    .identity_id
                    .clone()
                    .ok_or_else(|| missing("identity_id"))?,
                access_token: credentials.access_token,
                revenue_metric: None,
                backoff: self.backoff,
                seed,
            })?),
            Platform::Sandbox => {
                return Err(not_ready(
                    "platform: the sandbox has no connections".to_string(),
                ));
            }
        };
        Ok(client)
    }

    /// A Google connection whose access token is good for five more minutes (refreshed first
    /// when it is not, with the configured OAuth client).
    async fn fresh_google(&self, row: &ConnectionRow) -> Result<ConnectionRow, DeployError> {
        let e = &self.endpoints;
        let (Some(client_id), Some(client_secret)) = (&e.google_client_id, &e.google_client_secret)
        else {
            // Without an OAuth client the token is used as it is, until it expires.
            return Ok(row.clone());
        };
        let oauth = GoogleOAuth {
            token_url: e.google_token_url.clone(),
            client_id: client_id.clone(),
            client_secret: client_secret.clone(),
        };
        google_refresh(&self.http, &oauth, &self.store, &self.secrets, row)
            .await
            .map_err(|e| {
                use crate::auth::RefreshError as R;
                let message = format!("refreshing the Google token: {e}");
                match e {
                    R::Store(e) => DeployError::Store(e),
                    R::Http(_) | R::BadAnswer(_) | R::Contended(_) => {
                        DeployError::Platform(PlatformError::Transient { message })
                    }
                    _ => DeployError::Platform(PlatformError::Auth { message }),
                }
            })
    }
}
