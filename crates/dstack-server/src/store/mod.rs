//! Reading and writing the server's records, one file per entity. Secret columns are
//! encrypted and decrypted here and nowhere else: callers see [`Secret`]s.
//!
//! Writes that touch several rows run in one transaction, and uniqueness (user names, project
//! names, one backend per type and project, one membership per user and project) is enforced
//! by the database's unique indexes: a write that loses a race answers
//! [`StoreError::Exists`], never a silent overwrite.

mod backends;
mod events;
mod fleets;
mod instances;
mod placement_groups;
mod projects;
mod public_keys;
mod secrets;
mod users;

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use dstack_core::Secret;
use sha2::{Digest, Sha256};
use sqlx::Row;

pub use self::backends::{BackendRow, BackendWrite};
pub use self::events::{EventRow, EventTarget, NewEvent, StoredTarget};
pub use self::fleets::{FleetRow, status as fleet_status};
pub use self::instances::{
    Claim, InstanceRow, InstanceUpdate, NewInstance, status as instance_status,
};
pub use self::placement_groups::PlacementGroupRow;
pub use self::projects::{ListedProject, Member, Project, ProjectRole};
pub use self::public_keys::PublicKeyRow;
pub use self::secrets::SecretRow;
pub use self::users::{GlobalRole, PublicUser, User};
use crate::db::{Db, DbError};
use crate::encryption::{DecryptError, Keys};

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error(transparent)]
    Db(#[from] DbError),
    #[error("stored secret of {what}: {source}")]
    Decrypt { what: String, source: DecryptError },
    /// A unique index refused the write: the row exists (perhaps created a moment ago by a
    /// concurrent request).
    #[error("the record exists")]
    Exists,
    /// The row a conditional write was based on is gone (deleted concurrently).
    #[error("the record no longer exists")]
    Gone,
}

impl From<sqlx::Error> for StoreError {
    fn from(err: sqlx::Error) -> Self {
        match &err {
            sqlx::Error::Database(db) if db.is_unique_violation() => StoreError::Exists,
            _ => StoreError::Db(DbError::Sqlx(err)),
        }
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

/// Every encrypted column: table, a column naming the row in messages, the secret column.
const SECRET_COLUMNS: &[(&str, &str, &str)] = &[
    ("users", "name", "token"),
    ("users", "name", "ssh_private_key"),
    ("projects", "name", "ssh_private_key"),
    ("backends", "type", "auth"),
    ("backends", "type", "source_auth"),
    ("secrets", "name", "value"),
];

impl Store {
    pub fn new(db: Db, keys: Keys) -> Self {
        Self {
            db,
            keys: Arc::new(RwLock::new(keys)),
            auth_cache: Arc::new(RwLock::new(HashMap::new())),
            listing_cache: Arc::new(RwLock::new(HashMap::new())),
        }
    }

    /// Replaces the encryption keys (config.yml reloaded). Check them first with
    /// [`Store::check_keys`].
    pub fn set_keys(&self, keys: Keys) {
        *self.keys.write().unwrap_or_else(|e| e.into_inner()) = keys;
        self.forget_users();
    }

    /// Decrypts every stored secret with `keys`, without keeping anything: the check that
    /// new keys can take over before they replace the running ones (and at start-up).
    pub async fn check_keys(&self, keys: &Keys) -> Result<()> {
        for (table, label, column) in SECRET_COLUMNS {
            let sql = format!("SELECT {label} AS label, {column} AS secret FROM {table}");
            let rows = sqlx::query(sqlx::AssertSqlSafe(sql)).fetch_all(&self.db.pool).await?;
            for row in rows {
                let Some(stored) = row.try_get::<Option<String>, _>("secret")? else { continue };
                let label: String = row.try_get("label")?;
                keys.decrypt(&stored).map_err(|source| StoreError::Decrypt {
                    what: format!("{table} `{label}` ({column})"),
                    source,
                })?;
            }
        }
        Ok(())
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
}
