//! `cargo xtask test`: everything CI checks, in one command that works on a fresh machine.
//! What the tests need (PostgreSQL, the backends' emulators, `sshd`, the Python tools, the
//! browser and the web UI) is set up here, in parallel, so that nobody has to remember a
//! manual step.

use std::process::Command;
use std::time::Instant;

use crate::postgres::Postgres;
use crate::venv::Tool;
use crate::{emulators, schema, tidy};

/// What the tests were given: `(variable, value)` pairs, and what to keep alive meanwhile.
#[derive(Debug, Default)]
struct Services {
    env: Vec<(String, String)>,
    postgres: Option<Postgres>,
    emulators: Vec<emulators::Running>,
}

/// Runs every step, stopping at the first failure.
pub fn run() -> Result<(), String> {
    step("formatting", || cargo(&["fmt", "--all", "--check"]))?;
    step("the backend checklist", || {
        let problems = tidy::problems(&schema::root());
        if problems.is_empty() { Ok(()) } else { Err(problems.join("\n")) }
    })?;
    step("generated files", || {
        let stale = schema::stale();
        if stale.is_empty() {
            Ok(())
        } else {
            Err(format!("stale: {stale:?}; run `cargo xtask gen-schema` and commit the result"))
        }
    })?;
    // Services start while clippy runs: they are mostly downloads and waiting. They are
    // joined whatever happens, so that a failed step does not leave them running.
    let services = std::thread::spawn(services);
    let checked = lints();
    let services = step_value("services", || {
        services.join().map_err(|_| "setting up the services panicked".to_owned())?
    });
    checked?;
    let services = services?;
    let env: Vec<(&str, &str)> =
        services.env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    step("tests", || {
        if has_nextest() {
            cargo_with(&["nextest", "run", "--workspace", "--no-fail-fast"], &env)
        } else {
            cargo_with(&["test", "--workspace", "--no-fail-fast"], &env)
        }
    })?;
    drop(services);
    let seconds = std::env::var("DSTACK_FUZZ_SECONDS").ok().and_then(|s| s.parse().ok());
    let seconds = seconds.unwrap_or(20);
    step(&format!("fuzz ({seconds} s per target)"), || crate::fuzz::run(seconds))?;
    Ok(())
}

/// Clippy, and slim servers: none and each backend alone (only `dstack-server` is checked
/// again; GitHub's workflow checks the features as a matrix).
fn lints() -> Result<(), String> {
    step("clippy", || {
        cargo(&["clippy", "--workspace", "--all-targets", "--quiet", "--", "-D", "warnings"])
    })?;
    let features = tidy::server_features(&schema::root())?;
    for feature in std::iter::once(None).chain(features.iter().map(Some)) {
        let label = feature.map_or("no backends".to_owned(), |f| format!("only `{f}`"));
        step(&format!("slim build ({label})"), || {
            let mut args = vec!["check", "--quiet", "-p", "dstack-server", "--no-default-features"];
            if let Some(feature) = feature {
                args.extend(["--features", feature]);
            }
            cargo(&args)
        })?;
    }
    Ok(())
}

/// PostgreSQL, every backend's emulator, `sshd`, the Python tools and the browser test's Chromium,
/// playwright-core and UI bundle, unless the environment already names them.
fn services() -> Result<Services, String> {
    let mut services = Services::default();
    let given = |name: &str| std::env::var(name).ok();
    let postgres = std::thread::spawn(move || match given("DSTACK_TEST_POSTGRES_URL") {
        Some(url) => Ok((url, None)),
        None => Postgres::start().map(|p| (p.url.clone(), Some(p))),
    });
    let tools = std::thread::spawn(move || -> Result<Vec<(String, String)>, String> {
        let cli = match given("DSTACK_TEST_CLI") {
            Some(cli) => cli,
            None => Tool::pinned(crate::venv::DSTACK)?.bin()?.join("dstack").display().to_string(),
        };
        let st = match given("DSTACK_TEST_SCHEMATHESIS") {
            Some(st) => st,
            None => {
                Tool::pinned(crate::venv::SCHEMATHESIS)?.bin()?.join("st").display().to_string()
            }
        };
        Ok(vec![("DSTACK_TEST_CLI".to_owned(), cli), ("DSTACK_TEST_SCHEMATHESIS".to_owned(), st)])
    });
    let browser = std::thread::spawn(crate::browser::setup);
    let sshd = std::thread::spawn(move || match given("DSTACK_TEST_SSHD") {
        Some(sshd) => Ok(("DSTACK_TEST_SSHD".to_owned(), sshd)),
        None => crate::sshd::setup(),
    });
    let declared = tidy::emulators(&schema::root())?;
    let started: Vec<_> = declared
        .into_iter()
        .filter(|e| std::env::var_os(&e.url_variable).is_none())
        .map(|e| std::thread::spawn(move || emulators::start(&e)))
        .collect();
    for emulator in started {
        let running = emulator.join().map_err(|_| "an emulator's start panicked".to_owned())??;
        eprintln!("==> emulator at {} ({})", running.url, running.variable);
        services.env.push((running.variable.clone(), running.url.clone()));
        services.emulators.push(running);
    }
    let (url, postgres) = postgres.join().map_err(|_| "PostgreSQL's start panicked")??;
    services.env.push(("DSTACK_TEST_POSTGRES_URL".to_owned(), url));
    services.postgres = postgres;
    services.env.extend(tools.join().map_err(|_| "installing the tools panicked")??);
    services.env.push(sshd.join().map_err(|_| "installing sshd panicked")??);
    let browser = browser.join().map_err(|_| "setting up the browser test panicked")?;
    services.env.extend(browser.map_err(|e| format!("the browser test's setup: {e}"))?);
    Ok(services)
}

fn step(name: &str, f: impl FnOnce() -> Result<(), String>) -> Result<(), String> {
    step_value(name, f)
}

fn step_value<T>(name: &str, f: impl FnOnce() -> Result<T, String>) -> Result<T, String> {
    eprintln!("==> {name}");
    let started = Instant::now();
    let result = f();
    let seconds = started.elapsed().as_secs_f32();
    match &result {
        Ok(_) => eprintln!("==> {name}: ok ({seconds:.1}s)"),
        Err(err) => eprintln!("==> {name}: FAILED ({seconds:.1}s): {err}"),
    }
    result
}

fn cargo(args: &[&str]) -> Result<(), String> {
    cargo_with(args, &[])
}

pub fn cargo_with(args: &[&str], env: &[(&str, &str)]) -> Result<(), String> {
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
