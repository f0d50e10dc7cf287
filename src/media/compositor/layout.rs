//! Layout: where each layer of a creative goes for a format, as pixel rects, and the font-size
//! range each text layer may use. Pure arithmetic over `Format`; nothing here draws.
//!
//! Invariant: every slot lies inside the format's safe text area (`SafeZone::text_area`) inset
//! by a margin, so text fitted inside its slot keeps out of the platform's unsafe zones.
//!
//! Layout kinds, chosen from the format:
//! - **logo** (`Medium::Logo`): the logo alone, contain-fitted with generous padding; the
//!   headline stands in as a wordmark when there is no logo.
//! - **banner** (aspect >= 3:1, e.g. 728x90, 320x50, 970x250): one row, logo | product |
//!   headline (over body when the row is at least 150 px tall) | call to action. The product
//!   needs a row 120 px tall; below 150 px the body is left out. Product images are centred in
//!   their slot in every layout.
//! - **wide** (aspect 1.25:1 to 3:1, e.g. 1200x628): a text column (logo, headline, body, call
//!   to action) beside the product, or across the width without one.
//! - **stacked** (everything taller: square, portrait, stories, skyscrapers): logo, headline,
//!   body, product, call to action from top to bottom, centred.

use serde::Serialize;

use crate::media::formats::{Format, Medium};

/// A pixel rectangle: left, top, width, height.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Rect {
    pub x: u32,
    pub y: u32,
    pub width: u32,
    pub height: u32,
}

impl Rect {
    pub const fn new(x: u32, y: u32, width: u32, height: u32) -> Self {
        Rect {
            x,
            y,
            width,
            height,
        }
    }

    pub const fn right(&self) -> u32 {
        self.x + self.width
    }

    pub const fn bottom(&self) -> u32 {
        self.y + self.height
    }

    /// Whether `other` lies wholly inside this rect.
    pub const fn contains(&self, other: &Rect) -> bool {
        other.x >= self.x
            && other.y >= self.y
            && other.right() <= self.right()
            && other.bottom() <= self.bottom()
    }

    /// This rect cut down to a `width` x `height` image.
    pub fn clip(&self, width: u32, height: u32) -> Rect {
        let x = self.x.min(width);
        let y = self.y.min(height);
        Rect::new(
            x,
            y,
            self.right().min(width) - x,
            self.bottom().min(height) - y,
        )
    }

    /// This rect shrunk by `dx` on the left and right and `dy` at the top and bottom.
    pub fn inset(&self, dx: u32, dy: u32) -> Rect {
        let dx = dx.min(self.width / 2);
        let dy = dy.min(self.height / 2);
        Rect::new(
            self.x + dx,
            self.y + dy,
            self.width - 2 * dx,
            self.height - 2 * dy,
        )
    }

    /// This rect grown by `d` on every side, cut down to a `width` x `height` image.
    pub fn outset(&self, d: u32, width: u32, height: u32) -> Rect {
        let x = self.x.saturating_sub(d);
        let y = self.y.saturating_sub(d);
        let right = (self.right() + d).min(width);
        let bottom = (self.bottom() + d).min(height);
        Rect::new(x, y, right.saturating_sub(x), bottom.saturating_sub(y))
    }
}

/// Horizontal alignment of a layer in its slot. `Start` is the text's own start: left for
/// left-to-right text, right for right-to-left.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HAlign {
    Start,
    Center,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Logo,
    Banner,
    Wide,
    Stacked,
}

/// Which optional layers the creative has.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Present {
    pub body: bool,
    pub cta: bool,
    pub logo: bool,
    pub product: bool,
}

/// A text layer's box and the font sizes it may use, in pixels.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TextSlot {
    pub rect: Rect,
    pub max_size: f32,
    pub min_size: f32,
}

