//! A throwaway PostgreSQL server for the tests, from Debian's package: installed when
//! missing, started on a free loopback port, stopped and deleted when dropped.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Command;

/// A running PostgreSQL; stops when dropped.
#[derive(Debug)]
pub struct Postgres {
    pub url: String,
    dir: PathBuf,
    bin: PathBuf,
    as_postgres_user: bool,
}

impl Postgres {
    pub fn start() -> Result<Postgres, String> {
        let bin = match find_bin_dir() {
            Some(bin) => bin,
            None => {
                install()?;
                find_bin_dir().ok_or("PostgreSQL was installed but initdb is not found")?
            }
        };
        // initdb refuses to run as root: run the server as the `postgres` user then.
        let as_postgres_user = is_root();
        let dir = std::env::temp_dir().join(format!("dstack-rs-pg-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir)
            .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
        let port = free_port()?;
        let postgres = Postgres {
            url: format!("postgres://postgres@127.0.0.1:{port}/postgres"),
            dir: dir.clone(),
            bin: bin.clone(),
            as_postgres_user,
        };
        if as_postgres_user {
            run("chown", &["-R", "postgres:postgres", &dir.display().to_string()], false)?;
        }
        let data = dir.join("data").display().to_string();
        postgres.pg(
            "initdb",
            &["-D", &data, "-U", "postgres", "--auth=trust", "-E", "UTF8", "--locale=C.UTF-8"],
        )?;
        let options = format!("-c listen_addresses=127.0.0.1 -p {port} -k {}", dir.display());
        let log = dir.join("server.log").display().to_string();
        postgres.pg("pg_ctl", &["-D", &data, "-l", &log, "-o", &options, "-w", "start"])?;
        Ok(postgres)
    }

    fn pg(&self, tool: &str, args: &[&str]) -> Result<(), String> {
        let program = self.bin.join(tool).display().to_string();
        if self.as_postgres_user {
            let mut command = vec![shell_quote(&program)];
            command.extend(args.iter().map(|a| shell_quote(a)));
            run("su", &["postgres", "-c", &command.join(" ")], true)
        } else {
            run(&program, args, true)
        }
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        let data = self.dir.join("data").display().to_string();
        let _ = self.pg("pg_ctl", &["-D", &data, "-m", "fast", "-w", "stop"]);
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn find_bin_dir() -> Option<PathBuf> {
    let mut versions: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .filter_map(|e| e.ok().map(|e| e.path().join("bin")))
        .filter(|bin| bin.join("initdb").exists())
        .collect();
    versions.sort();
    versions.pop()
}

fn install() -> Result<(), String> {
    if !is_root() || !Path::new("/usr/bin/apt-get").exists() {
        return Err("PostgreSQL is not installed: install Debian's `postgresql` package, or set \
                    DSTACK_TEST_POSTGRES_URL to a server the tests may create databases on"
            .to_owned());
    }
    let _apt = crate::browser::APT.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    eprintln!("==> installing PostgreSQL (apt-get install postgresql)");
    run("apt-get", &["update", "-qq"], true)?;
    let status = Command::new("apt-get")
        .args(["install", "-y", "-qq", "--no-install-recommends", "postgresql"])
        .env("DEBIAN_FRONTEND", "noninteractive")
        .status()
        .map_err(|e| format!("apt-get: {e}"))?;
    if status.success() { Ok(()) } else { Err("apt-get install postgresql failed".to_owned()) }
}

pub fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

fn free_port() -> Result<u16, String> {
    let listener = TcpListener::bind("127.0.0.1:0").map_err(|e| format!("no free port: {e}"))?;
    listener.local_addr().map(|a| a.port()).map_err(|e| e.to_string())
}

fn run(program: &str, args: &[&str], quiet: bool) -> Result<(), String> {
    let output = Command::new(program)
        .args(args)
        .current_dir("/")
        .output()
        .map_err(|e| format!("cannot run {program}: {e}"))?;
    if output.status.success() {
        return Ok(());
    }
    let _ = quiet;
    Err(format!(
        "`{program} {}` failed: {}{}",
        args.join(" "),
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    ))
}

fn shell_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', "'\\''"))
}
