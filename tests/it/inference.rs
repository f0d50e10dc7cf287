//! The OpenAI-compatible routes over a real socket, on the real SmolLM2 model.

use std::sync::Arc;
use std::time::Duration;

use adforge::engine::text::{EngineLimits, TextService};
use adforge::jobs::embedded::EmbeddedQueue;
use adforge::scheduler::BatchLimits;
use futures::StreamExt;
use serde_json::{Value, json};

use crate::support::{StoreKind, TestDb, TestServer, expect_error, send, sse_blocks, wait_for};

const MODEL: &str = "smollm2-135m-instruct";

pub fn text_service(limits: EngineLimits, max_context: usize) -> TextService {
    let cache = std::env::var("ADFORGE_TEST_MODEL_CACHE").unwrap_or_else(|_| {
        panic!("ADFORGE_TEST_MODEL_CACHE is not set: run the suite through ./scripts/test.sh")
    });
    let path = std::path::Path::new(&cache)
        .join(MODEL)
        .join("SmolLM2-135M-Instruct.Q4_1.gguf");
    TextService::load(MODEL, &path, limits, max_context).unwrap()
}

async fn server_with(
    limits: EngineLimits,
    max_context: usize,
) -> (TestDb, TestServer, TextService) {
    let db = TestDb::new(StoreKind::Sqlite).await;
    let queue = Arc::new(EmbeddedQueue::new(db.store.clone()));
    let text = tokio::task::spawn_blocking(move || text_service(limits, max_context))
        .await
        .unwrap();
    let server =
        TestServer::start_with_text(db.store.clone(), queue, Some(text.clone()), true).await;
    (db, server, text)
}

async fn server() -> (TestDb, TestServer, TextService) {
    server_with(EngineLimits::default(), 2048).await
}

fn chat(content: &str, extra: Value) -> Value {
    let mut body = json!({"model": MODEL, "messages": [{"role": "user", "content": content}], "max_tokens": 24});
    for (k, v) in extra.as_object().unwrap() {
        body[k] = v.clone();
    }
    body
}

