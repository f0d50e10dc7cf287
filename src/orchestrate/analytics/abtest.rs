//! Frequentist tests for A/B and creative experiments: the two-proportion z-test, Pearson's
//! chi-square test of independence, Fisher's exact test, Welch's t-test and the Mann-Whitney U
//! test, with Wilson and Newcombe intervals for proportions and Welch's interval for means. Each
//! follows the definition scipy.stats / statsmodels use (named per function), so their values
//! agree to 1e-9 relative (tests/fixtures/abtest_scipy.json, made by
//! scripts/fixtures/abtest_scipy.py). Degenerate but legal inputs give defined numbers, never NaN.

use statrs::distribution::{ChiSquared, ContinuousCDF, Normal, StudentsT};

use super::AnalyticsError;

/// Successes out of trials in one group.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Proportion {
    pub successes: u64,
    pub trials: u64,
}

impl Proportion {
    fn check(self, field: &str) -> Result<Self, AnalyticsError> {
        self.check_as(field, field, "trials", false)
    }

    /// Successes within trials (and, unless `allow_empty`, at least one trial), with the
    /// errors naming the caller's own fields: `successes` and `trials` are field paths, `unit`
    /// what a trial is (trials, users, clicks).
    pub fn check_as(
        self,
        successes: &str,
        trials: &str,
        unit: &str,
        allow_empty: bool,
    ) -> Result<Self, AnalyticsError> {
        if self.trials == 0 && !allow_empty {
            return Err(AnalyticsError::new(
                trials,
                format!("the group is empty (0 {unit})"),
            ));
        }
        if self.successes > self.trials {
            return Err(AnalyticsError::new(
                successes,
                format!("{} is above its {} {unit}", self.successes, self.trials),
            ));
        }
        Ok(self)
    }

    pub fn rate(self) -> f64 {
        self.successes as f64 / self.trials as f64
    }
}

/// A test statistic and its two-sided p-value.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct TestResult {
    pub statistic: f64,
    pub p_value: f64,
}

fn standard_normal() -> Normal {
    Normal::standard()
}

/// Two-sided p-value of a standard normal statistic.
fn normal_two_sided(z: f64) -> f64 {
    (2.0 * standard_normal().sf(z.abs())).min(1.0)
}

/// Two-proportion z-test with the pooled variance (statsmodels `proportions_ztest`): z is
/// (rate a - rate b) / se. When both groups are all successes or all failures, z = 0, p = 1.
pub fn two_proportion_z(a: Proportion, b: Proportion) -> Result<TestResult, AnalyticsError> {
    let (a, b) = (a.check("a")?, b.check("b")?);
    let pooled = (a.successes + b.successes) as f64 / (a.trials + b.trials) as f64;
    let se = (pooled * (1.0 - pooled) * (1.0 / a.trials as f64 + 1.0 / b.trials as f64)).sqrt();
    if se == 0.0 {
        return Ok(TestResult {
            statistic: 0.0,
            p_value: 1.0,
        });
    }
    let z = (a.rate() - b.rate()) / se;
    Ok(TestResult {
        statistic: z,
        p_value: normal_two_sided(z),
    })
}

/// Pearson's chi-square test of independence on an r x c table of counts (scipy
/// `chi2_contingency`): with Yates' continuity correction when asked and the table is 2 x 2
/// (one degree of freedom), as scipy does.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct ChiSquare {
    pub statistic: f64,
    pub p_value: f64,
    pub dof: usize,
}

pub fn chi_square(table: &[Vec<u64>], yates: bool) -> Result<ChiSquare, AnalyticsError> {
    let rows = table.len();
    let cols = table.first().map_or(0, Vec::len);
    if rows < 2 || cols < 2 || table.iter().any(|r| r.len() != cols) {
        return Err(AnalyticsError::new(
            "table",
            "needs at least 2 rows and 2 columns of equal length",
        ));
    }
    let row_sums: Vec<f64> = table.iter().map(|r| r.iter().sum::<u64>() as f64).collect();
    let col_sums: Vec<f64> = (0..cols)
        .map(|c| table.iter().map(|r| r[c]).sum::<u64>() as f64)
        .collect();
    let total: f64 = row_sums.iter().sum();
    if let Some(i) = row_sums.iter().position(|&s| s == 0.0) {
        return Err(AnalyticsError::new(
            format!("table[{i}]"),
            "the row is all zeros",
        ));
    }
    if let Some(j) = col_sums.iter().position(|&s| s == 0.0) {
        return Err(AnalyticsError::new(
            format!("table[..][{j}]"),
            "the column is all zeros",
        ));
    }
    let dof = (rows - 1) * (cols - 1);
    let correct = yates && dof == 1;
    let mut statistic = 0.0;
    for (i, row) in table.iter().enumerate() {
        for (j, &observed) in row.iter().enumerate() {
            let expected = row_sums[i] * col_sums[j] / total;
            let mut diff = (observed as f64 - expected).abs();
            if correct {
                // scipy: the correction never flips the sign of a difference.
                diff = (diff - 0.5).max(0.0);
            }
            statistic += diff * diff / expected;
        }
    }
    let p_value = ChiSquared::new(dof as f64)
        .map(|d| d.sf(statistic))
        .unwrap_or(1.0);
    Ok(ChiSquare {
        statistic,
        p_value,
        dof,
    })
}

