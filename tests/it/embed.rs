//! Sentence embeddings on the real all-MiniLM-L6-v2: the engine directly, then `/v1/embeddings`.

use std::path::PathBuf;
use std::sync::Arc;

use adforge::engine::embed::{EmbedLimits, EmbedService, Encoder, cosine};
use adforge::jobs::embedded::EmbeddedQueue;
use base64::Engine as _;
use candle_core::Device;
use serde_json::{Value, json};

use crate::support::{StoreKind, TestDb, TestServer, expect_error, send};

const MODEL: &str = "all-minilm-l6-v2";

pub fn model_dir() -> PathBuf {
    let cache = std::env::var("ADFORGE_TEST_MODEL_CACHE").unwrap_or_else(|_| {
        panic!("ADFORGE_TEST_MODEL_CACHE is not set: run the suite through ./scripts/test.sh")
    });
    PathBuf::from(cache).join(MODEL)
}

fn embed_alone(encoder: &Encoder, texts: &[&str]) -> Vec<Vec<f32>> {
    let texts: Vec<String> = texts.iter().map(|s| s.to_string()).collect();
    encoder
        .tokenize(&texts, 512)
        .unwrap()
        .iter()
        .map(|ids| encoder.embed(&[ids]).unwrap().remove(0))
        .collect()
}

#[test]
fn known_similarity_ranking_and_batching() {
    let encoder = Encoder::load(&model_dir(), &Device::Cpu).unwrap();
    assert_eq!(encoder.dims, 384);
    let texts = [
        "A man is eating food.",
        "A man is eating a piece of bread.",
        "The new movie is awesome.",
        "A man is riding a horse.",
        "The cat sits outside.",
        "A cat is sitting outside on the porch.",
    ];
    let alone = embed_alone(&encoder, &texts);
    for v in &alone {
        let norm: f32 = v.iter().map(|x| x * x).sum::<f32>().sqrt();
        assert!((norm - 1.0).abs() < 1e-5, "L2-normalised, got {norm}");
    }
    // The value sentence-transformers gives for this pair.
    let food = cosine(&alone[0], &alone[1]);
    assert!((food - 0.7553).abs() < 1e-3, "cos = {food}");
    // Related pairs rank above unrelated ones.
    let cats = cosine(&alone[4], &alone[5]);
    for unrelated in [
        cosine(&alone[0], &alone[2]),
        cosine(&alone[2], &alone[4]),
        cosine(&alone[1], &alone[5]),
    ] {
        assert!(
            food > unrelated && cats > unrelated,
            "{food} {cats} {unrelated}"
        );
    }
    // Padded together in one batch (different lengths), each row equals its row alone: the
    // padding is masked out of attention and pooling.
    let owned: Vec<String> = texts.iter().map(|s| s.to_string()).collect();
    let ids = encoder.tokenize(&owned, 512).unwrap();
    let refs: Vec<&[u32]> = ids.iter().map(Vec::as_slice).collect();
    let batched = encoder.embed(&refs).unwrap();
    for (a, b) in alone.iter().zip(&batched) {
        let diff = a
            .iter()
            .zip(b)
            .map(|(x, y)| (x - y).abs())
            .fold(0.0, f32::max);
        assert!(diff < 1e-4, "batched row differs by {diff}");
    }
    // Over the limit: refused by index.
    let long = vec!["word ".repeat(600)];
    let err = encoder.tokenize(&long, 512).unwrap_err().to_string();
    assert!(
        err.contains("input[0]: 602 tokens is above the limit of 512"),
        "{err}"
    );
}

