//! `POST /api/generate/copy` on the real default models: constrained JSON within each
//! platform's limits, near-duplicates removed by embedding similarity.

use std::sync::Arc;

use adforge::engine::embed::{EmbedLimits, EmbedService, cosine};
use adforge::engine::text::EngineLimits;
use adforge::jobs::embedded::EmbeddedQueue;
use adforge::orchestrate::copy::DUPLICATE_COSINE;
use serde_json::{Value, json};

use crate::support::{StoreKind, TestDb, TestServer, expect_error, send};

async fn server() -> (TestDb, TestServer, EmbedService) {
    let db = TestDb::new(StoreKind::Sqlite).await;
    let queue = Arc::new(EmbeddedQueue::new(db.store.clone()));
    let (text, embed) = tokio::task::spawn_blocking(|| {
        (
            crate::inference::text_service(EngineLimits::default(), 2048),
            EmbedService::load(
                "all-minilm-l6-v2",
                &crate::embed::model_dir(),
                EmbedLimits::default(),
            )
            .unwrap(),
        )
    })
    .await
    .unwrap();
    let server = TestServer::start_with_models(
        db.store.clone(),
        queue,
        Some(text),
        Some(embed.clone()),
        true,
    )
    .await;
    (db, server, embed)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn copy_variants_fit_the_platform_and_are_distinct() {
    let (_db, server, embed) = server().await;
    let briefs = [
        (
            "meta",
            "Sourdough bread baked fresh every morning",
            "busy parents",
        ),
        ("google", "Waterproof trail running shoes", "weekend hikers"),
        (
            "tiktok",
            "A language-learning app with 5-minute lessons",
            "students",
        ),
    ];
    for (platform, product, audience) in briefs {
        let brief = json!({
            "product": product, "audience": audience, "tone": "playful",
            "platform": platform, "n": 3, "seed": 11
        });
        let (status, body) = send(server.post("/api/generate/copy", &brief)).await;
        assert_eq!(status, 200, "{body}");
        let variants = body["variants"].as_array().unwrap();
        assert!(
            (1..=3).contains(&variants.len()),
            "{platform}: {} variants",
            variants.len()
        );
        assert_eq!(body["dedupe"], "embedding");
        assert_eq!(
            body["generated"].as_u64().unwrap(),
            variants.len() as u64 + body["duplicates_removed"].as_u64().unwrap()
        );
        let limits = &body["limits"];
        let ctas: Vec<&Value> = limits["calls_to_action"]
            .as_array()
            .unwrap()
            .iter()
            .collect();
        for variant in variants {
            for field in limits["fields"].as_array().unwrap() {
                let name = field["field"].as_str().unwrap();
                let chars = variant[name].as_str().unwrap().chars().count() as u64;
                assert!(
                    chars >= field["min_chars"].as_u64().unwrap()
                        && chars <= field["max_chars"].as_u64().unwrap(),
                    "{platform} {name}: {chars} characters in {variant}"
                );
            }
            assert!(ctas.contains(&&variant["call_to_action"]), "{variant}");
        }
        // No two kept variants are near-duplicates.
        let texts: Vec<String> = variants
            .iter()
            .map(|v| format!("{} {}", v["headline"], v["primary_text"]).to_lowercase())
            .collect();
        let vectors = embed.embed(&texts).await.unwrap().vectors;
        for i in 0..vectors.len() {
            for j in i + 1..vectors.len() {
                // Quotes from the JSON rendering shift the vectors a hair from the server's.
                assert!(cosine(&vectors[i], &vectors[j]) < DUPLICATE_COSINE + 0.02);
            }
        }
        // Same seed, same copy.
        let (_, again) = send(server.post("/api/generate/copy", &brief)).await;
        assert_eq!(again["variants"], body["variants"], "{platform}");
    }
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_briefs_name_the_field_and_the_limit() {
    let (_db, server, _embed) = server().await;
    let ok = json!({"product": "Tea", "platform": "meta"});
    let with = |k: &str, v: Value| {
        let mut b = ok.clone();
        b[k] = v;
        b
    };
    let cases = [
        (with("n", json!(20)), "n: 20 is outside 1..=8"),
        (with("platform", json!("myspace")), "platform"),
        (
            with("product", json!("  ")),
            "product: 0 characters is outside 1..=500",
        ),
        (
            with("tone", json!("x".repeat(61))),
            "tone: 61 characters is outside 1..=60",
        ),
        (with("budget", json!(5)), "budget"),
    ];
    for (body, needle) in cases {
        expect_error(server.post("/api/generate/copy", &body), 400, needle).await;
    }
    let (status, _) = send(
        server
            .client
            .post(server.url("/api/generate/copy"))
            .json(&ok),
    )
    .await;
    assert_eq!(status, 401, "an API key is required");
    server.stop().await;
}
