//! The real `dstack` CLI for the end-to-end tests: pip `dstack==0.22.5` in a venv under
//! `target/e2e`, created once and reused while it holds that version.

use std::path::PathBuf;
use std::process::Command;

use crate::schema::root;

pub const DSTACK_VERSION: &str = "0.22.5";

/// The `dstack` executable of the venv, installing it when needed.
pub fn dstack_cli() -> Result<PathBuf, String> {
    let venv = root().join("target/e2e/venv-dstack");
    let cli = venv.join("bin/dstack");
    if installed_version(&cli).as_deref() == Some(DSTACK_VERSION) {
        return Ok(cli);
    }
    let python = ["python3", "python"]
        .into_iter()
        .find(|p| Command::new(p).arg("--version").output().is_ok_and(|o| o.status.success()))
        .ok_or("python3 is needed for the end-to-end tests with the dstack CLI")?;
    let _ = std::fs::remove_dir_all(&venv);
    run(Command::new(python).args(["-m", "venv"]).arg(&venv))?;
    eprintln!("==> installing dstack=={DSTACK_VERSION} into {}", venv.display());
    run(Command::new(venv.join("bin/pip"))
        .args(["install", "--quiet", "--disable-pip-version-check"])
        .arg(format!("dstack=={DSTACK_VERSION}")))?;
    match installed_version(&cli) {
        Some(v) if v == DSTACK_VERSION => Ok(cli),
        other => Err(format!("dstack {DSTACK_VERSION} was installed but reports {other:?}")),
    }
}

fn installed_version(cli: &std::path::Path) -> Option<String> {
    let python = cli.parent()?.join("python");
    let output = Command::new(python)
        .args(["-c", "import importlib.metadata as m; print(m.version('dstack'))"])
        .output()
        .ok()?;
    output.status.success().then(|| String::from_utf8_lossy(&output.stdout).trim().to_owned())
}

fn run(command: &mut Command) -> Result<(), String> {
    let output = command.output().map_err(|e| format!("cannot run {command:?}: {e}"))?;
    if output.status.success() {
        Ok(())
    } else {
        Err(format!(
            "{command:?} failed: {}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        ))
    }
}
