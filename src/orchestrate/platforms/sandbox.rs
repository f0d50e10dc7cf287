//! An ad platform in memory, for demos and tests of the campaign loop: it answers every
//! [`AdPlatform`] call the way a real one would (ids handed out in order, `sandbox-campaign-1`,
//! ...), gives each new ad hidden rates drawn from its seed, and delivers a day at a time with
//! [`advance_day`](SandboxPlatform::advance_day) through the one seeded simulator of
//! `orchestrate::simulator`. Paused objects do not deliver; budgets pace delivery: a daily budget
//! is spent each day of its schedule, a lifetime budget spread over the days left to its end
//! date, split evenly across the active ads under it. The same seed and calls give the same rows.

use std::collections::BTreeMap;
use std::sync::{Mutex, MutexGuard};

use async_trait::async_trait;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use time::Date;

use super::{
    AdPlatform, AdSetSpec, AdSpec, AssetKind, AssetRef, Budget, CampaignSpec, Creative,
    CreativeSpec, DailyAdMetrics, DateRange, DeliveryStatus, Micros, ObjectKind, PlatformError,
    VideoSource,
};
use crate::orchestrate::simulator::{AdRates, Simulator};

/// A campaign or ad set: what paces its spend.
#[derive(Debug, Clone)]
struct Node {
    status: DeliveryStatus,
    budget: Option<Budget>,
    start_date: Date,
    end_date: Option<Date>,
    spent: Micros,
    parent: Option<String>,
}

#[derive(Debug, Clone)]
struct Ad {
    external_id: String,
    ad_set: String,
    status: DeliveryStatus,
}

#[derive(Debug)]
struct State {
    simulator: Simulator,
    rng: StdRng,
    first_day: Date,
    next_id: u64,
    campaigns: BTreeMap<String, Node>,
    ad_sets: BTreeMap<String, Node>,
    /// By simulator index.
    ads: Vec<Ad>,
    rows: Vec<DailyAdMetrics>,
}

/// See the module doc.
#[derive(Debug)]
pub struct SandboxPlatform {
    state: Mutex<State>,
}

impl SandboxPlatform {
    /// A platform whose first day of delivery is `first_day`; `seed` draws the ads' rates and
    /// every day's delivery.
    pub fn new(seed: u64, first_day: Date) -> Result<Self, PlatformError> {
        let simulator = Simulator::new(seed, Vec::new())
            .map_err(|e| PlatformError::unexpected("sandbox", e))?;
        Ok(Self {
            state: Mutex::new(State {
                simulator,
                rng: StdRng::seed_from_u64(seed ^ 0x5a5a_5a5a),
                first_day,
                next_id: 1,
                campaigns: BTreeMap::new(),
                ad_sets: BTreeMap::new(),
                ads: Vec::new(),
                rows: Vec::new(),
            }),
        })
    }

