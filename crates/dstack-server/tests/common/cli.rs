//! The real `dstack` CLI (pip `dstack==0.22.5`) as a test client: `cargo xtask test` installs
//! it into a venv and sets `DSTACK_TEST_CLI` to its `dstack` executable; without it the tests
//! that need it say so and pass.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub fn cli() -> Option<PathBuf> {
    match std::env::var_os("DSTACK_TEST_CLI") {
        Some(path) => Some(PathBuf::from(path)),
        None => {
            eprintln!("DSTACK_TEST_CLI is not set: skipping (run `cargo xtask test`)");
            None
        }
    }
}

/// A home directory for the CLI, with its daily version check marked as done (it would
/// reach the internet).
pub fn cli_home() -> tempfile::TempDir {
    let home = tempfile::tempdir().unwrap();
    let cache = home.path().join(".cache/.dstack/cli");
    std::fs::create_dir_all(&cache).unwrap();
    std::fs::write(cache.join("last_check"), "").unwrap();
    home
}

/// The CLI with `home` as its home and nothing of the caller's dstack environment.
pub fn dstack_command(cli: &Path, home: &Path) -> Command {
    let mut command = Command::new(cli);
    command
        .env("HOME", home)
        .env("DSTACK_CLI_LOG_LEVEL", "INFO")
        .env("COLUMNS", "200")
        .env_remove("DSTACK_SERVER_URL")
        .env_remove("DSTACK_PROJECT")
        .env_remove("DSTACK_TOKEN");
    command
}

pub fn dstack(cli: &Path, home: &Path, args: &[&str]) -> Output {
    let output = dstack_command(cli, home).args(args).output().unwrap();
    eprintln!(
        "$ dstack {}\n{}{}",
        args.join(" "),
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

pub fn offers_json(cli: &Path, home: &Path, args: &[&str]) -> serde_json::Value {
    let mut all = vec!["offer"];
    all.extend_from_slice(args);
    all.push("--json");
    let output = dstack(cli, home, &all);
    assert!(output.status.success());
    serde_json::from_slice(&output.stdout).unwrap()
}
