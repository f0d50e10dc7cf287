//! The A/B statistics against scipy and statsmodels on the committed cases
//! (tests/fixtures/abtest_scipy.json, made by scripts/fixtures/abtest_scipy.py): every statistic,
//! p-value and interval bound within 1e-9 relative.

use adforge::orchestrate::analytics::abtest::{
    Proportion, Sample, benjamini_hochberg, chi_square, fisher_exact, holm, mann_whitney,
    newcombe_interval, sample_ratio_mismatch, two_proportion_z, welch_t, wilson_interval,
};
use serde_json::Value;

fn fixture() -> Value {
    serde_json::from_str(include_str!("../fixtures/abtest_scipy.json")).unwrap()
}

/// Within 1e-9 relative (or 1e-12 absolute for values near zero).
fn close(ours: f64, want: &Value, what: &str) {
    let want = want
        .as_f64()
        .unwrap_or_else(|| panic!("{what}: no reference"));
    let tolerance = (1e-9 * want.abs()).max(1e-12);
    assert!(
        (ours - want).abs() <= tolerance,
        "{what}: {ours} vs scipy {want} (diff {:e})",
        (ours - want).abs()
    );
}

fn proportion(v: &Value) -> Proportion {
    Proportion {
        successes: v[0].as_u64().unwrap(),
        trials: v[1].as_u64().unwrap(),
    }
}

#[test]
fn proportions_match_scipy_and_statsmodels() {
    let fixture = fixture();
    let cases = fixture["proportions"].as_array().unwrap();
    assert!(cases.len() >= 30);
    for (i, case) in cases.iter().enumerate() {
        let (a, b) = (proportion(&case["a"]), proportion(&case["b"]));
        if !case["z"].is_null() {
            let z = two_proportion_z(a, b).unwrap();
            close(z.statistic, &case["z"], &format!("case {i} z"));
            close(z.p_value, &case["z_p"], &format!("case {i} z p"));
        }
        let (lo, hi) = wilson_interval(a, 0.95).unwrap();
        close(lo, &case["wilson_a"][0], &format!("case {i} wilson low"));
        close(hi, &case["wilson_a"][1], &format!("case {i} wilson high"));
        let (lo, hi) = newcombe_interval(a, b, 0.95).unwrap();
        close(lo, &case["newcombe"][0], &format!("case {i} newcombe low"));
        close(hi, &case["newcombe"][1], &format!("case {i} newcombe high"));
        let table = [
            [a.successes, a.trials - a.successes],
            [b.successes, b.trials - b.successes],
        ];
        let fisher = fisher_exact(table).unwrap();
        close(
            fisher.p_value,
            &case["fisher_p"],
            &format!("case {i} fisher p"),
        );
        if !case["fisher_odds"].is_null() {
            close(
                fisher.odds_ratio,
                &case["fisher_odds"],
                &format!("case {i} odds"),
            );
        }
        for (key, yates) in [("chi2", false), ("chi2_yates", true)] {
            if case[key].is_null() {
                continue;
            }
            let rows = vec![table[0].to_vec(), table[1].to_vec()];
            let chi = chi_square(&rows, yates).unwrap();
            close(chi.statistic, &case[key][0], &format!("case {i} {key}"));
            close(chi.p_value, &case[key][1], &format!("case {i} {key} p"));
            assert_eq!(chi.dof as u64, case[key][2].as_u64().unwrap());
        }
    }
}

#[test]
fn contingency_tables_match_scipy() {
    let fixture = fixture();
    let cases = fixture["tables"].as_array().unwrap();
    assert!(cases.len() >= 30);
    for (i, case) in cases.iter().enumerate() {
        let table: Vec<Vec<u64>> = serde_json::from_value(case["table"].clone()).unwrap();
        let chi = chi_square(&table, false).unwrap();
        close(chi.statistic, &case["chi2"][0], &format!("table {i}"));
        close(chi.p_value, &case["chi2"][1], &format!("table {i} p"));
        assert_eq!(chi.dof as u64, case["chi2"][2].as_u64().unwrap());
    }
}

