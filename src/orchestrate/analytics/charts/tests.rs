//! The charts end to end: each renders as SVG and PNG with its texts, the same input gives the
//! same bytes, degenerate input still draws, and bad input names its field.

use super::*;

fn dates(n: usize) -> Vec<String> {
    (0..n).map(|d| format!("2025-03-{:02}", d + 1)).collect()
}

fn metrics() -> Result<Chart, ChartError> {
    let ctr = (0..14)
        .map(|d| 0.021 + 0.002 * (d as f64 * 0.7).sin())
        .collect();
    let cvr = (0..14).map(|d| 0.012 + 0.0004 * d as f64).collect();
    let series = [("CTR".to_string(), ctr), ("CVR".to_string(), cvr)];
    metrics_over_time("Daily rates", "Rate", &dates(14), &series)
}

fn lift_rows() -> Vec<LiftRow> {
    let row = |label: &str, lift, low, high| LiftRow {
        label: label.to_string(),
        lift,
        low,
        high,
    };
    vec![
        row("Headline B", 0.12, 0.031, 0.209),
        row("Headline C", 0.02, -0.05, 0.09),
        row("Video cut", -0.08, -0.15, -0.01),
    ]
}

fn curves() -> Vec<ResponseCurve> {
    let curve = |channel: &str, scale: f64, current: f64| ResponseCurve {
        channel: channel.to_string(),
        points: (0..=40)
            .map(|k| {
                let spend = k as f64 * 2500.0;
                (spend, scale * spend / (spend + 30_000.0))
            })
            .collect(),
        current: (current, scale * current / (current + 30_000.0)),
    };
    vec![
        curve("Search", 180_000.0, 40_000.0),
        curve("Social", 120_000.0, 65_000.0),
    ]
}

fn shares() -> Vec<ShareRow> {
    [
        ("Search", 0.45, 0.52),
        ("Social", 0.35, 0.28),
        ("Display", 0.2, 0.2),
    ]
    .map(|(channel, spend_share, effect_share)| ShareRow {
        channel: channel.to_string(),
        spend_share,
        effect_share,
    })
    .to_vec()
}

fn arms() -> Vec<(String, f64, f64)> {
    vec![
        ("Control".to_string(), 121.0, 3881.0),
        ("Variant".to_string(), 151.0, 3851.0),
    ]
}

/// The SVG holds `texts`, the PNG decodes to the chart's size and the plot is not blank.
fn check(chart: &Chart, texts: &[&str]) {
    assert!(chart.svg.contains("<svg"));
    for text in texts {
        assert!(chart.svg.contains(text), "{text:?} is not in the svg");
    }
    let png = image::load_from_memory_with_format(&chart.png, image::ImageFormat::Png)
        .unwrap()
        .to_rgb8();
    assert_eq!((png.width(), png.height()), (chart.width, chart.height));
    assert_eq!((chart.width, chart.height), (960, 540));
    let colours: std::collections::HashSet<[u8; 3]> = png.pixels().map(|p| p.0).collect();
    assert!(colours.len() > 20, "only {} colours", colours.len());
    let (w, h) = (png.width(), png.height());
    let inked = (w / 8..w * 7 / 8)
        .flat_map(|x| (h / 4..h * 7 / 8).map(move |y| (x, y)))
        .filter(|(x, y)| png.get_pixel(*x, *y).0 != [255, 255, 255])
        .count();
    assert!(inked > 2000, "only {inked} pixels drawn in the plot area");
}

fn input_error(result: Result<Chart, ChartError>) -> AnalyticsError {
    match result {
        Err(ChartError::Input(e)) => e,
        Err(e) => panic!("expected an input error, got {e}"),
        Ok(_) => panic!("expected an input error, got a chart"),
    }
}

#[test]
fn metrics_over_time_renders_lines_dates_and_legend() {
    let chart = metrics().unwrap();
    check(&chart, &["Daily rates", "CTR", "CVR", "Rate", "2025-03-01"]);
}

#[test]
fn lift_intervals_renders_rows_and_verdicts() {
    let chart = lift_intervals("Lift over control", &lift_rows()).unwrap();
    let texts = [
        "Lift over control",
        "Headline B",
        "Video cut",
        "Relative lift",
    ];
    check(&chart, &texts);
    for verdict in ["above zero", "includes zero", "below zero", "+12.0%"] {
        assert!(chart.svg.contains(verdict), "{verdict:?} is not in the svg");
    }
}

#[test]
fn posterior_densities_renders_each_arm_with_its_mean() {
    let chart = posterior_densities("Posterior conversion rate", &arms()).unwrap();
    let texts = [
        "Posterior conversion rate",
        "Control (mean 3.02",
        "Variant (mean 3.77",
    ];
    check(&chart, &texts);
}

#[test]
fn response_curves_render_with_current_spend() {
    let chart = response_curves("Response curves", &curves()).unwrap();
    check(
        &chart,
        &[
            "Response curves",
            "Search",
            "Social",
            "Current spend",
            "Spend",
        ],
    );
}

#[test]
fn spend_vs_effect_renders_grouped_bars() {
    let chart = spend_vs_effect("Spend vs effect", &shares()).unwrap();
    let texts = [
        "Spend vs effect",
        "Share of spend",
        "Share of effect",
        "Display",
        "52%",
    ];
    check(&chart, &texts);
}

#[test]
fn same_input_gives_identical_bytes() {
    let (a, b) = (metrics().unwrap(), metrics().unwrap());
    assert_eq!(a.svg, b.svg);
    assert_eq!(a.png, b.png);
    let a = posterior_densities("p", &arms()).unwrap();
    let b = posterior_densities("p", &arms()).unwrap();
    assert_eq!((a.svg, a.png), (b.svg, b.png));
}

