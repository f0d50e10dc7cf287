//! The bodies of the fuzz targets in `fuzz/`: one function per parser, taking raw bytes as an
//! attacker would send them. Each runs the parser and asserts what must hold of whatever it
//! accepts; a panic here is a defect. They live in this crate (not in `fuzz/`) so that the
//! regression tests run every saved crash and seed through exactly the code the fuzzer ran.
// Panicking on a broken invariant is what these functions are for: libFuzzer reports it.
#![allow(clippy::expect_used)]

use serde_json::Value;

use crate::{creative, dataset, gguf, image, jobs_file, safetensors, video_spec, webhook};

/// Frames the fuzzed video specs may have (the server's default cap is larger; this keeps the
/// checks' work per input small without changing what they check).
pub const MAX_FRAMES: u64 = 10_000;
/// Pixels a fuzzed image may have.
pub const MAX_PIXELS: u64 = 1 << 20;

fn json(data: &[u8]) -> Option<Value> {
    serde_json::from_slice(data).ok()
}

fn check_video(value: Value) {
    let Ok(spec) = video_spec::parse(value) else {
        return;
    };
    if spec.check(MAX_FRAMES).is_ok() {
        assert!(
            spec.frames() <= MAX_FRAMES,
            "a checked spec is within the frame cap"
        );
        assert!(spec.seconds().is_finite());
        let starts = spec.clip_starts();
        assert_eq!(starts.len(), spec.clips.len());
        assert!(
            starts.windows(2).all(|w| w[0] <= w[1]),
            "clips start in order"
        );
        // What was accepted serialises and is accepted again, unchanged.
        let again = video_spec::parse(serde_json::to_value(&spec).expect("serialises"))
            .expect("a checked spec parses again");
        assert!(again.check(MAX_FRAMES).is_ok());
        assert_eq!(again.frames(), spec.frames());
    }
    let _ = spec.assets();
}

fn check_creative(value: Value) {
    let Ok(payload) = serde_json::from_value::<creative::RenderPayload>(value) else {
        return;
    };
    if payload.check().is_ok() {
        let formats = payload.formats().expect("checked formats resolve");
        assert!((1..=creative::MAX_FORMATS).contains(&formats.len()));
        payload.output_format().expect("a checked output format");
    }
}

pub fn video_spec(data: &[u8]) {
    if let Some(value) = json(data) {
        check_video(value);
    }
}

pub fn creative_spec(data: &[u8]) {
    if let Some(value) = json(data) {
        check_creative(value);
    }
}

pub fn jobs_file(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(lines) = jobs_file::parse(text) else {
        return;
    };
    assert!((1..=jobs_file::MAX_LINES).contains(&lines.len()));
    assert!(lines.windows(2).all(|w| w[0].number < w[1].number));
    for line in lines {
        assert!(!line.text.is_empty());
        match line.job.kind.as_str() {
            "creative.render" => check_creative(line.job.payload),
            "video.render" => {
                if let Some(spec) = line.job.payload.get("spec") {
                    check_video(spec.clone());
                }
            }
            _ => {}
        }
    }
}

/// The first byte picks CSV (even) or JSON rows (odd); the rest is the data. The columns are
/// fixed: `date`, `revenue`, and channels `tv` and `search`.
pub fn dataset(data: &[u8]) {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let columns = dataset::Columns {
        date: "date".into(),
        response: "revenue".into(),
        channels: vec!["tv".into(), "search".into()],
    };
    let holidays = ["2024-12-25".to_string()];
    let parsed = if mode % 2 == 0 {
        let Ok(text) = std::str::from_utf8(rest) else {
            return;
        };
        dataset::Dataset::from_csv(text, &columns, &holidays)
    } else {
        let Ok(rows) = serde_json::from_slice::<Vec<serde_json::Map<String, Value>>>(rest) else {
            return;
        };
        dataset::Dataset::from_rows(&rows, &columns, &holidays)
    };
    if let Ok(set) = parsed {
        assert!(set.len() <= dataset::MAX_ROWS);
        assert_eq!(set.response.len(), set.dates.len());
        assert!(
            set.channels
                .iter()
                .all(|c| c.spend.len() == set.dates.len())
        );
        assert!(set.response.iter().all(|v| v.is_finite()));
        assert!(set.step_days > 0);
    }
}

/// The first byte picks the platform; up to the first newline is a signature header, the rest
/// the body.
pub fn webhook(data: &[u8]) {
    let Some((&pick, rest)) = data.split_first() else {
        return;
    };
    let platform = match pick % 3 {
        0 => webhook::Platform::Meta,
        1 => webhook::Platform::Tiktok,
        _ => webhook::Platform::Google,
    };
    let split = rest.iter().position(|&b| b == b'\n').unwrap_or(rest.len());
    let header = String::from_utf8_lossy(&rest[..split]);
    let body = rest.get(split + 1..).unwrap_or_default();
    let secrets = webhook::Secrets {
        meta_app_secret: Some("app-secret"),
        meta_verify_token: Some("verify-me"),
        tiktok_webhook_secret: Some("tt-secret"),
        google_webhook_token: Some("g-token"),
    };
    // Forged signatures must be refused: the fuzzer does not know the secrets.
    assert!(secrets.verify_meta(Some(&header), body).is_err());
    assert!(secrets.verify_tiktok(Some(&header), body, 0).is_err());
    assert!(
        secrets.verify_google(Some(&header)).is_err()
            || header.trim_start().starts_with("Bearer g-token")
    );
    let _ = secrets.meta_handshake(Some("subscribe"), Some(&header), "challenge");
    if let Ok(changes) = webhook::changes(platform, body) {
        let ids: std::collections::BTreeSet<_> =
            changes.iter().flat_map(|c| c.ids.iter()).collect();
        assert!(ids.len() <= webhook::MAX_OBJECT_IDS);
    }
}

pub fn image(data: &[u8]) {
    if let Ok(decoded) = image::decode(data, MAX_PIXELS) {
        assert!(u64::from(decoded.width()) * u64::from(decoded.height()) <= MAX_PIXELS);
    }
}

pub fn gguf(data: &[u8]) {
    if let Ok(summary) = gguf::check(data, data.len() as u64) {
        assert!(summary.data_offset <= data.len() as u64 + summary.alignment);
        assert!(summary.tensors <= gguf::MAX_TENSORS);
    }
}

pub fn safetensors(data: &[u8]) {
    if let Ok(summary) = safetensors::check(data, data.len() as u64) {
        assert!(summary.data_bytes <= data.len() as u64);
    }
}

/// A fuzz target's body.
pub type Target = fn(&[u8]);

/// Every target by name, for the regression tests.
pub const TARGETS: &[(&str, Target)] = &[
    ("video_spec", video_spec),
    ("creative_spec", creative_spec),
    ("jobs_file", jobs_file),
    ("dataset", dataset),
    ("webhook", webhook),
    ("image", image),
    ("gguf", gguf),
    ("safetensors", safetensors),
];