    fn lock(&self) -> Result<MutexGuard<'_, State>, PlatformError> {
        self.state.lock().map_err(|_| PlatformError::Transient {
            message: "sandbox state poisoned by a panic".to_string(),
        })
    }

    /// The hidden rates of an ad, for tests that measure an optimizer against them.
    pub fn hidden_rates(&self, ad_external_id: &str) -> Option<AdRates> {
        let state = self.lock().ok()?;
        let index = state
            .ads
            .iter()
            .position(|a| a.external_id == ad_external_id)?;
        state.simulator.ads().get(index).copied()
    }

    /// Scales an ad's hidden conversion rate by `factor` from the next day on (a rehearsal of a
    /// creative that converts worse or better); answers the new rates.
    pub fn scale_conversion_rate(
        &self,
        ad_external_id: &str,
        factor: f64,
    ) -> Result<AdRates, PlatformError> {
        let mut state = self.lock()?;
        let index = state
            .ads
            .iter()
            .position(|a| a.external_id == ad_external_id)
            .ok_or_else(|| PlatformError::NotFound {
                message: format!("ad {ad_external_id}"),
            })?;
        let mut rates = state.simulator.ads()[index];
        rates.conversion_rate = (rates.conversion_rate * factor).clamp(0.0, 1.0);
        state
            .simulator
            .set_rates(index, rates)
            .map_err(|e| PlatformError::invalid("conversion_rate_factor", e.to_string()))?;
        Ok(rates)
    }

    /// The date the next [`advance_day`](Self::advance_day) delivers on.
    pub fn today(&self) -> Result<Date, PlatformError> {
        let state = self.lock()?;
        state.date_of(state.simulator.day())
    }

    /// Delivers one day: returns the rows of the ads that spent, which `fetch_insights` reports
    /// from now on.
    pub fn advance_day(&self) -> Result<Vec<DailyAdMetrics>, PlatformError> {
        let mut state = self.lock()?;
        let today = state.date_of(state.simulator.day())?;
        let budgets = state.budgets_per_ad(today)?;
        let units: Vec<f64> = budgets.iter().map(|b| b.to_units_f64()).collect();
        let days = state
            .simulator
            .run_day(&units)
            .map_err(|e| PlatformError::unexpected("sandbox delivery", e))?;
        let mut rows = Vec::new();
        for day in days
            .into_iter()
            .filter(|d| d.impressions > 0 || d.spend > 0.0)
        {
            let spend = Micros::from_f64(day.spend)?;
            let ad = state.ads[day.ad].clone();
            state.charge(&ad.ad_set, spend);
            rows.push(DailyAdMetrics {
                ad_external_id: ad.external_id,
                date: today,
                impressions: day.impressions,
                clicks: day.clicks,
                spend,
                conversions: day.conversions,
                revenue: Micros::from_f64(day.revenue)?,
            });
        }
        state.rows.extend(rows.iter().cloned());
        Ok(rows)
    }
}

impl State {
    fn date_of(&self, day: u32) -> Result<Date, PlatformError> {
        self.first_day
            .checked_add(time::Duration::days(i64::from(day)))
            .ok_or_else(|| PlatformError::unexpected("sandbox", "date out of range"))
    }

    fn new_id(&mut self, kind: &str) -> String {
        let id = format!("sandbox-{kind}-{}", self.next_id);
        self.next_id += 1;
        id
    }

    fn node(&mut self, kind: ObjectKind, id: &str) -> Result<&mut Node, PlatformError> {
        let map = match kind {
            ObjectKind::Campaign => &mut self.campaigns,
            ObjectKind::AdSet => &mut self.ad_sets,
            ObjectKind::Ad => {
                return Err(PlatformError::invalid("kind", "an ad has no budget"));
            }
        };
        map.get_mut(id).ok_or_else(|| PlatformError::NotFound {
            message: format!("{kind:?} {id}"),
        })
    }

    fn delivers(&self, ad: &Ad) -> bool {
        let Some(ad_set) = self.ad_sets.get(&ad.ad_set) else {
            return false;
        };
        let campaign_active = ad_set
            .parent
            .as_ref()
            .and_then(|c| self.campaigns.get(c))
            .is_some_and(|c| c.status == DeliveryStatus::Active);
        ad.status == DeliveryStatus::Active
            && ad_set.status == DeliveryStatus::Active
            && campaign_active
    }

    /// Each ad's share of today's pace: its ad set's budget, or else its campaign's, split
    /// evenly among the active ads under that budget.
    fn budgets_per_ad(&self, today: Date) -> Result<Vec<Micros>, PlatformError> {
        let owner = |ad: &Ad| -> Option<(String, &Node)> {
            let ad_set = self.ad_sets.get(&ad.ad_set)?;
            if ad_set.budget.is_some() {
                return Some((ad.ad_set.clone(), ad_set));
            }
            let campaign = ad_set.parent.as_ref()?;
            Some((campaign.clone(), self.campaigns.get(campaign)?))
        };
        let mut active_under: BTreeMap<String, i64> = BTreeMap::new();
        for ad in self.ads.iter().filter(|a| self.delivers(a)) {
            if let Some((id, _)) = owner(ad) {
                *active_under.entry(id).or_default() += 1;
            }
        }
        Ok(self
            .ads
            .iter()
            .map(|ad| {
                let Some((id, node)) = owner(ad).filter(|_| self.delivers(ad)) else {
                    return Micros::ZERO;
                };
                let n = active_under.get(&id).copied().unwrap_or(1).max(1);
                Micros(pace(node, today).0 / n)
            })
            .collect())
    }

