//! The database: SQLite at `$DSTACK_SERVER_DIR/data/sqlite.db` by default, PostgreSQL when
//! `DSTACK_DATABASE_URL` is a `postgres://` URL. Queries are written once, with `$N`
//! placeholders, against sqlx's `Any` driver; migrations are embedded, one set per database.

use std::path::Path;

use sqlx::any::{AnyPoolOptions, install_default_drivers};
use sqlx::{AnyPool, Row};

/// Which database a pool talks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DbKind {
    Sqlite,
    Postgres,
}

/// The pool and what it is connected to.
#[derive(Debug, Clone)]
pub struct Db {
    pub pool: AnyPool,
    pub kind: DbKind,
}

/// Why the database cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error("unsupported database URL `{0}`: use postgres://... or sqlite://...")]
    UnsupportedUrl(String),
    #[error("cannot create the data directory {path}: {source}")]
    DataDir { path: String, source: std::io::Error },
    #[error(
        "the database at {0} was created by dstack's Python server; this server keeps its own \
         schema. Point DSTACK_SERVER_DIR or DSTACK_DATABASE_URL at a new location"
    )]
    ForeignSchema(String),
    #[error("database error: {0}")]
    Sqlx(#[from] sqlx::Error),
    #[error("database migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
}

/// A key for `pg_advisory_lock` that serializes start-up of servers sharing one database.
const STARTUP_LOCK: i64 = 0x6473_7461_636b; // "dstack"

impl Db {
    /// The default SQLite database of a server directory.
    pub fn sqlite_url(server_dir: &Path) -> String {
        format!("sqlite://{}?mode=rwc", server_dir.join("data").join("sqlite.db").display())
    }

    /// Connects, refuses a database written by dstack's Python server, and migrates.
    pub async fn open(url: &str) -> Result<Db, DbError> {
        install_default_drivers();
        let kind = if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            DbKind::Postgres
        } else if url.starts_with("sqlite:") {
            DbKind::Sqlite
        } else {
            return Err(DbError::UnsupportedUrl(redact_url(url)));
        };
        if kind == DbKind::Sqlite
            && let Some(path) = sqlite_path(url)
            && let Some(dir) = Path::new(&path).parent().filter(|d| !d.as_os_str().is_empty())
        {
            std::fs::create_dir_all(dir)
                .map_err(|source| DbError::DataDir { path: dir.display().to_string(), source })?;
        }
        let max_connections = if kind == DbKind::Sqlite { 4 } else { 10 };
        let pool = AnyPoolOptions::new().max_connections(max_connections).connect(url).await?;
        let db = Db { pool, kind };
        if db.has_table("alembic_version").await? {
            return Err(DbError::ForeignSchema(redact_url(url)));
        }
        if kind == DbKind::Sqlite {
            sqlx::query("PRAGMA journal_mode=WAL").execute(&db.pool).await?;
        }
        match kind {
            DbKind::Sqlite => sqlx::migrate!("migrations/sqlite").run(&db.pool).await?,
            DbKind::Postgres => sqlx::migrate!("migrations/postgres").run(&db.pool).await?,
        }
        Ok(db)
    }

    async fn has_table(&self, name: &str) -> Result<bool, sqlx::Error> {
        let query = match self.kind {
            DbKind::Sqlite => {
                "SELECT COUNT(*) AS n FROM sqlite_master WHERE type = 'table' AND name = $1"
            }
            DbKind::Postgres => {
                "SELECT COUNT(*) AS n FROM information_schema.tables WHERE table_name = $1"
            }
        };
        let row = sqlx::query(query).bind(name).fetch_one(&self.pool).await?;
        Ok(row.try_get::<i64, _>("n")? > 0)
    }

    /// Runs `f` while holding the start-up lock, so that two servers starting on one
    /// PostgreSQL database do not both create the admin user or the default project. SQLite
    /// needs no lock: its writes are serialized.
    pub async fn with_startup_lock<T, E, F>(&self, f: F) -> Result<T, E>
    where
        E: From<DbError>,
        F: AsyncFnOnce() -> Result<T, E>,
    {
        if self.kind != DbKind::Postgres {
            return f().await;
        }
        let lock = async |sql: &str, conn: &mut sqlx::AnyConnection| -> Result<(), E> {
            sqlx::query(sqlx::AssertSqlSafe(sql))
                .bind(STARTUP_LOCK)
                .execute(conn)
                .await
                .map_err(|e| E::from(DbError::Sqlx(e)))?;
            Ok(())
        };
        let mut conn = self.pool.acquire().await.map_err(|e| E::from(DbError::Sqlx(e)))?;
        lock("SELECT pg_advisory_lock($1)", &mut conn).await?;
        let result = f().await;
        lock("SELECT pg_advisory_unlock($1)", &mut conn).await?;
        result
    }
}

fn sqlite_path(url: &str) -> Option<String> {
    let rest = url.strip_prefix("sqlite://").or_else(|| url.strip_prefix("sqlite:"))?;
    let path = rest.split('?').next()?;
    (!path.is_empty() && path != ":memory:").then(|| path.to_owned())
}

/// A database URL without its password, for messages.
pub fn redact_url(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme_end), Some(at)) if at > scheme_end => {
            let credentials = &url[scheme_end + 3..at];
            match credentials.split_once(':') {
                Some((user, _)) => format!("{}{user}:***{}", &url[..scheme_end + 3], &url[at..]),
                None => url.to_owned(),
            }
        }
        _ => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_are_redacted() {
        assert_eq!(
            redact_url("postgres://dstack:hunter2@127.0.0.1:5432/db"),
            "postgres://dstack:***@127.0.0.1:5432/db"
        );
        assert_eq!(redact_url("sqlite:///tmp/x.db"), "sqlite:///tmp/x.db");
    }

    #[tokio::test]
    async fn refuses_a_database_of_dstacks_python_server() {
        let dir = tempfile::tempdir().unwrap();
        let url = Db::sqlite_url(dir.path());
        std::fs::create_dir_all(dir.path().join("data")).unwrap();
        install_default_drivers();
        let pool = AnyPoolOptions::new().connect(&url).await.unwrap();
        sqlx::query("CREATE TABLE alembic_version (version_num VARCHAR(32) NOT NULL)")
            .execute(&pool)
            .await
            .unwrap();
        pool.close().await;
        let err = Db::open(&url).await.unwrap_err();
        assert!(matches!(err, DbError::ForeignSchema(_)), "{err}");
        assert!(err.to_string().contains("dstack's Python server"));
    }

    #[tokio::test]
    async fn sqlite_database_is_created_under_data() {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::open(&Db::sqlite_url(dir.path())).await.unwrap();
        assert!(dir.path().join("data/sqlite.db").exists());
        assert!(db.has_table("users").await.unwrap());
        // Opening again runs no migration twice.
        drop(db);
        Db::open(&Db::sqlite_url(dir.path())).await.unwrap();
    }
}
