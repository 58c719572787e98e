//! A real OpenSSH server on loopback: the stand-in for an instance that dstack logs into
//! (Lambda, Hot Aisle, JarvisLabs). Each [`Sshd`] has its own throwaway host key, accepts
//! one public key for one login user, and gives that user a `sudo` that records its
//! arguments instead of running them — so a test can assert the exact command a backend
//! ran as root, and nothing is installed or started on the test machine. Sessions get a
//! `$HOME` of the server's own ([`Sshd::home`]): what a backend writes under `~` (the keys
//! it adds to a jump host) stays there, even when the login user is `root`.
//!
//! Needs Debian's `openssh-server` (`DSTACK_TEST_SSHD` names the binary; the README's test
//! command installs it) and root, which creates the login user (`ubuntu`, `hotaisle`) as
//! cloud images have it. Without them [`Sshd::start`] answers `None` and the test skips —
//! except under `CI`, where that is a failure.

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use dstack_core::Secret;
use dstack_core::backend::SshKeyPair;
use ssh_key::rand_core::OsRng;
use ssh_key::{Algorithm, HashAlg, LineEnding, PrivateKey};

/// Separators of the `sudo` stand-in's record: between arguments, after each call.
const ARG_END: char = '\u{1f}';
const CALL_END: char = '\u{1e}';

/// A running `sshd`; stopped when dropped.
#[derive(Debug)]
pub struct Sshd {
    port: u16,
    user: String,
    dir: tempfile::TempDir,
    child: Child,
    host_key: String,
}

impl Sshd {
    /// Starts an `sshd` on a free loopback port that lets `user` in with `authorized` (an
    /// OpenSSH public key line). `None` (with the reason on stderr) where this machine
    /// cannot run one; panics under `CI`.
    pub fn start(user: &str, authorized: &str) -> Option<Sshd> {
        Self::start_on(free_port(), user, authorized)
    }

    /// Like [`Sshd::start`], on `port` (from [`free_port`]): for a server that comes up late.
    pub fn start_on(port: u16, user: &str, authorized: &str) -> Option<Sshd> {
        let binary = match usable(user) {
            Ok(binary) => binary,
            Err(why) if std::env::var_os("CI").is_some() => panic!("no test sshd: {why}"),
            Err(why) => {
                eprintln!("skipping: no test sshd: {why}");
                return None;
            }
        };
        Some(Self::spawn(&binary, port, user, authorized))
    }

    fn spawn(binary: &Path, port: u16, user: &str, authorized: &str) -> Sshd {
        let dir = tempfile::Builder::new().prefix("dstack-sshd-").tempdir().expect("a temp dir");
        let root = dir.path();
        // The login user runs the `sudo` stand-in and appends to its record.
        chmod(root, 0o755);
        let host = PrivateKey::random(&mut OsRng, Algorithm::Ed25519).expect("a host key");
        let host_key = host.public_key().fingerprint(HashAlg::Sha256).to_string();
        let host_file = root.join("host_key");
        std::fs::write(&host_file, host.to_openssh(LineEnding::LF).expect("encoded").as_bytes())
            .expect("the host key is written");
        chmod(&host_file, 0o600);
        std::fs::write(root.join("authorized_keys"), format!("{}\n", authorized.trim()))
            .expect("authorized_keys is written");
        std::fs::create_dir(root.join("bin")).expect("a bin dir");
        // The login user's home: what a session writes under `~` (an `authorized_keys` a
        // backend adds to) stays in the temp dir, never in the test machine's real home.
        let home = root.join("home");
        std::fs::create_dir(&home).expect("a home dir");
        chmod(&home, 0o777);
        let sudo = root.join("bin/sudo");
        let record = root.join("sudo.log");
        let script = format!(
            "#!/bin/sh\n# Records its arguments instead of running them.\n\
             for arg in \"$@\"; do printf '%s\\037' \"$arg\"; done >> '{log}'\n\
             printf '\\036' >> '{log}'\n",
            log = record.display()
        );
        std::fs::write(&sudo, script).expect("the sudo stand-in is written");
        chmod(&sudo, 0o755);
        std::fs::write(&record, "").expect("the sudo record is created");
        chmod(&record, 0o666);
        shared_shim_log();
        let config = format!(
            "ListenAddress 127.0.0.1:{port}\nHostKey {host}\nAuthorizedKeysFile {keys}\n\
             PidFile {pid}\nAllowUsers {user}\nStrictModes no\nUsePAM no\n\
             PubkeyAuthentication yes\nPasswordAuthentication no\n\
             KbdInteractiveAuthentication no\nPermitRootLogin prohibit-password\n\
             SetEnv PATH={bin}:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME={home}\n\
             LogLevel VERBOSE\n",
            host = host_file.display(),
            keys = root.join("authorized_keys").display(),
            pid = root.join("sshd.pid").display(),
            bin = root.join("bin").display(),
            home = home.display(),
        );
        let config_file = root.join("sshd_config");
        std::fs::write(&config_file, config).expect("sshd_config is written");
        let log = std::fs::File::create(root.join("sshd.log")).expect("the sshd log");
        let child = Command::new(binary)
            .args(["-D", "-e", "-f"])
            .arg(&config_file)
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("the log"))
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| panic!("{} does not start: {e}", binary.display()));
        let mut sshd = Sshd { port, user: user.to_owned(), dir, child, host_key };
        sshd.wait_until_listening();
        sshd
    }

    fn wait_until_listening(&mut self) {
        let address = SocketAddr::from(([127, 0, 0, 1], self.port));
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("sshd exited ({status}): {}", self.log());
            }
            if TcpStream::connect_timeout(&address, Duration::from_millis(200)).is_ok() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        panic!("sshd does not listen on {address} after 10 s: {}", self.log());
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// The login user's `$HOME` in sessions (a directory of this server's own).
    pub fn home(&self) -> PathBuf {
        self.dir.path().join("home")
    }

    pub fn user(&self) -> &str {
        &self.user
    }

    /// The SHA-256 fingerprint of the server's host key (`SHA256:...`).
    pub fn host_key(&self) -> &str {
        &self.host_key
    }

    /// Every call of `sudo` so far, each as its arguments.
    pub fn sudo_calls(&self) -> Vec<Vec<String>> {
        let record = std::fs::read_to_string(self.dir.path().join("sudo.log")).unwrap_or_default();
        record
            .split_terminator(CALL_END)
            .map(|call| call.split_terminator(ARG_END).map(str::to_owned).collect())
            .collect()
    }

    /// The `sudo` calls once there are `count` of them (or after 5 s): the launcher runs
    /// `sudo` in the background, a moment after the SSH command returned.
    pub fn await_sudo_calls(&self, count: usize) -> Vec<Vec<String>> {
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            let calls = self.sudo_calls();
            if calls.len() >= count || Instant::now() > deadline {
                return calls;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// What sshd logged (for failure messages).
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("sshd.log")).unwrap_or_default()
    }
}