#[test]
fn degenerate_inputs_render() {
    let one = [("Spend".to_string(), vec![12.5])];
    check(
        &metrics_over_time("One day", "€", &dates(1), &one).unwrap(),
        &["2025-03-01"],
    );
    let zeros = [
        ("a".to_string(), vec![0.0; 5]),
        ("b".to_string(), vec![0.0; 5]),
    ];
    metrics_over_time("Zeros", "", &dates(5), &zeros).unwrap();
    let flat = LiftRow {
        label: "Same".to_string(),
        lift: 0.0,
        low: 0.0,
        high: 0.0,
    };
    lift_intervals("Zero width", &[flat]).unwrap();
    posterior_densities("Flat prior", &[("Prior".to_string(), 1.0, 1.0)]).unwrap();
    posterior_densities("U shaped", &[("Jeffreys".to_string(), 0.5, 0.5)]).unwrap();
    let extreme = [
        ("Million".to_string(), 5_001.0, 995_001.0),
        ("Tiny".to_string(), 0.01, 3.0),
    ];
    posterior_densities("Extreme", &extreme).unwrap();
    let dot = ResponseCurve {
        channel: "TV".to_string(),
        points: vec![(0.0, 0.0)],
        current: (0.0, 0.0),
    };
    response_curves("One point", &[dot]).unwrap();
    let none = ShareRow {
        channel: "Radio".to_string(),
        spend_share: 0.0,
        effect_share: 0.0,
    };
    spend_vs_effect("Nothing", &[none]).unwrap();
}

#[test]
fn bad_inputs_name_the_field() {
    let e = input_error(metrics_over_time("t", "y", &[], &[]));
    assert_eq!(
        (e.field.as_str(), e.problem.as_str()),
        ("dates", "must not be empty")
    );
    let short = [("a".to_string(), vec![1.0; 9])];
    let e = input_error(metrics_over_time("t", "y", &dates(10), &short));
    assert_eq!(e.field, "series[0].values");
    assert_eq!(e.problem, "has 9 values for 10 dates");
    let mut bad = vec![1.0; 10];
    bad[4] = f64::NAN;
    let two = [("a".to_string(), vec![1.0; 10]), ("b".to_string(), bad)];
    let e = input_error(metrics_over_time("t", "y", &dates(10), &two));
    assert_eq!(e.field, "series[1].values[4]");
    assert_eq!(e.problem, "must be a finite number");

    let mut rows = lift_rows();
    rows[1].low = 0.05;
    assert_eq!(input_error(lift_intervals("t", &rows)).field, "rows[1]");
    rows[1].high = f64::INFINITY;
    assert_eq!(
        input_error(lift_intervals("t", &rows)).field,
        "rows[1].high"
    );

    let e = input_error(posterior_densities("t", &[("a".to_string(), 1.0, 0.0)]));
    assert_eq!(e.field, "arms[0].beta");
    let e = input_error(posterior_densities("t", &[("a".to_string(), -2.0, 3.0)]));
    assert_eq!(e.field, "arms[0].alpha");

    let mut curves = curves();
    curves[1].points[3].1 = f64::NAN;
    assert_eq!(
        input_error(response_curves("t", &curves)).field,
        "curves[1].points[3]"
    );
    curves[0].points.clear();
    assert_eq!(
        input_error(response_curves("t", &curves)).field,
        "curves[0].points"
    );

    let mut shares = shares();
    shares[2].effect_share = 1.5;
    let e = input_error(spend_vs_effect("t", &shares));
    assert_eq!(e.field, "rows[2].effect_share");
    assert_eq!(e.problem, "must be a fraction in [0, 1]");
    assert_eq!(input_error(spend_vs_effect("t", &[])).field, "rows");
}

/// Writes every chart to $TMPDIR/charts for a look: `cargo test --lib charts -- --ignored`.
#[test]
#[ignore]
fn write_samples() {
    let dir = std::env::temp_dir().join("charts");
    std::fs::create_dir_all(&dir).unwrap();
    let one = [("Spend".to_string(), vec![12_500.0])];
    let flat = LiftRow {
        label: "Same".to_string(),
        lift: 0.0,
        low: 0.0,
        high: 0.0,
    };
    let jeffreys = [("A".to_string(), 0.5, 0.5), ("B".to_string(), 3.0, 1.5)];
    let charts = [
        ("metrics", metrics().unwrap()),
        (
            "lift",
            lift_intervals("Lift over control", &lift_rows()).unwrap(),
        ),
        (
            "posteriors",
            posterior_densities("Posterior conversion rate", &arms()).unwrap(),
        ),
        (
            "response",
            response_curves("Response curves", &curves()).unwrap(),
        ),
        (
            "shares",
            spend_vs_effect("Share of spend vs share of effect", &shares()).unwrap(),
        ),
        (
            "one_day",
            metrics_over_time("One day", "Spend (€)", &dates(1), &one).unwrap(),
        ),
        (
            "zero_lift",
            lift_intervals("Zero-width interval", &[flat]).unwrap(),
        ),
        (
            "jeffreys",
            posterior_densities("Beta(0.5, 0.5)", &jeffreys).unwrap(),
        ),
    ];
    for (name, chart) in charts {
        std::fs::write(dir.join(format!("{name}.png")), &chart.png).unwrap();
        std::fs::write(dir.join(format!("{name}.svg")), &chart.svg).unwrap();
    }
}