/// The largest smaller margin Fisher's exact test is computed for (its cost and memory grow
/// with it; at this size the z and chi-square tests agree with it anyway).
pub const FISHER_MAX_MARGIN: u64 = 2_000_000;

/// Fisher's exact test on a 2 x 2 table [[a, b], [c, d]] (scipy `fisher_exact`, two-sided):
/// the sample odds ratio a d / (b c), and the probability under the hypergeometric null of
/// tables at most as likely as the one observed (with scipy's relative tolerance of 1e-7).
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct Fisher {
    pub odds_ratio: f64,
    pub p_value: f64,
}

pub fn fisher_exact(table: [[u64; 2]; 2]) -> Result<Fisher, AnalyticsError> {
    let [[a, b], [c, d]] = table;
    let smaller_margin = (a + b).min(a + c).min(c + d).min(b + d);
    if smaller_margin > FISHER_MAX_MARGIN {
        return Err(AnalyticsError::new(
            "table",
            format!(
                "Fisher's exact test sums one term per table: its smaller margin {smaller_margin} \
                 is over {FISHER_MAX_MARGIN} (use the z or chi-square test at this size)"
            ),
        ));
    }
    let odds_ratio = if b * c == 0 {
        if a * d == 0 { f64::NAN } else { f64::INFINITY }
    } else {
        (a * d) as f64 / (b * c) as f64
    };
    let (row1, col1, n) = (a + b, a + c, a + b + c + d);
    if row1 == 0 || col1 == 0 || row1 == n || col1 == n {
        // A margin is empty: every table is the observed one.
        return Ok(Fisher {
            odds_ratio: if odds_ratio.is_nan() { 1.0 } else { odds_ratio },
            p_value: 1.0,
        });
    }
    // Hypergeometric weights relative to the mode, by the ratio of neighbours
    // P(x + 1) / P(x) = (row1 - x)(col1 - x) / ((x + 1)(n + x + 1 - row1 - col1)): no huge
    // log-gammas, so the p-value keeps its precision with millions of trials.
    let low = col1.saturating_sub(n - row1);
    let high = col1.min(row1);
    let ratio = |x: u64| {
        ((row1 - x) as f64 * (col1 - x) as f64)
            / ((x + 1) as f64 * (n + x + 1 - row1 - col1) as f64)
    };
    let mode =
        (((col1 + 1) as f64 * (row1 + 1) as f64 / (n + 2) as f64).floor() as u64).clamp(low, high);
    let mut weights = vec![0.0f64; (high - low + 1) as usize];
    weights[(mode - low) as usize] = 1.0;
    for x in mode..high {
        let i = (x - low) as usize;
        weights[i + 1] = weights[i] * ratio(x);
    }
    for x in (low..mode).rev() {
        let i = (x - low) as usize;
        weights[i] = weights[i + 1] / ratio(x);
    }
    let total: f64 = weights.iter().sum();
    let threshold = weights[(a - low) as usize] * (1.0 + 1e-7);
    let p_value = weights.iter().filter(|&&w| w <= threshold).sum::<f64>() / total;
    Ok(Fisher {
        odds_ratio: if odds_ratio.is_nan() { 1.0 } else { odds_ratio },
        p_value: p_value.min(1.0),
    })
}

/// One group's summary: mean, sample standard deviation (n - 1) and size.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Sample {
    pub mean: f64,
    pub sd: f64,
    pub n: u64,
}

/// Welch's unequal-variance t-test of mean a - mean b (scipy `ttest_ind_from_stats`,
/// `equal_var=False`) and the confidence interval of the difference with Welch-Satterthwaite
/// degrees of freedom.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct Welch {
    pub statistic: f64,
    pub p_value: f64,
    pub df: f64,
    pub difference: f64,
    pub interval: (f64, f64),
}

