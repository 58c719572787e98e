//! Instances of fleets, and how background workers take them.
//!
//! A worker *claims* due rows: one statement sets `lock_owner` (the server's id) and
//! `lock_expires_at` on rows that are free or whose lock has expired. On PostgreSQL the rows
//! are chosen `FOR UPDATE SKIP LOCKED`, so two servers sharing the database never claim one
//! row; SQLite is used by one server process (its start-up lock), and its writes are
//! serialized anyway. The holder extends its locks while it works ([`Store::extend_locks`])
//! and writes its result with the lock released, only if it still holds it. A server that
//! dies leaves locks that expire, and another server (or itself, restarted) takes the rows.

use sqlx::any::AnyRow;
use sqlx::{Any, Row, Transaction};

use super::{Result, Store, now_micros};
use crate::db::DbKind;

/// dstack's instance statuses.
pub mod status {
    pub const PENDING: &str = "pending";
    pub const PROVISIONING: &str = "provisioning";
    pub const IDLE: &str = "idle";
    pub const BUSY: &str = "busy";
    pub const TERMINATING: &str = "terminating";
    pub const TERMINATED: &str = "terminated";
}

/// An instance to create.
#[derive(Debug, Clone)]
pub struct NewInstance {
    pub id: String,
    pub project_id: String,
    pub fleet_id: String,
    pub name: String,
    pub instance_num: i64,
    pub created_at: i64,
    /// JSON: the merged profile, the requirements, the instance configuration.
    pub profile: String,
    pub requirements: String,
    pub instance_configuration: String,
    pub termination_policy: String,
    pub termination_idle_time: i64,
}

/// A stored instance.
#[derive(Debug, Clone, PartialEq)]
pub struct InstanceRow {
    pub id: String,
    pub project_id: String,
    pub fleet_id: String,
    pub name: String,
    pub instance_num: i64,
    pub status: String,
    pub created_at: i64,
    pub last_processed_at: i64,
    pub started_at: Option<i64>,
    pub finished_at: Option<i64>,
    pub deleted: bool,
    pub profile: String,
    pub requirements: String,
    pub instance_configuration: String,
    pub termination_policy: String,
    pub termination_idle_time: i64,
    pub termination_requested: bool,
    pub termination_reason: Option<String>,
    pub termination_reason_message: Option<String>,
    pub termination_deadline: Option<i64>,
    pub first_termination_retry_at: Option<i64>,
    pub last_termination_retry_at: Option<i64>,
    pub pending_offer: Option<String>,
    pub backend: Option<String>,
    pub region: Option<String>,
    pub offer: Option<String>,
    pub job_provisioning_data: Option<String>,
}

const COLUMNS: &str = "id, project_id, fleet_id, name, instance_num, status, created_at, \
    last_processed_at, started_at, finished_at, deleted, profile, requirements, \
    instance_configuration, termination_policy, termination_idle_time, termination_requested, \
    termination_reason, termination_reason_message, termination_deadline, \
    first_termination_retry_at, last_termination_retry_at, pending_offer, backend, region, \
    offer, job_provisioning_data";

fn instance_from_row(row: &AnyRow) -> Result<InstanceRow> {
    Ok(InstanceRow {
        id: row.try_get("id")?,
        project_id: row.try_get("project_id")?,
        fleet_id: row.try_get("fleet_id")?,
        name: row.try_get("name")?,
        instance_num: row.try_get("instance_num")?,
        status: row.try_get("status")?,
        created_at: row.try_get("created_at")?,
        last_processed_at: row.try_get("last_processed_at")?,
        started_at: row.try_get("started_at")?,
        finished_at: row.try_get("finished_at")?,
        deleted: row.try_get::<i64, _>("deleted")? != 0,
        profile: row.try_get("profile")?,
        requirements: row.try_get("requirements")?,
        instance_configuration: row.try_get("instance_configuration")?,
        termination_policy: row.try_get("termination_policy")?,
        termination_idle_time: row.try_get("termination_idle_time")?,
        termination_requested: row.try_get::<i64, _>("termination_requested")? != 0,
        termination_reason: row.try_get("termination_reason")?,
        termination_reason_message: row.try_get("termination_reason_message")?,
        termination_deadline: row.try_get("termination_deadline")?,
        first_termination_retry_at: row.try_get("first_termination_retry_at")?,
        last_termination_retry_at: row.try_get("last_termination_retry_at")?,
        pending_offer: row.try_get("pending_offer")?,
        backend: row.try_get("backend")?,
        region: row.try_get("region")?,
        offer: row.try_get("offer")?,
        job_provisioning_data: row.try_get("job_provisioning_data")?,
    })
}

