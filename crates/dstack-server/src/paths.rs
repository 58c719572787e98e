//! Where the server keeps its files, from the same environment variables as dstack's server.

use std::path::PathBuf;

/// `$DSTACK_SERVER_DIR`, by default `~/.dstack/server`.
pub fn server_dir() -> PathBuf {
    match std::env::var_os("DSTACK_SERVER_DIR") {
        Some(dir) if !dir.is_empty() => PathBuf::from(dir),
        _ => dstack_core::config::files::expand_tilde("~/.dstack/server"),
    }
}

/// `$DSTACK_SERVER_DIR/config.yml`.
pub fn config_path() -> PathBuf {
    server_dir().join("config.yml")
}

/// Whether `DSTACK_SERVER_CONFIG_DISABLED` is set (to anything): then config.yml is neither
/// read nor written, as with dstack.
pub fn config_disabled() -> bool {
    std::env::var_os("DSTACK_SERVER_CONFIG_DISABLED").is_some()
}
