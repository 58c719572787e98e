//! What a job container runs first (dstack's `get_docker_commands`): make sure `sshd` and
//! `curl` are there, download dstack-runner, and start it with the keys it authorizes. The
//! container backends run these commands joined with ` && ` in `/bin/sh -c`.

use crate::provisioning::{RUNNER_HTTP_PORT, RUNNER_SSH_PORT};
use crate::shell;

/// Where the runner binary is put in the container.
pub const RUNNER_BINARY_PATH: &str = "/usr/local/bin/dstack-runner";

/// The commands that start dstack-runner from `runner_url`, authorizing `authorized_keys`
/// (normalized: [`super::build_authorized_keys`]). `before_runner` are a backend's own steps
/// (Kubernetes adds none; Vast.ai exports its ports), run after the tools are installed.
pub fn runner_commands(
    authorized_keys: &[String],
    runner_url: &str,
    before_runner: &[String],
) -> Vec<String> {
    let mut commands: Vec<String> = [
        // A subshell, so that a missing package manager ends the setup with its own status.
        "( :",
        // Images that preload libraries into every process break sshd (dstack issue 1769).
        "unset LD_LIBRARY_PATH && unset LD_PRELOAD",
        r#"exists() { command -v "$1" > /dev/null 2>&1; }"#,
        "install_pkg() { NAME=Distribution; test -f /etc/os-release && . /etc/os-release; echo $NAME not supported; exit 11; }",
        r#"if exists apt-get; then install_pkg() { apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y "$1"; }; fi"#,
        r#"if exists yum; then install_pkg() { yum install -y "$1"; }; fi"#,
        r#"if exists apk; then install_pkg() { apk add -U "$1"; }; fi"#,
        "if ! exists sshd; then install_pkg openssh-server; fi",
        "if ! exists curl; then install_pkg curl; fi",
        ": )",
    ]
    .map(str::to_owned)
    .into();
    commands.extend(before_runner.iter().cloned());
    let mut runner: Vec<String> = [
        RUNNER_BINARY_PATH,
        "--log-level",
        "6",
        "start",
        "--temp-dir",
        "/tmp/runner",
        "--http-port",
        &RUNNER_HTTP_PORT.to_string(),
        "--ssh-port",
        &RUNNER_SSH_PORT.to_string(),
    ]
    .map(str::to_owned)
    .into();
    for key in authorized_keys {
        runner.extend(["--ssh-authorized-key".to_owned(), key.clone()]);
    }
    commands.extend([
        format!(
            "curl --connect-timeout 60 --max-time 240 --retry 1 --output {RUNNER_BINARY_PATH} {}",
            shell::quote(runner_url)
        ),
        format!("chmod +x {RUNNER_BINARY_PATH}"),
        shell::join(&runner),
    ]);
    commands
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_runner_starts_last_with_its_ports_and_every_key() {
        let keys = ["ssh-ed25519 AAAA project".to_owned(), "ssh-ed25519 BBBB user".to_owned()];
        let before = ["echo ready".to_owned()];
        let commands = runner_commands(&keys, "https://x/runner?v=1&a=b", &before);
        assert_eq!(commands.first().unwrap(), "( :");
        let setup_end = commands.iter().position(|c| c == ": )").unwrap();
        assert_eq!(commands[setup_end + 1], "echo ready", "the backend's steps follow the setup");
        assert!(
            commands.iter().any(|c| c == "if ! exists sshd; then install_pkg openssh-server; fi")
        );
        let download = &commands[commands.len() - 3];
        assert!(
            download.ends_with("--output /usr/local/bin/dstack-runner 'https://x/runner?v=1&a=b'")
        );
        assert_eq!(commands[commands.len() - 2], "chmod +x /usr/local/bin/dstack-runner");
        assert_eq!(
            commands.last().unwrap(),
            "/usr/local/bin/dstack-runner --log-level 6 start --temp-dir /tmp/runner --http-port 10999 \
             --ssh-port 10022 --ssh-authorized-key 'ssh-ed25519 AAAA project' \
             --ssh-authorized-key 'ssh-ed25519 BBBB user'"
        );
    }
}