    fn charge(&mut self, ad_set: &str, spend: Micros) {
        let Some(node) = self.ad_sets.get_mut(ad_set) else {
            return;
        };
        node.spent = node.spent.checked_add(spend).unwrap_or(node.spent);
        if let Some(campaign) = node.parent.clone().and_then(|c| self.campaigns.get_mut(&c)) {
            campaign.spent = campaign.spent.checked_add(spend).unwrap_or(campaign.spent);
        }
    }

    fn set_status(
        &mut self,
        kind: ObjectKind,
        id: &str,
        status: DeliveryStatus,
    ) -> Result<(), PlatformError> {
        if kind == ObjectKind::Ad {
            let ad = self
                .ads
                .iter_mut()
                .find(|a| a.external_id == id)
                .ok_or_else(|| PlatformError::NotFound {
                    message: format!("ad {id}"),
                })?;
            ad.status = status;
            return Ok(());
        }
        self.node(kind, id)?.status = status;
        Ok(())
    }
}

/// Today's budget of a node: nothing outside its schedule; a daily budget whole; a lifetime
/// budget's remainder spread over the days left to its end date (all of it on the last day).
fn pace(node: &Node, today: Date) -> Micros {
    if today < node.start_date || node.end_date.is_some_and(|end| end < today) {
        return Micros::ZERO;
    }
    match node.budget {
        None => Micros::ZERO,
        Some(Budget::Daily(m)) => m,
        Some(Budget::Lifetime(total)) => {
            let left = Micros((total.0 - node.spent.0).max(0));
            match node.end_date {
                Some(end) if end < today => Micros::ZERO,
                Some(end) => Micros(left.0 / ((end - today).whole_days() + 1).max(1)),
                None => left,
            }
        }
    }
}

fn rates(rng: &mut StdRng) -> AdRates {
    AdRates {
        cpm: rng.random_range(6.0..14.0),
        ctr: 0.006 * (0.02f64 / 0.006).powf(rng.random::<f64>()),
        conversion_rate: 0.005 * 10f64.powf(rng.random::<f64>()),
        revenue_per_conversion: rng.random_range(20.0..120.0),
    }
}

#[async_trait]
impl AdPlatform for SandboxPlatform {
    async fn create_campaign(&self, spec: &CampaignSpec) -> Result<String, PlatformError> {
        let budget = spec.budget.map(|b| b.check("budget")).transpose()?;
        let mut state = self.lock()?;
        let id = state.new_id("campaign");
        state.campaigns.insert(
            id.clone(),
            Node {
                status: spec.status,
                budget,
                start_date: spec.start_date,
                end_date: spec.end_date,
                spent: Micros::ZERO,
                parent: None,
            },
        );
        Ok(id)
    }

    async fn create_ad_set(&self, spec: &AdSetSpec) -> Result<String, PlatformError> {
        let budget = spec.budget.map(|b| b.check("budget")).transpose()?;
        let mut state = self.lock()?;
        if !state.campaigns.contains_key(&spec.campaign_external_id) {
            return Err(PlatformError::NotFound {
                message: format!("campaign {}", spec.campaign_external_id),
            });
        }
        let id = state.new_id("adset");
        state.ad_sets.insert(
            id.clone(),
            Node {
                status: spec.status,
                budget,
                start_date: spec.start_date,
                end_date: spec.end_date,
                spent: Micros::ZERO,
                parent: Some(spec.campaign_external_id.clone()),
            },
        );
        Ok(id)
    }

    async fn upload_image(&self, _name: &str, bytes: &[u8]) -> Result<AssetRef, PlatformError> {
        if bytes.is_empty() {
            return Err(PlatformError::invalid(
                "image",
                "0 bytes; an image needs some",
            ));
        }
        let external_id = self.lock()?.new_id("image");
        Ok(AssetRef {
            kind: AssetKind::Image,
            external_id,
        })
    }