pub fn welch_t(a: Sample, b: Sample, confidence: f64) -> Result<Welch, AnalyticsError> {
    for (field, s) in [("a", a), ("b", b)] {
        if s.n < 2 {
            return Err(AnalyticsError::new(field, "needs at least 2 observations"));
        }
        if !s.mean.is_finite() || !s.sd.is_finite() || s.sd < 0.0 {
            return Err(AnalyticsError::new(
                field,
                "mean and sd must be finite, sd not negative",
            ));
        }
    }
    let (va, vb) = (a.sd * a.sd / a.n as f64, b.sd * b.sd / b.n as f64);
    let se = (va + vb).sqrt();
    let difference = a.mean - b.mean;
    if se == 0.0 {
        return Ok(Welch {
            statistic: 0.0,
            p_value: if difference == 0.0 { 1.0 } else { 0.0 },
            df: (a.n + b.n - 2) as f64,
            difference,
            interval: (difference, difference),
        });
    }
    let df = (va + vb).powi(2) / (va * va / (a.n - 1) as f64 + vb * vb / (b.n - 1) as f64);
    let t = difference / se;
    let dist = StudentsT::new(0.0, 1.0, df)
        .map_err(|e| AnalyticsError::new("a", format!("degrees of freedom: {e}")))?;
    let p_value = (2.0 * dist.sf(t.abs())).min(1.0);
    let q = dist.inverse_cdf(0.5 + confidence / 2.0);
    Ok(Welch {
        statistic: t,
        p_value,
        df,
        difference,
        interval: (difference - q * se, difference + q * se),
    })
}

/// The Mann-Whitney U test, two-sided, normal approximation with tie and continuity
/// corrections (scipy `mannwhitneyu(..., method="asymptotic")`); the statistic is U of `x`.
pub fn mann_whitney(x: &[f64], y: &[f64]) -> Result<TestResult, AnalyticsError> {
    for (field, v) in [("x", x), ("y", y)] {
        if v.is_empty() {
            return Err(AnalyticsError::new(field, "the group is empty"));
        }
        if let Some(i) = v.iter().position(|f| !f.is_finite()) {
            return Err(AnalyticsError::new(
                format!("{field}[{i}]"),
                "must be a finite number",
            ));
        }
    }
    let (n1, n2) = (x.len() as f64, y.len() as f64);
    let mut all: Vec<(f64, bool)> = x
        .iter()
        .map(|&v| (v, true))
        .chain(y.iter().map(|&v| (v, false)))
        .collect();
    all.sort_by(|p, q| p.0.total_cmp(&q.0));
    // Average ranks over ties; the tie term sum(t^3 - t).
    let mut rank_sum_x = 0.0;
    let mut ties = 0.0;
    let mut i = 0;
    while i < all.len() {
        let mut j = i;
        while j + 1 < all.len() && all[j + 1].0 == all[i].0 {
            j += 1;
        }
        let count = (j - i + 1) as f64;
        let rank = (i + j) as f64 / 2.0 + 1.0;
        rank_sum_x += rank * all[i..=j].iter().filter(|p| p.1).count() as f64;
        ties += count * count * count - count;
        i = j + 1;
    }
    let u1 = rank_sum_x - n1 * (n1 + 1.0) / 2.0;
    let n = n1 + n2;
    let mu = n1 * n2 / 2.0;
    let variance = n1 * n2 / 12.0 * ((n + 1.0) - ties / (n * (n - 1.0)));
    let u = u1.max(n1 * n2 - u1);
    if variance <= 0.0 {
        return Ok(TestResult {
            statistic: u1,
            p_value: 1.0,
        });
    }
    let z = (u - mu - 0.5) / variance.sqrt();
    Ok(TestResult {
        statistic: u1,
        p_value: (2.0 * standard_normal().sf(z)).min(1.0),
    })
}

/// Wilson score interval of a proportion (statsmodels `proportion_confint(method="wilson")`).
pub fn wilson_interval(p: Proportion, confidence: f64) -> Result<(f64, f64), AnalyticsError> {
    let p = p.check("group")?;
    let z = standard_normal().inverse_cdf(0.5 + confidence / 2.0);
    let (n, rate) = (p.trials as f64, p.rate());
    let denominator = 1.0 + z * z / n;
    let centre = (rate + z * z / (2.0 * n)) / denominator;
    let half = z * (rate * (1.0 - rate) / n + z * z / (4.0 * n * n)).sqrt() / denominator;
    Ok((centre - half, centre + half))
}

/// Newcombe's hybrid score interval for rate a - rate b, built from the two Wilson intervals
/// (statsmodels `confint_proportions_2indep(method="newcomb", compare="diff")`).
pub fn newcombe_interval(
    a: Proportion,
    b: Proportion,
    confidence: f64,
) -> Result<(f64, f64), AnalyticsError> {
    let (a, b) = (a.check("a")?, b.check("b")?);
    let (l1, u1) = wilson_interval(a, confidence)?;
    let (l2, u2) = wilson_interval(b, confidence)?;
    let (p1, p2) = (a.rate(), b.rate());
    let d = p1 - p2;
    let lower = d - ((p1 - l1).powi(2) + (u2 - p2).powi(2)).sqrt();
    let upper = d + ((u1 - p1).powi(2) + (p2 - l2).powi(2)).sqrt();
    Ok((lower, upper))
}

