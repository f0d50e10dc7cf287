//! `adforge campaign ...`: the campaign loop for scripts, over a running server's HTTP API (the
//! same routes the dashboard and curl use). Each command prints one JSON document; commands that
//! start a job wait for it (printing its progress to the log callback) unless told not to, and
//! fail with the job's error. Nothing here touches the store: a script on another machine drives
//! a server by URL and API key.

use std::time::Duration;

use serde_json::{Value, json};

#[derive(Debug, thiserror::Error)]
pub enum CliError {
    #[error("{url}: {source}")]
    Http {
        url: String,
        #[source]
        source: reqwest::Error,
    },
    /// The server refused the request: its status and error message.
    #[error("{method} {path}: HTTP {status}: {message}")]
    Refused {
        method: &'static str,
        path: String,
        status: u16,
        message: String,
    },
    #[error("job {id} {state}: {error}")]
    JobFailed {
        id: String,
        state: String,
        error: String,
    },
    #[error("job {0} did not finish within the wait limit")]
    Timeout(String),
    #[error("{0}")]
    Input(String),
}

/// A server and the key to talk to it.
pub struct Client {
    base: String,
    key: Option<String>,
    http: reqwest::Client,
    /// How long to wait for a job, at most.
    pub wait_limit: Duration,
}

