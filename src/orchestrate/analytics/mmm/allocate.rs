//! The budget allocator: the split of a budget per period across channels that maximises the
//! fitted model's predicted response, within per-channel bounds. Each channel's response to a
//! steady spend s per period is coefficient * hill(s * carry) (the adstock's steady state:
//! 1 / (1 - theta) for geometric, the sum of the decay vector for Weibull). Hill curves with
//! alpha > 1 are S-shaped, so the problem is not concave and equal-marginal methods can stop
//! in the wrong place; the allocator solves it exactly on a grid of 2,000 budget steps by
//! dynamic programming over channels (separable objective, one budget constraint).

use serde::{Deserialize, Serialize};

use super::super::AnalyticsError;
use super::super::transforms::hill;

/// One channel's fitted response to a steady spend per period.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ChannelResponse {
    pub channel: String,
    pub coefficient: f64,
    pub alpha: f64,
    /// Robyn's gammaTrans, in adstocked-spend units.
    pub inflexion: f64,
    /// Adstocked spend per unit of steady spend.
    pub carry: f64,
}

impl ChannelResponse {
    pub fn response(&self, spend: f64) -> f64 {
        self.coefficient * hill(spend * self.carry, self.alpha, self.inflexion)
    }

    /// d response / d spend by a 1% step (absolute step of 1e-6 at zero).
    pub fn marginal(&self, spend: f64) -> f64 {
        let step = (spend * 0.01).max(1e-6);
        (self.response(spend + step) - self.response(spend)) / step
    }
}

/// The allocator's answer.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Allocation {
    pub channels: Vec<AllocatedChannel>,
    pub total_spend: f64,
    pub total_response: f64,
    /// The budget step the grid was solved on.
    pub resolution: f64,
}

#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct AllocatedChannel {
    pub channel: String,
    pub spend: f64,
    pub share: f64,
    pub response: f64,
    pub roas: f64,
    pub marginal_roas: f64,
}

const STEPS: usize = 2000;

/// Maximises the summed response under `total` per period with `bounds[c] = (lo, hi)` per
/// channel. Spend below `total` is left over only where every channel is at its upper bound.
pub fn allocate(
    channels: &[ChannelResponse],
    total: f64,
    bounds: &[(f64, f64)],
) -> Result<Allocation, AnalyticsError> {
    if !(total.is_finite() && total > 0.0) {
        return Err(AnalyticsError::new(
            "total_budget",
            "must be a positive number",
        ));
    }
    if channels.is_empty() {
        return Err(AnalyticsError::new("channels", "the model has no channels"));
    }
    if bounds.len() != channels.len() {
        return Err(AnalyticsError::new(
            "bounds",
            format!(
                "give one (low, high) pair per channel: {} channels, {} pairs",
                channels.len(),
                bounds.len()
            ),
        ));
    }
    for (c, &(lo, hi)) in bounds.iter().enumerate() {
        let field = format!("bounds.{}", channels[c].channel);
        if !(lo.is_finite() && hi.is_finite() && lo >= 0.0 && hi >= lo) {
            return Err(AnalyticsError::new(
                field,
                "must be finite with 0 <= low <= high",
            ));
        }
    }
    let floor: f64 = bounds.iter().map(|b| b.0).sum();
    if floor > total * (1.0 + 1e-12) {
        return Err(AnalyticsError::new(
            "bounds",
            format!("the lower bounds add up to {floor}, above the total budget {total}"),
        ));
    }
    let step = total / STEPS as f64;
    // best[u]: the most response from the channels so far with u steps spent; choice[c][u]:
    // the steps channel c takes in that optimum.
    let mut best = vec![0.0f64; STEPS + 1];
    let mut choice = vec![vec![0usize; STEPS + 1]; channels.len()];
    let mut reachable = vec![true; STEPS + 1];
    for (c, channel) in channels.iter().enumerate() {
        let (lo, hi) = bounds[c];
        let lo_steps = (lo / step).ceil() as usize;
        let hi_steps = ((hi / step).floor() as usize).min(STEPS);
        let value: Vec<f64> = (0..=STEPS)
            .map(|k| channel.response(k as f64 * step))
            .collect();
        let mut next = vec![f64::NEG_INFINITY; STEPS + 1];
        let mut next_reachable = vec![false; STEPS + 1];
        for u in 0..=STEPS {
            for k in lo_steps..=hi_steps.min(u) {
                if !reachable[u - k] {
                    continue;
                }
                let v = best[u - k] + value[k];
                if v > next[u] {
                    next[u] = v;
                    choice[c][u] = k;
                    next_reachable[u] = true;
                }
            }
        }
        best = next;
        reachable = next_reachable;
    }
    let end = (0..=STEPS)
        .filter(|&u| reachable[u])
        .max_by(|&a, &b| best[a].total_cmp(&best[b]).then(b.cmp(&a)))
        .ok_or_else(|| AnalyticsError::new("bounds", "no split fits the bounds at this budget"))?;
    let mut spends = vec![0.0; channels.len()];
    let mut u = end;
    for c in (0..channels.len()).rev() {
        let k = choice[c][u];
        spends[c] = k as f64 * step;
        u -= k;
    }
    Ok(evaluate(channels, &spends, step))
}

