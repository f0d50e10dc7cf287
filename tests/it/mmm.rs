//! The marketing-mix model on data simulated from a known truth
//! (`scripts/fixtures/mmm_simulate.py`: 1,096 days x 5 channels, geometric adstock, Hill
//! saturation, 10% multiplicative noise), through the library and through the job endpoint.

use adforge::orchestrate::analytics::mmm::{self, Columns, Dataset, MmmConfig};

const CSV: &str = include_str!("../fixtures/mmm_sim_daily.csv");
const TRUTH: &str = include_str!("../fixtures/mmm_sim_daily_truth.json");

fn columns() -> Columns {
    Columns {
        date: "date".into(),
        response: "revenue".into(),
        channels: ["tv", "search", "social", "display", "video"]
            .map(String::from)
            .to_vec(),
    }
}

fn truth() -> serde_json::Value {
    serde_json::from_str(TRUTH).unwrap()
}

fn holidays() -> Vec<String> {
    truth()["holidays"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h.as_str().unwrap().to_string())
        .collect()
}

/// Robyn's guidance for geometric theta per week by channel type (TV 0.3-0.8, OOH, print and
/// radio 0.1-0.4, digital 0-0.3), as the per-day decay of daily data: theta_week^(1/7).
fn robyn_theta_guidance() -> std::collections::BTreeMap<String, mmm::HyperRanges> {
    [
        ("tv", 0.3, 0.8),
        ("search", 0.0, 0.3),
        ("social", 0.0, 0.3),
        ("display", 0.0, 0.3),
        ("video", 0.1, 0.4),
    ]
    .into_iter()
    .map(|(name, lo, hi): (&str, f64, f64)| {
        let daily = |v: f64| v.powf(1.0 / 7.0);
        (
            name.to_string(),
            mmm::HyperRanges {
                theta: Some([daily(lo), daily(hi)]),
                ..Default::default()
            },
        )
    })
    .collect()
}

#[test]
fn recovers_roas_and_decomposition_of_simulated_data() {
    let data = Dataset::from_csv(CSV, &columns(), &holidays()).unwrap();
    let started = std::time::Instant::now();
    let config = MmmConfig {
        bounds: robyn_theta_guidance(),
        ..MmmConfig::default()
    };
    let fit = mmm::fit(&data, &config, |_, _| true).unwrap();
    eprintln!("fit in {:?}", started.elapsed());
    let truth = truth();
    let true_hypers: Vec<mmm::ChannelHyper> = fit
        .model
        .channels
        .iter()
        .map(|c| {
            let t = &truth["channels"][&c.name];
            mmm::ChannelHyper {
                theta: t["theta"].as_f64(),
                shape: None,
                scale: None,
                alpha: t["alpha"].as_f64().unwrap(),
                gamma: t["gamma"].as_f64().unwrap(),
            }
        })
        .collect();
    let at_truth = mmm::fit_at(&data, &config, &true_hypers).unwrap();
    eprintln!(
        "at the true hyperparameters: nrmse {:.4} rssd {:.4} roas {:?}",
        at_truth.nrmse,
        at_truth.decomp_rssd,
        at_truth.channels.iter().map(|c| c.roas).collect::<Vec<_>>()
    );
    let mut residual = 0.0;
    let mut total = 0.0;
    let all_true: Vec<f64> = fit
        .model
        .channels
        .iter()
        .flat_map(|c| {
            truth["channels"][&c.name]["contribution"]
                .as_array()
                .unwrap()
                .iter()
                .map(|v| v.as_f64().unwrap())
                .collect::<Vec<_>>()
        })
        .collect();
    let mean_true = all_true.iter().sum::<f64>() / all_true.len() as f64;
    for channel in &fit.model.channels {
        let t = &truth["channels"][&channel.name];
        let true_roas = t["roas"].as_f64().unwrap();
        eprintln!(
            "{}: roas {:.3} (true {true_roas}), mroas {:.3}, hyper {:?}",
            channel.name, channel.roas, channel.marginal_roas, channel.hyper
        );
        for (est, tru) in channel
            .decomposition
            .iter()
            .zip(t["contribution"].as_array().unwrap())
        {
            let tru = tru.as_f64().unwrap();
            residual += (est - tru).powi(2);
            total += (tru - mean_true).powi(2);
        }
    }
    let r2 = 1.0 - residual / total;
    eprintln!(
        "nrmse {:.4} rssd {:.4} r2(fit) {:.4} decomposition r2 {r2:.4} lambda {} front {}",
        fit.model.nrmse,
        fit.model.decomp_rssd,
        fit.model.r_squared,
        fit.model.lambda,
        fit.front.len()
    );
    for channel in &fit.model.channels {
        let true_roas = truth["channels"][&channel.name]["roas"].as_f64().unwrap();
        assert!(
            (channel.roas - true_roas).abs() / true_roas < 0.15,
            "{}: ROAS {:.3}, true {true_roas}",
            channel.name,
            channel.roas
        );
    }
    assert!(r2 > 0.9, "decomposition R^2 {r2}");
}