/// Sample-ratio mismatch: Pearson's goodness-of-fit of the units each arm received against the
/// split the experiment asked for (scipy `chisquare`). A small p-value (below 0.001 by the usual
/// rule) means the assignment is broken and the experiment's results should not be trusted.
pub fn sample_ratio_mismatch(
    observed: &[u64],
    weights: &[f64],
) -> Result<TestResult, AnalyticsError> {
    sample_ratio_mismatch_named(observed, weights, "weights")
}

/// [`sample_ratio_mismatch`] with the weights named as the caller's field (`weights_field`).
pub fn sample_ratio_mismatch_named(
    observed: &[u64],
    weights: &[f64],
    weights_field: &str,
) -> Result<TestResult, AnalyticsError> {
    if observed.len() < 2 {
        return Err(AnalyticsError::new(
            "observed",
            "needs one count per arm (at least 2)",
        ));
    }
    if observed.len() != weights.len() {
        return Err(AnalyticsError::new(
            weights_field,
            format!(
                "needs one weight per arm: {} arms, {} weights",
                observed.len(),
                weights.len()
            ),
        ));
    }
    if let Some(i) = weights.iter().position(|w| !w.is_finite() || *w <= 0.0) {
        return Err(AnalyticsError::new(
            format!("{weights_field}[{i}]"),
            "must be a positive finite number",
        ));
    }
    let total = observed.iter().sum::<u64>() as f64;
    if total == 0.0 {
        return Err(AnalyticsError::new("observed", "no units were assigned"));
    }
    let weight_sum: f64 = weights.iter().sum();
    let statistic: f64 = observed
        .iter()
        .zip(weights)
        .map(|(&o, w)| {
            let expected = total * w / weight_sum;
            (o as f64 - expected).powi(2) / expected
        })
        .sum();
    let p_value = ChiSquared::new((observed.len() - 1) as f64)
        .map(|d| d.sf(statistic))
        .unwrap_or(1.0);
    Ok(TestResult { statistic, p_value })
}

/// Holm's step-down adjusted p-values, in the input order (statsmodels `multipletests`,
/// method "holm").
pub fn holm(p_values: &[f64]) -> Vec<f64> {
    let m = p_values.len();
    let mut order: Vec<usize> = (0..m).collect();
    order.sort_by(|&a, &b| p_values[a].total_cmp(&p_values[b]));
    let mut adjusted = vec![0.0; m];
    let mut running: f64 = 0.0;
    for (rank, &i) in order.iter().enumerate() {
        running = running.max(((m - rank) as f64 * p_values[i]).min(1.0));
        adjusted[i] = running;
    }
    adjusted
}

/// Benjamini-Hochberg adjusted p-values (false discovery rate), in the input order
/// (statsmodels `multipletests`, method "fdr_bh").
pub fn benjamini_hochberg(p_values: &[f64]) -> Vec<f64> {
    let m = p_values.len();
    let mut order: Vec<usize> = (0..m).collect();
    order.sort_by(|&a, &b| p_values[a].total_cmp(&p_values[b]));
    let mut adjusted = vec![0.0; m];
    let mut running: f64 = 1.0;
    for (rank, &i) in order.iter().enumerate().rev() {
        running = running.min(p_values[i] * m as f64 / (rank + 1) as f64);
        adjusted[i] = running.min(1.0);
    }
    adjusted
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_counts_are_named() {
        let bad = Proportion {
            successes: 5,
            trials: 3,
        };
        let ok = Proportion {
            successes: 1,
            trials: 3,
        };
        let err = two_proportion_z(bad, ok).unwrap_err();
        assert_eq!(err.to_string(), "a: 5 is above its 3 trials");
        let empty = Proportion {
            successes: 0,
            trials: 0,
        };
        assert!(
            two_proportion_z(ok, empty)
                .unwrap_err()
                .to_string()
                .starts_with("b: ")
        );
        assert!(
            mann_whitney(&[1.0, f64::NAN], &[2.0])
                .unwrap_err()
                .to_string()
                .starts_with("x[1]")
        );
        assert!(chi_square(&[vec![0, 0], vec![1, 2]], false).is_err());
    }

    #[test]
    fn degenerate_inputs_give_numbers() {
        let none = Proportion {
            successes: 0,
            trials: 100,
        };
        let z = two_proportion_z(none, none).unwrap();
        assert_eq!((z.statistic, z.p_value), (0.0, 1.0));
        let f = fisher_exact([[0, 10], [0, 12]]).unwrap();
        assert_eq!(f.p_value, 1.0);
        assert!(f.odds_ratio.is_finite());
        let (lo, hi) = wilson_interval(none, 0.95).unwrap();
        assert!(lo.abs() < 1e-12 && hi > 0.0 && hi < 0.05);
    }
}