/// adforge's own BERT forward against candle-transformers' `BertModel` on the same weights
/// (padded, masked, mean-pooled and normalised here the way sentence-transformers does): every
/// component within 1e-4.
#[test]
fn own_forward_matches_candles_bert_model() {
    use candle_core::{DType, Tensor};
    use candle_transformers::models::bert::{BertModel, Config};
    let dir = model_dir();
    let encoder = Encoder::load(&dir, &Device::Cpu).unwrap();
    let config: Config =
        serde_json::from_str(&std::fs::read_to_string(dir.join("config.json")).unwrap()).unwrap();
    // SAFETY: the file is the test's own and is not modified while it is mapped.
    let vb = unsafe {
        candle_nn::VarBuilder::from_mmaped_safetensors(
            &[dir.join("model.safetensors")],
            DType::F32,
            &Device::Cpu,
        )
    }
    .unwrap();
    let reference = BertModel::load(vb, &config).unwrap();
    let texts: Vec<String> = [
        "Fresh bread every morning.",
        "Shoes.",
        "A cosy cafe by the sea with the best coffee in town.",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let ids = encoder.tokenize(&texts, 512).unwrap();
    let refs: Vec<&[u32]> = ids.iter().map(Vec::as_slice).collect();
    let ours = encoder.embed(&refs).unwrap();
    let width = ids.iter().map(Vec::len).max().unwrap();
    for (seq, ours) in ids.iter().zip(&ours) {
        let mut padded = seq.clone();
        padded.resize(width, 0);
        let mask: Vec<u32> = (0..width).map(|i| u32::from(i < seq.len())).collect();
        let input = Tensor::new(padded.as_slice(), &Device::Cpu)
            .unwrap()
            .unsqueeze(0)
            .unwrap();
        let mask_t = Tensor::new(mask.as_slice(), &Device::Cpu)
            .unwrap()
            .unsqueeze(0)
            .unwrap();
        let hidden = reference
            .forward(&input, &input.zeros_like().unwrap(), Some(&mask_t))
            .unwrap()
            .squeeze(0)
            .unwrap()
            .to_vec2::<f32>()
            .unwrap();
        let mut mean = vec![0.0f32; 384];
        for row in &hidden[..seq.len()] {
            for (m, v) in mean.iter_mut().zip(row) {
                *m += v / seq.len() as f32;
            }
        }
        let norm = mean.iter().map(|v| v * v).sum::<f32>().sqrt();
        let diff = mean
            .iter()
            .zip(ours)
            .map(|(m, o)| (m / norm - o).abs())
            .fold(0.0f32, f32::max);
        assert!(diff < 1e-4, "differs from candle's BertModel by {diff}");
    }
}

async fn server() -> (TestDb, TestServer, EmbedService) {
    let db = TestDb::new(StoreKind::Sqlite).await;
    let queue = Arc::new(EmbeddedQueue::new(db.store.clone()));
    let service = tokio::task::spawn_blocking(|| {
        EmbedService::load(MODEL, &model_dir(), EmbedLimits::default()).unwrap()
    })
    .await
    .unwrap();
    let server =
        TestServer::start_with_models(db.store.clone(), queue, None, Some(service.clone()), true)
            .await;
    (db, server, service)
}

fn vectors(body: &Value) -> Vec<Vec<f32>> {
    body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| match &d["embedding"] {
            Value::String(b64) => base64::engine::general_purpose::STANDARD
                .decode(b64)
                .unwrap()
                .chunks(4)
                .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                .collect(),
            list => list
                .as_array()
                .unwrap()
                .iter()
                .map(|x| x.as_f64().unwrap() as f32)
                .collect(),
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn embeddings_endpoint_in_openai_shape_batched_across_requests() {
    let (_db, server, _service) = server().await;
    let url = server.url("/v1/embeddings");
    let (status, models) = send(server.client.get(server.url("/v1/models"))).await;
    assert_eq!(status, 200);
    assert_eq!(models["data"][0]["id"], MODEL);
    let (status, body) = send(server.client.post(&url).json(&json!({
        "model": MODEL,
        "input": ["A man is eating food.", "A man is eating a piece of bread."]
    })))
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["object"], "list");
    assert_eq!(body["data"][1]["index"], 1);
    assert_eq!(body["data"][0]["object"], "embedding");
    assert!(body["usage"]["prompt_tokens"].as_u64().unwrap() > 10);
    let floats = vectors(&body);
    assert_eq!(floats[0].len(), 384);
    assert!((cosine(&floats[0], &floats[1]) - 0.7553).abs() < 1e-3);
    // base64, as the official client asks by default: the same numbers.
    let (status, body) = send(server.client.post(&url).json(&json!({
        "model": MODEL, "input": "A man is eating food.", "encoding_format": "base64"
    })))
    .await;
    assert_eq!(status, 200, "{body}");
    let decoded = vectors(&body);
    let diff = decoded[0]
        .iter()
        .zip(&floats[0])
        .map(|(a, b)| (a - b).abs())
        .fold(0.0, f32::max);
    assert!(diff < 1e-4, "base64 differs by {diff}");
    // Many requests at once are served (and batched by the worker): each gets its own rows.
    let sentences = [
        "Fresh bread every morning.",
        "Running shoes for trail and road.",
        "A cosy cafe by the sea.",
        "Discount on winter jackets.",
    ];
    let requests = (0..12).map(|i| {
        let text = sentences[i % sentences.len()];
        let request = server
            .client
            .post(&url)
            .json(&json!({"model": MODEL, "input": [text]}));
        async move { (text, send(request).await) }
    });
    let mut seen: std::collections::HashMap<&str, Vec<f32>> = Default::default();
    for (text, (status, body)) in futures::future::join_all(requests).await {
        assert_eq!(status, 200, "{body}");
        let v = vectors(&body).remove(0);
        if let Some(first) = seen.get(text) {
            assert!(
                cosine(first, &v) > 0.9999,
                "{text}: same input, same vector"
            );
        }
        seen.insert(text, v);
    }
    let a = &seen["Fresh bread every morning."];
    let b = &seen["Discount on winter jackets."];
    assert!(cosine(a, b) < 0.9, "different inputs are not mixed up");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_embedding_requests_name_the_field_and_the_limit() {
    let (_db, server, _service) = server().await;
    let url = server.url("/v1/embeddings");
    let cases = [
        (
            json!({"model": MODEL, "input": []}),
            400,
            "input: 0 inputs is outside 1..=256",
        ),
        (
            json!({"model": MODEL, "input": [""]}),
            400,
            "input[0]: must not be empty",
        ),
        (
            json!({"model": MODEL, "input": [[1, 2, 3]]}),
            400,
            "token-id input is not supported",
        ),
        (
            json!({"model": MODEL, "input": ["ok", "word ".repeat(600)]}),
            400,
            "input[1]: 602 tokens is above the limit of 512",
        ),
        (
            json!({"model": MODEL, "input": "hi", "dimensions": 128}),
            400,
            "dimensions: 128",
        ),
        (
            json!({"model": MODEL, "input": "hi", "encoding_format": "int8"}),
            400,
            "encoding_format",
        ),
        (
            json!({"model": "text-embedding-3-small", "input": "hi"}),
            404,
            "model: \"text-embedding-3-small\" is not loaded",
        ),
        (
            json!({"model": MODEL, "input": "hi", "colour": 1}),
            400,
            "colour",
        ),
    ];
    for (body, status, needle) in cases {
        expect_error(server.client.post(&url).json(&body), status, needle).await;
    }
    // Still serving.
    let (status, _) = send(
        server
            .client
            .post(&url)
            .json(&json!({"model": MODEL, "input": "hi"})),
    )
    .await;
    assert_eq!(status, 200);
    server.stop().await;
}