/// The weekly fixture's first `rows` weeks with whole numbers: small enough for the test
/// server's 4 KiB job payload limit.
fn weekly_csv(rows: usize, edit: impl Fn(usize, &mut Vec<String>)) -> String {
    let text = include_str!("../fixtures/mmm_sim_weekly.csv");
    let mut lines = text.lines();
    let mut out = format!("{}\n", lines.next().unwrap());
    for (i, line) in lines.take(rows).enumerate() {
        let mut cells: Vec<String> = line
            .split(',')
            .enumerate()
            .map(|(c, v)| {
                if c == 0 {
                    v.to_string()
                } else {
                    format!("{:.0}", v.parse::<f64>().unwrap())
                }
            })
            .collect();
        edit(i, &mut cells);
        out.push_str(&cells.join(","));
        out.push('\n');
    }
    out
}

fn mmm_body(csv: String) -> serde_json::Value {
    serde_json::json!({
        "data": {"csv": csv},
        "columns": {"response": "revenue", "channels": ["tv", "search", "social", "display", "video"]},
        "holidays": ["2024-11-29", "2024-12-25"],
        "config": {"population": 12, "generations": 6, "seed": 3}
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mmm_job_fits_draws_charts_and_allocates() {
    use crate::support::{StoreKind, TestDb, TestServer, expect_error, send, wait_for};
    use adforge::jobs::embedded::EmbeddedQueue;
    use std::sync::Arc;
    use std::time::Duration;

    let db = TestDb::new(StoreKind::Sqlite).await;
    let server = TestServer::start(
        db.store.clone(),
        Arc::new(EmbeddedQueue::new(db.store.clone())),
    )
    .await;
    let (status, job) =
        send(server.post("/api/analytics/mmm", &mmm_body(weekly_csv(60, |_, _| {})))).await;
    assert_eq!(status, 202, "{job}");
    let id = job["id"].as_str().unwrap().to_string();
    let done = wait_for(Duration::from_secs(60), "the mmm job", || async {
        let (_, job) = send(server.get(&format!("/api/jobs/{id}"))).await;
        (job["state"] == "succeeded" || job["state"] == "failed").then_some(job)
    })
    .await;
    assert_eq!(done["state"], "succeeded", "{done}");
    let fit = &done["result"]["fit"];
    let channels = fit["model"]["channels"].as_array().unwrap();
    assert_eq!(channels.len(), 5);
    for c in channels {
        for key in [
            "roas",
            "marginal_roas",
            "spend_share",
            "effect_share",
            "contribution",
        ] {
            assert!(
                c[key].as_f64().unwrap().is_finite(),
                "{key} of {}",
                c["name"]
            );
        }
        assert_eq!(c["response_curve"].as_array().unwrap().len(), 41);
    }
    assert!(!fit["front"].as_array().unwrap().is_empty());
    assert_eq!(fit["evaluated"], 12 + 12 * 6);

    // Three charts, each as SVG and PNG, readable by their owner.
    let assets = done["result"]["assets"].as_array().unwrap();
    assert_eq!(assets.len(), 6, "{assets:?}");
    for asset in assets {
        let response = server
            .get(&format!(
                "/api/assets/{}/content",
                asset["id"].as_str().unwrap()
            ))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        let kind = response.headers()["content-type"]
            .to_str()
            .unwrap()
            .to_string();
        let bytes = response.bytes().await.unwrap();
        assert_eq!(bytes.len() as u64, asset["bytes"].as_u64().unwrap());
        use sha2::Digest;
        assert_eq!(
            hex::encode(sha2::Sha256::digest(&bytes)),
            asset["sha256"].as_str().unwrap()
        );
        if kind == "image/png" {
            let image = image::load_from_memory(&bytes).unwrap();
            assert_eq!((image.width(), image.height()), (960, 540));
        } else {
            assert_eq!(kind, "image/svg+xml");
            assert!(String::from_utf8_lossy(&bytes).contains("<svg"));
        }
    }
    let (status, _) = send(server.get("/api/assets/0123456789abcdef0123456789abcdef")).await;
    assert_eq!(status, 404);

    // The allocator at the data's mean total: never worse than the data's own split.
    let total: f64 = channels
        .iter()
        .map(|c| c["mean_spend"].as_f64().unwrap())
        .sum();
    let path = format!("/api/analytics/mmm/{id}/allocate");
    let (status, out) = send(server.post(&path, &serde_json::json!({"total_budget": total}))).await;
    assert_eq!(status, 200, "{out}");
    assert!(out["uplift"].as_f64().unwrap() >= -1e-9, "{out}");
    assert!(out["allocation"]["total_spend"].as_f64().unwrap() <= total * (1.0 + 1e-9));
    for (a, c) in out["allocation"]["channels"]
        .as_array()
        .unwrap()
        .iter()
        .zip(channels)
    {
        let (spend, mean) = (
            a["spend"].as_f64().unwrap(),
            c["mean_spend"].as_f64().unwrap(),
        );
        assert!(
            spend >= 0.5 * mean - 1e-6 && spend <= 2.0 * mean + 1e-6,
            "{a} vs mean {mean}"
        );
    }
    let bounded = serde_json::json!({"total_budget": total, "bounds": {"tv": [0.0, 1000.0]}});
    let (status, out) = send(server.post(&path, &bounded)).await;
    assert_eq!(status, 200, "{out}");
    assert!(out["allocation"]["channels"][0]["spend"].as_f64().unwrap() <= 1000.0 + 1e-9);
    for (body, needle) in [
        (serde_json::json!({"total_budget": -1.0}), "total_budget"),
        (
            serde_json::json!({"total_budget": total, "bounds": {"radio": [0.0, 1.0]}}),
            "bounds.radio",
        ),
        (
            serde_json::json!({"total_budget": 10.0, "bounds": {"tv": [20.0, 30.0]}}),
            "bounds",
        ),
    ] {
        expect_error(server.post(&path, &body), 400, needle).await;
    }
    expect_error(
        server.post(
            "/api/analytics/mmm/nope/allocate",
            &serde_json::json!({"total_budget": 1.0}),
        ),
        404,
        "nope",
    )
    .await;
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_mmm_datasets_name_the_field() {
    use crate::support::{StoreKind, TestDb, TestServer, expect_error};
    use adforge::jobs::embedded::EmbeddedQueue;
    use std::sync::Arc;

    let db = TestDb::new(StoreKind::Sqlite).await;
    let server = TestServer::start(
        db.store.clone(),
        Arc::new(EmbeddedQueue::new(db.store.clone())),
    )
    .await;
    let drop_row = |i: usize, cells: &mut Vec<String>| {
        if i >= 20 {
            cells[0] = format!(
                "{}",
                time::Date::parse(
                    &cells[0],
                    &time::format_description::well_known::Iso8601::DATE
                )
                .unwrap()
                    + time::Duration::weeks(1)
            );
        }
    };
    let mut unknown_channel = mmm_body(weekly_csv(60, |_, _| {}));
    unknown_channel["columns"]["channels"][4] = "radio".into();
    let mut big_population = mmm_body(weekly_csv(60, |_, _| {}));
    big_population["config"]["population"] = 100000.into();
    let cases = [
        (mmm_body(weekly_csv(60, drop_row)), "missing dates"),
        (
            mmm_body(weekly_csv(60, |i, c| {
                if i == 7 {
                    c[3] = "inf".into()
                }
            })),
            "column search",
        ),
        (
            mmm_body(weekly_csv(60, |i, c| {
                if i == 7 {
                    c[2] = "-3".into()
                }
            })),
            "negative",
        ),
        (
            mmm_body(weekly_csv(60, |_, c| c[5] = "0".into())),
            "display: spend is zero",
        ),
        (
            mmm_body(weekly_csv(20, |_, _| {})),
            "more rows than parameters",
        ),
        (unknown_channel, "columns.channels[4]"),
        (big_population, "config.population"),
        (mmm_body(weekly_csv(104, |_, _| {})), "job payload limit"),
    ];
    for (body, needle) in cases {
        expect_error(server.post("/api/analytics/mmm", &body), 400, needle).await;
    }
    server.stop().await;
}
