//! The SSH public keys users add to their account (not secrets: stored as given).

use sqlx::Row;
use sqlx::any::AnyRow;

use super::{Result, Store, new_id, now_micros};
use crate::ssh::UserPublicKey;

/// A user's public key, as listed.
#[derive(Debug, Clone)]
pub struct PublicKeyRow {
    pub id: String,
    pub name: String,
    pub key_type: String,
    pub fingerprint: String,
    /// Microseconds since the Unix epoch.
    pub created_at: i64,
}

fn public_key_from_row(row: &AnyRow) -> Result<PublicKeyRow> {
    Ok(PublicKeyRow {
        id: row.try_get("id")?,
        name: row.try_get("name")?,
        key_type: row.try_get("type")?,
        fingerprint: row.try_get("fingerprint")?,
        created_at: row.try_get("created_at")?,
    })
}

impl Store {
    /// The user's keys, newest first.
    pub async fn public_keys(&self, user_id: &str) -> Result<Vec<PublicKeyRow>> {
        let rows = sqlx::query(
            "SELECT id, name, type, fingerprint, created_at FROM user_public_keys \
             WHERE user_id = $1 ORDER BY created_at DESC, id",
        )
        .bind(user_id)
        .fetch_all(&self.db.pool)
        .await?;
        rows.iter().map(public_key_from_row).collect()
    }

    /// Adds a key under `name`; [`super::StoreError::Exists`] when the user has one with the same
    /// fingerprint.
    pub async fn add_public_key(
        &self,
        user_id: &str,
        key: &UserPublicKey,
        name: &str,
    ) -> Result<PublicKeyRow> {
        let row = PublicKeyRow {
            id: new_id(),
            name: name.to_owned(),
            key_type: key.key_type.clone(),
            fingerprint: key.fingerprint.clone(),
            created_at: now_micros(),
        };
        sqlx::query(
            "INSERT INTO user_public_keys (id, user_id, name, type, fingerprint, key, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(&row.id)
        .bind(user_id)
        .bind(&row.name)
        .bind(&row.key_type)
        .bind(&row.fingerprint)
        .bind(&key.line)
        .bind(row.created_at)
        .execute(&self.db.pool)
        .await?;
        Ok(row)
    }

    /// Deletes those of the user's keys whose ids are given (others' keys and unknown ids are
    /// passed over, as dstack does) and returns how many went.
    pub async fn delete_public_keys(&self, user_id: &str, ids: &[String]) -> Result<u64> {
        let mut tx = self.db.pool.begin().await?;
        let mut deleted = 0;
        for id in ids {
            let done = sqlx::query("DELETE FROM user_public_keys WHERE user_id = $1 AND id = $2")
                .bind(user_id)
                .bind(id)
                .execute(&mut *tx)
                .await?;
            deleted += done.rows_affected();
        }
        tx.commit().await?;
        Ok(deleted)
    }
}