    async fn upload_video(
        &self,
        _name: &str,
        video: &VideoSource,
    ) -> Result<AssetRef, PlatformError> {
        if video.read().await?.is_empty() {
            return Err(PlatformError::invalid(
                "video",
                "0 bytes; a video needs some",
            ));
        }
        let external_id = self.lock()?.new_id("video");
        Ok(AssetRef {
            kind: AssetKind::Video,
            external_id,
        })
    }

    async fn create_creative(&self, spec: &CreativeSpec) -> Result<Creative, PlatformError> {
        let external_id = self.lock()?.new_id("creative");
        Ok(Creative {
            external_id: Some(external_id),
            spec: spec.clone(),
        })
    }

    async fn create_ad(&self, spec: &AdSpec) -> Result<String, PlatformError> {
        let mut state = self.lock()?;
        if !state.ad_sets.contains_key(&spec.ad_set_external_id) {
            return Err(PlatformError::NotFound {
                message: format!("ad set {}", spec.ad_set_external_id),
            });
        }
        let rates = rates(&mut state.rng);
        state
            .simulator
            .add_ad(rates)
            .map_err(|e| PlatformError::unexpected("sandbox", e))?;
        let external_id = state.new_id("ad");
        state.ads.push(Ad {
            external_id: external_id.clone(),
            ad_set: spec.ad_set_external_id.clone(),
            status: spec.status,
        });
        Ok(external_id)
    }

    async fn pause(&self, kind: ObjectKind, external_id: &str) -> Result<(), PlatformError> {
        self.lock()?
            .set_status(kind, external_id, DeliveryStatus::Paused)
    }

    async fn resume(&self, kind: ObjectKind, external_id: &str) -> Result<(), PlatformError> {
        self.lock()?
            .set_status(kind, external_id, DeliveryStatus::Active)
    }

    async fn update_budget(
        &self,
        kind: ObjectKind,
        external_id: &str,
        budget: Budget,
    ) -> Result<(), PlatformError> {
        let budget = budget.check("budget")?;
        self.lock()?.node(kind, external_id)?.budget = Some(budget);
        Ok(())
    }

