//! Project secrets: values encrypted at rest, shown only through the secrets API.

use dstack_core::Secret;
use sqlx::Row;
use sqlx::any::AnyRow;

use super::{Result, Store, StoreError, new_id, now_micros};

/// A project secret.
#[derive(Debug, Clone)]
pub struct SecretRow {
    pub id: String,
    pub name: String,
    pub value: Secret,
}

impl Store {
    fn secret_from_row(&self, row: &AnyRow) -> Result<SecretRow> {
        let name: String = row.try_get("name")?;
        let value =
            self.decrypt_for(&row.try_get::<String, _>("value")?, || format!("secret `{name}`"))?;
        Ok(SecretRow { id: row.try_get("id")?, name, value })
    }

    /// The project's secrets, by name.
    pub async fn secrets(&self, project_id: &str) -> Result<Vec<SecretRow>> {
        let rows =
            sqlx::query("SELECT id, name, value FROM secrets WHERE project_id = $1 ORDER BY name")
                .bind(project_id)
                .fetch_all(&self.db.pool)
                .await?;
        rows.iter().map(|r| self.secret_from_row(r)).collect()
    }

    pub async fn secret(&self, project_id: &str, name: &str) -> Result<Option<SecretRow>> {
        let row =
            sqlx::query("SELECT id, name, value FROM secrets WHERE project_id = $1 AND name = $2")
                .bind(project_id)
                .bind(name)
                .fetch_optional(&self.db.pool)
                .await?;
        row.map(|r| self.secret_from_row(&r)).transpose()
    }

    /// Creates the secret or replaces its value (keeping its id), in one statement so that
    /// concurrent writers cannot create it twice.
    pub async fn put_secret(
        &self,
        project_id: &str,
        name: &str,
        value: &Secret,
    ) -> Result<SecretRow> {
        let now = now_micros();
        sqlx::query(
            "INSERT INTO secrets (id, project_id, name, value, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6) \
             ON CONFLICT (project_id, name) DO UPDATE SET value = excluded.value, \
             updated_at = excluded.updated_at",
        )
        .bind(new_id())
        .bind(project_id)
        .bind(name)
        .bind(self.encrypt(value))
        .bind(now)
        .bind(now)
        .execute(&self.db.pool)
        .await?;
        self.secret(project_id, name).await?.ok_or(StoreError::Gone)
    }

    /// Deletes the named secrets in one transaction. If some do not exist, nothing is deleted
    /// and their names are returned.
    pub async fn delete_secrets(
        &self,
        project_id: &str,
        names: &[String],
    ) -> Result<Result<(), Vec<String>>> {
        let mut tx = self.db.pool.begin().await?;
        let mut missing = Vec::new();
        let mut seen = std::collections::HashSet::new();
        for name in names.iter().filter(|n| seen.insert(n.as_str())) {
            let done = sqlx::query("DELETE FROM secrets WHERE project_id = $1 AND name = $2")
                .bind(project_id)
                .bind(name)
                .execute(&mut *tx)
                .await?;
            if done.rows_affected() == 0 {
                missing.push(name.clone());
            }
        }
        if !missing.is_empty() {
            tx.rollback().await?;
            return Ok(Err(missing));
        }
        tx.commit().await?;
        Ok(Ok(()))
    }
}
