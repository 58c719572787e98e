//! Reading and writing the server's records. Secret columns are encrypted and decrypted here
//! and nowhere else: callers see [`Secret`]s.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use dstack_core::Secret;
use sha2::{Digest, Sha256};
use sqlx::Row;
use sqlx::any::AnyRow;

use crate::db::{Db, DbError};
use crate::encryption::{DecryptError, Keys};

/// A user's role on the whole server.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum GlobalRole {
    Admin,
    User,
}

/// A member's role in a project.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum ProjectRole {
    User,
    Manager,
    Admin,
}

impl GlobalRole {
    fn as_str(self) -> &'static str {
        match self {
            GlobalRole::Admin => "admin",
            GlobalRole::User => "user",
        }
    }

    fn parse(s: &str) -> Self {
        if s == "admin" { GlobalRole::Admin } else { GlobalRole::User }
    }
}

impl ProjectRole {
    pub fn as_str(self) -> &'static str {
        match self {
            ProjectRole::Admin => "admin",
            ProjectRole::Manager => "manager",
            ProjectRole::User => "user",
        }
    }

    fn parse(s: &str) -> Self {
        match s {
            "admin" => ProjectRole::Admin,
            "manager" => ProjectRole::Manager,
            _ => ProjectRole::User,
        }
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

/// A project as the project list shows it, with the caller's role in it.
#[derive(Debug, Clone)]
pub struct ListedProject {
    pub id: String,
    pub name: String,
    pub created_at: i64,
    pub is_public: bool,
    pub templates_repo: Option<String>,
    pub owner: PublicUser,
    pub role: Option<ProjectRole>,
}

#[derive(Debug, Clone)]
pub struct Project {
    pub id: String,
    pub name: String,
    pub owner_id: String,
    pub created_at: i64,
    pub is_public: bool,
    pub templates_repo: Option<String>,
    pub ssh_public_key: String,
    pub ssh_private_key: Secret,
}

#[derive(Debug, Clone)]
pub struct Member {
    pub user: User,
    pub role: ProjectRole,
}

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

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error(transparent)]
    Db(#[from] DbError),
    #[error("stored secret of {what}: {source}")]
    Decrypt { what: String, source: DecryptError },
}

impl From<sqlx::Error> for StoreError {
    fn from(err: sqlx::Error) -> Self {
        StoreError::Db(DbError::Sqlx(err))
    }
}

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// How long an authenticated user is remembered, so that each request does not cost a
/// database query. Bounded so that a change made by another server sharing the database is
/// seen soon.
const AUTH_CACHE_TTL: Duration = Duration::from_secs(10);

type AuthCache = HashMap<String, (Instant, User)>;

/// How long a user's project listing is reused. Writes through this server clear it at once;
/// the bound is for writes by other servers sharing a PostgreSQL database.
const LISTING_CACHE_TTL: Duration = Duration::from_secs(1);

type ListingCache = HashMap<String, (Instant, Arc<Vec<ListedProject>>)>;

/// The server's records.
#[derive(Debug, Clone)]
pub struct Store {
    pub db: Db,
    keys: Arc<RwLock<Keys>>,
    /// Token hash → user, for [`Store::user_by_token`].
    auth_cache: Arc<RwLock<AuthCache>>,
    /// User id → project listing, for [`Store::project_listing`].
    listing_cache: Arc<RwLock<ListingCache>>,
}

/// SHA-256 of a token, hex: how tokens are looked up.
pub fn token_hash(token: &str) -> String {
    Sha256::digest(token.as_bytes()).iter().map(|b| format!("{b:02x}")).collect()
}

pub fn now_micros() -> i64 {
    let now =
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
    now.as_micros() as i64
}

pub fn new_id() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// Columns of a user, in `user_from_row`'s terms.
macro_rules! user_columns {
    () => {
        "id, name, token, global_role, email, active, created_at, ssh_public_key, ssh_private_key"
    };
}

/// Columns of a project, in `project_from_row`'s terms.
macro_rules! project_columns {
    () => {
        "id, name, owner_id, created_at, is_public, templates_repo, ssh_public_key, ssh_private_key"
    };
}

