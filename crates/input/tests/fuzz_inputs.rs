//! Every committed fuzz seed and every saved crash (`fuzz/seeds/TARGET`, `fuzz/regressions/TARGET`)
//! run through exactly the code its fuzz target runs; and the seeds are inputs the parsers
//! accept, so the fuzzer starts from the interesting side of each check.
#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};

use adforge_input::fuzzing::{self, TARGETS};
use adforge_input::{creative, dataset, gguf, image, jobs_file, safetensors, video_spec, webhook};

fn fuzz_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz")
}

fn files(dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut files: Vec<_> = entries
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_file() && p.file_name().is_some_and(|n| n != ".gitkeep"))
        .collect();
    files.sort();
    files
}

fn seed(target: &str, name: &str) -> Vec<u8> {
    std::fs::read(fuzz_dir().join("seeds").join(target).join(name)).unwrap()
}

#[test]
fn every_seed_and_saved_crash_runs_clean() {
    let mut ran = 0;
    for (target, run) in TARGETS {
        let seeds = files(&fuzz_dir().join("seeds").join(target));
        assert!(!seeds.is_empty(), "fuzz/seeds/{target} has no seed");
        for file in seeds
            .into_iter()
            .chain(files(&fuzz_dir().join("regressions").join(target)))
        {
            run(&std::fs::read(&file).unwrap());
            ran += 1;
        }
    }
    assert!(ran >= TARGETS.len());
}

#[test]
fn the_seeds_are_accepted() {
    let json = |target, name| serde_json::from_slice(&seed(target, name)).unwrap();
    for name in ["full.json", "minimal.json"] {
        let spec = video_spec::parse(json("video_spec", name)).unwrap();
        spec.check(fuzzing::MAX_FRAMES).unwrap();
    }
    for name in ["copy.json", "brief.json"] {
        let payload: creative::RenderPayload =
            serde_json::from_value(json("creative_spec", name)).unwrap();
        payload.check().unwrap();
    }
    let text = seed("jobs_file", "three.jsonl");
    let lines = jobs_file::parse(std::str::from_utf8(&text).unwrap()).unwrap();
    assert_eq!(lines.len(), 3);

    let columns = dataset::Columns {
        date: "date".into(),
        response: "revenue".into(),
        channels: vec!["tv".into(), "search".into()],
    };
    let csv = seed("dataset", "weekly.csv");
    let csv = std::str::from_utf8(&csv[1..]).unwrap();
    let weekly = dataset::Dataset::from_csv(csv, &columns, &[]).unwrap();
    assert_eq!((weekly.len(), weekly.step_days), (16, 7));
    let rows = seed("dataset", "daily.json");
    let rows: Vec<serde_json::Map<String, serde_json::Value>> =
        serde_json::from_slice(&rows[1..]).unwrap();
    let daily = dataset::Dataset::from_rows(&rows, &columns, &[]).unwrap();
    assert_eq!(daily.step_days, 1);

    for (name, platform, ids) in [
        ("meta", webhook::Platform::Meta, 3),
        ("tiktok", webhook::Platform::Tiktok, 2),
        ("google", webhook::Platform::Google, 3),
    ] {
        let bytes = seed("webhook", name);
        let body = &bytes[bytes.iter().position(|&b| b == b'\n').unwrap() + 1..];
        let changes = webhook::changes(platform, body).unwrap();
        let named: usize = changes.iter().map(|c| c.ids.len()).sum();
        assert_eq!(named, ids, "{name}");
    }

    for name in ["tiny.png", "tiny.jpg", "tiny.webp"] {
        let decoded = image::decode(&seed("image", name), fuzzing::MAX_PIXELS).unwrap();
        assert_eq!((decoded.width(), decoded.height()), (16, 12), "{name}");
    }
    for (name, version) in [("q8_0.gguf", 3), ("v1_f32.gguf", 1)] {
        let bytes = seed("gguf", name);
        let summary = gguf::check(&bytes[..], bytes.len() as u64).unwrap();
        assert_eq!(summary.version, version, "{name}");
    }
    let bytes = seed("safetensors", "two.safetensors");
    let summary = safetensors::check(&bytes[..], bytes.len() as u64).unwrap();
    assert_eq!(summary.tensors, 2);
}
