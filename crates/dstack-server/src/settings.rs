//! Server settings: command-line flags and dstack's environment variables
//! (`DSTACK_SERVER_*`, `DSTACK_DATABASE_URL`, ...), flags winning over variables.

use std::path::PathBuf;
use std::time::Duration;

/// The version of dstack whose API this server speaks; clients newer than this are refused,
/// as dstack refuses them.
pub const DSTACK_VERSION: &str = "0.22.5";

/// Log output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Standard,
    Json,
}

/// dstack's `DSTACK_SERVER_EVENTS_TTL_SECONDS` default: 30 days.
pub const DEFAULT_EVENTS_TTL: Duration = Duration::from_secs(30 * 24 * 60 * 60);

#[derive(Debug, Clone)]
pub struct Settings {
    pub host: String,
    pub port: u16,
    pub server_dir: PathBuf,
    /// `DSTACK_DATABASE_URL`, or the SQLite database under `server_dir`.
    pub database_url: String,
    /// `DSTACK_DB_COMMAND_TIMEOUT` (default 300 s, `0` off): how long one statement may run
    /// on PostgreSQL before the database cancels it, as dstack bounds its operations.
    pub db_command_timeout: Option<Duration>,
    /// `DSTACK_SERVER_ADMIN_TOKEN` or `--token`: sets the admin's token.
    pub admin_token: Option<String>,
    pub config_disabled: bool,
    pub default_creds_enabled: bool,
    pub log_level: String,
    pub log_format: LogFormat,
    /// How long one backend's credential check may take when applying config.yml.
    pub backend_check_timeout: Duration,
    pub http: HttpLimits,
    /// The agent new instances run, and dstack's base image (`DSTACK_SHIM_*`, ...).
    pub agent: dstack_core::provisioning::AgentSettings,
    /// Backend API base URLs replacing the providers' (`DSTACK_<TYPE>_API_URL`).
    pub endpoints: dstack_backend_kit::Endpoints,
    /// The web UI's bundle (`DSTACK_SERVER_UI_DIR`, by default `ui/` in `server_dir`), kept
    /// beside the state so that one directory holds all a server serves; `cargo xtask ui`
    /// fills it.
    pub ui_dir: PathBuf,
    /// How instances are provisioned, watched and reached.
    pub fleets: crate::fleets::FleetSettings,
    /// How long events are kept (`DSTACK_SERVER_EVENTS_TTL_SECONDS`, 30 days); `None`: not
    /// recorded at all (`0`).
    pub events_ttl: Option<Duration>,
}

/// What one client may hold of the server, so that idle, slow or huge requests cannot starve
/// the others.
#[derive(Debug, Clone)]
pub struct HttpLimits {
    /// A connection that has not sent a whole request head within this long is closed. It
    /// covers new idle connections, slow headers and idle keep-alive connections alike (the
    /// timer runs whenever the server waits for a request).
    pub header_timeout: Duration,
    /// How long reading one request body may take (408 after that).
    pub body_timeout: Duration,
    /// The largest request body, in bytes (413 above it).
    pub max_body_bytes: usize,
    /// Connections served at once; further ones wait in the listen queue. Lowered at start to
    /// fit the open-files limit.
    pub max_connections: usize,
}

impl Default for HttpLimits {
    fn default() -> Self {
        HttpLimits {
            header_timeout: Duration::from_secs(10),
            body_timeout: Duration::from_secs(30),
            max_body_bytes: 2 * 1024 * 1024,
            max_connections: 10_000,
        }
    }
}

impl Settings {
    pub fn config_path(&self) -> PathBuf {
        self.server_dir.join("config.yml")
    }

    /// Settings for a server in `server_dir` with defaults, ignoring the environment (tests).
    pub fn for_dir(server_dir: PathBuf) -> Self {
        Settings {
            host: "127.0.0.1".to_owned(),
            port: 3000,
            database_url: crate::db::Db::sqlite_url(&server_dir),
            db_command_timeout: Some(crate::db::DEFAULT_COMMAND_TIMEOUT),
            ui_dir: server_dir.join("ui"),
            server_dir,
            admin_token: None,
            config_disabled: false,
            default_creds_enabled: true,
            log_level: "info".to_owned(),
            log_format: LogFormat::Standard,
            backend_check_timeout: Duration::from_secs(10),
            http: HttpLimits::default(),
            agent: Default::default(),
            endpoints: Default::default(),
            fleets: Default::default(),
            events_ttl: Some(DEFAULT_EVENTS_TTL),
        }
    }
}

/// Reads an environment variable, treating an empty value as unset.
pub fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}
