//! What the browser test of the web UI needs (`crates/dstack-server/tests/browser_ui.rs`):
//! Debian's Chromium, the pinned `playwright-core` that drives it, and the UI bundle.
//! Playwright's own browser downloads are not used: Debian's package gets security updates
//! and needs no download from outside the distribution.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;
use std::time::Instant;

use crate::schema::root;

/// Debian's Chromium.
pub const CHROMIUM: &str = "/usr/bin/chromium";

/// One `apt-get` at a time from this process: the services are set up in parallel threads,
/// and dpkg takes one lock.
pub static APT: Mutex<()> = Mutex::new(());

/// The variables the browser test reads, set up here unless the environment names them.
pub fn setup() -> Result<Vec<(String, String)>, String> {
    let ui = std::thread::spawn(|| {
        given_or("DSTACK_TEST_UI_DIR", "the web UI", || {
            let dir = root().join("target/e2e/ui");
            crate::ui::install(&dir).map(|()| dir)
        })
    });
    let chromium = given_or("DSTACK_TEST_CHROMIUM", "Chromium", chromium)?;
    let modules = given_or("DSTACK_TEST_NODE_MODULES", "playwright-core", node_modules)?;
    let ui = ui.join().map_err(|_| "installing the UI panicked".to_owned())??;
    Ok(vec![
        ("DSTACK_TEST_UI_DIR".to_owned(), ui),
        ("DSTACK_TEST_CHROMIUM".to_owned(), chromium),
        ("DSTACK_TEST_NODE_MODULES".to_owned(), modules),
    ])
}

/// `cargo xtask browser-test`: the setup above, then the browser test alone.
pub fn test() -> Result<(), String> {
    let env = setup()?;
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    crate::test::cargo_with(&["test", "-p", "dstack-server", "--test", "browser_ui"], &env)
}

/// The path the variable `name` gives, or what `make` sets up (timed, for CI's log).
fn given_or(
    name: &str,
    what: &str,
    make: impl FnOnce() -> Result<PathBuf, String>,
) -> Result<String, String> {
    if let Some(given) = std::env::var(name).ok().filter(|v| !v.is_empty()) {
        return Ok(given);
    }
    let started = Instant::now();
    let path = make()?;
    eprintln!("==> {what} ready in {:.1}s: {}", started.elapsed().as_secs_f32(), path.display());
    Ok(path.display().to_string())
}

/// Chromium, installed with apt-get when missing.
fn chromium() -> Result<PathBuf, String> {
    if !Path::new(CHROMIUM).exists() {
        apt_install(&["chromium"])?;
    }
    let output = Command::new(CHROMIUM)
        .arg("--version")
        .output()
        .map_err(|e| format!("{CHROMIUM} does not run: {e}"))?;
    eprintln!("==> {}", String::from_utf8_lossy(&output.stdout).trim());
    Ok(PathBuf::from(CHROMIUM))
}

/// `npm ci` of the test's pinned `package-lock.json` into `target/e2e/browser`, skipped when
/// that lock is what is installed there.
fn node_modules() -> Result<PathBuf, String> {
    if Command::new("npm").arg("--version").output().is_err() {
        apt_install(&["nodejs", "npm"])?;
    }
    let source = root().join("crates/dstack-server/tests/browser");
    let dir = root().join("target/e2e/browser");
    let modules = dir.join("node_modules");
    let lock = std::fs::read(source.join("package-lock.json"))
        .map_err(|e| format!("{}: {e}", source.join("package-lock.json").display()))?;
    let installed = std::fs::read(dir.join("package-lock.json")).ok();
    if installed.as_deref() == Some(lock.as_slice()) && modules.join(".package-lock.json").exists()
    {
        return Ok(modules);
    }
    std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    for file in ["package.json", "package-lock.json"] {
        std::fs::copy(source.join(file), dir.join(file))
            .map_err(|e| format!("cannot copy {file}: {e}"))?;
    }
    eprintln!("==> npm ci in {}", dir.display());
    let output = Command::new("npm")
        .args(["ci", "--no-audit", "--no-fund", "--ignore-scripts", "--loglevel=error"])
        .env("PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD", "1")
        .current_dir(&dir)
        .output()
        .map_err(|e| format!("cannot run npm: {e}"))?;
    if !output.status.success() {
        // A half-done install must not pass for a finished one next time.
        let _ = std::fs::remove_file(dir.join("package-lock.json"));
        return Err(format!(
            "npm ci failed: {}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        ));
    }
    Ok(modules)
}

/// `apt-get install` as root on Debian; otherwise an error saying what to install.
pub fn apt_install(packages: &[&str]) -> Result<(), String> {
    let is_root = Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0");
    let wanted = packages.join(" ");
    if !is_root || !Path::new("/usr/bin/apt-get").exists() {
        return Err(format!("install Debian's `{wanted}` (or set the DSTACK_TEST_* variable)"));
    }
    let _apt = APT.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    eprintln!("==> installing {wanted} (apt-get install)");
    // Another process's apt-get may hold dpkg's lock; wait for it rather than fail.
    let wait = ["-o", "DPkg::Lock::Timeout=600"];
    let update = Command::new("apt-get").args(wait).args(["update", "-qq"]).output();
    if !update.as_ref().is_ok_and(|o| o.status.success()) {
        return Err(format!("apt-get update failed: {update:?}"));
    }
    let status = Command::new("apt-get")
        .args(wait)
        .args(["install", "-y", "-qq"])
        .args(packages)
        .env("DEBIAN_FRONTEND", "noninteractive")
        .status()
        .map_err(|e| format!("apt-get: {e}"))?;
    if status.success() { Ok(()) } else { Err(format!("apt-get install {wanted} failed")) }
}