/// Where every layer goes. Layers the creative lacks, or the format leaves out, are `None`.
#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    pub kind: Kind,
    pub align: HAlign,
    /// The safe text area inset by the margin; every slot lies inside it.
    pub content: Rect,
    /// The headline; for `Kind::Logo`, the wordmark used when there is no logo.
    pub headline: TextSlot,
    pub body: Option<TextSlot>,
    /// The area the call-to-action button may take.
    pub cta: Option<TextSlot>,
    pub logo: Option<Rect>,
    pub product: Option<Rect>,
}

/// The smallest text adforge will set, in pixels: 10, or 1.8% of the format's short side.
pub fn min_text_size(format: &Format) -> f32 {
    (0.018 * format.width.min(format.height) as f32).max(10.0)
}

pub fn kind_of(format: &Format) -> Kind {
    let aspect = format.width as f32 / format.height.max(1) as f32;
    if format.medium == Medium::Logo {
        Kind::Logo
    } else if aspect >= 3.0 {
        Kind::Banner
    } else if aspect >= 1.25 {
        Kind::Wide
    } else {
        Kind::Stacked
    }
}

/// Lays out a creative with the given layers on a format.
pub fn plan(format: &Format, present: Present) -> Plan {
    let (x, y, w, h) = format.safe_zone.text_area(format.width, format.height);
    let safe = Rect::new(x, y, w, h);
    let short = format.width.min(format.height) as f32;
    let margin = ((0.05 * short).round() as u32).max(4);
    let kind = kind_of(format);
    let content = match kind {
        Kind::Logo => safe.inset(safe.width / 10, safe.height / 10),
        _ => safe.inset(margin, margin),
    };
    let min = min_text_size(format);
    let slot = |rect: Rect, max: f32| TextSlot {
        rect,
        max_size: max.max(min),
        min_size: min,
    };
    let gap = (margin / 2).max(2);
    match kind {
        Kind::Logo => Plan {
            kind,
            align: HAlign::Center,
            content,
            headline: slot(content, 0.5 * content.height as f32),
            body: None,
            cta: None,
            logo: present.logo.then_some(content),
            product: None,
        },
        Kind::Banner => banner(content, gap, present, slot),
        Kind::Wide => wide(content, gap, present, slot),
        Kind::Stacked => stacked(content, gap, present, slot),
    }
}