impl Store {
    pub fn new(db: Db, keys: Keys) -> Self {
        Self {
            db,
            keys: Arc::new(RwLock::new(keys)),
            auth_cache: Arc::new(RwLock::new(HashMap::new())),
            listing_cache: Arc::new(RwLock::new(HashMap::new())),
        }
    }

    /// Replaces the encryption keys (config.yml reloaded).
    pub fn set_keys(&self, keys: Keys) {
        *self.keys.write().unwrap_or_else(|e| e.into_inner()) = keys;
        self.forget_users();
    }

    fn forget_users(&self) {
        self.auth_cache.write().unwrap_or_else(|e| e.into_inner()).clear();
        self.forget_listings();
    }

    fn forget_listings(&self) {
        self.listing_cache.write().unwrap_or_else(|e| e.into_inner()).clear();
    }

    fn encrypt(&self, secret: &Secret) -> String {
        self.keys.read().unwrap_or_else(|e| e.into_inner()).encrypt_secret(secret)
    }

    fn decrypt(&self, stored: &str) -> Result<Secret, DecryptError> {
        self.keys.read().unwrap_or_else(|e| e.into_inner()).decrypt(stored)
    }

    fn decrypt_for(&self, stored: &str, what: impl FnOnce() -> String) -> Result<Secret> {
        self.decrypt(stored).map_err(|source| StoreError::Decrypt { what: what(), source })
    }

    // ---- users ----

    fn user_from_row(&self, row: &AnyRow) -> Result<User> {
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
        let row =
            sqlx::query(concat!("SELECT ", user_columns!(), " FROM users WHERE token_hash = $1"))
                .bind(hash)
                .fetch_optional(&self.db.pool)
                .await?;
        row.map(|r| self.user_from_row(&r)).transpose()
    }

    pub async fn user_by_name(&self, name: &str) -> Result<Option<User>> {
        let row = sqlx::query(concat!("SELECT ", user_columns!(), " FROM users WHERE name = $1"))
            .bind(name)
            .fetch_optional(&self.db.pool)
            .await?;
        row.map(|r| self.user_from_row(&r)).transpose()
    }

    pub async fn users(&self) -> Result<Vec<User>> {
        let rows =
            sqlx::query(concat!("SELECT ", user_columns!(), " FROM users ORDER BY created_at"))
                .fetch_all(&self.db.pool)
                .await?;
        rows.iter().map(|r| self.user_from_row(r)).collect()
    }

    pub async fn user_by_id(&self, id: &str) -> Result<Option<User>> {
        let row = sqlx::query(concat!("SELECT ", user_columns!(), " FROM users WHERE id = $1"))
            .bind(id)
            .fetch_optional(&self.db.pool)
            .await?;
        row.map(|r| self.user_from_row(&r)).transpose()
    }

    // ---- projects ----

    fn project_from_row(&self, row: &AnyRow) -> Result<Project> {
        let name: String = row.try_get("name")?;
        Ok(Project {
            id: row.try_get("id")?,
            owner_id: row.try_get("owner_id")?,
            created_at: row.try_get("created_at")?,
            is_public: row.try_get::<i64, _>("is_public")? != 0,
            templates_repo: row.try_get("templates_repo")?,
            ssh_public_key: row.try_get("ssh_public_key")?,
            ssh_private_key: self
                .decrypt_for(&row.try_get::<String, _>("ssh_private_key")?, || {
                    format!("project `{name}` (SSH key)")
                })?,
            name,
        })
    }

