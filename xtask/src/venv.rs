//! Python tools the tests and benchmarks use, each pinned in its own venv under
//! `target/e2e/venv-<name>`, created once and reused while it holds the pinned version: the
//! real `dstack` CLI, moto, schemathesis, gpuhunt.

use std::path::PathBuf;
use std::process::Command;

use crate::schema::root;

/// A pinned PyPI package and the venv that holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tool {
    /// The venv's name: `target/e2e/venv-<name>`.
    pub name: String,
    pub package: String,
    /// Extras to install with it (`"[server]"`), or `""`.
    pub extras: String,
    pub version: String,
}

/// The tools the test command uses besides the backends' emulators (which their manifests
/// declare).
pub const DSTACK: &str = "dstack==0.22.5";
pub const SCHEMATHESIS: &str = "schemathesis==4.32.5";
pub const GPUHUNT: &str = "gpuhunt==0.1.30";

impl Tool {
    /// A requirement pinned with `==`: `moto[server]==5.2.5`.
    pub fn pinned(requirement: &str) -> Result<Tool, String> {
        let (spec, version) = requirement
            .split_once("==")
            .ok_or_else(|| format!("`{requirement}` is not pinned with `==`"))?;
        let (package, extras) = match spec.find('[') {
            Some(at) => (&spec[..at], &spec[at..]),
            None => (spec, ""),
        };
        Ok(Tool {
            name: package.to_owned(),
            package: package.to_owned(),
            extras: extras.to_owned(),
            version: version.to_owned(),
        })
    }

    /// The venv's `bin/` directory, installing the tool when it is missing or another version.
    pub fn bin(&self) -> Result<PathBuf, String> {
        let venv = root().join("target/e2e").join(format!("venv-{}", self.name));
        let bin = venv.join("bin");
        if self.installed_version(&bin).as_deref() == Some(self.version.as_str()) {
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
