//! `cargo xtask ui`: installs dstack's prebuilt web UI where the server serves it from.
//!
//! dstack builds its UI (a React app) into its wheel, `dstack/_internal/server/statics/`;
//! building it ourselves would need its whole Node toolchain for the same bytes. So the pinned
//! wheel is fetched from PyPI (`pip download --no-deps`) and its statics unpacked, with the
//! wheel's license (MPL-2.0) and a note of where the source is beside them. The bundle is never
//! committed: it lands in the server directory (or `target/` for the tests).

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::schema::root;

/// The wheel the UI comes from: the dstack release whose API the server speaks.
pub const WHEEL: &str = crate::venv::DSTACK;
/// Where in the wheel the bundle is.
const STATICS: &str = "dstack/_internal/server/statics/";
/// Marks a directory this task filled, with the requirement it came from. Hidden files are
/// not served.
const MARKER: &str = ".dstack-ui";

/// Where the server looks for the UI by default: `DSTACK_SERVER_UI_DIR`, else `ui/` in the
/// server directory (`DSTACK_SERVER_DIR`, else `~/.dstack/server`).
pub fn default_dir() -> Result<PathBuf, String> {
    let var = |name: &str| std::env::var_os(name).filter(|v| !v.is_empty()).map(PathBuf::from);
    if let Some(dir) = var("DSTACK_SERVER_UI_DIR") {
        return Ok(dir);
    }
    let server_dir = match var("DSTACK_SERVER_DIR") {
        Some(dir) => dir,
        None => var("HOME").ok_or("HOME is not set")?.join(".dstack/server"),
    };
    Ok(server_dir.join("ui"))
}