pub(super) async fn insert(tx: &mut Transaction<'_, Any>, new: &NewInstance) -> Result<()> {
    sqlx::query(
        "INSERT INTO instances (id, project_id, fleet_id, name, instance_num, status, \
         created_at, last_processed_at, profile, requirements, instance_configuration, \
         termination_policy, termination_idle_time) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $7, $8, $9, $10, $11, $12)",
    )
    .bind(&new.id)
    .bind(&new.project_id)
    .bind(&new.fleet_id)
    .bind(&new.name)
    .bind(new.instance_num)
    .bind(status::PENDING)
    .bind(new.created_at)
    .bind(&new.profile)
    .bind(&new.requirements)
    .bind(&new.instance_configuration)
    .bind(&new.termination_policy)
    .bind(new.termination_idle_time)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Asks for the fleet's live instances (those numbered `nums`, or all) to be terminated by
/// the user: an instance that never got further than `terminated` is retired at once; the
/// others are flagged, and the worker terminates them (waiting for one it holds).
pub(super) async fn request_termination(
    tx: &mut Transaction<'_, Any>,
    fleet_id: &str,
    nums: Option<&[i64]>,
) -> Result<u64> {
    let now = now_micros();
    let only = match nums {
        Some([]) => return Ok(0),
        Some(nums) => {
            let listed: Vec<String> = nums.iter().map(i64::to_string).collect();
            format!(" AND instance_num IN ({})", listed.join(", "))
        }
        None => String::new(),
    };
    let retire = format!(
        "UPDATE instances SET deleted = 1, deleted_at = $1 WHERE fleet_id = $2 AND deleted = 0 \
         AND status = '{}'{only}",
        status::TERMINATED
    );
    sqlx::query(sqlx::AssertSqlSafe(retire)).bind(now).bind(fleet_id).execute(&mut **tx).await?;
    let flag = format!(
        "UPDATE instances SET termination_requested = 1, \
         termination_reason = COALESCE(termination_reason, 'terminated_by_user') \
         WHERE fleet_id = $1 AND deleted = 0 AND status <> '{}'{only}",
        status::TERMINATING
    );
    let done = sqlx::query(sqlx::AssertSqlSafe(flag)).bind(fleet_id).execute(&mut **tx).await?;
    Ok(done.rows_affected())
}

/// What a worker writes back for an instance it holds: every column it may change.
#[derive(Debug, Clone, PartialEq)]
pub struct InstanceUpdate {
    pub status: String,
    pub started_at: Option<i64>,
    pub finished_at: Option<i64>,
    pub deleted: bool,
    pub termination_reason: Option<String>,
    pub termination_reason_message: Option<String>,
    pub termination_deadline: Option<i64>,
    pub first_termination_retry_at: Option<i64>,
    pub last_termination_retry_at: Option<i64>,
    pub pending_offer: Option<String>,
    pub backend: Option<String>,
    pub region: Option<String>,
    pub offer: Option<String>,
    pub job_provisioning_data: Option<String>,
    /// The worker acted on the row's termination request: it is cleared.
    pub termination_seen: bool,
    /// Events the change makes, written with it.
    pub events: Vec<super::NewEvent>,
}

impl InstanceUpdate {
    /// The row as it is: the starting point of a change.
    pub fn of(row: &InstanceRow) -> Self {
        InstanceUpdate {
            status: row.status.clone(),
            started_at: row.started_at,
            finished_at: row.finished_at,
            deleted: row.deleted,
            termination_reason: row.termination_reason.clone(),
            termination_reason_message: row.termination_reason_message.clone(),
            termination_deadline: row.termination_deadline,
            first_termination_retry_at: row.first_termination_retry_at,
            last_termination_retry_at: row.last_termination_retry_at,
            pending_offer: row.pending_offer.clone(),
            backend: row.backend.clone(),
            region: row.region.clone(),
            offer: row.offer.clone(),
            job_provisioning_data: row.job_provisioning_data.clone(),
            termination_seen: false,
            events: Vec::new(),
        }
    }
}

impl Store {
    /// The fleet's live instances, by number.
    pub async fn fleet_instances(&self, fleet_id: &str) -> Result<Vec<InstanceRow>> {
        let sql = format!(
            "SELECT {COLUMNS} FROM instances WHERE fleet_id = $1 AND deleted = 0 \
             ORDER BY instance_num"
        );
        let rows =
            sqlx::query(sqlx::AssertSqlSafe(sql)).bind(fleet_id).fetch_all(&self.db.pool).await?;
        rows.iter().map(instance_from_row).collect()
    }

    /// The instances of the projects, newest first; deleted ones too unless `only_active`
    /// (which also keeps only idle and busy ones, as dstack's filter does).
    pub async fn instances_of(
        &self,
        project_ids: &[String],
        only_active: bool,
    ) -> Result<Vec<InstanceRow>> {
        if project_ids.is_empty() {
            return Ok(Vec::new());
        }
        let placeholders: Vec<String> = (1..=project_ids.len()).map(|i| format!("${i}")).collect();
        let active = if only_active {
            format!(" AND deleted = 0 AND status IN ('{}', '{}')", status::IDLE, status::BUSY)
        } else {
            String::new()
        };
        let sql = format!(
            "SELECT {COLUMNS} FROM instances WHERE project_id IN ({}){active} \
             ORDER BY created_at DESC, id",
            placeholders.join(", ")
        );
        let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
        for id in project_ids {
            query = query.bind(id);
        }
        let rows = query.fetch_all(&self.db.pool).await?;
        rows.iter().map(instance_from_row).collect()
    }

    /// Asks for some instances of a live fleet to be terminated (`delete_instances`).
    pub async fn terminate_instances(&self, fleet_id: &str, nums: &[i64]) -> Result<u64> {
        let mut tx = self.db.pool.begin().await?;
        let flagged = request_termination(&mut tx, fleet_id, Some(nums)).await?;
        tx.commit().await?;
        Ok(flagged)
    }

    /// Claims up to `limit` instances that are due: not terminated or deleted, free (or
    /// their lock expired), and last processed before `due_before` (idle and busy ones
    /// before `idle_due_before`), or new, or asked to terminate. Oldest first.
    pub async fn claim_instances(&self, claim: &Claim<'_>) -> Result<Vec<InstanceRow>> {
        let now = now_micros();
        let skip_locked = match self.db.kind {
            DbKind::Postgres => " FOR UPDATE SKIP LOCKED",
            DbKind::Sqlite => "",
        };
        let sql = format!(
            "UPDATE instances SET lock_owner = $1, lock_expires_at = $2 WHERE id IN (\
             SELECT id FROM instances WHERE deleted = 0 AND status <> '{terminated}' \
             AND (lock_owner IS NULL OR lock_expires_at < $3) \
             AND (termination_requested = 1 OR last_processed_at = created_at \
               OR (status IN ('{idle}', '{busy}') AND last_processed_at <= $4) \
               OR (status NOT IN ('{idle}', '{busy}') AND last_processed_at <= $5)) \
             ORDER BY last_processed_at LIMIT $6{skip_locked}) RETURNING {COLUMNS}",
            terminated = status::TERMINATED,
            idle = status::IDLE,
            busy = status::BUSY,
        );
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(claim.owner)
            .bind(now + claim.lock_micros)
            .bind(now)
            .bind(claim.idle_due_before)
            .bind(claim.due_before)
            .bind(claim.limit)
            .fetch_all(&self.db.pool)
            .await?;
        rows.iter().map(instance_from_row).collect()
    }

    /// Pushes the expiry of every lock `owner` holds to `lock_micros` from now.
    pub async fn extend_locks(&self, owner: &str, lock_micros: i64) -> Result<u64> {
        let done = sqlx::query("UPDATE instances SET lock_expires_at = $1 WHERE lock_owner = $2")
            .bind(now_micros() + lock_micros)
            .bind(owner)
            .execute(&self.db.pool)
            .await?;
        Ok(done.rows_affected())
    }

    /// Writes what the worker did, keeping the lock (a step within its work, such as the
    /// offer about to be tried). False when `owner` no longer holds the row.
    pub async fn save_instance(
        &self,
        id: &str,
        owner: &str,
        update: &InstanceUpdate,
    ) -> Result<bool> {
        self.write_instance(id, owner, update, false).await
    }

    /// Writes what the worker did and releases the row. False when `owner` no longer held it.
    pub async fn release_instance(
        &self,
        id: &str,
        owner: &str,
        update: &InstanceUpdate,
    ) -> Result<bool> {
        self.write_instance(id, owner, update, true).await
    }

    /// One statement for both: `$16` = 1 releases. A termination request or a reason set by
    /// the API while the worker held the row survives the write: the worker clears the
    /// request only when it acted on it (`termination_seen`), and sets a reason only when it
    /// has one.
    async fn write_instance(
        &self,
        id: &str,
        owner: &str,
        update: &InstanceUpdate,
        release: bool,
    ) -> Result<bool> {
        let now = now_micros();
        let deleted_at = if update.deleted { Some(now) } else { None };
        let mut tx = self.db.pool.begin().await?;
        let done = sqlx::query(
            "UPDATE instances SET status = $1, started_at = $2, finished_at = $3, deleted = $4, \
             deleted_at = COALESCE(deleted_at, $5), \
             termination_reason = COALESCE($6, termination_reason), \
             termination_reason_message = COALESCE($7, termination_reason_message), \
             termination_deadline = $8, first_termination_retry_at = $9, \
             last_termination_retry_at = $10, pending_offer = $11, backend = $12, region = $13, \
             offer = $14, job_provisioning_data = $15, \
             last_processed_at = CASE WHEN $16 = 1 THEN $17 ELSE last_processed_at END, \
             lock_owner = CASE WHEN $16 = 1 THEN NULL ELSE lock_owner END, \
             lock_expires_at = CASE WHEN $16 = 1 THEN NULL ELSE lock_expires_at END, \
             termination_requested = CASE WHEN $18 = 1 THEN 0 ELSE termination_requested END \
             WHERE id = $19 AND lock_owner = $20",
        )
        .bind(&update.status)
        .bind(update.started_at)
        .bind(update.finished_at)
        .bind(i64::from(update.deleted))
        .bind(deleted_at)
        .bind(&update.termination_reason)
        .bind(&update.termination_reason_message)
        .bind(update.termination_deadline)
        .bind(update.first_termination_retry_at)
        .bind(update.last_termination_retry_at)
        .bind(&update.pending_offer)
        .bind(&update.backend)
        .bind(&update.region)
        .bind(&update.offer)
        .bind(&update.job_provisioning_data)
        .bind(i64::from(release))
        .bind(now)
        .bind(i64::from(update.termination_seen))
        .bind(id)
        .bind(owner)
        .execute(&mut *tx)
        .await?;
        if done.rows_affected() != 1 {
            return Ok(false);
        }
        super::events::insert(&mut tx, &update.events).await?;
        tx.commit().await?;
        Ok(true)
    }

    /// Releases every lock, unchanged: at the start of the one server a SQLite database has,
    /// whatever locks remain are those of a server that stopped.
    pub async fn release_all_locks(&self) -> Result<u64> {
        let done = sqlx::query(
            "UPDATE instances SET lock_owner = NULL, lock_expires_at = NULL \
             WHERE lock_owner IS NOT NULL",
        )
        .execute(&self.db.pool)
        .await?;
        Ok(done.rows_affected())
    }

    /// Releases every lock `owner` holds, unchanged (a server stopping).
    pub async fn release_locks(&self, owner: &str) -> Result<u64> {
        let done = sqlx::query(
            "UPDATE instances SET lock_owner = NULL, lock_expires_at = NULL WHERE lock_owner = $1",
        )
        .bind(owner)
        .execute(&self.db.pool)
        .await?;
        Ok(done.rows_affected())
    }
}

/// Which instances a worker claims, and for how long.
#[derive(Debug, Clone)]
pub struct Claim<'a> {
    pub owner: &'a str,
    pub lock_micros: i64,
    pub due_before: i64,
    pub idle_due_before: i64,
    pub limit: i64,
}