impl Drop for Sshd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Where dstack's launcher writes the shim's output (`dstack_ssh`'s `SHIM_LOG`).
const SHIM_LOG: &str = "/tmp/dstack-shim.log";

/// The launcher redirects to `/tmp/dstack-shim.log` as the login user. Every test sshd of a
/// machine shares its `/tmp` (real instances do not), so a log left by another login user
/// (`ubuntu`, then `hotaisle`) would make the redirect, and so the launch, fail: root makes
/// the file writable by every user before any login.
fn shared_shim_log() {
    let path = Path::new(SHIM_LOG);
    let _ = std::fs::OpenOptions::new().create(true).append(true).open(path);
    chmod(path, 0o666);
}

/// A loopback port nothing listens on (at the time of asking).
pub fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("a free port");
    listener.local_addr().expect("its address").port()
}

/// A fresh ed25519 key pair, as dstack gives projects.
pub fn key_pair(comment: &str) -> SshKeyPair {
    let mut key = PrivateKey::random(&mut OsRng, Algorithm::Ed25519).expect("a key");
    key.set_comment(comment);
    let public = key.public_key().to_openssh().expect("encoded");
    let private = key.to_openssh(LineEnding::LF).expect("encoded");
    SshKeyPair { public, private: Secret::new(private.as_str()) }
}

/// The `sshd` binary, once the machine can run it for `user`: root (privilege separation,
/// logging in as another user) and the user created as a cloud image has it.
fn usable(user: &str) -> Result<PathBuf, String> {
    let binary = std::env::var_os("DSTACK_TEST_SSHD")
        .map_or_else(|| PathBuf::from("/usr/sbin/sshd"), PathBuf::from);
    if !binary.exists() {
        return Err(format!("{} is missing (Debian's openssh-server)", binary.display()));
    }
    if !is_root() {
        return Err("sshd runs as root to let another user in".to_owned());
    }
    std::fs::create_dir_all("/run/sshd").map_err(|e| format!("/run/sshd: {e}"))?;
    if !user_exists(user) {
        // `*`, not useradd's locked `!`: sshd without PAM refuses locked accounts. Two
        // tests may race to create it; whoever loses finds it made.
        let _ = Command::new("useradd")
            .args(["--create-home", "--shell", "/bin/sh", "--password", "*", user])
            .output();
        if !user_exists(user) {
            return Err(format!("the login user {user} cannot be created"));
        }
    }
    Ok(binary)
}

fn user_exists(user: &str) -> bool {
    Command::new("id").arg(user).output().is_ok_and(|o| o.status.success())
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

fn chmod(path: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
        .unwrap_or_else(|e| panic!("chmod {mode:o} {}: {e}", path.display()));
}
