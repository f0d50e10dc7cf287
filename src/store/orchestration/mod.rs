//! The campaign loop's rows: ad sets, deployments and their ledger of platform ids, daily
//! metrics per ad, agent runs (planner, optimizer) and proposed actions. Every query is scoped
//! to the owner. The ledger is what makes a deployment idempotent: each platform object's id is
//! recorded the moment it exists, keyed by (deployment, kind, local id), and a retried
//! deployment reuses it instead of creating the object again.

use serde_json::Value;
use sqlx::Row;

use super::{Store, StoreError, StoreResult};

fn corrupt(what: &'static str) -> impl Fn(serde_json::Error) -> StoreError {
    move |e| StoreError::Corrupt(format!("{what} row: {e}"))
}

#[derive(Debug, Clone, PartialEq)]
pub struct AdSetRow {
    pub id: String,
    pub owner_id: String,
    pub campaign_id: String,
    pub platform: String,
    pub name: String,
    /// `{countries, age_min, age_max, description}`.
    pub targeting: Value,
    pub daily_budget_micros: i64,
    pub status: String,
    pub version: i64,
    pub created_at: i64,
    pub updated_at: i64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct DeploymentRow {
    pub id: String,
    pub owner_id: String,
    pub campaign_id: String,
    pub platform: String,
    /// `pending`, `deploying`, `active`, `paused`, `failed`.
    pub status: String,
    pub job_id: Option<String>,
    pub error: Option<String>,
    pub version: i64,
    pub created_at: i64,
    pub updated_at: i64,
}

/// One platform object a deployment made.
#[derive(Debug, Clone, PartialEq)]
pub struct LedgerRow {
    pub kind: String,
    pub local_id: String,
    pub external_id: String,
}

/// One ad's day.
#[derive(Debug, Clone, PartialEq)]
pub struct MetricRow {
    pub deployment_id: String,
    pub ad_external_id: String,
    pub day: String,
    pub owner_id: String,
    pub campaign_id: String,
    pub creative_id: Option<String>,
    pub platform: String,
    pub impressions: i64,
    pub clicks: i64,
    pub spend_micros: i64,
    pub conversions: f64,
    pub revenue_micros: i64,
}

#[derive(Debug, Clone, Default)]
pub struct MetricFilter {
    pub campaign_id: Option<String>,
    pub deployment_id: Option<String>,
    pub creative_id: Option<String>,
    pub from: Option<String>,
    pub to: Option<String>,
    pub limit: i64,
    pub offset: i64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct AgentRunRow {
    pub id: String,
    pub owner_id: String,
    pub campaign_id: Option<String>,
    /// `planner` or `optimizer`.
    pub agent: String,
    pub seed: i64,
    pub input: Value,
    /// Every tool call and its result, in order.
    pub trace: Value,
    pub output: Option<Value>,
    pub status: String,
    pub error: Option<String>,
    pub created_at: i64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ActionRow {
    pub id: String,
    pub owner_id: String,
    pub campaign_id: String,
    pub run_id: String,
    /// `pause_creative`, `scale_winner`, `shift_budget`.
    pub kind: String,
    pub params: Value,
    pub reason: String,
    /// `proposed`, `applied`, `rejected`, `failed`.
    pub status: String,
    pub result: Option<Value>,
    pub created_at: i64,
    pub decided_at: Option<i64>,
}

fn ad_set_from(row: &sqlx::any::AnyRow) -> StoreResult<AdSetRow> {
    let targeting: String = row.try_get("targeting")?;
    Ok(AdSetRow {
        id: row.try_get("id")?,
        owner_id: row.try_get("owner_id")?,
        campaign_id: row.try_get("campaign_id")?,
        platform: row.try_get("platform")?,
        name: row.try_get("name")?,
        targeting: serde_json::from_str(&targeting).map_err(corrupt("ad set"))?,
        daily_budget_micros: row.try_get("daily_budget_micros")?,
        status: row.try_get("status")?,
        version: row.try_get("version")?,
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
    })
}

fn deployment_from(row: &sqlx::any::AnyRow) -> StoreResult<DeploymentRow> {
    Ok(DeploymentRow {
        id: row.try_get("id")?,
        owner_id: row.try_get("owner_id")?,
        campaign_id: row.try_get("campaign_id")?,
        platform: row.try_get("platform")?,
        status: row.try_get("status")?,
        job_id: row.try_get("job_id")?,
        error: row.try_get("error")?,
        version: row.try_get("version")?,
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
    })
}

fn metric_from(row: &sqlx::any::AnyRow) -> StoreResult<MetricRow> {
    Ok(MetricRow {
        deployment_id: row.try_get("deployment_id")?,
        ad_external_id: row.try_get("ad_external_id")?,
        day: row.try_get("day")?,
        owner_id: row.try_get("owner_id")?,
        campaign_id: row.try_get("campaign_id")?,
        creative_id: row.try_get("creative_id")?,
        platform: row.try_get("platform")?,
        impressions: row.try_get("impressions")?,
        clicks: row.try_get("clicks")?,
        spend_micros: row.try_get("spend_micros")?,
        conversions: row.try_get("conversions")?,
        revenue_micros: row.try_get("revenue_micros")?,
    })
}

fn run_from(row: &sqlx::any::AnyRow) -> StoreResult<AgentRunRow> {
    let input: String = row.try_get("input")?;
    let trace: String = row.try_get("trace")?;
    let output: Option<String> = row.try_get("output")?;
    Ok(AgentRunRow {
        id: row.try_get("id")?,
        owner_id: row.try_get("owner_id")?,
        campaign_id: row.try_get("campaign_id")?,
        agent: row.try_get("agent")?,
        seed: row.try_get("seed")?,
        input: serde_json::from_str(&input).map_err(corrupt("agent run"))?,
        trace: serde_json::from_str(&trace).map_err(corrupt("agent run"))?,
        output: output
            .map(|o| serde_json::from_str(&o))
            .transpose()
            .map_err(corrupt("agent run"))?,
        status: row.try_get("status")?,
        error: row.try_get("error")?,
        created_at: row.try_get("created_at")?,
    })
}

fn action_from(row: &sqlx::any::AnyRow) -> StoreResult<ActionRow> {
    let params: String = row.try_get("params")?;
    let result: Option<String> = row.try_get("result")?;
    Ok(ActionRow {
        id: row.try_get("id")?,
        owner_id: row.try_get("owner_id")?,
        campaign_id: row.try_get("campaign_id")?,
        run_id: row.try_get("run_id")?,
        kind: row.try_get("kind")?,
        params: serde_json::from_str(&params).map_err(corrupt("action"))?,
        reason: row.try_get("reason")?,
        status: row.try_get("status")?,
        result: result
            .map(|o| serde_json::from_str(&o))
            .transpose()
            .map_err(corrupt("action"))?,
        created_at: row.try_get("created_at")?,
        decided_at: row.try_get("decided_at")?,
    })
}

/// The columns of each table, in order, as a literal for `concat!`.
macro_rules! cols {
    (ad_set) => {
        "id, owner_id, campaign_id, platform, name, targeting, \
     daily_budget_micros, status, version, created_at, updated_at"
    };
    (deployment) => {
        "id, owner_id, campaign_id, platform, status, job_id, error, \
     version, created_at, updated_at"
    };
    (metric) => {
        "deployment_id, ad_external_id, day, owner_id, campaign_id, \
     creative_id, platform, impressions, clicks, spend_micros, conversions, revenue_micros"
    };
    (run) => {
        "id, owner_id, campaign_id, agent, seed, input, trace, output, status, error, created_at"
    };
    (action) => {
        "id, owner_id, campaign_id, run_id, kind, params, reason, status, \
     result, created_at, decided_at"
    };
}

mod deployments;
mod records;

impl Store {
    // ---- planned campaigns -------------------------------------------------------------

    /// Stores a planned campaign in one transaction: the campaign (with its plan), its ad sets
    /// and the planner's run. Nothing is written when any insert fails.
    pub async fn insert_planned_campaign(
        &self,
        campaign: &super::campaigns::CampaignRow,
        plan: &Value,
        ad_sets: &[AdSetRow],
        run: &AgentRunRow,
    ) -> StoreResult<()> {
        let mut tx = self.pool().begin().await?;
        super::campaigns::insert_campaign_in(&mut tx, campaign).await?;
        sqlx::query("UPDATE campaigns SET plan = $1 WHERE id = $2")
            .bind(plan.to_string())
            .bind(&campaign.id)
            .execute(&mut *tx)
            .await?;
        for ad_set in ad_sets {
            sqlx::query(concat!(
                "INSERT INTO ad_sets (",
                cols!(ad_set),
                ") VALUES \
                 ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)"
            ))
            .bind(&ad_set.id)
            .bind(&ad_set.owner_id)
            .bind(&ad_set.campaign_id)
            .bind(&ad_set.platform)
            .bind(&ad_set.name)
            .bind(ad_set.targeting.to_string())
            .bind(ad_set.daily_budget_micros)
            .bind(&ad_set.status)
            .bind(ad_set.version)
            .bind(ad_set.created_at)
            .bind(ad_set.updated_at)
            .execute(&mut *tx)
            .await?;
        }
        insert_run(&mut tx, run).await?;
        tx.commit().await?;
        Ok(())
    }

    /// The campaign's stored plan, if it was planned.
    pub async fn campaign_plan(&self, owner_id: &str, id: &str) -> StoreResult<Option<Value>> {
        let row = sqlx::query("SELECT plan FROM campaigns WHERE id = $1 AND owner_id = $2")
            .bind(id)
            .bind(owner_id)
            .fetch_optional(self.pool())
            .await?;
        let Some(row) = row else { return Ok(None) };
        let plan: Option<String> = row.try_get("plan")?;
        plan.map(|p| serde_json::from_str(&p))
            .transpose()
            .map_err(corrupt("campaign plan"))
    }

    /// Whether the optimizer's actions apply without approval.
    pub async fn campaign_auto_apply(&self, owner_id: &str, id: &str) -> StoreResult<bool> {
        let row = sqlx::query("SELECT auto_apply FROM campaigns WHERE id = $1 AND owner_id = $2")
            .bind(id)
            .bind(owner_id)
            .fetch_optional(self.pool())
            .await?;
        Ok(match row {
            Some(row) => row.try_get::<i64, _>("auto_apply")? != 0,
            None => false,
        })
    }

    pub async fn set_campaign_auto_apply(
        &self,
        owner_id: &str,
        id: &str,
        on: bool,
    ) -> StoreResult<bool> {
        let done =
            sqlx::query("UPDATE campaigns SET auto_apply = $1 WHERE id = $2 AND owner_id = $3")
                .bind(i64::from(on))
                .bind(id)
                .bind(owner_id)
                .execute(self.pool())
                .await?;
        Ok(done.rows_affected() == 1)
    }

    // ---- ad sets -----------------------------------------------------------------------

    pub async fn list_ad_sets(
        &self,
        owner_id: &str,
        campaign_id: &str,
    ) -> StoreResult<Vec<AdSetRow>> {
        let rows = sqlx::query(concat!(
            "SELECT ",
            cols!(ad_set),
            " FROM ad_sets WHERE owner_id = $1 AND campaign_id = $2 \
             ORDER BY created_at, id"
        ))
        .bind(owner_id)
        .bind(campaign_id)
        .fetch_all(self.pool())
        .await?;
        rows.iter().map(ad_set_from).collect()
    }

    pub async fn set_ad_set_budget(
        &self,
        owner_id: &str,
        id: &str,
        daily_budget_micros: i64,
        now: i64,
    ) -> StoreResult<bool> {
        let done = sqlx::query(
            "UPDATE ad_sets SET daily_budget_micros = $1, version = version + 1, updated_at = $2 \
             WHERE id = $3 AND owner_id = $4",
        )
        .bind(daily_budget_micros)
        .bind(now)
        .bind(id)
        .bind(owner_id)
        .execute(self.pool())
        .await?;
        Ok(done.rows_affected() == 1)
    }
}

async fn insert_run(conn: &mut sqlx::AnyConnection, run: &AgentRunRow) -> StoreResult<()> {
    sqlx::query(concat!(
        "INSERT INTO agent_runs (",
        cols!(run),
        ") VALUES \
         ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)"
    ))
    .bind(&run.id)
    .bind(&run.owner_id)
    .bind(run.campaign_id.as_deref())
    .bind(&run.agent)
    .bind(run.seed)
    .bind(run.input.to_string())
    .bind(run.trace.to_string())
    .bind(run.output.as_ref().map(Value::to_string))
    .bind(&run.status)
    .bind(run.error.as_deref())
    .bind(run.created_at)
    .execute(conn)
    .await?;
    Ok(())
}
