//! The database: SQLite at `$DSTACK_SERVER_DIR/data/sqlite.db` by default, PostgreSQL when
//! `DSTACK_DATABASE_URL` is a `postgres://` URL. Queries are written once, with `$N`
//! placeholders, against sqlx's `Any` driver; migrations are embedded, one set per database.

use std::path::Path;
use std::time::Duration;

use sqlx::any::{AnyPoolOptions, install_default_drivers};
use sqlx::{AnyPool, Row};

/// dstack's `DSTACK_DB_COMMAND_TIMEOUT` default.
pub const DEFAULT_COMMAND_TIMEOUT: Duration = Duration::from_secs(300);

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
    /// The directory of a SQLite database file, locked while a server starts.
    sqlite_dir: Option<std::path::PathBuf>,
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
    #[error(
        "the database file {0} is empty (0 bytes), so it holds none of the server's state; \
         restore it from a backup (or its Litestream replica), or move it away to start with a \
         new database"
    )]
    Empty(String),
    #[error(
        "the database file {path} cannot be read: {reason}. Restore it from a backup (or its \
         Litestream replica), or move it away to start with a new database"
    )]
    Unreadable { path: String, reason: String },
    #[error("cannot take the start-up lock on {path}: {source}")]
    Lock { path: String, source: std::io::Error },
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

    /// Connects, refuses a database written by dstack's Python server, and migrates. Servers
    /// opening one SQLite file at the same moment take turns (a lock on its directory); an
    /// empty or unreadable file is refused, never replaced.
    pub async fn open(url: &str) -> Result<Db, DbError> {
        Self::open_with(url, Some(DEFAULT_COMMAND_TIMEOUT)).await
    }

    /// [`Db::open`], with PostgreSQL statements cancelled after `command_timeout` (`None`:
    /// never). SQLite has no such bound; its statements are local.
    pub async fn open_with(url: &str, command_timeout: Option<Duration>) -> Result<Db, DbError> {
        install_default_drivers();
        let kind = if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            DbKind::Postgres
        } else if url.starts_with("sqlite:") {
            DbKind::Sqlite
        } else {
            return Err(DbError::UnsupportedUrl(redact_url(url)));
        };
        let sqlite_file = if kind == DbKind::Sqlite { sqlite_path(url) } else { None };
        let Some(file) = sqlite_file else {
            return Self::connect(url, kind, None, command_timeout).await;
        };
        let file = std::path::PathBuf::from(file);
        let dir = file.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
        std::fs::create_dir_all(dir)
            .map_err(|source| DbError::DataDir { path: dir.display().to_string(), source })?;
        let _lock = lock_dir(dir).await?;
        if std::fs::metadata(&file).is_ok_and(|m| m.len() == 0) {
            return Err(DbError::Empty(file.display().to_string()));
        }
        Self::connect(url, kind, Some(dir.to_owned()), None).await.map_err(|err| match err {
            DbError::Sqlx(err) | DbError::Migrate(sqlx::migrate::MigrateError::Execute(err))
                if is_unreadable(&err) =>
            {
                DbError::Unreadable { path: file.display().to_string(), reason: err.to_string() }
            }
            other => other,
        })
    }

    async fn connect(
        url: &str,
        kind: DbKind,
        sqlite_dir: Option<std::path::PathBuf>,
        command_timeout: Option<Duration>,
    ) -> Result<Db, DbError> {
        let max_connections = if kind == DbKind::Sqlite { 4 } else { 10 };
        let mut options = AnyPoolOptions::new().max_connections(max_connections);
        if let (DbKind::Postgres, Some(timeout)) = (kind, command_timeout) {
            // asyncpg's `command_timeout` in dstack; here the database enforces it.
            let millis = timeout.as_millis().max(1);
            options = options.after_connect(move |conn, _| {
                Box::pin(async move {
                    let set = format!("SET statement_timeout = {millis}");
                    sqlx::Executor::execute(conn, sqlx::AssertSqlSafe(set)).await.map(drop)
                })
            });
        }
        let pool = options.connect(url).await?;
        let db = Db { pool, kind, sqlite_dir };
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
    /// database do not both create the admin user or the default project: an advisory lock
    /// on PostgreSQL, a lock on the database's directory for SQLite.
    pub async fn with_startup_lock<T, E, F>(&self, f: F) -> Result<T, E>
    where
        E: From<DbError>,
        F: AsyncFnOnce() -> Result<T, E>,
    {
        if self.kind != DbKind::Postgres {
            let _lock = match &self.sqlite_dir {
                Some(dir) => Some(lock_dir(dir).await.map_err(E::from)?),
                None => None,
            };
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

/// Takes an exclusive lock on a directory (released when the returned handle is dropped),
/// waiting for another process that holds it.
async fn lock_dir(dir: &Path) -> Result<std::fs::File, DbError> {
    let dir = dir.to_owned();
    let shown = dir.display().to_string();
    tokio::task::spawn_blocking(move || {
        let handle = std::fs::File::open(&dir)?;
        handle.lock()?;
        Ok(handle)
    })
    .await
    .map_err(|e| DbError::Lock { path: shown.clone(), source: std::io::Error::other(e) })?
    .map_err(|source| DbError::Lock { path: shown, source })
}

/// SQLite's "not a database" (26) and "corrupt" (11) codes, extended codes included.
fn is_unreadable(err: &sqlx::Error) -> bool {
    let sqlx::Error::Database(db) = err else { return false };
    db.code()
        .and_then(|code| code.parse::<i32>().ok())
        .is_some_and(|code| matches!(code & 0xff, 11 | 26))
}

#[cfg(test)]
impl Db {
    async fn open_owned(url: String) -> Result<Db, DbError> {
        Db::open(&url).await
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
    async fn an_empty_database_file_is_refused_not_replaced() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("data")).unwrap();
        let file = dir.path().join("data/sqlite.db");
        std::fs::write(&file, "").unwrap();
        let err = Db::open(&Db::sqlite_url(dir.path())).await.unwrap_err();
        assert!(matches!(err, DbError::Empty(_)), "{err}");
        let message = err.to_string();
        assert!(message.contains(&file.display().to_string()), "{message}");
        assert!(message.contains("restore it from a backup"), "{message}");
        assert_eq!(std::fs::metadata(&file).unwrap().len(), 0, "left as it was");
    }

    #[tokio::test]
    async fn a_corrupt_database_file_is_named() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("data")).unwrap();
        let file = dir.path().join("data/sqlite.db");
        std::fs::write(&file, vec![0x5a_u8; 8192]).unwrap();
        let err = Db::open(&Db::sqlite_url(dir.path())).await.unwrap_err();
        let message = err.to_string();
        assert!(matches!(err, DbError::Unreadable { .. }), "{message}");
        assert!(message.contains(&file.display().to_string()), "{message}");
        assert!(message.contains("move it away"), "{message}");
    }

    #[tokio::test]
    async fn servers_opening_a_new_database_together_take_turns() {
        let dir = tempfile::tempdir().unwrap();
        let url = Db::sqlite_url(dir.path());
        let opens: Vec<_> = (0..6).map(|_| tokio::spawn(Db::open_owned(url.clone()))).collect();
        for open in opens {
            open.await.unwrap().unwrap();
        }
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