#[test]
fn welch_matches_scipy() {
    let fixture = fixture();
    let cases = fixture["welch"].as_array().unwrap();
    assert!(cases.len() >= 30);
    let sample = |v: &Value| Sample {
        mean: v[0].as_f64().unwrap(),
        sd: v[1].as_f64().unwrap(),
        n: v[2].as_u64().unwrap(),
    };
    for (i, case) in cases.iter().enumerate() {
        let w = welch_t(sample(&case["a"]), sample(&case["b"]), 0.95).unwrap();
        close(w.statistic, &case["t"], &format!("welch {i} t"));
        close(w.p_value, &case["p"], &format!("welch {i} p"));
        close(w.df, &case["df"], &format!("welch {i} df"));
        close(
            w.interval.0,
            &case["interval"][0],
            &format!("welch {i} low"),
        );
        close(
            w.interval.1,
            &case["interval"][1],
            &format!("welch {i} high"),
        );
    }
}

#[test]
fn mann_whitney_matches_scipy() {
    let fixture = fixture();
    let cases = fixture["mann_whitney"].as_array().unwrap();
    assert!(cases.len() >= 30);
    for (i, case) in cases.iter().enumerate() {
        let x: Vec<f64> = serde_json::from_value(case["x"].clone()).unwrap();
        let y: Vec<f64> = serde_json::from_value(case["y"].clone()).unwrap();
        let r = mann_whitney(&x, &y).unwrap();
        close(r.statistic, &case["u"], &format!("mann-whitney {i} u"));
        close(r.p_value, &case["p"], &format!("mann-whitney {i} p"));
    }
}

#[test]
fn corrections_and_sample_ratio_mismatch_match_statsmodels_and_scipy() {
    let fixture = fixture();
    let corrections = fixture["corrections"].as_array().unwrap();
    assert!(corrections.len() >= 30);
    for (i, case) in corrections.iter().enumerate() {
        let p: Vec<f64> = serde_json::from_value(case["p"].clone()).unwrap();
        for (name, adjusted) in [("holm", holm(&p)), ("bh", benjamini_hochberg(&p))] {
            for (j, value) in adjusted.iter().enumerate() {
                close(*value, &case[name][j], &format!("set {i} {name}[{j}]"));
            }
        }
    }
    let srm = fixture["srm"].as_array().unwrap();
    assert!(srm.len() >= 30);
    for (i, case) in srm.iter().enumerate() {
        let observed: Vec<u64> = serde_json::from_value(case["observed"].clone()).unwrap();
        let weights: Vec<f64> = serde_json::from_value(case["weights"].clone()).unwrap();
        let r = sample_ratio_mismatch(&observed, &weights).unwrap();
        close(r.statistic, &case["chi2"], &format!("srm {i}"));
        close(r.p_value, &case["p"], &format!("srm {i} p"));
    }
}

