//! Webhooks in: each platform's shared secret, from the command line or the environment. The
//! checks that authenticate a delivery and the parsing of what it names are in
//! [`adforge_input::webhook`] (with the other parsers of outside input, so they are fuzzed).

pub use adforge_input::webhook::*;

use crate::config::Secret;

/// The shared secrets of each platform's webhooks; a platform without one is refused.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct WebhookSecrets {
    /// Meta app secret: deliveries must carry its `X-Hub-Signature-256`.
    #[arg(long, env = "ADFORGE_META_APP_SECRET", hide_env_values = true)]
    pub meta_app_secret: Option<Secret>,
    /// The token Meta's subscription handshake must present as `hub.verify_token`.
    #[arg(long, env = "ADFORGE_META_VERIFY_TOKEN", hide_env_values = true)]
    pub meta_verify_token: Option<Secret>,
    /// Key of the `TikTok-Signature` HMAC.
    #[arg(long, env = "ADFORGE_TIKTOK_WEBHOOK_SECRET", hide_env_values = true)]
    pub tiktok_webhook_secret: Option<Secret>,
    /// Bearer token that Google Ads change deliveries (Pub/Sub push) must present.
    #[arg(long, env = "ADFORGE_GOOGLE_WEBHOOK_TOKEN", hide_env_values = true)]
    pub google_webhook_token: Option<Secret>,
}

impl WebhookSecrets {
    /// The secrets, borrowed for one delivery's checks.
    pub fn keys(&self) -> Secrets<'_> {
        Secrets {
            meta_app_secret: self.meta_app_secret.as_ref().map(Secret::expose),
            meta_verify_token: self.meta_verify_token.as_ref().map(Secret::expose),
            tiktok_webhook_secret: self.tiktok_webhook_secret.as_ref().map(Secret::expose),
            google_webhook_token: self.google_webhook_token.as_ref().map(Secret::expose),
        }
    }
}