/// Splits `area` from top to bottom into rects in proportion to `weights`, `gap` apart.
fn split_rows(area: Rect, gap: u32, weights: &[f32]) -> Vec<Rect> {
    let n = weights.len() as u32;
    let free = area.height.saturating_sub(gap * n.saturating_sub(1)) as f32;
    let total: f32 = weights.iter().sum::<f32>().max(f32::EPSILON);
    let mut y = area.y;
    weights
        .iter()
        .map(|w| {
            let h = ((free * w / total).floor() as u32).min(area.bottom().saturating_sub(y));
            let rect = Rect::new(area.x, y, area.width, h);
            y = (y + h + gap).min(area.bottom());
            rect
        })
        .collect()
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Row {
    Logo,
    Headline,
    Body,
    Product,
    Cta,
}

/// A column of rows (those present), split by weight.
fn column(area: Rect, gap: u32, rows: &[(Row, f32, bool)]) -> impl Fn(Row) -> Option<Rect> + use<> {
    let kept: Vec<(Row, f32)> = rows
        .iter()
        .filter(|(_, _, present)| *present)
        .map(|&(row, weight, _)| (row, weight))
        .collect();
    let weights: Vec<f32> = kept.iter().map(|(_, w)| *w).collect();
    let rects: Vec<(Row, Rect)> = kept
        .iter()
        .map(|(row, _)| *row)
        .zip(split_rows(area, gap, &weights))
        .collect();
    move |row| rects.iter().find(|(r, _)| *r == row).map(|(_, rect)| *rect)
}

fn stacked(content: Rect, gap: u32, p: Present, slot: impl Fn(Rect, f32) -> TextSlot) -> Plan {
    let rows = column(
        content,
        gap,
        &[
            (Row::Logo, 0.10, p.logo),
            (Row::Headline, 0.22, true),
            (Row::Body, 0.14, p.body),
            (Row::Product, 0.40, p.product),
            (Row::Cta, 0.12, p.cta),
        ],
    );
    let w = content.width as f32;
    Plan {
        kind: Kind::Stacked,
        align: HAlign::Center,
        content,
        headline: slot(rows(Row::Headline).unwrap_or(content), 0.11 * w),
        body: rows(Row::Body).map(|r| slot(r, 0.05 * w)),
        cta: rows(Row::Cta).map(|r| slot(r, 0.045 * w)),
        logo: rows(Row::Logo).map(|r| r.inset(r.width / 4, 0)),
        product: rows(Row::Product),
    }
}

fn wide(content: Rect, gap: u32, p: Present, slot: impl Fn(Rect, f32) -> TextSlot) -> Plan {
    let (text, product) = if p.product {
        let text_w = content.width * 56 / 100;
        let product_x = content.x + text_w + 2 * gap;
        let product = Rect::new(
            product_x,
            content.y,
            content.right().saturating_sub(product_x),
            content.height,
        );
        (
            Rect::new(content.x, content.y, text_w, content.height),
            Some(product),
        )
    } else {
        (content, None)
    };
    let rows = column(
        text,
        gap,
        &[
            (Row::Logo, 0.16, p.logo),
            (Row::Headline, 0.38, true),
            (Row::Body, 0.26, p.body),
            (Row::Cta, 0.20, p.cta),
        ],
    );
    let w = text.width as f32;
    Plan {
        kind: Kind::Wide,
        align: HAlign::Start,
        content,
        headline: slot(rows(Row::Headline).unwrap_or(text), 0.12 * w),
        body: rows(Row::Body).map(|r| slot(r, 0.05 * w)),
        cta: rows(Row::Cta).map(|r| slot(r, 0.045 * w)),
        logo: rows(Row::Logo).map(|r| Rect::new(r.x, r.y, r.width / 2, r.height)),
        product,
    }
}

/// Hands out rects from left to right along a row, `gap` apart.
struct RowCursor {
    x: u32,
    right: u32,
    y: u32,
    height: u32,
    gap: u32,
}

impl RowCursor {
    fn take(&mut self, width: u32) -> Rect {
        let rect = Rect::new(self.x, self.y, width.min(self.right - self.x), self.height);
        self.x = (rect.right() + self.gap).min(self.right);
        rect
    }

    fn left(&self) -> u32 {
        self.right - self.x
    }
}

fn banner(content: Rect, gap: u32, p: Present, slot: impl Fn(Rect, f32) -> TextSlot) -> Plan {
    let h = content.height;
    let mut row = RowCursor {
        x: content.x,
        right: content.right(),
        y: content.y,
        height: h,
        gap,
    };
    let w = content.width;
    let logo = p.logo.then(|| row.take(h.min(w * 12 / 100)));
    let product = (p.product && h >= 120).then(|| row.take((h * 13 / 10).min(w * 22 / 100)));
    let cta_w = if p.cta {
        (w * 24 / 100).min(h * 32 / 10)
    } else {
        0
    };
    let text_w = row
        .left()
        .saturating_sub(if p.cta { cta_w + gap } else { 0 });
    let text = row.take(text_w);
    let cta = p.cta.then(|| {
        let area = row.take(cta_w);
        let button_h = ((h as f32 * 0.5).min(90.0) as u32).max(30).min(h);
        Rect::new(area.x, area.y + (h - button_h) / 2, area.width, button_h)
    });
    let (headline, body) = if p.body && h >= 150 {
        let rows = split_rows(text, gap, &[0.58, 0.42]);
        (rows[0], Some(rows[1]))
    } else {
        (text, None)
    };
    let hf = h as f32;
    Plan {
        kind: Kind::Banner,
        align: HAlign::Start,
        content,
        headline: slot(headline, 0.5 * hf),
        body: body.map(|r| slot(r, 0.16 * hf)),
        cta: cta.map(|r| slot(r, 0.5 * r.height as f32)),
        logo,
        product,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::media::formats::{FORMATS, find};

    const ALL: Present = Present {
        body: true,
        cta: true,
        logo: true,
        product: true,
    };

    fn slots(plan: &Plan) -> Vec<Rect> {
        let mut v = vec![plan.headline.rect];
        v.extend(plan.body.map(|s| s.rect));
        v.extend(plan.cta.map(|s| s.rect));
        v.extend(plan.logo);
        v.extend(plan.product);
        v
    }

    #[test]
    fn every_slot_lies_in_the_safe_area_and_none_overlap() {
        for f in FORMATS {
            for present in [ALL, Present::default()] {
                let plan = plan(f, present);
                let (x, y, w, h) = f.safe_zone.text_area(f.width, f.height);
                let safe = Rect::new(x, y, w, h);
                assert!(safe.contains(&plan.content), "{}", f.id);
                let rects = slots(&plan);
                for (i, a) in rects.iter().enumerate() {
                    assert!(plan.content.contains(a), "{}: {a:?}", f.id);
                    assert!(a.width > 0 && a.height > 0, "{}: {a:?}", f.id);
                    for b in &rects[i + 1..] {
                        let apart = a.right() <= b.x
                            || b.right() <= a.x
                            || a.bottom() <= b.y
                            || b.bottom() <= a.y;
                        assert!(apart || f.medium == Medium::Logo, "{}: {a:?} {b:?}", f.id);
                    }
                }
                assert!(plan.headline.max_size >= plan.headline.min_size);
            }
        }
    }

    #[test]
    fn kinds_follow_the_shape() {
        let kind = |id| kind_of(find(id).unwrap());
        assert_eq!(kind("iab_mobile_banner"), Kind::Banner);
        assert_eq!(kind("iab_leaderboard"), Kind::Banner);
        assert_eq!(kind("iab_billboard"), Kind::Banner);
        assert_eq!(kind("meta_link"), Kind::Wide);
        assert_eq!(kind("meta_feed_square"), Kind::Stacked);
        assert_eq!(kind("iab_wide_skyscraper"), Kind::Stacked);
        assert_eq!(kind("google_logo_landscape"), Kind::Logo);
    }

    #[test]
    fn banners_put_logo_headline_and_cta_side_by_side() {
        let plan = plan(find("iab_leaderboard").unwrap(), ALL);
        let (logo, head, cta) = (
            plan.logo.unwrap(),
            plan.headline.rect,
            plan.cta.unwrap().rect,
        );
        assert!(logo.right() <= head.x && head.right() <= cta.x);
        // 90 px is too short for the product and the body.
        assert!(plan.product.is_none() && plan.body.is_none());
        let plan = super::plan(find("iab_billboard").unwrap(), ALL);
        assert!(plan.product.is_some() && plan.body.is_some());
    }

    #[test]
    fn stories_keep_text_out_of_the_top_14_and_bottom_20_percent() {
        let plan = plan(find("meta_stories").unwrap(), ALL);
        for r in slots(&plan) {
            assert!(r.y as f32 >= 0.14 * 1920.0 && r.bottom() as f32 <= 0.80 * 1920.0);
        }
    }

    #[test]
    fn rows_split_by_weight_within_the_area() {
        let rows = split_rows(Rect::new(0, 10, 50, 100), 4, &[1.0, 3.0]);
        assert_eq!(rows[0], Rect::new(0, 10, 50, 24));
        assert_eq!(rows[1], Rect::new(0, 38, 50, 72));
        assert!(rows[1].bottom() <= 110);
    }

    #[test]
    fn rect_helpers() {
        let r = Rect::new(10, 10, 20, 20);
        assert_eq!(r.clip(25, 100), Rect::new(10, 10, 15, 20));
        assert_eq!(r.clip(5, 5), Rect::new(5, 5, 0, 0));
        assert_eq!(r.inset(2, 30), Rect::new(12, 20, 16, 0));
        assert_eq!(r.outset(15, 100, 35), Rect::new(0, 0, 45, 35));
    }
}