#[test]
fn power_and_sample_size_match_statsmodels() {
    use adforge::orchestrate::analytics::design::{cohens_h, power, sample_size};
    let fixture = fixture();
    let cases = fixture["power"].as_array().unwrap();
    assert!(cases.len() >= 30);
    for (i, case) in cases.iter().enumerate() {
        let f = |k: &str| case[k].as_f64().unwrap();
        close(
            cohens_h(f("target"), f("base")),
            &case["h"],
            &format!("power {i} h"),
        );
        let n1 = sample_size(f("base"), f("target"), f("alpha"), f("power"), f("ratio")).unwrap();
        // statsmodels solves with brentq (xtol 2e-12 on its own scaling): 1e-7 relative.
        let want = f("nobs1");
        assert!(
            (n1 - want).abs() <= 1e-7 * want,
            "power {i} n: {n1} vs {want}"
        );
        close(
            power(f("h"), f("n"), f("alpha"), f("ratio")),
            &case["achieved"],
            &format!("power {i} achieved"),
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn abtest_endpoint_answers_every_statistic_and_names_bad_fields() {
    use crate::support::{StoreKind, TestDb, TestServer, expect_error, send};
    use serde_json::json;
    let db = TestDb::new(StoreKind::Sqlite).await;
    let queue = std::sync::Arc::new(adforge::jobs::embedded::EmbeddedQueue::new(
        db.store.clone(),
    ));
    let server = TestServer::start(db.store.clone(), queue).await;
    let body = json!({
        "control": {"name": "A", "conversions": 120, "users": 2400, "values": [1.0, 2.5, 0.0, 3.0, 2.0]},
        "variants": [
            {"name": "B", "conversions": 150, "users": 2380, "values": [2.0, 3.5, 1.0, 4.0, 2.5, 3.0]},
            {"name": "C", "conversions": 118, "users": 2410}
        ]
    });
    let (status, out) = send(server.post("/api/analytics/abtest", &body)).await;
    assert_eq!(status, 200, "{out}");
    let b = &out["variants"][0];
    // The same numbers as the library functions (themselves checked against scipy above).
    let z = two_proportion_z(
        Proportion {
            successes: 150,
            trials: 2380,
        },
        Proportion {
            successes: 120,
            trials: 2400,
        },
    )
    .unwrap();
    assert_eq!(b["z_test"]["p_value"].as_f64().unwrap(), z.p_value);
    assert!(b["z_test"]["p_value_holm"].as_f64().unwrap() >= z.p_value);
    assert!(
        (b["lift"].as_f64().unwrap() - (150.0 / 2380.0) / (120.0 / 2400.0) + 1.0).abs() < 1e-12
    );
    let beat = b["bayes"]["probability_to_beat_control"].as_f64().unwrap();
    assert!(beat > 0.9 && beat < 1.0, "{beat}");
    assert_eq!(
        b["bayes"]["monte_carlo_error"], 0.0,
        "closed form with the default prior"
    );
    assert!(b["welch"]["p_value"].is_number() && b["mann_whitney"]["p_value"].is_number());
    assert!(out["variants"][1]["welch"].is_null(), "no values, no Welch");
    assert_eq!(out["sample_ratio_mismatch"]["suspect"], false);
    let text = out.to_string();
    assert!(!text.contains("NaN") && !text.contains("inf"));
    // Zero conversions everywhere: defined numbers.
    let zero = json!({"control": {"name": "A", "conversions": 0, "users": 100}, "variants": [{"name": "B", "conversions": 0, "users": 100}]});
    let (status, out) = send(server.post("/api/analytics/abtest", &zero)).await;
    assert_eq!(status, 200, "{out}");
    assert_eq!(out["variants"][0]["z_test"]["p_value"], 1.0);
    assert!(out["variants"][0]["lift"].is_null());
    let bad = [
        (
            json!({"control": {"name": "A", "conversions": 5, "users": 3}, "variants": [{"name": "B", "conversions": 1, "users": 3}]}),
            "control.conversions: 5 is above its 3 users",
        ),
        (
            json!({"control": {"name": "A", "conversions": 1, "users": 3}, "variants": [{"name": "B", "conversions": 0, "users": 0}]}),
            "variants[0].users: the group is empty",
        ),
        (
            json!({"control": {"name": "A", "conversions": 1, "users": 3}, "variants": []}),
            "variants: 0 is outside 1..=20",
        ),
        (
            json!({"control": {"name": "A", "conversions": -1, "users": 3}, "variants": []}),
            "control.conversions",
        ),
        (
            json!({"control": {"name": "A", "conversions": 1, "users": 3}, "variants": [{"name": "B", "conversions": 1, "users": 3}], "confidence": 2}),
            "confidence: 2 is outside",
        ),
        (
            json!({"control": {"name": "A", "conversions": 1, "users": 3}, "variants": [{"name": "B", "conversions": 1, "users": 3}], "expected_split": [1.0, -1.0]}),
            "expected_split[1]",
        ),
    ];
    for (body, needle) in bad {
        expect_error(server.post("/api/analytics/abtest", &body), 400, needle).await;
    }
    server.stop().await;
}

/// Daily cumulative counts for a control at `a` and a variant at `b`, `users` per arm per day.
fn daily(days: u64, users: u64, a: f64, b: f64) -> Vec<Value> {
    (1..=days)
        .map(|d| {
            let n = users * d;
            serde_json::json!({
                "control": {"users": n, "conversions": (n as f64 * a).round() as u64},
                "variants": [{"users": n, "conversions": (n as f64 * b).round() as u64}]
            })
        })
        .collect()
}

fn experiment(campaign: &str, name: &str, days: u64, a: f64, b: f64) -> Value {
    let n = 2000 * days;
    serde_json::json!({
        "campaign_id": campaign,
        "name": name,
        "test": {
            "control": {"name": "A", "users": n, "conversions": (n as f64 * a).round() as u64},
            "variants": [{"name": "B", "users": n, "conversions": (n as f64 * b).round() as u64}]
        },
        "daily": daily(days, 2000, a, b)
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn campaign_summary_states_computed_numbers_and_the_model_adds_no_digits() {
    use crate::support::{StoreKind, TestDb, TestServer, expect_error, send};
    use adforge::engine::text::EngineLimits;
    use adforge::jobs::embedded::EmbeddedQueue;
    use std::sync::Arc;

    let db = TestDb::new(StoreKind::Sqlite).await;
    let text = tokio::task::spawn_blocking(|| {
        crate::inference::text_service(EngineLimits::default(), 2048)
    })
    .await
    .unwrap();
    let queue = Arc::new(EmbeddedQueue::new(db.store.clone()));
    let server = TestServer::start_with_text(db.store.clone(), queue, Some(text), true).await;
    let winner = experiment("spring", "Headline test", 14, 0.040, 0.052);
    let (status, out) = send(server.post("/api/analytics/experiments", &winner)).await;
    assert_eq!(status, 201, "{out}");
    assert!(out["sequential_p_values"][0].as_f64().unwrap() < 0.05);
    let flat = experiment("spring", "Image test", 7, 0.030, 0.0305);
    let (status, _) = send(server.post("/api/analytics/experiments", &flat)).await;
    assert_eq!(status, 201);

    let (status, summary) = send(server.get("/api/analytics/campaigns/spring")).await;
    assert_eq!(status, 200, "{summary}");
    let findings = summary["findings"].as_array().unwrap();
    assert_eq!(findings[0]["verdict"], "winner");
    assert_eq!(findings[1]["verdict"], "inconclusive");
    let sentences = summary["narrative"]["sentences"].as_array().unwrap();
    // Every number in a sentence is the finding's own, formatted by code.
    let first = sentences[0].as_str().unwrap();
    let rate = findings[0]["best_rate"].as_f64().unwrap();
    assert!(first.contains(&format!("{:.2}%", 100.0 * rate)), "{first}");
    assert!(first.contains(&format!(
        "{:+.1}%",
        100.0 * findings[0]["lift"].as_f64().unwrap()
    )));
    assert_eq!(summary["narrative"]["source"], "text engine", "{summary}");
    let commentary = summary["narrative"]["commentary"].as_str().unwrap();
    eprintln!("narrative: {sentences:?}\ncommentary: {commentary}");
    assert!(commentary.len() >= 20);
    assert!(
        !commentary.chars().any(|c| c.is_ascii_digit()),
        "{commentary}"
    );

    for chart in ["lift", "posteriors", "rates"] {
        let png = server
            .get(&format!(
                "/api/analytics/campaigns/spring/charts/{chart}.png"
            ))
            .send()
            .await
            .unwrap();
        assert_eq!(png.status(), 200, "{chart}");
        let image = image::load_from_memory(&png.bytes().await.unwrap()).unwrap();
        assert_eq!((image.width(), image.height()), (960, 540));
        let (status, svg) = send(server.get(&format!(
            "/api/analytics/campaigns/spring/charts/{chart}.svg"
        )))
        .await;
        assert_eq!(status, 200);
        assert!(svg.as_str().unwrap().contains("Headline test"), "{chart}");
    }
    expect_error(
        server.get("/api/analytics/campaigns/spring/charts/pie.svg"),
        404,
        "lift, posteriors or rates",
    )
    .await;
    expect_error(server.get("/api/analytics/campaigns/autumn"), 404, "autumn").await;
    let mut bad = experiment("spring", "x", 3, 0.04, 0.05);
    bad["daily"][1]["variants"] = serde_json::json!([]);
    expect_error(
        server.post("/api/analytics/experiments", &bad),
        400,
        "daily[1].variants",
    )
    .await;
    let mut bad = experiment("spring", "x", 3, 0.04, 0.05);
    bad["test"]["control"]["conversions"] = 10_000_000.into();
    expect_error(
        server.post("/api/analytics/experiments", &bad),
        400,
        "control.conversions",
    )
    .await;
    let mut bad = experiment("", "x", 3, 0.04, 0.05);
    bad["campaign_id"] = "".into();
    expect_error(
        server.post("/api/analytics/experiments", &bad),
        400,
        "campaign_id",
    )
    .await;
    server.stop().await;
}