/// Makes `dir` hold the UI of [`WHEEL`]; does nothing when it already does.
pub fn install(dir: &Path) -> Result<(), String> {
    if std::fs::read_to_string(dir.join(MARKER)).is_ok_and(|m| m.trim() == WHEEL)
        && dir.join("index.html").is_file()
    {
        eprintln!("==> the web UI of {WHEEL} is already in {}", dir.display());
        return Ok(());
    }
    if dir.exists() && !dir.join(MARKER).exists() && !is_empty_dir(dir) {
        return Err(format!(
            "{} exists and was not made by `cargo xtask ui`; move it away or name another \
             directory with --dir",
            dir.display()
        ));
    }
    let wheel = download()?;
    let parent = dir.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    std::fs::create_dir_all(parent)
        .map_err(|e| format!("cannot create {}: {e}", parent.display()))?;
    // Unpacked beside the target and renamed into place, so that a server never serves half a
    // bundle and an interrupted run leaves the old one.
    let staging = parent.join(format!(".ui-staging-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&staging);
    let unpacked = unpack(&wheel, &staging);
    if let Err(err) = unpacked {
        let _ = std::fs::remove_dir_all(&staging);
        return Err(err);
    }
    if dir.exists() {
        std::fs::remove_dir_all(dir)
            .map_err(|e| format!("cannot replace {}: {e}", dir.display()))?;
    }
    std::fs::rename(&staging, dir).map_err(|e| format!("cannot move the UI into place: {e}"))?;
    eprintln!("==> the web UI of {WHEEL} is in {} (a running server serves it now)", dir.display());
    Ok(())
}

fn is_empty_dir(dir: &Path) -> bool {
    std::fs::read_dir(dir).is_ok_and(|mut entries| entries.next().is_none())
}

/// The pinned wheel, from `target/ui-wheel` when it was fetched before (pip would ask the
/// index again).
fn download() -> Result<PathBuf, String> {
    let wheels = root().join("target/ui-wheel");
    if let Some(wheel) = find_wheel(&wheels) {
        return Ok(wheel);
    }
    std::fs::create_dir_all(&wheels)
        .map_err(|e| format!("cannot create {}: {e}", wheels.display()))?;
    let python = pip_python()?;
    eprintln!("==> downloading {WHEEL} from PyPI (pip download --no-deps)");
    let output = Command::new(&python)
        .args(["-m", "pip", "download", "--no-deps", "--only-binary=:all:", "--quiet"])
        .args(["--disable-pip-version-check", "--dest"])
        .arg(&wheels)
        .arg(WHEEL)
        .output()
        .map_err(|e| format!("cannot run {}: {e}", python.display()))?;
    if !output.status.success() {
        return Err(format!(
            "pip download {WHEEL} failed: {}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        ));
    }
    find_wheel(&wheels)
        .ok_or_else(|| format!("pip download left no {WHEEL} wheel in {}", wheels.display()))
}

fn find_wheel(dir: &Path) -> Option<PathBuf> {
    let (name, version) = WHEEL.split_once("==")?;
    let prefix = format!("{name}-{version}-");
    std::fs::read_dir(dir).ok()?.flatten().map(|e| e.path()).find(|p| {
        p.file_name()
            .and_then(|n| n.to_str())
            .is_some_and(|n| n.starts_with(&prefix) && n.ends_with(".whl"))
    })
}

/// A Python that has pip: the system's, or a venv of its own under `target/e2e` (Debian's
/// Python has pip only in venvs).
fn pip_python() -> Result<PathBuf, String> {
    let has_pip = |python: &Path| {
        Command::new(python)
            .args(["-m", "pip", "--version"])
            .output()
            .is_ok_and(|o| o.status.success())
    };
    for python in ["python3", "python"] {
        if has_pip(Path::new(python)) {
            return Ok(PathBuf::from(python));
        }
    }
    let venv = root().join("target/e2e/venv-pip");
    let python = venv.join("bin/python");
    if !has_pip(&python) {
        let status = Command::new("python3")
            .args(["-m", "venv"])
            .arg(&venv)
            .status()
            .map_err(|e| format!("python3 with pip is needed to download the UI: {e}"))?;
        if !status.success() || !has_pip(&python) {
            return Err("python3 with pip (or python3-venv) is needed to download the UI".into());
        }
    }
    Ok(python)
}

/// Writes the wheel's statics into `dest`, with its license, a note of the source and the
/// marker.
fn unpack(wheel: &Path, dest: &Path) -> Result<(), String> {
    let file = std::fs::File::open(wheel).map_err(|e| format!("{}: {e}", wheel.display()))?;
    let mut zip = zip::ZipArchive::new(file).map_err(|e| format!("{}: {e}", wheel.display()))?;
    let mut files = 0;
    let mut license = None;
    for i in 0..zip.len() {
        let mut entry = zip.by_index(i).map_err(|e| format!("{}: {e}", wheel.display()))?;
        let Some(name) = entry.enclosed_name() else { continue };
        let name = name.to_string_lossy().replace('\\', "/");
        let target = if let Some(rest) = name.strip_prefix(STATICS) {
            dest.join(rest)
        } else if is_license(&name) {
            license = Some(name.clone());
            dest.join("LICENSE.md")
        } else {
            continue;
        };
        if entry.is_dir() || name.ends_with('/') {
            continue;
        }
        if let Some(dir) = target.parent() {
            std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        }
        let mut bytes = Vec::new();
        entry.read_to_end(&mut bytes).map_err(|e| format!("{name}: {e}"))?;
        std::fs::write(&target, bytes).map_err(|e| format!("{}: {e}", target.display()))?;
        files += 1;
    }
    if !dest.join("index.html").is_file() {
        return Err(format!("{} has no {STATICS}index.html", wheel.display()));
    }
    let license = license.ok_or_else(|| format!("{} has no license file", wheel.display()))?;
    let version = WHEEL.split_once("==").map_or("", |(_, v)| v);
    let notice = format!(
        "# dstack's web UI\n\nThe prebuilt web UI of dstack {version}, unpacked from the `{WHEEL}` \
         wheel on PyPI (`{STATICS}`) by `cargo xtask ui`.\n\nIt is dstack's work, under the \
         Mozilla Public License 2.0: see `LICENSE.md` (the wheel's `{license}`). Its source is \
         at https://github.com/dstackai/dstack/tree/{version}/frontend.\n"
    );
    std::fs::write(dest.join("NOTICE.md"), notice).map_err(|e| e.to_string())?;
    std::fs::write(dest.join(MARKER), format!("{WHEEL}\n")).map_err(|e| e.to_string())?;
    eprintln!("==> unpacked {files} files of {}", wheel.display());
    Ok(())
}

/// The wheel's license: `dstack-<v>.dist-info/licenses/LICENSE.md` (or the older
/// `dist-info/LICENSE*`).
fn is_license(name: &str) -> bool {
    let Some((dist_info, file)) = name.split_once(".dist-info/") else { return false };
    !dist_info.contains('/')
        && (file.starts_with("licenses/LICENSE")
            || (file.starts_with("LICENSE") && !file.contains('/')))
}

/// `cargo xtask ui [--dir DIR]`.
pub fn run(args: &[&str]) -> Result<(), String> {
    let dir = match args {
        [] => default_dir()?,
        ["--dir", dir] => PathBuf::from(dir),
        _ => return Err("usage: cargo xtask ui [--dir DIR]".to_owned()),
    };
    install(&dir)
}