/// Reads an OpenAI stream: the data payloads, up to and including [DONE].
async fn read_stream(response: reqwest::Response) -> Vec<String> {
    sse_blocks(response)
        .await
        .iter()
        .flat_map(|block| {
            block
                .lines()
                .filter_map(|l| l.strip_prefix("data: ").map(str::to_string))
                .collect::<Vec<_>>()
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chat_and_completions_answer_in_openai_shapes() {
    let (_db, server, _text) = server().await;
    let (status, models) = send(server.client.get(server.url("/v1/models"))).await;
    assert_eq!(status, 200);
    assert_eq!(models["data"][0]["id"], MODEL);
    let (status, body) = send(
        server
            .client
            .post(server.url("/v1/chat/completions"))
            .json(&chat(
                "Write a slogan for a coffee shop.",
                json!({"temperature": 0}),
            )),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["object"], "chat.completion");
    assert_eq!(body["choices"][0]["message"]["role"], "assistant");
    let content = body["choices"][0]["message"]["content"].as_str().unwrap();
    assert!(!content.trim().is_empty(), "the model answered");
    assert!(matches!(
        body["choices"][0]["finish_reason"].as_str(),
        Some("stop" | "length")
    ));
    let usage = &body["usage"];
    assert_eq!(
        usage["total_tokens"],
        usage["prompt_tokens"].as_u64().unwrap() + usage["completion_tokens"].as_u64().unwrap()
    );
    let (status, body) = send(server.client.post(server.url("/v1/completions")).json(&json!({
        "model": MODEL, "prompt": "The capital of France is", "max_tokens": 4, "temperature": 0, "logprobs": 2
    })))
    .await;
    assert_eq!(status, 200, "{body}");
    assert!(
        body["choices"][0]["text"]
            .as_str()
            .unwrap()
            .trim_start()
            .starts_with("Paris")
    );
    assert_eq!(body["usage"]["completion_tokens"], 4);
    assert_eq!(body["choices"][0]["finish_reason"], "length");
    let logprobs = &body["choices"][0]["logprobs"];
    assert_eq!(logprobs["tokens"].as_array().unwrap().len(), 4);
    assert!(logprobs["token_logprobs"][0].as_f64().unwrap() <= 0.0);
    assert_eq!(logprobs["top_logprobs"][0].as_object().unwrap().len(), 2);
    // Stop strings cut the text before them.
    let (_, body) = send(server.client.post(server.url("/v1/completions")).json(&json!({
        "model": MODEL, "prompt": "The capital of France is", "max_tokens": 8, "temperature": 0, "stop": ["."]
    })))
    .await;
    assert_eq!(body["choices"][0]["finish_reason"], "stop");
    assert!(!body["choices"][0]["text"].as_str().unwrap().contains('.'));
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn same_seed_same_text_alone_co_batched_and_streamed() {
    let (_db, server, _text) = server().await;
    let request = chat(
        "Name three colours of the sea.",
        json!({"temperature": 0.9, "seed": 1234, "max_tokens": 20}),
    );
    let url = server.url("/v1/chat/completions");
    let (_, alone) = send(server.client.post(&url).json(&request)).await;
    let alone = alone["choices"][0]["message"]["content"]
        .as_str()
        .unwrap()
        .to_string();
    // The same request in the middle of three others.
    let others: Vec<_> = (0..3)
        .map(|i| {
            server
                .client
                .post(&url)
                .json(&chat(
                    &format!("Count to {}.", i + 3),
                    json!({"temperature": 0.7, "seed": i, "max_tokens": 20}),
                ))
                .send()
        })
        .collect();
    let same = server.client.post(&url).json(&request).send();
    let (same, others) = tokio::join!(same, futures::future::join_all(others));
    let same: Value = same.unwrap().json().await.unwrap();
    assert_eq!(
        same["choices"][0]["message"]["content"].as_str().unwrap(),
        alone,
        "co-batched gives the same text"
    );
    for other in others {
        assert_eq!(other.unwrap().status(), 200);
    }
    // Streaming gives the same tokens.
    let mut streamed_request = request.clone();
    streamed_request["stream"] = json!(true);
    streamed_request["stream_options"] = json!({"include_usage": true});
    let response = server
        .client
        .post(&url)
        .json(&streamed_request)
        .send()
        .await
        .unwrap();
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/event-stream")
    );
    let chunks = read_stream(response).await;
    assert_eq!(chunks.last().map(String::as_str), Some("[DONE]"));
    let parsed: Vec<Value> = chunks[..chunks.len() - 1]
        .iter()
        .map(|c| serde_json::from_str(c).unwrap())
        .collect();
    let text: String = parsed
        .iter()
        .filter_map(|c| c["choices"][0]["delta"]["content"].as_str())
        .collect();
    assert_eq!(text, alone, "streamed equals non-streamed");
    assert_eq!(parsed[0]["choices"][0]["delta"]["role"], "assistant");
    assert!(
        parsed
            .iter()
            .any(|c| c["choices"][0]["finish_reason"].is_string())
    );
    assert!(
        parsed.last().unwrap()["usage"]["completion_tokens"]
            .as_u64()
            .unwrap()
            > 0
    );
    // n choices share one prefill and differ by seed.
    let (_, body) = send(server.client.post(&url).json(&chat(
        "Say something about tea.",
        json!({"n": 3, "seed": 9, "temperature": 1.0}),
    )))
    .await;
    let choices = body["choices"].as_array().unwrap();
    assert_eq!(
        choices
            .iter()
            .map(|c| c["index"].as_u64().unwrap())
            .collect::<Vec<_>>(),
        vec![0, 1, 2]
    );
    server.stop().await;
}

/// Checks `value` against the parts of JSON Schema the tests use: type, properties, required,
/// additionalProperties false, enum, string length, numeric bounds, array item counts.
fn check_schema(value: &Value, schema: &Value, path: &str) {
    if let Some(options) = schema["enum"].as_array() {
        assert!(
            options.contains(value),
            "{path}: {value} not in {options:?}"
        );
    }
    match schema["type"].as_str() {
        Some("object") => {
            let object = value
                .as_object()
                .unwrap_or_else(|| panic!("{path}: not an object"));
            for key in schema["required"].as_array().into_iter().flatten() {
                assert!(
                    object.contains_key(key.as_str().unwrap()),
                    "{path}: missing {key}"
                );
            }
            for (key, field) in object {
                match schema["properties"].get(key) {
                    Some(sub) => check_schema(field, sub, &format!("{path}.{key}")),
                    None => assert_ne!(
                        schema["additionalProperties"],
                        json!(false),
                        "{path}: unexpected {key}"
                    ),
                }
            }
        }
        Some("array") => {
            let items = value
                .as_array()
                .unwrap_or_else(|| panic!("{path}: not an array"));
            if let Some(min) = schema["minItems"].as_u64() {
                assert!(items.len() as u64 >= min, "{path}: fewer than {min} items");
            }
            if let Some(max) = schema["maxItems"].as_u64() {
                assert!(items.len() as u64 <= max, "{path}: more than {max} items");
            }
            for (i, item) in items.iter().enumerate() {
                check_schema(item, &schema["items"], &format!("{path}[{i}]"));
            }
        }
        Some("string") => {
            let text = value
                .as_str()
                .unwrap_or_else(|| panic!("{path}: not a string"));
            if let Some(max) = schema["maxLength"].as_u64() {
                assert!(
                    text.chars().count() as u64 <= max,
                    "{path}: {text:?} too long"
                );
            }
            if let Some(min) = schema["minLength"].as_u64() {
                assert!(
                    text.chars().count() as u64 >= min,
                    "{path}: {text:?} too short"
                );
            }
        }
        Some(kind @ ("integer" | "number")) => {
            let number = value
                .as_f64()
                .unwrap_or_else(|| panic!("{path}: not a number"));
            if kind == "integer" {
                assert!(
                    value.is_i64() || value.is_u64(),
                    "{path}: {value} not an integer"
                );
            }
            if let Some(min) = schema["minimum"].as_f64() {
                assert!(number >= min, "{path}: {number} below {min}");
            }
            if let Some(max) = schema["maximum"].as_f64() {
                assert!(number <= max, "{path}: {number} above {max}");
            }
        }
        Some("boolean") => assert!(value.is_boolean(), "{path}: not a boolean"),
        _ => {}
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_schema_output_parses_and_validates() {
    let (_db, server, _text) = server().await;
    let ad = json!({
        "type": "object",
        "properties": {
            "headline": {"type": "string", "minLength": 3, "maxLength": 40},
            "tone": {"enum": ["playful", "serious", "urgent"]},
            "tags": {"type": "array", "items": {"type": "string", "maxLength": 12}, "minItems": 1, "maxItems": 3}
        },
        "required": ["headline", "tone", "tags"],
        "additionalProperties": false
    });
    let product = json!({
        "type": "object",
        "properties": {
            "product": {
                "type": "object",
                "properties": {
                    "name": {"type": "string", "maxLength": 30},
                    "price": {"type": "number", "minimum": 0, "maximum": 1000}
                },
                "required": ["name", "price"],
                "additionalProperties": false
            },
            "in_stock": {"type": "boolean"},
            "rating": {"type": "integer", "minimum": 1, "maximum": 5},
            "colours": {"type": "array", "items": {"enum": ["red", "green", "blue"]}, "maxItems": 2}
        },
        "required": ["product", "in_stock", "rating", "colours"],
        "additionalProperties": false
    });
    let cases = [
        (
            "Write an ad for running shoes as JSON.",
            ad.clone(),
            json!({"temperature": 0}),
        ),
        (
            "Write an ad for a bakery as JSON.",
            ad,
            json!({"temperature": 0.9, "seed": 7, "n": 3}),
        ),
        (
            "Describe a teapot for sale as JSON.",
            product.clone(),
            json!({"temperature": 0}),
        ),
        (
            "Describe a bicycle for sale as JSON.",
            product,
            json!({"temperature": 1.2, "seed": 3, "n": 2, "stream": true}),
        ),
    ];
    // All at once, so constrained and co-batched choices share steps.
    let requests = cases.iter().map(|(prompt, schema, extra)| {
        let mut body = chat(prompt, extra.clone());
        body["max_tokens"] = json!(200);
        body["response_format"] =
            json!({"type": "json_schema", "json_schema": {"name": "answer", "schema": schema}});
        let request = server
            .client
            .post(server.url("/v1/chat/completions"))
            .json(&body);
        async move {
            let response = request.send().await.unwrap();
            assert_eq!(response.status(), 200);
            if body["stream"] == json!(true) {
                let mut texts = vec![String::new(); body["n"].as_u64().unwrap() as usize];
                for data in read_stream(response).await {
                    if data == "[DONE]" {
                        continue;
                    }
                    let chunk: Value = serde_json::from_str(&data).unwrap();
                    for choice in chunk["choices"].as_array().unwrap() {
                        let i = choice["index"].as_u64().unwrap() as usize;
                        texts[i].push_str(choice["delta"]["content"].as_str().unwrap_or(""));
                    }
                }
                texts
            } else {
                let body: Value = response.json().await.unwrap();
                body["choices"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|c| {
                        assert_eq!(c["finish_reason"], "stop", "{c}");
                        c["message"]["content"].as_str().unwrap().to_string()
                    })
                    .collect()
            }
        }
    });
    let outputs = futures::future::join_all(requests).await;
    for ((prompt, schema, extra), texts) in cases.iter().zip(outputs) {
        assert_eq!(texts.len() as u64, extra["n"].as_u64().unwrap_or(1));
        for text in texts {
            let value: Value = serde_json::from_str(&text)
                .unwrap_or_else(|e| panic!("{prompt}: {text:?} does not parse: {e}"));
            check_schema(&value, schema, "$");
        }
    }
    // json_object: any object.
    let (status, body) = send(server.client.post(server.url("/v1/chat/completions")).json(&chat(
        "Give me a JSON object describing a cat.",
        json!({"temperature": 0, "max_tokens": 120, "response_format": {"type": "json_object"}}),
    )))
    .await;
    assert_eq!(status, 200, "{body}");
    if body["choices"][0]["finish_reason"] == "stop" {
        let text = body["choices"][0]["message"]["content"].as_str().unwrap();
        let value: Value = serde_json::from_str(text).unwrap();
        assert!(value.is_object(), "{text}");
    }
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_requests_name_the_field_and_the_limit() {
    let (_db, server, _text) = server_with(EngineLimits::default(), 256).await;
    let url = server.url("/v1/chat/completions");
    let long = "word ".repeat(400);
    let cases = [
        (
            json!({"model": MODEL, "messages": []}),
            400,
            "messages: at least one message",
        ),
        (
            json!({"model": MODEL, "messages": [{"role": "robot", "content": "hi"}]}),
            400,
            "messages[0].role",
        ),
        (chat(&long, json!({})), 400, "over the context limit of 256"),
        (
            chat("hi", json!({"max_tokens": 100000})),
            400,
            "max_tokens: 100000 is outside 1..=",
        ),
        (chat("hi", json!({"n": 50})), 400, "n: 50 is outside 1..=8"),
        (
            chat("hi", json!({"temperature": 7})),
            400,
            "temperature: 7 is outside 0..=2",
        ),
        (
            chat(
                "hi",
                json!({"response_format": {"type": "json_schema", "json_schema": {}}}),
            ),
            400,
            "response_format.json_schema.schema: is required",
        ),
        (
            chat(
                "hi",
                json!({"response_format": {"type": "json_schema", "json_schema": {"name": "x", "schema": {"type": "frob"}}}}),
            ),
            400,
            "response_format.json_schema.schema: cannot be compiled",
        ),
        (
            chat("hi", json!({"response_format": {"type": "yaml"}})),
            400,
            "response_format.type",
        ),
        (
            chat("hi", json!({"model": "gpt-5"})),
            404,
            "model: \"gpt-5\" is not loaded",
        ),
        (
            chat("hi", json!({"frobnicate": true})),
            400,
            "frobnicate: unknown field",
        ),
    ];
    for (body, status, needle) in cases {
        expect_error(server.client.post(&url).json(&body), status, needle).await;
    }
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn full_queue_is_429_and_a_disconnect_frees_the_slot() {
    let limits = EngineLimits {
        batch: BatchLimits {
            max_batch: 1,
            ..BatchLimits::default()
        },
        queue: 1,
        max_running: 1,
    };
    let (_db, server, text) = server_with(limits, 2048).await;
    let url = server.url("/v1/completions");
    let endless = json!({"model": MODEL, "prompt": "Once upon a time", "max_tokens": 1500, "ignore_eos": true, "temperature": 0, "stream": true});
    // One request runs, one waits, the rest are refused.
    let running = server
        .client
        .post(&url)
        .json(&endless)
        .send()
        .await
        .unwrap();
    assert_eq!(running.status(), 200);
    wait_for(
        Duration::from_secs(30),
        "the first request to start",
        || async { (text.engine.active() == 1).then_some(()) },
    )
    .await;
    let waiting = server.client.post(&url).json(&endless).send();
    let waiting = tokio::spawn(waiting);
    wait_for(
        Duration::from_secs(30),
        "the second request to queue",
        || async { (text.engine.waiting() == 1).then_some(()) },
    )
    .await;
    let refused = server
        .client
        .post(&url)
        .json(&endless)
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 429);
    assert!(refused.headers().contains_key("retry-after"));
    let err: Value = refused.json().await.unwrap();
    assert_eq!(err["error"]["code"], "too_many_requests");
    // Clients that go away free their slots at the next step.
    drop(running);
    let waiting = waiting.await.unwrap().unwrap();
    assert_eq!(waiting.status(), 200);
    let mut first_chunk = waiting.bytes_stream();
    first_chunk.next().await.unwrap().unwrap();
    drop(first_chunk);
    wait_for(
        Duration::from_secs(30),
        "the engine to drop both requests",
        || async { (text.engine.active() == 0 && text.engine.waiting() == 0).then_some(()) },
    )
    .await;
    let (status, _) = send(
        server
            .client
            .post(&url)
            .json(&json!({"model": MODEL, "prompt": "Hi", "max_tokens": 2})),
    )
    .await;
    assert_eq!(status, 200);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn inference_needs_a_valid_key_unless_open_on_loopback() {
    let db = TestDb::new(StoreKind::Sqlite).await;
    let queue = Arc::new(EmbeddedQueue::new(db.store.clone()));
    let text = tokio::task::spawn_blocking(|| text_service(EngineLimits::default(), 512))
        .await
        .unwrap();
    let closed =
        TestServer::start_with_text(db.store.clone(), queue.clone(), Some(text.clone()), false)
            .await;
    let (status, err) = send(closed.client.get(closed.url("/v1/models"))).await;
    assert_eq!(
        (status, err["error"]["code"].as_str()),
        (401, Some("unauthorized"))
    );
    let (status, _) = send(
        closed
            .client
            .get(closed.url("/v1/models"))
            .bearer_auth("sk-anything"),
    )
    .await;
    assert_eq!(status, 401);
    assert_eq!(
        send(closed.get("/v1/models")).await.0,
        200,
        "a valid key is accepted"
    );
    closed.stop().await;
    // Open (loopback, no configured key): the key the openai client always sends is not checked.
    let open = TestServer::start_with_text(db.store.clone(), queue, Some(text), true).await;
    let (status, _) = send(
        open.client
            .get(open.url("/v1/models"))
            .bearer_auth("sk-anything"),
    )
    .await;
    assert_eq!(status, 200);
    open.stop().await;
}
