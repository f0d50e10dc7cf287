//! `adforge bench text`: load on a running server over its OpenAI HTTP API, as users see it.
//! At each concurrency level, that many clients send fixed prompts back to back (streaming,
//! fixed output length through `ignore_eos`) for a bounded number of requests; the report gives
//! time to first token and inter-token latency (p50, p99), aggregate output tokens/s, requests/s,
//! and the server's peak resident memory (from its `/metrics`).

use std::time::{Duration, Instant};

use futures::StreamExt;
use serde::Serialize;
use serde_json::{Value, json};

#[derive(Debug, thiserror::Error)]
pub enum BenchError {
    #[error("request to {url}: {message}")]
    Http { url: String, message: String },
    #[error("server answered {status}: {body}")]
    Status { status: u16, body: String },
}

/// What to run.
#[derive(Debug, Clone)]
pub struct TextBench {
    pub base_url: String,
    pub api_key: Option<String>,
    pub model: String,
    pub concurrency: Vec<usize>,
    /// Requests per client at each level.
    pub requests_per_client: usize,
    pub max_tokens: usize,
}

/// The figures of one concurrency level.
#[derive(Debug, Clone, Serialize)]
pub struct LevelReport {
    pub concurrency: usize,
    pub requests: usize,
    pub output_tokens: usize,
    pub wall_s: f64,
    pub output_tokens_per_s: f64,
    pub requests_per_s: f64,
    pub ttft_p50_ms: f64,
    pub ttft_p99_ms: f64,
    pub itl_p50_ms: f64,
    pub itl_p99_ms: f64,
    pub server_peak_rss_mb: Option<f64>,
}

const PROMPTS: [&str; 4] = [
    "Write a product description for a stainless steel water bottle that keeps drinks cold for a day.",
    "List ideas for a summer sale campaign for a small bakery.",
    "Explain to a new customer why they should try our running shoes.",
    "Draft a friendly reminder email about an abandoned shopping cart.",
];

struct Sample {
    ttft: Duration,
    gaps: Vec<Duration>,
    tokens: usize,
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = (p / 100.0 * (sorted.len() - 1) as f64).round() as usize;
    sorted[rank.min(sorted.len() - 1)]
}

impl TextBench {
    pub async fn run(&self) -> Result<Vec<LevelReport>, BenchError> {
        let client = reqwest::Client::new();
        let mut reports = Vec::new();
        for &concurrency in &self.concurrency {
            // One warm-up request so the first level does not pay for cold caches.
            self.one(&client, 0).await?;
            let started = Instant::now();
            let clients = (0..concurrency).map(|c| {
                let client = client.clone();
                async move {
                    let mut samples = Vec::new();
                    for r in 0..self.requests_per_client {
                        samples.push(self.one(&client, c * 31 + r).await?);
                    }
                    Ok::<_, BenchError>(samples)
                }
            });
            let results = futures::future::join_all(clients).await;
            let wall = started.elapsed().as_secs_f64();
            let mut samples = Vec::new();
            for result in results {
                samples.extend(result?);
            }
            let mut ttft: Vec<f64> = samples.iter().map(|s| s.ttft.as_secs_f64() * 1e3).collect();
            let mut itl: Vec<f64> = samples
                .iter()
                .flat_map(|s| s.gaps.iter().map(|g| g.as_secs_f64() * 1e3))
                .collect();
            ttft.sort_by(f64::total_cmp);
            itl.sort_by(f64::total_cmp);
            let output_tokens: usize = samples.iter().map(|s| s.tokens).sum();
            reports.push(LevelReport {
                concurrency,
                requests: samples.len(),
                output_tokens,
                wall_s: wall,
                output_tokens_per_s: output_tokens as f64 / wall,
                requests_per_s: samples.len() as f64 / wall,
                ttft_p50_ms: percentile(&ttft, 50.0),
                ttft_p99_ms: percentile(&ttft, 99.0),
                itl_p50_ms: percentile(&itl, 50.0),
                itl_p99_ms: percentile(&itl, 99.0),
                server_peak_rss_mb: self.peak_rss(&client).await,
            });
        }
        Ok(reports)
    }

    async fn one(&self, client: &reqwest::Client, index: usize) -> Result<Sample, BenchError> {
        let url = format!("{}/v1/completions", self.base_url);
        let body = json!({
            "model": self.model,
            "prompt": PROMPTS[index % PROMPTS.len()],
            "max_tokens": self.max_tokens,
            "temperature": 0,
            "ignore_eos": true,
            "stream": true,
        });
        let mut request = client.post(&url).json(&body);
        if let Some(key) = &self.api_key {
            request = request.bearer_auth(key);
        }
        let http = |e: reqwest::Error| BenchError::Http {
            url: url.clone(),
            message: e.to_string(),
        };
        let started = Instant::now();
        let response = request.send().await.map_err(http)?;
        if !response.status().is_success() {
            let status = response.status().as_u16();
            let body = response.text().await.unwrap_or_default();
            return Err(BenchError::Status { status, body });
        }
        let mut stream = response.bytes_stream();
        let mut buffer = String::new();
        let mut last: Option<Instant> = None;
        let mut sample = Sample {
            ttft: Duration::ZERO,
            gaps: Vec::new(),
            tokens: 0,
        };
        while let Some(chunk) = stream.next().await {
            buffer.push_str(&String::from_utf8_lossy(&chunk.map_err(http)?));
            while let Some(end) = buffer.find("\n\n") {
                let event: String = buffer.drain(..end + 2).collect();
                let Some(data) = event.trim().strip_prefix("data: ") else {
                    continue;
                };
                let Ok(value) = serde_json::from_str::<Value>(data) else {
                    continue;
                };
                if !value["choices"][0]["finish_reason"].is_null() {
                    continue;
                }
                let now = Instant::now();
                match last {
                    None => sample.ttft = now - started,
                    Some(previous) => sample.gaps.push(now - previous),
                }
                last = Some(now);
                sample.tokens += 1;
            }
        }
        Ok(sample)
    }

    async fn peak_rss(&self, client: &reqwest::Client) -> Option<f64> {
        let text = client
            .get(format!("{}/metrics", self.base_url))
            .send()
            .await
            .ok()?
            .text()
            .await
            .ok()?;
        text.lines()
            .find_map(|l| l.strip_prefix("adforge_process_peak_rss_bytes "))
            .and_then(|v| v.trim().parse::<f64>().ok())
            .map(|bytes| bytes / 1e6)
    }
}

/// A fixed-width table of the reports.
pub fn table(reports: &[LevelReport]) -> String {
    let mut out = String::from(
        "conc  reqs  out_tok  tok/s    req/s  ttft_p50  ttft_p99  itl_p50  itl_p99  peak_rss_MB\n",
    );
    for r in reports {
        out.push_str(&format!(
            "{:>4}  {:>4}  {:>7}  {:>7.1}  {:>5.2}  {:>8.1}  {:>8.1}  {:>7.1}  {:>7.1}  {:>11}\n",
            r.concurrency,
            r.requests,
            r.output_tokens,
            r.output_tokens_per_s,
            r.requests_per_s,
            r.ttft_p50_ms,
            r.ttft_p99_ms,
            r.itl_p50_ms,
            r.itl_p99_ms,
            r.server_peak_rss_mb
                .map_or("-".to_string(), |m| format!("{m:.0}")),
        ));
    }
    out
}
