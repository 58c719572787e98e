//! `cargo xtask test`: everything CI checks, in one command that works on a fresh machine.
//! Steps that need services (emulators, PostgreSQL, Python venvs) set them up here, so that
//! nobody has to remember a manual step.

use std::process::Command;
use std::time::Instant;

use crate::postgres::Postgres;
use crate::schema;

/// The backend features of `dstack-server`: every feature in its Cargo.toml but `default`.
fn backend_features() -> Result<Vec<String>, String> {
    let path = crate::schema::root().join("crates/dstack-server/Cargo.toml");
    let manifest =
        std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    let features = manifest
        .lines()
        .skip_while(|line| line.trim() != "[features]")
        .skip(1)
        .take_while(|line| !line.starts_with('['))
        .filter_map(|line| line.split_once('=').map(|(name, _)| name.trim().to_owned()))
        .filter(|name| !name.is_empty() && !name.starts_with('#') && name != "default")
        .collect();
    Ok(features)
}

/// Runs every step, stopping at the first failure.
pub fn run() -> Result<(), String> {
    step("formatting", || cargo(&["fmt", "--all", "--check"]))?;
    step("clippy", || {
        cargo(&["clippy", "--workspace", "--all-targets", "--quiet", "--", "-D", "warnings"])
    })?;
    // Slim servers: none and each backend alone. Clippy reuses the workspace run's artifacts.
    for feature in std::iter::once(None).chain(backend_features()?.into_iter().map(Some)) {
        let label = feature.as_deref().map_or("no backends".to_owned(), |f| format!("only `{f}`"));
        step(&format!("slim build ({label})"), || {
            let mut args =
                vec!["clippy", "--quiet", "-p", "dstack-server", "--no-default-features"];
            if let Some(feature) = &feature {
                args.extend(["--features", feature]);
            }
            args.extend(["--", "-D", "warnings"]);
            cargo(&args)
        })?;
    }
    step("generated files", || {
        let stale = schema::stale();
        if stale.is_empty() {
            Ok(())
        } else {
            Err(format!("stale: {stale:?}; run `cargo xtask gen-schema` and commit the result"))
        }
    })?;
    // The server's tests run on SQLite and on PostgreSQL.
    let mut postgres = None;
    step("PostgreSQL", || {
        if std::env::var_os("DSTACK_TEST_POSTGRES_URL").is_some() {
            return Ok(());
        }
        postgres = Some(Postgres::start()?);
        Ok(())
    })?;
    // The AWS backend's tests run against moto.
    let mut moto = None;
    step("moto", || {
        if std::env::var_os("DSTACK_TEST_MOTO_URL").is_some() {
            return Ok(());
        }
        moto = Some(crate::moto::Moto::start()?);
        Ok(())
    })?;
    let moto_url =
        moto.as_ref().map(|m| m.url.clone()).or_else(|| std::env::var("DSTACK_TEST_MOTO_URL").ok());
    let mut cli = std::env::var("DSTACK_TEST_CLI").ok();
    step("dstack CLI", || {
        if cli.is_none() {
            cli = Some(crate::venv::DSTACK.bin()?.join("dstack").display().to_string());
        }
        Ok(())
    })?;
    let mut schemathesis = std::env::var("DSTACK_TEST_SCHEMATHESIS").ok();
    step("schemathesis", || {
        if schemathesis.is_none() {
            let st = crate::venv::SCHEMATHESIS.bin()?.join("st");
            schemathesis = Some(st.display().to_string());
        }
        Ok(())
    })?;
    let postgres_url = postgres
        .as_ref()
        .map(|p| p.url.clone())
        .or_else(|| std::env::var("DSTACK_TEST_POSTGRES_URL").ok());
    step("tests", || {
        let mut env: Vec<(&str, &str)> =
            postgres_url.iter().map(|url| ("DSTACK_TEST_POSTGRES_URL", url.as_str())).collect();
        env.extend(cli.iter().map(|cli| ("DSTACK_TEST_CLI", cli.as_str())));
        env.extend(moto_url.iter().map(|url| ("DSTACK_TEST_MOTO_URL", url.as_str())));
        env.extend(schemathesis.iter().map(|st| ("DSTACK_TEST_SCHEMATHESIS", st.as_str())));
        if has_nextest() {
            cargo_with(&["nextest", "run", "--workspace", "--no-fail-fast"], &env)
        } else {
            cargo_with(&["test", "--workspace", "--no-fail-fast"], &env)
        }
    })?;
    drop(postgres);
    drop(moto);
    let seconds = std::env::var("DSTACK_FUZZ_SECONDS").ok().and_then(|s| s.parse().ok());
    let seconds = seconds.unwrap_or(20);
    step(&format!("fuzz ({seconds} s per target)"), || crate::fuzz::run(seconds))?;
    Ok(())
}

fn step(name: &str, f: impl FnOnce() -> Result<(), String>) -> Result<(), String> {
    eprintln!("==> {name}");
    let started = Instant::now();
    let result = f();
    let seconds = started.elapsed().as_secs_f32();
    match &result {
        Ok(()) => eprintln!("==> {name}: ok ({seconds:.1}s)"),
        Err(err) => eprintln!("==> {name}: FAILED ({seconds:.1}s): {err}"),
    }
    result
}

fn cargo(args: &[&str]) -> Result<(), String> {
    cargo_with(args, &[])
}

fn cargo_with(args: &[&str], env: &[(&str, &str)]) -> Result<(), String> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    let status = Command::new(cargo)
        .args(args)
        .envs(env.iter().copied())
        .current_dir(schema::root())
        .status()
        .map_err(|e| format!("cannot run cargo: {e}"))?;
    if status.success() { Ok(()) } else { Err(format!("`cargo {}` failed", args.join(" "))) }
}

fn has_nextest() -> bool {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    Command::new(cargo)
        .args(["nextest", "--version"])
        .output()
        .is_ok_and(|output| output.status.success())
}
