//! `adforge bench text`: load on a running server over its OpenAI HTTP API, as users see it.
//! At each concurrency level, that many clients send fixed prompts back to back (streaming,
//! fixed output length through `ignore_eos`) for a bounded number of requests; the report gives
//! time to first token and inter-token latency (p50, p99), aggregate output tokens/s, requests/s,
//! and the server's peak resident memory (from its `/metrics`). When the server exposes its
//! text engine's phase counters, each level also reports where the engine's time went.

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
    /// Share of the engine thread's time per phase during this level (matmul, attention,
    /// other_forward, lm_head, sampling, scheduling, idle), from the server's counters.
    pub engine_time_share: Vec<(String, f64)>,
    /// Batched steps the engine ran during this level.
    pub engine_steps: Option<f64>,
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
            let before = self.scrape(&client).await;
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
            let after = self.scrape(&client).await;
            let (engine_time_share, engine_steps) = engine_delta(&before, &after);
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
                server_peak_rss_mb: metric(&after, "adforge_process_peak_rss_bytes")
                    .map(|bytes| bytes / 1e6),
                engine_time_share,
                engine_steps,
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

    /// The server's `/metrics` text (empty when unreachable).
    async fn scrape(&self, client: &reqwest::Client) -> String {
        let response = client
            .get(format!("{}/metrics", self.base_url))
            .send()
            .await;
        match response {
            Ok(r) => r.text().await.unwrap_or_default(),
            Err(_) => String::new(),
        }
    }
}

/// The value of the sample `name` (with its labels, if any) in Prometheus text.
fn metric(text: &str, name: &str) -> Option<f64> {
    text.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' '))
        .and_then(|v| v.trim().parse().ok())
}

const PHASES: [&str; 7] = [
    "matmul",
    "attention",
    "other_forward",
    "lm_head",
    "sampling",
    "scheduling",
    "idle",
];

/// Each engine phase's share of the time between two scrapes, and the steps run.
fn engine_delta(before: &str, after: &str) -> (Vec<(String, f64)>, Option<f64>) {
    let seconds = |text: &str, phase: &str| {
        metric(
            text,
            &format!("adforge_text_engine_seconds_total{{phase=\"{phase}\"}}"),
        )
    };
    let deltas: Option<Vec<(String, f64)>> = PHASES
        .iter()
        .map(|p| Some((p.to_string(), seconds(after, p)? - seconds(before, p)?)))
        .collect();
    let Some(deltas) = deltas else {
        return (Vec::new(), None);
    };
    let total: f64 = deltas.iter().map(|d| d.1).sum();
    let shares = deltas
        .into_iter()
        .map(|(p, d)| (p, if total > 0.0 { d / total } else { 0.0 }))
        .collect();
    let steps = metric(after, "adforge_text_engine_steps_total")
        .zip(metric(before, "adforge_text_engine_steps_total"))
        .map(|(a, b)| a - b);
    (shares, steps)
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
    if reports.iter().any(|r| !r.engine_time_share.is_empty()) {
        out.push_str("\nengine time by phase (% of the engine thread's time during the level)\n");
        out.push_str("conc  steps");
        for phase in PHASES {
            out.push_str(&format!("  {phase:>13}"));
        }
        out.push('\n');
        for r in reports {
            out.push_str(&format!(
                "{:>4}  {:>5}",
                r.concurrency,
                r.engine_steps.map_or("-".into(), |s| format!("{s:.0}"))
            ));
            for (_, share) in &r.engine_time_share {
                out.push_str(&format!("  {:>12.1}%", share * 100.0));
            }
            out.push('\n');
        }
    }
    out
}
