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