    pub async fn insert_project(&self, project: &Project) -> Result<()> {
        sqlx::query(
            "INSERT INTO projects (id, name, owner_id, created_at, is_public, templates_repo, \
             ssh_public_key, ssh_private_key) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(&project.id)
        .bind(&project.name)
        .bind(&project.owner_id)
        .bind(project.created_at)
        .bind(i64::from(project.is_public))
        .bind(project.templates_repo.clone())
        .bind(&project.ssh_public_key)
        .bind(self.encrypt(&project.ssh_private_key))
        .execute(&self.db.pool)
        .await?;
        self.forget_listings();
        Ok(())
    }

    pub async fn project_by_name(&self, name: &str) -> Result<Option<Project>> {
        let row =
            sqlx::query(concat!("SELECT ", project_columns!(), " FROM projects WHERE name = $1"))
                .bind(name)
                .fetch_optional(&self.db.pool)
                .await?;
        row.map(|r| self.project_from_row(&r)).transpose()
    }

    /// All projects, newest first.
    pub async fn projects(&self) -> Result<Vec<Project>> {
        let rows = sqlx::query(concat!(
            "SELECT ",
            project_columns!(),
            " FROM projects ORDER BY created_at DESC, id DESC"
        ))
        .fetch_all(&self.db.pool)
        .await?;
        rows.iter().map(|r| self.project_from_row(r)).collect()
    }

    /// Every project with its owner and `user_id`'s role in it, newest first.
    pub async fn project_listing(&self, user_id: &str) -> Result<Arc<Vec<ListedProject>>> {
        {
            let cache = self.listing_cache.read().unwrap_or_else(|e| e.into_inner());
            if let Some((at, listing)) = cache.get(user_id)
                && at.elapsed() < LISTING_CACHE_TTL
            {
                return Ok(listing.clone());
            }
        }
        let listing = Arc::new(self.project_listing_uncached(user_id).await?);
        let mut cache = self.listing_cache.write().unwrap_or_else(|e| e.into_inner());
        cache.retain(|_, (at, _)| at.elapsed() < LISTING_CACHE_TTL);
        cache.insert(user_id.to_owned(), (Instant::now(), listing.clone()));
        Ok(listing)
    }

    /// One query, nothing decrypted.
    async fn project_listing_uncached(&self, user_id: &str) -> Result<Vec<ListedProject>> {
        let rows = sqlx::query(
            "SELECT p.id AS id, p.name AS name, p.created_at AS created_at, \
             p.is_public AS is_public, p.templates_repo AS templates_repo, \
             u.id AS owner_id, u.name AS owner_name, u.global_role AS owner_role, \
             u.email AS owner_email, u.active AS owner_active, \
             u.created_at AS owner_created_at, u.ssh_public_key AS owner_ssh_public_key, \
             m.project_role AS my_role \
             FROM projects p JOIN users u ON u.id = p.owner_id \
             LEFT JOIN members m ON m.project_id = p.id AND m.user_id = $1 \
             ORDER BY p.created_at DESC, p.id DESC",
        )
        .bind(user_id)
        .fetch_all(&self.db.pool)
        .await?;
        rows.iter()
            .map(|row| {
                Ok(ListedProject {
                    id: row.try_get("id")?,
                    name: row.try_get("name")?,
                    created_at: row.try_get("created_at")?,
                    is_public: row.try_get::<i64, _>("is_public")? != 0,
                    templates_repo: row.try_get("templates_repo")?,
                    owner: PublicUser {
                        id: row.try_get("owner_id")?,
                        name: row.try_get("owner_name")?,
                        global_role: GlobalRole::parse(&row.try_get::<String, _>("owner_role")?),
                        email: row.try_get("owner_email")?,
                        active: row.try_get::<i64, _>("owner_active")? != 0,
                        created_at: row.try_get("owner_created_at")?,
                        ssh_public_key: row.try_get("owner_ssh_public_key")?,
                    },
                    role: row
                        .try_get::<Option<String>, _>("my_role")?
                        .map(|r| ProjectRole::parse(&r)),
                })
            })
            .collect()
    }

    // ---- members ----

    /// Sets `user`'s role in `project`, adding the membership if needed.
    pub async fn set_member(
        &self,
        project_id: &str,
        user_id: &str,
        role: ProjectRole,
    ) -> Result<()> {
        let updated = sqlx::query(
            "UPDATE members SET project_role = $1 WHERE project_id = $2 AND user_id = $3",
        )
        .bind(role.as_str())
        .bind(project_id)
        .bind(user_id)
        .execute(&self.db.pool)
        .await?;
        if updated.rows_affected() == 0 {
            sqlx::query(
                "INSERT INTO members (project_id, user_id, project_role, member_num) \
                 SELECT $1, $2, $3, COALESCE(MAX(member_num), -1) + 1 FROM members \
                 WHERE project_id = $4",
            )
            .bind(project_id)
            .bind(user_id)
            .bind(role.as_str())
            .bind(project_id)
            .execute(&self.db.pool)
            .await?;
        }
        self.forget_listings();
        Ok(())
    }

    pub async fn members(&self, project_id: &str) -> Result<Vec<Member>> {
        let rows = sqlx::query(
            "SELECT m.project_role AS project_role, u.id AS id, u.name AS name, u.token AS token, \
             u.global_role AS global_role, u.email AS email, u.active AS active, \
             u.created_at AS created_at, u.ssh_public_key AS ssh_public_key, \
             u.ssh_private_key AS ssh_private_key \
             FROM members m JOIN users u ON u.id = m.user_id \
             WHERE m.project_id = $1 ORDER BY m.member_num",
        )
        .bind(project_id)
        .fetch_all(&self.db.pool)
        .await?;
        rows.iter()
            .map(|row| {
                Ok(Member {
                    role: ProjectRole::parse(&row.try_get::<String, _>("project_role")?),
                    user: self.user_from_row(row)?,
                })
            })
            .collect()
    }

    pub async fn member_role(
        &self,
        project_id: &str,
        user_id: &str,
    ) -> Result<Option<ProjectRole>> {
        let row =
            sqlx::query("SELECT project_role FROM members WHERE project_id = $1 AND user_id = $2")
                .bind(project_id)
                .bind(user_id)
                .fetch_optional(&self.db.pool)
                .await?;
        Ok(row
            .map(|r| r.try_get::<String, _>("project_role"))
            .transpose()?
            .map(|r| ProjectRole::parse(&r)))
    }

    // ---- backends ----

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
        let rows = sqlx::query(
            "SELECT id, project_id, type, config, auth, source_config, source_auth FROM backends \
             WHERE project_id = $1 ORDER BY type",
        )
        .bind(project_id)
        .fetch_all(&self.db.pool)
        .await?;
        rows.iter().map(|r| self.backend_from_row(r)).collect()
    }

