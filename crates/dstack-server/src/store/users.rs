//! Users: their tokens (looked up by hash, kept encrypted) and SSH keys.

use std::time::Instant;

use dstack_core::Secret;
use sqlx::Row;
use sqlx::any::AnyRow;

use super::{AUTH_CACHE_TTL, Result, Store, token_hash};

/// A user's role on the whole server.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize, schemars::JsonSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum GlobalRole {
    Admin,
    User,
}

impl GlobalRole {
    pub(super) fn as_str(self) -> &'static str {
        match self {
            GlobalRole::Admin => "admin",
            GlobalRole::User => "user",
        }
    }

    pub(super) fn parse(s: &str) -> Self {
        if s == "admin" { GlobalRole::Admin } else { GlobalRole::User }
    }
}

#[derive(Debug, Clone)]
pub struct User {
    pub id: String,
    pub name: String,
    pub token: Secret,
    pub global_role: GlobalRole,
    pub email: Option<String>,
    pub active: bool,
    /// Microseconds since the Unix epoch.
    pub created_at: i64,
    pub ssh_public_key: String,
    pub ssh_private_key: Secret,
}

/// What anyone may see of a user: no token, no private key.
#[derive(Debug, Clone)]
pub struct PublicUser {
    pub id: String,
    pub name: String,
    pub global_role: GlobalRole,
    pub email: Option<String>,
    pub active: bool,
    pub created_at: i64,
    pub ssh_public_key: String,
}

impl User {
    pub fn public(&self) -> PublicUser {
        PublicUser {
            id: self.id.clone(),
            name: self.name.clone(),
            global_role: self.global_role,
            email: self.email.clone(),
            active: self.active,
            created_at: self.created_at,
            ssh_public_key: self.ssh_public_key.clone(),
        }
    }
}

/// Columns of a user, in `user_from_row`'s terms.
macro_rules! user_columns {
    () => {
        "id, name, token, global_role, email, active, created_at, ssh_public_key, ssh_private_key"
    };
}

impl Store {
    pub(super) fn user_from_row(&self, row: &AnyRow) -> Result<User> {
        let name: String = row.try_get("name")?;
        Ok(User {
            id: row.try_get("id")?,
            token: self.decrypt_for(&row.try_get::<String, _>("token")?, || {
                format!("user `{name}` (token)")
            })?,
            ssh_private_key: self
                .decrypt_for(&row.try_get::<String, _>("ssh_private_key")?, || {
                    format!("user `{name}` (SSH key)")
                })?,
            global_role: GlobalRole::parse(&row.try_get::<String, _>("global_role")?),
            email: row.try_get("email")?,
            active: row.try_get::<i64, _>("active")? != 0,
            created_at: row.try_get("created_at")?,
            ssh_public_key: row.try_get("ssh_public_key")?,
            name,
        })
    }

    /// Inserts a new user; [`super::StoreError::Exists`] when the name is taken.
    pub async fn insert_user(&self, user: &User) -> Result<()> {
        sqlx::query(
            "INSERT INTO users (id, name, token_hash, token, global_role, email, active, \
             created_at, ssh_public_key, ssh_private_key) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
        )
        .bind(&user.id)
        .bind(&user.name)
        .bind(token_hash(user.token.expose()))
        .bind(self.encrypt(&user.token))
        .bind(user.global_role.as_str())
        .bind(user.email.clone())
        .bind(i64::from(user.active))
        .bind(user.created_at)
        .bind(&user.ssh_public_key)
        .bind(self.encrypt(&user.ssh_private_key))
        .execute(&self.db.pool)
        .await?;
        self.forget_users();
        Ok(())
    }

    pub async fn set_user_token(&self, user_id: &str, token: &Secret) -> Result<()> {
        sqlx::query("UPDATE users SET token_hash = $1, token = $2 WHERE id = $3")
            .bind(token_hash(token.expose()))
            .bind(self.encrypt(token))
            .bind(user_id)
            .execute(&self.db.pool)
            .await?;
        self.forget_users();
        Ok(())
    }

    pub async fn user_by_token(&self, token: &str) -> Result<Option<User>> {
        let hash = token_hash(token);
        {
            let cache = self.auth_cache.read().unwrap_or_else(|e| e.into_inner());
            if let Some((at, user)) = cache.get(&hash)
                && at.elapsed() < AUTH_CACHE_TTL
            {
                return Ok(Some(user.clone()));
            }
        }
        let user = self.user_by_token_uncached(&hash).await?;
        if let Some(user) = &user {
            let mut cache = self.auth_cache.write().unwrap_or_else(|e| e.into_inner());
            cache.retain(|_, (at, _)| at.elapsed() < AUTH_CACHE_TTL);
            cache.insert(hash, (Instant::now(), user.clone()));
        }
        Ok(user)
    }

