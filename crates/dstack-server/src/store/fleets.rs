//! Fleets: a project's named groups of instances, with the spec they were applied with.
//! A deleted fleet keeps its row (`deleted = 1`), as in dstack, so that `fleets/get` by id
//! still finds it; only one live fleet holds a name.

use sqlx::Row;
use sqlx::any::AnyRow;

use super::instances::NewInstance;
use super::{NewEvent, Result, Store, StoreError, now_micros};

/// dstack's fleet statuses that this server uses.
pub mod status {
    pub const ACTIVE: &str = "active";
    pub const TERMINATING: &str = "terminating";
    pub const TERMINATED: &str = "terminated";
}

/// A stored fleet.
#[derive(Debug, Clone)]
pub struct FleetRow {
    pub id: String,
    pub project_id: String,
    pub name: String,
    pub status: String,
    /// The FleetSpec JSON as applied.
    pub spec: String,
    pub created_at: i64,
    pub deleted: bool,
}

const COLUMNS: &str = "id, project_id, name, status, spec, created_at, deleted";

fn fleet_from_row(row: &AnyRow) -> Result<FleetRow> {
    Ok(FleetRow {
        id: row.try_get("id")?,
        project_id: row.try_get("project_id")?,
        name: row.try_get("name")?,
        status: row.try_get("status")?,
        spec: row.try_get("spec")?,
        created_at: row.try_get("created_at")?,
        deleted: row.try_get::<i64, _>("deleted")? != 0,
    })
}

impl Store {
    /// Creates the fleet and its first instances in one transaction; [`StoreError::Exists`]
    /// when a live fleet of the project has the name (the unique index decides races).
    pub async fn insert_fleet(
        &self,
        fleet: &FleetRow,
        instances: &[NewInstance],
        events: &[NewEvent],
    ) -> Result<()> {
        let mut tx = self.db.pool.begin().await?;
        sqlx::query(
            "INSERT INTO fleets (id, project_id, name, status, spec, created_at, \
             last_processed_at, deleted) VALUES ($1, $2, $3, $4, $5, $6, $6, 0)",
        )
        .bind(&fleet.id)
        .bind(&fleet.project_id)
        .bind(&fleet.name)
        .bind(&fleet.status)
        .bind(&fleet.spec)
        .bind(fleet.created_at)
        .execute(&mut *tx)
        .await?;
        for instance in instances {
            super::instances::insert(&mut tx, instance).await?;
        }
        super::events::insert(&mut tx, events).await?;
        tx.commit().await?;
        Ok(())
    }

    /// The live fleet of this name.
    pub async fn fleet_by_name(&self, project_id: &str, name: &str) -> Result<Option<FleetRow>> {
        let sql = format!(
            "SELECT {COLUMNS} FROM fleets WHERE project_id = $1 AND name = $2 AND deleted = 0"
        );
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(project_id)
            .bind(name)
            .fetch_optional(&self.db.pool)
            .await?;
        row.as_ref().map(fleet_from_row).transpose()
    }

    /// The fleet with this id, deleted or not (dstack's `fleets/get` by id).
    pub async fn fleet_by_id(&self, project_id: &str, id: &str) -> Result<Option<FleetRow>> {
        let sql = format!("SELECT {COLUMNS} FROM fleets WHERE project_id = $1 AND id = $2");
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(project_id)
            .bind(id)
            .fetch_optional(&self.db.pool)
            .await?;
        row.as_ref().map(fleet_from_row).transpose()
    }

    /// The fleets of the projects, newest first; deleted ones too unless `only_active`.
    pub async fn fleets_of(
        &self,
        project_ids: &[String],
        only_active: bool,
    ) -> Result<Vec<FleetRow>> {
        if project_ids.is_empty() {
            return Ok(Vec::new());
        }
        let placeholders: Vec<String> = (1..=project_ids.len()).map(|i| format!("${i}")).collect();
        let live = if only_active { " AND deleted = 0" } else { "" };
        let sql = format!(
            "SELECT {COLUMNS} FROM fleets WHERE project_id IN ({}){live} \
             ORDER BY created_at DESC, id",
            placeholders.join(", ")
        );
        let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
        for id in project_ids {
            query = query.bind(id);
        }
        let rows = query.fetch_all(&self.db.pool).await?;
        rows.iter().map(fleet_from_row).collect()
    }

    /// Replaces a live fleet's spec (an in-place update).
    pub async fn update_fleet_spec(&self, fleet_id: &str, spec: &str) -> Result<()> {
        let done = sqlx::query("UPDATE fleets SET spec = $1 WHERE id = $2 AND deleted = 0")
            .bind(spec)
            .bind(fleet_id)
            .execute(&self.db.pool)
            .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::Gone);
        }
        Ok(())
    }

    /// Marks the fleet terminating and asks for each of its live instances to be
    /// terminated; the background worker does it and then retires the fleet.
    pub async fn terminate_fleet(&self, fleet_id: &str, events: &[NewEvent]) -> Result<()> {
        let mut tx = self.db.pool.begin().await?;
        let changed = sqlx::query(
            "UPDATE fleets SET status = $1 WHERE id = $2 AND deleted = 0 AND status <> $1",
        )
        .bind(status::TERMINATING)
        .bind(fleet_id)
        .execute(&mut *tx)
        .await?;
        if changed.rows_affected() == 1 {
            super::events::insert(&mut tx, events).await?;
        }
        super::instances::request_termination(&mut tx, fleet_id, None).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Fleets that are terminating and have no live instance left: retired (terminated,
    /// deleted), each with the event `event` gives it, in the same transaction (a reader never
    /// sees a retired fleet without its event). Returns them (project id, id, name).
    pub async fn retire_terminated_fleets(
        &self,
        event: impl Fn(&str, &str, &str) -> Option<NewEvent>,
    ) -> Result<Vec<(String, String, String)>> {
        let now = now_micros();
        let mut tx = self.db.pool.begin().await?;
        let rows = sqlx::query(
            "UPDATE fleets SET status = $1, deleted = 1, deleted_at = $2, last_processed_at = $2 \
             WHERE status = $3 AND deleted = 0 AND NOT EXISTS \
             (SELECT 1 FROM instances i WHERE i.fleet_id = fleets.id AND i.deleted = 0) \
             RETURNING project_id, id, name",
        )
        .bind(status::TERMINATED)
        .bind(now)
        .bind(status::TERMINATING)
        .fetch_all(&mut *tx)
        .await?;
        let retired = rows
            .iter()
            .map(|r| Ok((r.try_get("project_id")?, r.try_get("id")?, r.try_get("name")?)))
            .collect::<Result<Vec<(String, String, String)>>>()?;
        let events: Vec<NewEvent> =
            retired.iter().filter_map(|(project, id, name)| event(project, id, name)).collect();
        super::events::insert(&mut tx, &events).await?;
        tx.commit().await?;
        Ok(retired)
    }
}