    async fn fetch_insights(&self, range: DateRange) -> Result<Vec<DailyAdMetrics>, PlatformError> {
        Ok(self
            .lock()?
            .rows
            .iter()
            .filter(|r| r.date >= range.since && r.date <= range.until)
            .cloned()
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::orchestrate::platforms::{AdCopy, CallToAction, Objective, Targeting};

    fn day(n: u8) -> Date {
        Date::from_calendar_date(2026, time::Month::January, n).unwrap()
    }

    async fn deploy(platform: &SandboxPlatform, n_ads: usize) -> (String, String, Vec<String>) {
        let campaign = platform
            .create_campaign(&CampaignSpec {
                name: "c".into(),
                objective: Objective::Sales,
                budget: None,
                start_date: day(1),
                end_date: None,
                status: DeliveryStatus::Active,
            })
            .await
            .unwrap();
        let ad_set = platform
            .create_ad_set(&AdSetSpec {
                campaign_external_id: campaign.clone(),
                name: "s".into(),
                objective: Objective::Sales,
                budget: Some(Budget::Daily(Micros::from_units(300).unwrap())),
                bid: None,
                targeting: Targeting::default(),
                start_date: day(1),
                end_date: None,
                status: DeliveryStatus::Active,
            })
            .await
            .unwrap();
        let image = platform.upload_image("i", b"png").await.unwrap();
        let creative = platform
            .create_creative(&CreativeSpec {
                name: "cr".into(),
                copy: AdCopy {
                    headline: "h".into(),
                    primary_text: "p".into(),
                    description: "d".into(),
                    call_to_action: CallToAction::ShopNow,
                    link_url: "https://example.com".into(),
                },
                image: Some(image),
                square_image: None,
                logo: None,
                video: None,
                business_name: None,
            })
            .await
            .unwrap();
        let mut ads = Vec::new();
        for i in 0..n_ads {
            ads.push(
                platform
                    .create_ad(&AdSpec {
                        ad_set_external_id: ad_set.clone(),
                        name: format!("ad {i}"),
                        creative: creative.clone(),
                        status: DeliveryStatus::Active,
                    })
                    .await
                    .unwrap(),
            );
        }
        (campaign, ad_set, ads)
    }

    #[tokio::test]
    async fn delivers_reproducibly_and_reports_by_date() {
        let run = |seed| async move {
            let platform = SandboxPlatform::new(seed, day(1)).unwrap();
            let (_, _, ads) = deploy(&platform, 3).await;
            assert_eq!(ads[0], "sandbox-ad-5");
            for _ in 0..4 {
                platform.advance_day().unwrap();
            }
            let rows = platform
                .fetch_insights(DateRange {
                    since: day(2),
                    until: day(3),
                })
                .await
                .unwrap();
            assert_eq!(rows.len(), 6);
            assert!(rows.iter().all(|r| r.date == day(2) || r.date == day(3)));
            let spend: i64 = rows.iter().map(|r| r.spend.0).sum();
            // Two days of a 300 budget, Poisson-paced within a few percent.
            assert!((spend as f64 / 600e6 - 1.0).abs() < 0.05, "{spend}");
            rows
        };
        assert_eq!(run(5).await, run(5).await);
        assert_ne!(run(5).await, run(6).await);
    }

    #[tokio::test]
    async fn pause_stops_delivery_and_budget_changes_pacing() {
        let platform = SandboxPlatform::new(11, day(1)).unwrap();
        let (campaign, ad_set, ads) = deploy(&platform, 2).await;
        platform.pause(ObjectKind::Ad, &ads[0]).await.unwrap();
        let rows = platform.advance_day().unwrap();
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0].ad_external_id, ads[1]);
        // The whole 300 goes to the one active ad.
        assert!((rows[0].spend.0 as f64 / 300e6 - 1.0).abs() < 0.05);

        platform
            .update_budget(
                ObjectKind::AdSet,
                &ad_set,
                Budget::Daily(Micros::from_units(30).unwrap()),
            )
            .await
            .unwrap();
        let rows = platform.advance_day().unwrap();
        assert!((rows[0].spend.0 as f64 / 30e6 - 1.0).abs() < 0.1);

        platform
            .pause(ObjectKind::Campaign, &campaign)
            .await
            .unwrap();
        assert!(platform.advance_day().unwrap().is_empty());
        platform
            .resume(ObjectKind::Campaign, &campaign)
            .await
            .unwrap();
        platform.resume(ObjectKind::Ad, &ads[0]).await.unwrap();
        assert_eq!(platform.advance_day().unwrap().len(), 2);
        assert_eq!(platform.today().unwrap(), day(5));
        assert!(platform.hidden_rates(&ads[1]).is_some());
        assert!(matches!(
            platform.pause(ObjectKind::Ad, "nope").await,
            Err(PlatformError::NotFound { .. })
        ));
        assert!(matches!(
            platform
                .update_budget(ObjectKind::AdSet, &ad_set, Budget::Daily(Micros(-1)))
                .await,
            Err(PlatformError::InvalidRequest { .. })
        ));
    }

    #[test]
    fn lifetime_budgets_spread_over_the_days_left() {
        let node = Node {
            status: DeliveryStatus::Active,
            budget: Some(Budget::Lifetime(Micros(100))),
            start_date: day(1),
            end_date: Some(day(5)),
            spent: Micros(20),
            parent: None,
        };
        assert_eq!(pace(&node, day(1)), Micros(16));
        assert_eq!(pace(&node, day(5)), Micros(80));
        assert_eq!(pace(&node, day(6)), Micros::ZERO);
        let daily = Node {
            budget: Some(Budget::Daily(Micros(7))),
            start_date: day(2),
            ..node
        };
        assert_eq!(pace(&daily, day(1)), Micros::ZERO);
        assert_eq!(pace(&daily, day(3)), Micros(7));
        assert_eq!(pace(&daily, day(6)), Micros::ZERO);
    }
}
