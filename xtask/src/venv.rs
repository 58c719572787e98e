//! Python tools the tests and benchmarks use, each pinned in its own venv under
//! `target/e2e/venv-<name>`, created once and reused while it holds the pinned version: the
//! real `dstack` CLI, moto, schemathesis, gpuhunt.

use std::path::PathBuf;
use std::process::Command;

use crate::schema::root;

/// A pinned PyPI package and the venv that holds it.
#[derive(Debug, Clone, Copy)]
pub struct Tool {
    /// The venv's name: `target/e2e/venv-<name>`.
    pub name: &'static str,
    pub package: &'static str,
    /// Extras to install with it (`"[server]"`), or `""`.
    pub extras: &'static str,
    pub version: &'static str,
}

pub const DSTACK: Tool = Tool { name: "dstack", package: "dstack", extras: "", version: "0.22.5" };
pub const MOTO: Tool = Tool { name: "moto", package: "moto", extras: "[server]", version: "5.2.5" };
pub const SCHEMATHESIS: Tool =
    Tool { name: "schemathesis", package: "schemathesis", extras: "", version: "4.32.5" };
pub const GPUHUNT: Tool =
    Tool { name: "gpuhunt", package: "gpuhunt", extras: "", version: "0.1.30" };

impl Tool {
    /// The venv's `bin/` directory, installing the tool when it is missing or another version.
    pub fn bin(&self) -> Result<PathBuf, String> {
        let venv = root().join("target/e2e").join(format!("venv-{}", self.name));
        let bin = venv.join("bin");
        if self.installed_version(&bin).as_deref() == Some(self.version) {
            return Ok(bin);
        }
        let python = ["python3", "python"]
            .into_iter()
            .find(|p| Command::new(p).arg("--version").output().is_ok_and(|o| o.status.success()))
            .ok_or("python3 is needed to install the test tools")?;
        let _ = std::fs::remove_dir_all(&venv);
        run(Command::new(python).args(["-m", "venv"]).arg(&venv))?;
        let requirement = format!("{}{}=={}", self.package, self.extras, self.version);
        eprintln!("==> installing {requirement} into {}", venv.display());
        run(Command::new(bin.join("pip"))
            .args(["install", "--quiet", "--disable-pip-version-check"])
            .arg(&requirement))?;
        match self.installed_version(&bin) {
            Some(v) if v == self.version => Ok(bin),
            other => Err(format!("{requirement} was installed but reports {other:?}")),
        }
    }

    fn installed_version(&self, bin: &std::path::Path) -> Option<String> {
        let script =
            format!("import importlib.metadata as m; print(m.version('{}'))", self.package);
        let output = Command::new(bin.join("python")).args(["-c", &script]).output().ok()?;
        output.status.success().then(|| String::from_utf8_lossy(&output.stdout).trim().to_owned())
    }
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
