//! Every creative format adforge renders, in one table: size, the platform and placement it is
//! for, and the zone text must stay out of. Each row cites its source: the recommended values of
//! ../shared/PLATFORMS.md ("Creative specs"), which summarise the platforms' own specs; rows
//! where adforge chose a value say so. The compositor and the video renderer take their sizes
//! and safe zones from here and nowhere else.

use serde::Serialize;

/// Fractions of the height (top, bottom) and width (left, right) where text must not go.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, utoipa::ToSchema)]
pub struct SafeZone {
    pub top: f64,
    pub bottom: f64,
    pub left: f64,
    pub right: f64,
}

impl SafeZone {
    pub const NONE: SafeZone = SafeZone {
        top: 0.0,
        bottom: 0.0,
        left: 0.0,
        right: 0.0,
    };

    /// The rectangle text may use, in pixels: (x, y, width, height).
    pub fn text_area(&self, width: u32, height: u32) -> (u32, u32, u32, u32) {
        let (w, h) = (f64::from(width), f64::from(height));
        let x = (w * self.left).ceil() as u32;
        let y = (h * self.top).ceil() as u32;
        let right = (w * (1.0 - self.right)).floor() as u32;
        let bottom = (h * (1.0 - self.bottom)).floor() as u32;
        (x, y, right.saturating_sub(x), bottom.saturating_sub(y))
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Medium {
    /// A still image (or a video's frame size where the format also takes video).
    Image,
    /// A still image or a video.
    ImageOrVideo,
    /// A logo slot.
    Logo,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Format {
    /// Stable id used in requests, e.g. `meta_feed_square`.
    pub id: &'static str,
    pub platform: &'static str,
    pub placement: &'static str,
    pub width: u32,
    pub height: u32,
    pub medium: Medium,
    pub safe_zone: SafeZone,
    /// Where the size and the zone come from.
    pub source: &'static str,
}

const fn format(
    id: &'static str,
    platform: &'static str,
    placement: &'static str,
    (width, height): (u32, u32),
    medium: Medium,
    safe_zone: SafeZone,
    source: &'static str,
) -> Format {
    Format {
        id,
        platform,
        placement,
        width,
        height,
        medium,
        safe_zone,
        source,
    }
}

/// Stories and Reels: text out of the top 14% and the bottom 20%.
const STORIES: SafeZone = SafeZone {
    top: 0.14,
    bottom: 0.20,
    left: 0.0,
    right: 0.0,
};

/// Reels keep the bottom 35% clear (captions and controls).
const REELS: SafeZone = SafeZone {
    top: 0.14,
    bottom: 0.35,
    left: 0.0,
    right: 0.0,
};

use Medium::{Image, ImageOrVideo, Logo};

pub const FORMATS: &[Format] = &[
    format(
        "meta_feed_square",
        "meta",
        "feed",
        (1080, 1080),
        ImageOrVideo,
        SafeZone::NONE,
        "PLATFORMS.md, Creative specs: Meta feed 1080x1080 (1:1)",
    ),
    format(
        "meta_feed_portrait",
        "meta",
        "feed",
        (1080, 1350),
        ImageOrVideo,
        SafeZone::NONE,
        "PLATFORMS.md, Creative specs: Meta feed 1080x1350 (4:5)",
    ),
    format(
        "meta_stories",
        "meta",
        "stories",
        (1080, 1920),
        ImageOrVideo,
        STORIES,
        "PLATFORMS.md, Creative specs: Meta Stories 1080x1920, text out of the top 14% and bottom 20%",
    ),
    format(
        "meta_reels",
        "meta",
        "reels",
        (1080, 1920),
        ImageOrVideo,
        REELS,
        "PLATFORMS.md, Creative specs: Meta Reels 1080x1920, text out of the top 14% and bottom 35%",
    ),
    format(
        "meta_link",
        "meta",
        "link",
        (1200, 628),
        Image,
        SafeZone::NONE,
        "PLATFORMS.md, Creative specs: Meta link 1200x628 (1.91:1)",
    ),
    format(
        "google_display_landscape",
        "google",
        "responsive display",
        (1200, 628),
        Image,
        SafeZone::NONE,
        "PLATFORMS.md, Creative specs: Google responsive display 1200x628",
    ),
    format(
        "google_display_square",
        "google",
        "responsive display",
        (1200, 1200),
        Image,
        SafeZone::NONE,
        "PLATFORMS.md, Creative specs: Google responsive display 1200x1200",
    ),
    format(
        "google_logo_square",
        "google",
        "responsive display logo",
        (1200, 1200),
        Logo,
        SafeZone::NONE,
        "PLATFORMS.md, Creative specs: Google logo 1200x1200",
    ),
    format(
        "google_logo_landscape",
        "google",
        "responsive display logo",
        (1200, 300),
        Logo,
        SafeZone::NONE,
        "PLATFORMS.md, Creative specs: Google logo 1200x300",
    ),
    format(
        "iab_medium_rectangle",
        "iab",
        "display",
        (300, 250),
        Image,
        SafeZone::NONE,
        "PLATFORMS.md, Creative specs: IAB 300x250",
    ),
    format(
        "iab_leaderboard",
        "iab",
        "display",
        (728, 90),
        Image,
        SafeZone::NONE,
        "PLATFORMS.md, Creative specs: IAB 728x90",
    ),
    format(
        "iab_wide_skyscraper",
        "iab",
        "display",
        (160, 600),
        Image,
        SafeZone::NONE,
        "PLATFORMS.md, Creative specs: IAB 160x600",
    ),
    format(
        "iab_mobile_banner",
        "iab",
        "display",
        (320, 50),
        Image,
        SafeZone::NONE,
        "PLATFORMS.md, Creative specs: IAB 320x50",
    ),
    format(
        "iab_half_page",
        "iab",
        "display",
        (300, 600),
        Image,
        SafeZone::NONE,
        "PLATFORMS.md, Creative specs: IAB 300x600",
    ),
    format(
        "iab_billboard",
        "iab",
        "display",
        (970, 250),
        Image,
        SafeZone::NONE,
        "PLATFORMS.md, Creative specs: IAB 970x250",
    ),
    format(
        "tiktok_in_feed",
        "tiktok",
        "in-feed",
        (1080, 1920),
        ImageOrVideo,
        STORIES,
        "PLATFORMS.md, Creative specs: TikTok in-feed 1080x1920 (9:16); the safe zone is adforge's choice (the Stories zone: PLATFORMS.md gives none for TikTok)",
    ),
    format(
        "youtube_landscape",
        "google",
        "youtube and google video",
        (1920, 1080),
        ImageOrVideo,
        SafeZone::NONE,
        "ISSUE-NOTES, Across all issues: 16:9 1920x1080 for YouTube and Google video",
    ),
];

/// Looks a format up by id.
pub fn find(id: &str) -> Option<&'static Format> {
    FORMATS.iter().find(|f| f.id == id)
}

/// The ids, for error messages.
pub fn ids() -> Vec<&'static str> {
    FORMATS.iter().map(|f| f.id).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_unique_and_every_row_cites_a_source() {
        for (i, f) in FORMATS.iter().enumerate() {
            assert!(!FORMATS[..i].iter().any(|g| g.id == f.id), "{} twice", f.id);
            assert!(
                f.source.contains(&format!("{}x{}", f.width, f.height)),
                "{}",
                f.id
            );
            assert!(f.width > 0 && f.height > 0);
        }
        assert_eq!(
            find("meta_feed_portrait").map(|f| (f.width, f.height)),
            Some((1080, 1350))
        );
        assert!(find("meta_feed").is_none());
    }

    #[test]
    fn stories_text_area_leaves_the_zones_clear() {
        let f = find("meta_stories").unwrap();
        let (x, y, w, h) = f.safe_zone.text_area(f.width, f.height);
        assert_eq!((x, w), (0, 1080));
        // 14% of 1920 = 268.8 -> from row 269; 20% -> text ends by row 1536.
        assert_eq!(y, 269);
        assert_eq!(y + h, 1536);
        let reels = find("meta_reels").unwrap();
        let (_, y, _, h) = reels.safe_zone.text_area(1080, 1920);
        assert_eq!(y + h, 1248);
    }

    #[test]
    fn the_video_issue_s_formats_are_here() {
        for (w, h) in [(1080, 1920), (1080, 1080), (1080, 1350), (1920, 1080)] {
            assert!(
                FORMATS
                    .iter()
                    .any(|f| f.width == w && f.height == h && f.medium == Medium::ImageOrVideo),
                "{w}x{h}"
            );
        }
    }
}