    pub async fn backend(
        &self,
        project_id: &str,
        backend_type: &str,
    ) -> Result<Option<BackendRow>> {
        let row = sqlx::query(
            "SELECT id, project_id, type, config, auth, source_config, source_auth FROM backends \
             WHERE project_id = $1 AND type = $2",
        )
        .bind(project_id)
        .bind(backend_type)
        .fetch_optional(&self.db.pool)
        .await?;
        row.map(|r| self.backend_from_row(&r)).transpose()
    }

    /// Creates or replaces the backend of this type in the project.
    pub async fn put_backend(
        &self,
        project_id: &str,
        backend_type: &str,
        record: &dstack_core::BackendRecord,
        source_view: &str,
        source: &Secret,
    ) -> Result<()> {
        let auth = self.encrypt(&record.auth);
        let source = self.encrypt(source);
        let updated = sqlx::query(
            "UPDATE backends SET config = $1, auth = $2, source_config = $3, source_auth = $4 \
             WHERE project_id = $5 AND type = $6",
        )
        .bind(&record.config)
        .bind(&auth)
        .bind(source_view)
        .bind(&source)
        .bind(project_id)
        .bind(backend_type)
        .execute(&self.db.pool)
        .await?;
        if updated.rows_affected() == 0 {
            sqlx::query(
                "INSERT INTO backends (id, project_id, type, config, auth, source_config, \
                 source_auth) VALUES ($1, $2, $3, $4, $5, $6, $7)",
            )
            .bind(new_id())
            .bind(project_id)
            .bind(backend_type)
            .bind(&record.config)
            .bind(&auth)
            .bind(source_view)
            .bind(&source)
            .execute(&self.db.pool)
            .await?;
        }
        Ok(())
    }

    pub async fn delete_backend(&self, project_id: &str, backend_type: &str) -> Result<bool> {
        let deleted = sqlx::query("DELETE FROM backends WHERE project_id = $1 AND type = $2")
            .bind(project_id)
            .bind(backend_type)
            .execute(&self.db.pool)
            .await?;
        Ok(deleted.rows_affected() > 0)
    }
}
