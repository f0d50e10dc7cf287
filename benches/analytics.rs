//! Analytics in process: the marketing-mix fit on 104 weeks x 5 channels with the default
//! search (64 candidates x 120 generations, 7,744 ridge fits with 5-fold CV each), and the
//! statistics of one A/B request. No peer here: Robyn (R, glmnet, Nevergrad) cannot be
//! installed on this machine (no CRAN); scripts/bench_analytics.sh runs the endpoint against
//! scipy/statsmodels in the same run.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use adforge::orchestrate::analytics::mmm::{self, Columns, Dataset, MmmConfig};
use criterion::{Criterion, criterion_group, criterion_main};

fn fit_104_weeks(c: &mut Criterion) {
    let columns = Columns {
        date: "date".into(),
        response: "revenue".into(),
        channels: ["tv", "search", "social", "display", "video"]
            .map(String::from)
            .to_vec(),
    };
    let data = Dataset::from_csv(
        include_str!("../tests/fixtures/mmm_sim_weekly.csv"),
        &columns,
        &[
            "2024-11-29".into(),
            "2024-12-25".into(),
            "2025-11-28".into(),
            "2025-12-25".into(),
        ],
    )
    .unwrap();
    let config = MmmConfig::default();
    let mut group = c.benchmark_group("mmm");
    group.sample_size(10);
    group.bench_function("fit_104_weeks_5_channels_7744_models", |b| {
        b.iter(|| mmm::fit(&data, &config, |_, _| true).unwrap())
    });
    group.finish();
}

criterion_group!(benches, fit_104_weeks);
criterion_main!(benches);
