//! The OpenSSH server the tests log into as they would into an instance: Debian's
//! `openssh-server`, installed when missing. The tests start their own servers from it
//! (`dstack_testkit::sshd`); this only makes sure the binary is there and names it.

use std::path::Path;
use std::process::Command;

/// Where Debian installs `sshd`.
const SSHD: &str = "/usr/sbin/sshd";

/// `("DSTACK_TEST_SSHD", path)` once `sshd` is installed.
pub fn setup() -> Result<(String, String), String> {
    if !Path::new(SSHD).exists() {
        install()?;
    }
    Ok(("DSTACK_TEST_SSHD".to_owned(), SSHD.to_owned()))
}

fn install() -> Result<(), String> {
    if !crate::postgres::is_root() || !Path::new("/usr/bin/apt-get").exists() {
        return Err("sshd is not installed: install Debian's `openssh-server` package, or set \
                    DSTACK_TEST_SSHD to an OpenSSH server binary"
            .to_owned());
    }
    let _apt = crate::browser::APT.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    eprintln!("==> installing OpenSSH's server (apt-get install openssh-server)");
    let update = Command::new("apt-get").args(["update", "-qq"]).status();
    if !update.is_ok_and(|s| s.success()) {
        return Err("apt-get update failed".to_owned());
    }
    // Debian's maintainer scripts would start the system's sshd on port 22: a policy-rc.d
    // that answers 101 ("action forbidden") keeps it stopped.
    let policy = Path::new("/usr/sbin/policy-rc.d");
    let ours = !policy.exists();
    if ours {
        std::fs::write(policy, "#!/bin/sh\nexit 101\n").map_err(|e| format!("policy-rc.d: {e}"))?;
        let _ = Command::new("chmod").args(["755", "/usr/sbin/policy-rc.d"]).status();
    }
    let status = Command::new("apt-get")
        .args(["install", "-y", "-qq", "--no-install-recommends", "openssh-server"])
        .env("DEBIAN_FRONTEND", "noninteractive")
        .status()
        .map_err(|e| format!("apt-get: {e}"));
    if ours {
        let _ = std::fs::remove_file(policy);
    }
    let status = status?;
    if status.success() && Path::new(SSHD).exists() {
        Ok(())
    } else {
        Err("apt-get install openssh-server failed".to_owned())
    }
}
