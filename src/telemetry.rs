//! Logs and metrics. Logs go through `tracing` (text, or JSON with `ADFORGE_LOG_FORMAT=json`;
//! level from `RUST_LOG`). Metrics are kept here in plain atomics and rendered in the Prometheus
//! text format by `/metrics`: requests and latency per matched route, and whatever gauges the
//! caller adds at scrape time (queue depths, jobs by state).

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::Mutex;
use std::time::Duration;

/// Sets up the global tracing subscriber, as JSON lines or as text. Safe to call more than once
/// (later calls do nothing).
pub fn init_tracing(json: bool) {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn,hyper=warn,tower_http=info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _ = if json {
        builder.json().try_init()
    } else {
        builder.try_init()
    };
}

/// Peak resident set size of this process (VmHWM of /proc/self/status, Linux).
pub fn peak_rss_bytes() -> Option<u64> {
    proc_status_kib("VmHWM:").map(|kib| kib * 1024)
}

/// Resident set size of this process now (VmRSS of /proc/self/status, Linux).
pub fn rss_bytes() -> Option<u64> {
    proc_status_kib("VmRSS:").map(|kib| kib * 1024)
}

/// Resets the peak resident set size to the current one (writes 5 to /proc/self/clear_refs,
/// Linux 4.0 and later); false where the kernel refuses.
pub fn reset_peak_rss() -> bool {
    std::fs::write("/proc/self/clear_refs", "5").is_ok()
}

fn proc_status_kib(field: &str) -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with(field))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// User plus system CPU time of this process so far, in seconds (/proc/self/stat, in the
/// kernel's 100 Hz clock ticks).
pub fn cpu_seconds() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // The command name (field 2) may hold spaces; the fields after its `)` are plain.
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    let ticks = |i: usize| fields.get(i)?.parse::<u64>().ok();
    Some((ticks(11)? + ticks(12)?) as f64 / 100.0)
}

/// Upper bounds of the latency histogram buckets, in seconds.
const BUCKETS: [f64; 12] = [
    0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0, 30.0,
];

#[derive(Default, Clone)]
struct Histogram {
    counts: [u64; BUCKETS.len()],
    sum: f64,
    total: u64,
}

#[derive(Default)]
struct HttpMetrics {
    /// (method, route, status) -> count
    requests: BTreeMap<(String, String, u16), u64>,
    /// (method, route) -> latency histogram
    latency: BTreeMap<(String, String), Histogram>,
}

/// Process-wide metrics, shared through the API state.
#[derive(Default)]
pub struct Metrics {
    http: Mutex<HttpMetrics>,
}

/// A gauge value added at scrape time.
pub struct Gauge<'a> {
    pub name: &'a str,
    pub help: &'a str,
    pub labels: Vec<(&'a str, String)>,
    pub value: f64,
}

impl Metrics {
    /// Records one finished request. `route` is the matched route template (`/api/jobs/{id}`),
    /// never the raw path, so the label set stays bounded.
    pub fn record_request(&self, method: &str, route: &str, status: u16, elapsed: Duration) {
        let Ok(mut http) = self.http.lock() else {
            return;
        };
        *http
            .requests
            .entry((method.to_string(), route.to_string(), status))
            .or_default() += 1;
        let hist = http
            .latency
            .entry((method.to_string(), route.to_string()))
            .or_default();
        let seconds = elapsed.as_secs_f64();
        for (slot, bound) in hist.counts.iter_mut().zip(BUCKETS) {
            if seconds <= bound {
                *slot += 1;
            }
        }
        hist.sum += seconds;
        hist.total += 1;
    }

    /// The Prometheus text exposition of everything recorded plus `gauges`.
    pub fn render(&self, gauges: &[Gauge<'_>]) -> String {
        let mut out = String::new();
        let (requests, latency) = match self.http.lock() {
            Ok(http) => (http.requests.clone(), http.latency.clone()),
            Err(_) => Default::default(),
        };
        out.push_str(
            "# HELP adforge_http_requests_total HTTP requests by matched route and status.\n",
        );
        out.push_str("# TYPE adforge_http_requests_total counter\n");
        for ((method, route, status), count) in &requests {
            let _ = writeln!(
                out,
                "adforge_http_requests_total{{method=\"{method}\",route=\"{}\",status=\"{status}\"}} {count}",
                escape(route)
            );
        }
        out.push_str(
            "# HELP adforge_http_request_duration_seconds HTTP request latency by matched route.\n",
        );
        out.push_str("# TYPE adforge_http_request_duration_seconds histogram\n");
        for ((method, route), hist) in &latency {
            let labels = format!("method=\"{method}\",route=\"{}\"", escape(route));
            for (count, bound) in hist.counts.iter().zip(BUCKETS) {
                let _ = writeln!(
                    out,
                    "adforge_http_request_duration_seconds_bucket{{{labels},le=\"{bound}\"}} {count}"
                );
            }
            let _ = writeln!(
                out,
                "adforge_http_request_duration_seconds_bucket{{{labels},le=\"+Inf\"}} {}",
                hist.total
            );
            let _ = writeln!(
                out,
                "adforge_http_request_duration_seconds_sum{{{labels}}} {}",
                hist.sum
            );
            let _ = writeln!(
                out,
                "adforge_http_request_duration_seconds_count{{{labels}}} {}",
                hist.total
            );
        }
        let mut last_name = "";
        for gauge in gauges {
            if gauge.name != last_name {
                let _ = writeln!(out, "# HELP {} {}", gauge.name, gauge.help);
                let _ = writeln!(out, "# TYPE {} gauge", gauge.name);
                last_name = gauge.name;
            }
            let labels: Vec<String> = gauge
                .labels
                .iter()
                .map(|(k, v)| format!("{k}=\"{}\"", escape(v)))
                .collect();
            if labels.is_empty() {
                let _ = writeln!(out, "{} {}", gauge.name, gauge.value);
            } else {
                let _ = writeln!(
                    out,
                    "{}{{{}}} {}",
                    gauge.name,
                    labels.join(","),
                    gauge.value
                );
            }
        }
        out
    }
}

fn escape(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_counters_histograms_and_gauges() {
        let metrics = Metrics::default();
        metrics.record_request("GET", "/health", 200, Duration::from_millis(3));
        metrics.record_request("GET", "/health", 200, Duration::from_millis(700));
        let text = metrics.render(&[Gauge {
            name: "adforge_jobs",
            help: "Jobs by state.",
            labels: vec![("state", "queued".into())],
            value: 4.0,
        }]);
        assert!(text.contains(
            "adforge_http_requests_total{method=\"GET\",route=\"/health\",status=\"200\"} 2"
        ));
        assert!(text.contains(
            "adforge_http_request_duration_seconds_bucket{method=\"GET\",route=\"/health\",le=\"0.005\"} 1"
        ));
        assert!(text.contains(
            "adforge_http_request_duration_seconds_bucket{method=\"GET\",route=\"/health\",le=\"1\"} 2"
        ));
        assert!(text.contains("adforge_jobs{state=\"queued\"} 4"));
    }
}
