//! What code writes from the brief, never the model: the campaign's, ad sets' and concepts'
//! names, the audiences, and the copy that stands in for a model phrase the guards refused.

use time::Date;

use super::PlanBrief;
use crate::orchestrate::Platform;
use crate::orchestrate::guards::{Facts, fit};

/// Longest concept name, in characters.
pub const CONCEPT_NAME_CHARS: usize = 40;

/// A platform's short name in names and reasons.
pub fn short_label(platform: Platform) -> &'static str {
    match platform {
        Platform::Meta => "Meta",
        Platform::Google => "Google",
        Platform::Tiktok => "TikTok",
        Platform::Sandbox => "Sandbox",
    }
}

/// The first letter upper case, the rest as the brief wrote it.
fn sentence(text: &str) -> String {
    let mut chars = text.chars();
    chars.next().map_or_else(String::new, |c| {
        c.to_uppercase().chain(chars).collect::<String>()
    })
}

impl PlanBrief {
    /// What the phrases may state: the words and numbers of the brief's texts.
    pub fn facts(&self) -> Facts {
        let mut texts: Vec<&str> = vec![&self.product, &self.audience];
        texts.extend(self.brand.as_deref());
        texts.extend(self.offer.as_deref());
        texts.extend(self.benefits.iter().map(String::as_str));
        texts.extend(self.interests.iter().map(String::as_str));
        Facts::from_texts(texts)
    }

    /// The brand, or the product when the brief names no brand.
    pub fn who(&self) -> String {
        self.brand
            .clone()
            .unwrap_or_else(|| sentence(&fit(&self.product, 40).unwrap_or_default()))
    }

    /// What each concept leads with: the benefits, with the offer second, or the product.
    pub fn leads(&self) -> Vec<String> {
        let mut leads: Vec<String> = self.benefits.clone();
        if let Some(offer) = &self.offer {
            leads.insert(leads.len().min(1), offer.clone());
        }
        leads.push(self.product.clone());
        if let Some(brand) = &self.brand {
            leads.push(brand.clone());
        }
        let mut distinct: Vec<String> = Vec::new();
        for lead in leads {
            let lead = sentence(&fit(&lead, CONCEPT_NAME_CHARS).unwrap_or_default());
            if !lead.is_empty() && !distinct.iter().any(|d| d.eq_ignore_ascii_case(&lead)) {
                distinct.push(lead);
            }
        }
        distinct
    }
}

/// The campaign's name: brand, product and the month it starts ("Ridgeline Roasters ·
/// Coffee subscription · Dec 2026").
pub fn campaign_name(brief: &PlanBrief, start: Date) -> String {
    let month = format!("{} {}", &start.month().to_string()[..3], start.year());
    let product = sentence(&fit(&brief.product, 40).unwrap_or_default());
    match &brief.brand {
        Some(brand) if !brief.product.eq_ignore_ascii_case(brand) => {
            format!("{brand} · {product} · {month}")
        }
        _ => format!("{product} · {month}"),
    }
}

/// Ages as people write them: "25–54", "18+", "up to 34", or "all ages".
pub fn ages(min: Option<u8>, max: Option<u8>) -> String {
    match (min, max) {
        (Some(lo), Some(hi)) => format!("{lo}–{hi}"),
        (Some(lo), None) => format!("{lo}+"),
        (None, Some(hi)) => format!("up to {hi}"),
        (None, None) => "all ages".into(),
    }
}

/// An ad set's name: the platform and who it reaches ("Meta · US, CA · 25–54").
pub fn ad_set_name(brief: &PlanBrief, platform: Platform) -> String {
    format!(
        "{} · {} · {}",
        short_label(platform),
        brief.countries.join(", "),
        ages(brief.age_min, brief.age_max)
    )
}

/// Who the ad sets reach, in the brief's words: its audience text, or one composed from its
/// countries, ages and interests.
pub fn audience_description(brief: &PlanBrief) -> String {
    if !brief.audience.trim().is_empty() {
        return brief.audience.trim().to_string();
    }
    let mut text = format!(
        "People in {} ({})",
        brief.countries.join(", "),
        ages(brief.age_min, brief.age_max)
    );
    if !brief.interests.is_empty() {
        text.push_str(&format!(" interested in {}", brief.interests.join(", ")));
    }
    text
}

/// Copy written from the brief for a field the model's phrase failed: the concept's lead for a
/// headline, brand, product and benefits for the primary text, the offer or another benefit for
/// the description. Each fits `max_chars`; `None` only when nothing of the brief fits.
pub fn fallback_copy(
    brief: &PlanBrief,
    lead: &str,
    field: &str,
    max_chars: usize,
) -> Option<String> {
    let who = brief.who();
    let candidates: Vec<String> = match field {
        "headline" => vec![lead.to_string(), who.clone()],
        "primary_text" => {
            let product = sentence(&brief.product);
            let mut parts = vec![format!("{lead}.")];
            let mut rest: Vec<String> = brief
                .benefits
                .iter()
                .filter(|b| !b.eq_ignore_ascii_case(lead))
                .map(|b| format!("{}.", sentence(b)))
                .collect();
            if let Some(offer) = brief
                .offer
                .as_ref()
                .filter(|o| !o.eq_ignore_ascii_case(lead))
            {
                rest.push(format!("{}.", sentence(offer)));
            }
            parts.append(&mut rest);
            let head = if brief.brand.is_some() && !product.eq_ignore_ascii_case(&who) {
                format!("{who}: {}.", brief.product)
            } else {
                format!("{product}.")
            };
            // The longest run of whole sentences that fits, the brand and product first.
            let mut out = Vec::new();
            for n in (0..=parts.len()).rev() {
                out.push(
                    std::iter::once(head.clone())
                        .chain(parts[..n].iter().cloned())
                        .collect::<Vec<_>>()
                        .join(" "),
                );
            }
            out.push(format!("{lead}."));
            out
        }
        _ => {
            let mut out: Vec<String> = brief.offer.iter().cloned().collect();
            out.extend(brief.benefits.iter().cloned());
            out.push(brief.product.clone());
            out.retain(|c| !c.eq_ignore_ascii_case(lead));
            out.push(who);
            out.into_iter().map(|c| sentence(&c)).collect()
        }
    };
    candidates
        .iter()
        .find(|c| c.chars().count() <= max_chars)
        .cloned()
        .or_else(|| candidates.first().and_then(|c| fit(c, max_chars)))
}

/// A concept's angle written from the brief: what it leads with and what it shows.
pub fn fallback_angle(brief: &PlanBrief, lead: &str) -> String {
    let product = fit(&brief.product, 50).unwrap_or_default();
    let text = if lead.eq_ignore_ascii_case(&product) {
        format!("Show the {product} in use, close up.")
    } else {
        format!("Lead with “{lead}” and show the {product}.")
    };
    fit(&text, 100).unwrap_or(text)
}
