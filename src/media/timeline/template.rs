//! The ad template: a short video spec built from copy alone (what `/v1/videos` makes from a
//! brief): a hook, the benefit, the product, and an end card with the call to action and logo,
//! over the brand's gradients (or a background image) with Ken Burns, joined by transitions.
//! The clip lengths scale with the requested length; the numbers here are the template's.

use super::spec::{
    BackgroundSpec, ClipSpec, Direction, KenBurns, LayerKind, LayerSpec, Motion, TransitionKind,
    TransitionSpec, VideoSpec,
};
use crate::media::compositor::{BrandSpec, Rgb};

/// Shortest and longest template video, seconds.
pub const TEMPLATE_SECONDS: (f64, f64) = (6.0, 60.0);
/// Seconds each transition of the template takes.
const TRANSITION: f64 = 0.5;

/// What the template is filled with.
#[derive(Debug, Clone)]
pub struct AdTemplate {
    pub headline: String,
    pub body: Option<String>,
    pub cta: Option<String>,
    pub brand: Option<BrandSpec>,
    /// Asset ids.
    pub logo: Option<String>,
    pub product_image: Option<String>,
    pub background_image: Option<String>,
    pub audio: Option<String>,
    pub seconds: f64,
    pub fps: u32,
}

fn layer(kind: LayerKind, text: Option<&str>, asset: Option<&str>, enter: Motion) -> LayerSpec {
    LayerSpec {
        kind,
        text: text.map(str::to_string),
        asset: asset.map(str::to_string),
        fit: None,
        start: None,
        enter: Some(enter),
        exit: None,
        animation_duration: Some(0.6),
        delay: None,
    }
}

fn transition(kind: TransitionKind, direction: Option<Direction>) -> Option<TransitionSpec> {
    Some(TransitionSpec {
        kind,
        duration: Some(TRANSITION),
        direction,
    })
}

impl AdTemplate {
    /// The spec: four clips of equal share, overlapping by three transitions, exactly
    /// `seconds` long.
    pub fn spec(&self) -> VideoSpec {
        let seconds = self.seconds.clamp(TEMPLATE_SECONDS.0, TEMPLATE_SECONDS.1);
        let clip = (seconds + 3.0 * TRANSITION) / 4.0;
        let brand = self.brand.clone();
        let (primary, secondary) = brand
            .as_ref()
            .map_or((Rgb(0x1A, 0x73, 0xE8), Rgb::WHITE), |b| {
                (b.primary, b.secondary)
            });
        let dark = Rgb(0x12, 0x12, 0x1A);
        let background = |from: Rgb, to: Rgb, angle: f32| match &self.background_image {
            Some(asset) => BackgroundSpec::Image {
                asset: asset.clone(),
            },
            None => BackgroundSpec::Gradient {
                from: Some(from),
                to: Some(to),
                angle: Some(angle),
            },
        };
        let zoom = |from: [f64; 2], to: [f64; 2], zoom_from: f64, zoom_to: f64| KenBurns {
            zoom_from,
            zoom_to,
            from,
            to,
        };
        let headline = self.headline.as_str();
        let body = self.body.as_deref();
        let mut benefit = vec![layer(LayerKind::Title, Some(headline), None, Motion::Fade)];
        if let Some(body) = body {
            benefit.push(layer(LayerKind::Body, Some(body), None, Motion::SlideUp));
        }
        let mut product = vec![layer(
            LayerKind::Title,
            Some(headline),
            None,
            Motion::SlideLeft,
        )];
        match (&self.product_image, body) {
            (Some(asset), _) => {
                product.push(layer(LayerKind::Image, None, Some(asset), Motion::Pop));
            }
            (None, Some(body)) => {
                product.push(layer(LayerKind::Body, Some(body), None, Motion::Fade))
            }
            (None, None) => {}
        }
        let mut end = vec![layer(LayerKind::Title, Some(headline), None, Motion::Fade)];
        if let Some(cta) = &self.cta {
            end.push(layer(LayerKind::Cta, Some(cta), None, Motion::Pop));
        }
        if let Some(logo) = &self.logo {
            end.push(layer(LayerKind::Logo, None, Some(logo), Motion::Fade));
        }
        let clips = vec![
            ClipSpec {
                duration: clip,
                background: Some(background(primary, dark, 160.0)),
                ken_burns: Some(zoom([0.4, 0.4], [0.6, 0.55], 1.0, 1.25)),
                layers: vec![layer(LayerKind::Title, Some(headline), None, Motion::Pop)],
                transition: transition(TransitionKind::Crossfade, None),
            },
            ClipSpec {
                duration: clip,
                background: Some(background(dark, primary, 20.0)),
                ken_burns: Some(zoom([0.5, 0.6], [0.5, 0.4], 1.2, 1.0)),
                layers: benefit,
                transition: transition(TransitionKind::Slide, Some(Direction::Left)),
            },
            ClipSpec {
                duration: clip,
                background: Some(background(secondary, primary, 200.0)),
                ken_burns: Some(zoom([0.3, 0.5], [0.7, 0.5], 1.15, 1.15)),
                layers: product,
                transition: transition(TransitionKind::Wipe, Some(Direction::Up)),
            },
            ClipSpec {
                duration: clip,
                background: Some(background(primary, secondary, 135.0)),
                ken_burns: Some(zoom([0.5, 0.5], [0.5, 0.5], 1.0, 1.1)),
                layers: end,
                transition: None,
            },
        ];
        VideoSpec {
            fps: self.fps,
            clips,
            brand,
            audio: self.audio.clone(),
            interpolate: None,
            scale: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_template_is_as_long_as_asked_and_passes_its_own_checks() {
        for seconds in [6.0, 15.0, 60.0] {
            let template = AdTemplate {
                headline: "Run further".into(),
                body: Some("Light shoes for long days".into()),
                cta: Some("Shop now".into()),
                brand: None,
                logo: Some("logo-id".into()),
                product_image: None,
                background_image: None,
                audio: None,
                seconds,
                fps: 30,
            };
            let spec = template.spec();
            spec.check(100_000).unwrap();
            assert!(
                (spec.seconds() - seconds).abs() < 1e-9,
                "{}",
                spec.seconds()
            );
            assert_eq!(spec.frames(), (seconds * 30.0) as u64);
            assert_eq!(spec.assets().len(), 1);
        }
    }
}
