//! The ad platforms adforge knows, as one enum used everywhere: campaigns and their ad sets,
//! deployments and their ledger, connections, copy limits and webhooks. Stored and sent by
//! name (`meta`, `google`, `tiktok`, `sandbox`).

use serde::{Deserialize, Serialize};

/// An ad platform. `Sandbox` is adforge's seeded simulator: a place to rehearse a campaign,
/// with no account to connect and no webhooks.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    Serialize,
    Deserialize,
    utoipa::ToSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum Platform {
    Meta,
    Google,
    Tiktok,
    Sandbox,
}

impl Platform {
    /// Every platform, in the order the API lists them.
    pub const ALL: [Platform; 4] = [
        Platform::Meta,
        Platform::Google,
        Platform::Tiktok,
        Platform::Sandbox,
    ];
    /// The platforms an owner connects an ad account of (all but the sandbox).
    pub const CONNECTABLE: [Platform; 3] = [Platform::Meta, Platform::Google, Platform::Tiktok];

    /// The names of [`Self::ALL`], for validation messages and request schemas.
    pub const NAMES: [&'static str; 4] = [
        Platform::ALL[0].name(),
        Platform::ALL[1].name(),
        Platform::ALL[2].name(),
        Platform::ALL[3].name(),
    ];
    /// The names of [`Self::CONNECTABLE`].
    pub const CONNECTABLE_NAMES: [&'static str; 3] = [
        Platform::CONNECTABLE[0].name(),
        Platform::CONNECTABLE[1].name(),
        Platform::CONNECTABLE[2].name(),
    ];

    /// The name in routes, rows, payloads and event kinds.
    pub const fn name(self) -> &'static str {
        match self {
            Platform::Meta => "meta",
            Platform::Google => "google",
            Platform::Tiktok => "tiktok",
            Platform::Sandbox => "sandbox",
        }
    }

    /// The platform of a name, if it is one.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|p| p.name() == name)
    }

    /// Where ads of this platform show, for people (and copy prompts).
    pub fn label(self) -> &'static str {
        match self {
            Platform::Meta => "Meta (Facebook and Instagram)",
            Platform::Google => "Google responsive display",
            Platform::Tiktok => "TikTok",
            Platform::Sandbox => "the sandbox (simulated Meta-style placements)",
        }
    }

    /// The platform whose copy limits and creative formats this one uses: the sandbox
    /// rehearses with Meta's.
    pub fn copy_platform(self) -> Self {
        match self {
            Platform::Sandbox => Platform::Meta,
            other => other,
        }
    }

    /// The copy platform of a stored platform name (an unknown name: Meta's, as the sandbox).
    pub fn copy_platform_of(name: &str) -> Self {
        Self::from_name(name).map_or(Platform::Meta, Platform::copy_platform)
    }

    pub fn is_sandbox(self) -> bool {
        self == Platform::Sandbox
    }
}

impl std::fmt::Display for Platform {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl std::str::FromStr for Platform {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::from_name(s).ok_or_else(|| {
            let names: Vec<&str> = Self::ALL.iter().map(|p| p.name()).collect();
            format!("{s:?} is not a platform ({})", names.join(", "))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_through_serde_and_from_name() {
        for p in Platform::ALL {
            assert_eq!(Platform::from_name(p.name()), Some(p));
            assert_eq!(serde_json::to_value(p).unwrap(), p.name());
            assert_eq!(p.to_string().parse::<Platform>(), Ok(p));
        }
        assert!("facebook".parse::<Platform>().is_err());
        assert_eq!(Platform::Sandbox.copy_platform(), Platform::Meta);
    }
}