impl Client {
    pub fn new(base_url: &str, api_key: Option<String>) -> Self {
        Self {
            base: base_url.trim_end_matches('/').to_string(),
            key: api_key,
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(120))
                .build()
                .unwrap_or_default(),
            wait_limit: Duration::from_secs(3600),
        }
    }

    async fn call(
        &self,
        method: &'static str,
        path: &str,
        body: Option<&Value>,
    ) -> Result<Value, CliError> {
        let url = format!("{}{path}", self.base);
        let mut request = match method {
            "POST" => self.http.post(&url),
            "DELETE" => self.http.delete(&url),
            _ => self.http.get(&url),
        };
        if let Some(key) = &self.key {
            request = request.bearer_auth(key);
        }
        if let Some(body) = body {
            request = request.json(body);
        }
        let http = |source| CliError::Http {
            url: url.clone(),
            source,
        };
        let response = request.send().await.map_err(http)?;
        let status = response.status().as_u16();
        let text = response.text().await.map_err(http)?;
        let value: Value = serde_json::from_str(&text).unwrap_or(Value::String(text));
        if status >= 400 {
            let message = value
                .pointer("/error/message")
                .and_then(Value::as_str)
                .map_or_else(|| value.to_string(), str::to_string);
            return Err(CliError::Refused {
                method,
                path: path.to_string(),
                status,
                message,
            });
        }
        Ok(value)
    }

    pub async fn get(&self, path: &str) -> Result<Value, CliError> {
        self.call("GET", path, None).await
    }

    pub async fn post(&self, path: &str, body: &Value) -> Result<Value, CliError> {
        self.call("POST", path, Some(body)).await
    }

    /// Polls a job until it ends; its result on success. `log` hears each new progress message.
    pub async fn wait(&self, job_id: &str, log: &dyn Fn(&str)) -> Result<Value, CliError> {
        let started = std::time::Instant::now();
        let mut last = String::new();
        loop {
            let job = self.get(&format!("/api/jobs/{job_id}")).await?;
            let state = job["state"].as_str().unwrap_or_default().to_string();
            let message = format!(
                "{job_id} {state} {:.0}% {}",
                job["progress"].as_f64().unwrap_or(0.0) * 100.0,
                job["message"].as_str().unwrap_or_default()
            );
            if message != last {
                log(&message);
                last = message;
            }
            match state.as_str() {
                "succeeded" => return Ok(job["result"].clone()),
                "failed" | "cancelled" | "dead" => {
                    return Err(CliError::JobFailed {
                        id: job_id.to_string(),
                        state,
                        error: job["error"].as_str().unwrap_or_default().to_string(),
                    });
                }
                _ => {}
            }
            if started.elapsed() > self.wait_limit {
                return Err(CliError::Timeout(job_id.to_string()));
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    }
}

/// The job id in a 202 answer (a job view, or `{job_id}` beside another object).
fn job_id(answer: &Value) -> Result<String, CliError> {
    answer["job_id"]
        .as_str()
        .or(answer["id"].as_str())
        .map(str::to_string)
        .ok_or_else(|| CliError::Input(format!("the server answered no job id: {answer}")))
}

/// What `adforge campaign plan` asks the planner for.
pub struct PlanArgs {
    pub brand: Option<String>,
    pub product: String,
    pub benefits: Vec<String>,
    pub offer: Option<String>,
    pub interests: Vec<String>,
    pub audience: String,
    pub objective: String,
    pub currency: String,
    pub budget: String,
    pub start: String,
    pub end: String,
    pub platforms: Vec<String>,
    pub countries: Vec<String>,
    pub landing_url: String,
    pub seed: Option<u64>,
}

/// Plans a campaign; the planner's result (campaign id, plan, tool trace), or the job when
/// `wait` is false.
pub async fn plan(
    client: &Client,
    args: &PlanArgs,
    wait: bool,
    log: &dyn Fn(&str),
) -> Result<Value, CliError> {
    let mut body = json!({
        "product": args.product, "audience": args.audience, "objective": args.objective,
        "currency": args.currency, "total_budget": args.budget, "start_date": args.start,
        "end_date": args.end, "platforms": args.platforms, "landing_url": args.landing_url,
    });
    if !args.countries.is_empty() {
        body["countries"] = json!(args.countries);
    }
    if let Some(seed) = args.seed {
        body["seed"] = json!(seed);
    }
    for (key, value) in [
        ("brand", json!(args.brand)),
        ("offer", json!(args.offer)),
        ("benefits", json!(args.benefits)),
        ("interests", json!(args.interests)),
    ] {
        if !(value.is_null() || value.as_array().is_some_and(Vec::is_empty)) {
            body[key] = value;
        }
    }
    let answer = client.post("/api/campaigns/plan", &body).await?;
    if !wait {
        return Ok(answer);
    }
    client.wait(&job_id(&answer)?, log).await
}

/// Creates a campaign from its JSON (the body of `POST /api/campaigns`).
pub async fn create(client: &Client, campaign: &Value) -> Result<Value, CliError> {
    client.post("/api/campaigns", campaign).await
}

/// Generates a campaign's creative set; the job's result when waiting.
pub async fn generate(
    client: &Client,
    body: &Value,
    wait: bool,
    log: &dyn Fn(&str),
) -> Result<Value, CliError> {
    let answer = client.post("/api/generate", body).await?;
    if !wait {
        return Ok(answer);
    }
    client.wait(&job_id(&answer)?, log).await
}

/// Deploys a campaign to a platform; the deployment (with its ledger once finished).
pub async fn deploy(
    client: &Client,
    campaign_id: &str,
    platform: &str,
    approve: bool,
    wait: bool,
    log: &dyn Fn(&str),
) -> Result<Value, CliError> {
    let answer = client
        .post(
            "/api/deployments",
            &json!({"campaign_id": campaign_id, "platform": platform, "approve": approve}),
        )
        .await?;
    let deployment = answer
        .get("deployment")
        .unwrap_or(&answer)
        .get("id")
        .and_then(Value::as_str)
        .map(str::to_string)
        .ok_or_else(|| CliError::Input(format!("no deployment in {answer}")))?;
    if wait && let Some(job) = answer["job_id"].as_str() {
        client.wait(job, log).await?;
    }
    client.get(&format!("/api/deployments/{deployment}")).await
}

/// Syncs a deployment's metrics (`days` simulated first on the sandbox).
pub async fn sync(
    client: &Client,
    deployment_id: &str,
    days: Option<u32>,
    wait: bool,
    log: &dyn Fn(&str),
) -> Result<Value, CliError> {
    let body = match days {
        Some(days) => json!({"days": days}),
        None => json!({}),
    };
    let answer = client
        .post(&format!("/api/deployments/{deployment_id}/sync"), &body)
        .await?;
    if !wait {
        return Ok(answer);
    }
    client.wait(&job_id(&answer)?, log).await
}

/// A campaign's report: totals per creative and platform, and the test of the best creative.
pub async fn report(client: &Client, campaign_id: &str) -> Result<Value, CliError> {
    client
        .get(&format!("/api/campaigns/{campaign_id}/report"))
        .await
}