/// The response of a given split (spend per period by channel, in the channels' order).
pub fn evaluate(channels: &[ChannelResponse], spends: &[f64], resolution: f64) -> Allocation {
    let total_spend: f64 = spends.iter().sum();
    let allocated: Vec<AllocatedChannel> = channels
        .iter()
        .zip(spends)
        .map(|(channel, &spend)| {
            let response = channel.response(spend);
            AllocatedChannel {
                channel: channel.channel.clone(),
                spend,
                share: if total_spend > 0.0 {
                    spend / total_spend
                } else {
                    0.0
                },
                response,
                roas: if spend > 0.0 { response / spend } else { 0.0 },
                marginal_roas: channel.marginal(spend),
            }
        })
        .collect();
    Allocation {
        total_response: allocated.iter().map(|a| a.response).sum(),
        channels: allocated,
        total_spend,
        resolution,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn channel(name: &str, coefficient: f64, alpha: f64, inflexion: f64) -> ChannelResponse {
        ChannelResponse {
            channel: name.into(),
            coefficient,
            alpha,
            inflexion,
            carry: 1.0,
        }
    }

    #[test]
    fn concave_channels_end_with_equal_marginal_returns() {
        // alpha = 1: concave curves, so at the optimum the marginal returns are equal.
        let channels = [
            channel("a", 1000.0, 1.0, 100.0),
            channel("b", 600.0, 1.0, 40.0),
        ];
        let a = allocate(&channels, 300.0, &[(0.0, 300.0), (0.0, 300.0)]).unwrap();
        assert!((a.total_spend - 300.0).abs() < 1e-9);
        let (ma, mb) = (a.channels[0].marginal_roas, a.channels[1].marginal_roas);
        assert!((ma - mb).abs() / ma < 0.02, "{ma} vs {mb}");
        // Better than any other split on a fine scan.
        for i in 0..=300 {
            let s = i as f64;
            let v = channels[0].response(s) + channels[1].response(300.0 - s);
            assert!(v <= a.total_response + 1e-6);
        }
    }

    #[test]
    fn bounds_hold_and_s_curves_are_not_split_evenly() {
        // Two identical S-curves: spending on one past its inflexion beats half on each.
        let channels = [
            channel("a", 100.0, 4.0, 50.0),
            channel("b", 100.0, 4.0, 50.0),
        ];
        let a = allocate(&channels, 80.0, &[(0.0, 80.0), (0.0, 80.0)]).unwrap();
        let even = channels[0].response(40.0) * 2.0;
        assert!(
            a.total_response > even * 1.2,
            "{} vs {even}",
            a.total_response
        );
        let bounded = allocate(&channels, 80.0, &[(30.0, 80.0), (10.0, 45.0)]).unwrap();
        assert!(bounded.channels[0].spend >= 30.0 - 1e-9);
        assert!((10.0 - 1e-9..=45.0 + 1e-9).contains(&bounded.channels[1].spend));
    }

    #[test]
    fn bad_budgets_are_named() {
        let channels = [channel("a", 1.0, 1.0, 1.0)];
        assert_eq!(
            allocate(&channels, -1.0, &[(0.0, 1.0)]).unwrap_err().field,
            "total_budget"
        );
        assert_eq!(
            allocate(&channels, 10.0, &[(20.0, 30.0)])
                .unwrap_err()
                .field,
            "bounds"
        );
        assert_eq!(
            allocate(&channels, 10.0, &[(5.0, 1.0)]).unwrap_err().field,
            "bounds.a"
        );
    }
}