    async fn user_by_token_uncached(&self, hash: &str) -> Result<Option<User>> {
        let row = sqlx::query(concat!(
            "SELECT ",
            user_columns!(),
            " FROM users WHERE token_hash = $1 AND deleted = 0"
        ))
        .bind(hash)
        .fetch_optional(&self.db.pool)
        .await?;
        row.map(|r| self.user_from_row(&r)).transpose()
    }

    pub async fn user_by_name(&self, name: &str) -> Result<Option<User>> {
        let row = sqlx::query(concat!(
            "SELECT ",
            user_columns!(),
            " FROM users WHERE name = $1 AND deleted = 0"
        ))
        .bind(name)
        .fetch_optional(&self.db.pool)
        .await?;
        row.map(|r| self.user_from_row(&r)).transpose()
    }

    /// The user named `name`, else the one whose email it is (how dstack finds members).
    pub async fn user_by_name_or_email(&self, name: &str) -> Result<Option<User>> {
        if let Some(user) = self.user_by_name(name).await? {
            return Ok(Some(user));
        }
        let row = sqlx::query(concat!(
            "SELECT ",
            user_columns!(),
            " FROM users WHERE email = $1 AND deleted = 0 ORDER BY created_at, id"
        ))
        .bind(name)
        .fetch_optional(&self.db.pool)
        .await?;
        row.map(|r| self.user_from_row(&r)).transpose()
    }

    /// Whether a user (not deleted) has this name in any case.
    pub async fn username_taken(&self, name: &str) -> Result<bool> {
        let row = sqlx::query("SELECT id FROM users WHERE lower(name) = lower($1) AND deleted = 0")
            .bind(name)
            .fetch_optional(&self.db.pool)
            .await?;
        Ok(row.is_some())
    }

    pub async fn users(&self) -> Result<Vec<User>> {
        let rows = sqlx::query(concat!(
            "SELECT ",
            user_columns!(),
            " FROM users WHERE deleted = 0 ORDER BY created_at DESC, id"
        ))
        .fetch_all(&self.db.pool)
        .await?;
        rows.iter().map(|r| self.user_from_row(r)).collect()
    }

    /// Sets a user's role, email and whether they may log in; `None` if there is no such
    /// user. Their cached logins are dropped at once.
    pub async fn update_user(
        &self,
        name: &str,
        role: GlobalRole,
        email: Option<&str>,
        active: bool,
    ) -> Result<Option<User>> {
        let done = sqlx::query(
            "UPDATE users SET global_role = $1, email = $2, active = $3 \
             WHERE name = $4 AND deleted = 0",
        )
        .bind(role.as_str())
        .bind(email.map(str::to_owned))
        .bind(i64::from(active))
        .bind(name)
        .execute(&self.db.pool)
        .await?;
        self.forget_users();
        if done.rows_affected() == 0 {
            return Ok(None);
        }
        self.user_by_name(name).await
    }

    pub async fn set_user_ssh_key(
        &self,
        user_id: &str,
        public: &str,
        private: &Secret,
    ) -> Result<()> {
        sqlx::query("UPDATE users SET ssh_public_key = $1, ssh_private_key = $2 WHERE id = $3")
            .bind(public)
            .bind(self.encrypt(private))
            .bind(user_id)
            .execute(&self.db.pool)
            .await?;
        self.forget_users();
        Ok(())
    }

    /// Deletes users as dstack does, in one transaction: each is marked deleted and inactive,
    /// renamed `_deleted_<time>_<random>` (its name is free again) and leaves its projects.
    /// [`super::StoreError::Gone`] if any of them does not exist; then nothing is changed.
    pub async fn delete_users(&self, names: &[String]) -> Result<()> {
        let mut tx = self.db.pool.begin().await?;
        let stamp = super::now_micros() / 1_000_000;
        for name in names {
            let renamed = format!("_deleted_{stamp}_{}", &super::new_id().replace('-', "")[..16]);
            let done = sqlx::query(
                "UPDATE users SET deleted = 1, active = 0, original_name = name, name = $1 \
                 WHERE name = $2 AND deleted = 0",
            )
            .bind(&renamed)
            .bind(name)
            .execute(&mut *tx)
            .await?;
            if done.rows_affected() == 0 {
                return Err(super::StoreError::Gone);
            }
            sqlx::query(
                "DELETE FROM members WHERE user_id = (SELECT id FROM users WHERE name = $1)",
            )
            .bind(&renamed)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        self.forget_users();
        Ok(())
    }

    pub async fn user_by_id(&self, id: &str) -> Result<Option<User>> {
        let row = sqlx::query(concat!("SELECT ", user_columns!(), " FROM users WHERE id = $1"))
            .bind(id)
            .fetch_optional(&self.db.pool)
            .await?;
        row.map(|r| self.user_from_row(&r)).transpose()
    }
}
