//! Placement groups of cluster fleets: written when a backend created one, marked
//! `fleet_deleted` when the fleet is gone, deleted in the cloud by the background worker.

use dstack_core::placement::{PlacementGroup, PlacementGroupProvisioningData};
use sqlx::Row;

use super::{Result, Store, StoreError, new_id, now_micros};

/// A stored placement group.
#[derive(Debug, Clone, PartialEq)]
pub struct PlacementGroupRow {
    pub id: String,
    pub project_id: String,
    pub fleet_id: String,
    pub group: PlacementGroup,
    pub data: PlacementGroupProvisioningData,
}

fn row_of(row: &sqlx::any::AnyRow) -> Result<PlacementGroupRow> {
    let unreadable = |e: serde_json::Error| {
        StoreError::Db(crate::db::DbError::Sqlx(sqlx::Error::Decode(Box::new(e))))
    };
    Ok(PlacementGroupRow {
        id: row.try_get("id")?,
        project_id: row.try_get("project_id")?,
        fleet_id: row.try_get("fleet_id")?,
        group: serde_json::from_str(&row.try_get::<String, _>("configuration")?)
            .map_err(unreadable)?,
        data: serde_json::from_str(&row.try_get::<String, _>("provisioning_data")?)
            .map_err(unreadable)?,
    })
}

const COLUMNS: &str = "id, project_id, fleet_id, configuration, provisioning_data";

impl Store {
    /// Records a group a backend created for the fleet.
    pub async fn insert_placement_group(
        &self,
        project_id: &str,
        fleet_id: &str,
        group: &PlacementGroup,
        data: &PlacementGroupProvisioningData,
    ) -> Result<()> {
        let json = |v: serde_json::Result<String>| v.unwrap_or_default();
        sqlx::query(
            "INSERT INTO placement_groups (id, project_id, fleet_id, name, configuration, \
             provisioning_data, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(new_id())
        .bind(project_id)
        .bind(fleet_id)
        .bind(&group.name)
        .bind(json(serde_json::to_string(group)))
        .bind(json(serde_json::to_string(data)))
        .bind(now_micros())
        .execute(&self.db.pool)
        .await?;
        Ok(())
    }

    /// The fleet's groups that are in use (not scheduled for deletion), oldest first.
    pub async fn fleet_placement_groups(&self, fleet_id: &str) -> Result<Vec<PlacementGroupRow>> {
        let sql = format!(
            "SELECT {COLUMNS} FROM placement_groups WHERE fleet_id = $1 AND fleet_deleted = 0 \
             AND deleted = 0 ORDER BY created_at"
        );
        let rows =
            sqlx::query(sqlx::AssertSqlSafe(sql)).bind(fleet_id).fetch_all(&self.db.pool).await?;
        rows.iter().map(row_of).collect()
    }

    /// Schedules the fleet's groups for deletion.
    pub async fn release_placement_groups(&self, fleet_id: &str) -> Result<()> {
        sqlx::query("UPDATE placement_groups SET fleet_deleted = 1 WHERE fleet_id = $1")
            .bind(fleet_id)
            .execute(&self.db.pool)
            .await?;
        Ok(())
    }

    /// Schedules one group for deletion (the master took an offer elsewhere).
    pub async fn release_placement_group(&self, id: &str) -> Result<()> {
        sqlx::query("UPDATE placement_groups SET fleet_deleted = 1 WHERE id = $1")
            .bind(id)
            .execute(&self.db.pool)
            .await?;
        Ok(())
    }

    /// Groups scheduled for deletion and not deleted yet.
    pub async fn placement_groups_to_delete(&self) -> Result<Vec<PlacementGroupRow>> {
        let sql = format!(
            "SELECT {COLUMNS} FROM placement_groups WHERE fleet_deleted = 1 AND deleted = 0"
        );
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql)).fetch_all(&self.db.pool).await?;
        rows.iter().map(row_of).collect()
    }

    pub async fn mark_placement_group_deleted(&self, id: &str) -> Result<()> {
        sqlx::query("UPDATE placement_groups SET deleted = 1 WHERE id = $1")
            .bind(id)
            .execute(&self.db.pool)
            .await?;
        Ok(())
    }
}
