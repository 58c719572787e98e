//! A project's backends: the configurator's record (non-secret `config`, secret `auth`) and
//! the config as the user gave it (`source_config`, secret `source_auth`).

use dstack_core::{BackendRecord, Secret};
use sqlx::Row;
use sqlx::any::AnyRow;

use super::{Result, Store, StoreError, new_id};
use crate::encryption::DecryptError;

/// A stored backend. `auth` and `source` are secret; `config` and `source_view` are the
/// non-secret views.
#[derive(Debug, Clone)]
pub struct BackendRow {
    pub id: String,
    pub project_id: String,
    pub backend_type: String,
    pub config: String,
    pub auth: Result<Secret, DecryptError>,
    pub source_view: Option<String>,
    pub source: Option<Result<Secret, DecryptError>>,
}

/// What is written for a backend: the configurator's record and the user's config.
#[derive(Debug)]
pub struct BackendWrite<'a> {
    pub record: &'a BackendRecord,
    /// The user's config without credentials (JSON).
    pub source_view: &'a str,
    /// The user's config with credentials (JSON).
    pub source: &'a Secret,
}

const COLUMNS: &str = "id, project_id, type, config, auth, source_config, source_auth";

impl Store {
    fn backend_from_row(&self, row: &AnyRow) -> Result<BackendRow> {
        let source: Option<String> = row.try_get("source_auth")?;
        Ok(BackendRow {
            id: row.try_get("id")?,
            project_id: row.try_get("project_id")?,
            backend_type: row.try_get("type")?,
            config: row.try_get("config")?,
            auth: self.decrypt(&row.try_get::<String, _>("auth")?),
            source_view: row.try_get("source_config")?,
            source: source.map(|s| self.decrypt(&s)),
        })
    }

    pub async fn backends(&self, project_id: &str) -> Result<Vec<BackendRow>> {
        let sql = format!("SELECT {COLUMNS} FROM backends WHERE project_id = $1 ORDER BY type");
        let rows =
            sqlx::query(sqlx::AssertSqlSafe(sql)).bind(project_id).fetch_all(&self.db.pool).await?;
        rows.iter().map(|r| self.backend_from_row(r)).collect()
    }

    pub async fn backend(
        &self,
        project_id: &str,
        backend_type: &str,
    ) -> Result<Option<BackendRow>> {
        let sql = format!("SELECT {COLUMNS} FROM backends WHERE project_id = $1 AND type = $2");
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(project_id)
            .bind(backend_type)
            .fetch_optional(&self.db.pool)
            .await?;
        row.map(|r| self.backend_from_row(&r)).transpose()
    }

    /// Adds the project's backend of this type; [`StoreError::Exists`] when there is one
    /// (the unique index on project and type decides between concurrent creates).
    pub async fn insert_backend(
        &self,
        project_id: &str,
        backend_type: &str,
        write: &BackendWrite<'_>,
    ) -> Result<()> {
        sqlx::query(
            "INSERT INTO backends (id, project_id, type, config, auth, source_config, \
             source_auth) VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(new_id())
        .bind(project_id)
        .bind(backend_type)
        .bind(&write.record.config)
        .bind(self.encrypt(&write.record.auth))
        .bind(write.source_view)
        .bind(self.encrypt(write.source))
        .execute(&self.db.pool)
        .await?;
        Ok(())
    }

    /// Replaces the backend row `id` that the caller read; [`StoreError::Gone`] when it was
    /// deleted meanwhile, so that an update racing a delete never brings the backend back.
    pub async fn update_backend(&self, id: &str, write: &BackendWrite<'_>) -> Result<()> {
        let updated = sqlx::query(
            "UPDATE backends SET config = $1, auth = $2, source_config = $3, source_auth = $4 \
             WHERE id = $5",
        )
        .bind(&write.record.config)
        .bind(self.encrypt(&write.record.auth))
        .bind(write.source_view)
        .bind(self.encrypt(write.source))
        .bind(id)
        .execute(&self.db.pool)
        .await?;
        if updated.rows_affected() == 0 {
            return Err(StoreError::Gone);
        }
        Ok(())
    }

    /// Deletes the named backends of a project in one transaction; returns how many existed.
    pub async fn delete_backends(&self, project_id: &str, backend_types: &[&str]) -> Result<u64> {
        let mut tx = self.db.pool.begin().await?;
        let mut deleted = 0;
        for backend_type in backend_types {
            deleted += sqlx::query("DELETE FROM backends WHERE project_id = $1 AND type = $2")
                .bind(project_id)
                .bind(*backend_type)
                .execute(&mut *tx)
                .await?
                .rows_affected();
        }
        tx.commit().await?;
        Ok(deleted)
    }
}
