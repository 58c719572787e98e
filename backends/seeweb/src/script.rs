//! The `user_customize` script dstack 0.22.5 gives a Seeweb server: a bash script (not
//! cloud-config) that authorizes the keys, installs Docker (and NVIDIA's container toolkit on
//! GPU plans), sets up the firewall, downloads dstack's shim and installs it as a systemd unit
//! that is enabled but not started — Seeweb reboots the server after its first cloud-init, and
//! the shim starts on that boot.

use dstack_core::provisioning::AgentDownloads;
use dstack_core::shell::quote;

const SHIM_PATH: &str = "/usr/local/bin/dstack-shim";
const RUNNER_PATH: &str = "/usr/local/bin/dstack-runner";
const WORKING_DIR: &str = "/root/.dstack";
const SHIM_ENV_FILE: &str = "/etc/dstack-shim.env";
/// dstack's `DEFAULT_PRIVATE_SUBNETS`, let through the firewall besides SSH.
const PRIVATE_SUBNETS: [&str; 3] = ["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16"];

/// The whole script: `#!/bin/bash`, `set -euo pipefail`, then one command per line.
pub fn user_customize(
    authorized_keys: &[String],
    is_gpu: bool,
    downloads: &AgentDownloads,
) -> String {
    let mut commands = setup_commands(authorized_keys, is_gpu);
    commands.extend(cloud_instance_commands());
    commands.extend(shim_download_commands(&downloads.shim_url));
    commands.extend(persist_shim_commands(&shim_env(&downloads.runner_url)));
    format!("#!/bin/bash\nset -euo pipefail\n{}", commands.join("\n"))
}

/// The keys (each once, in order), then Docker and, on GPU plans, NVIDIA's container toolkit.
fn setup_commands(authorized_keys: &[String], is_gpu: bool) -> Vec<String> {
    let mut commands: Vec<String> = [
        "install -d -m 0700 /root/.ssh",
        "touch /root/.ssh/authorized_keys",
        "chmod 0600 /root/.ssh/authorized_keys",
    ]
    .map(str::to_owned)
    .into();
    let mut seen: Vec<&str> = Vec::new();
    for key in authorized_keys.iter().map(|k| k.trim()).filter(|k| !k.is_empty()) {
        if !seen.contains(&key) {
            seen.push(key);
            commands.push(format!("printf '%s\\n' {} >> /root/.ssh/authorized_keys", quote(key)));
        }
    }
    commands.push("export DEBIAN_FRONTEND=noninteractive".to_owned());
    commands.extend(
        [
            "install -d -m 0755 /etc/apt/keyrings",
            "curl --max-time 60 -fsSL https://download.docker.com/linux/ubuntu/gpg | gpg --batch --yes --dearmor -o /etc/apt/keyrings/docker.gpg",
            "chmod a+r /etc/apt/keyrings/docker.gpg",
            "echo \"deb [arch=$(dpkg --print-architecture) signed-by=/etc/apt/keyrings/docker.gpg] https://download.docker.com/linux/ubuntu $(lsb_release -cs) stable\" | tee /etc/apt/sources.list.d/docker.list > /dev/null",
            "apt-get update",
            "apt-get --assume-yes install docker-ce docker-ce-cli containerd.io docker-compose-plugin jq",
            "systemctl enable --now docker.service",
        ]
        .map(str::to_owned),
    );
    if is_gpu {
        commands.extend(
            [
                "apt-get --assume-yes install nvidia-container-toolkit",
                "nvidia-ctk runtime configure --runtime=docker",
                // Seeweb's cloud-init runner may report a failure although Docker comes up.
                "systemctl restart docker.service || true",
            ]
            .map(str::to_owned),
        );
    }
    commands
}

/// dstack's `get_setup_cloud_instance_commands`: the cgroup-driver fix for NVIDIA's toolkit,
/// and the firewall (SSH and the private subnets in, everything out).
fn cloud_instance_commands() -> Vec<String> {
    let mut commands = vec![
        "/bin/sh -c ' grep -q nvidia /etc/docker/daemon.json && ! grep -q native.cgroupdriver /etc/docker/daemon.json && jq '\\''.\"exec-opts\" = ((.\"exec-opts\" // []) + [\"native.cgroupdriver=cgroupfs\"])'\\'' /etc/docker/daemon.json > /tmp/daemon.json && sudo mv /tmp/daemon.json /etc/docker/daemon.json && sudo service docker restart || true'".to_owned(),
    ];
    commands.extend(
        [
            "ufw --force reset",
            "ufw default deny incoming",
            "ufw default allow outgoing",
            "ufw allow ssh",
        ]
        .map(str::to_owned),
    );
    commands.extend(PRIVATE_SUBNETS.iter().map(|subnet| format!("ufw allow from {subnet}")));
    commands.push("ufw --force enable".to_owned());
    commands
}

/// dstack's `get_shim_pre_start_commands`.
fn shim_download_commands(shim_url: &str) -> Vec<String> {
    vec![
        "dlpath=$(sudo mktemp -t dstack-shim.XXXXXXXXXX)".to_owned(),
        format!(
            "sudo curl -sS --compressed --connect-timeout 60 --max-time 240 --retry 1 --output \"$dlpath\" \"{shim_url}\""
        ),
        format!("sudo mv \"$dlpath\" {SHIM_PATH}"),
        format!("sudo chmod +x {SHIM_PATH}"),
        format!("{{ sudo chcon system_u:object_r:bin_t:s0 {SHIM_PATH} 2>/dev/null || true; }}"),
        format!("sudo mkdir {WORKING_DIR} -p"),
    ]
}

/// dstack's `get_shim_env`, in its order.
fn shim_env(runner_url: &str) -> Vec<(&'static str, String)> {
    vec![
        ("DSTACK_SHIM_HOME", WORKING_DIR.to_owned()),
        ("DSTACK_SHIM_HTTP_PORT", "10998".to_owned()),
        ("DSTACK_SHIM_LOG_LEVEL", "5".to_owned()),
        ("DSTACK_RUNNER_DOWNLOAD_URL", runner_url.to_owned()),
        ("DSTACK_RUNNER_BINARY_PATH", RUNNER_PATH.to_owned()),
        ("DSTACK_RUNNER_HTTP_PORT", "10999".to_owned()),
        ("DSTACK_RUNNER_SSH_PORT", "10022".to_owned()),
        ("DSTACK_RUNNER_LOG_LEVEL", "5".to_owned()),
    ]
}

/// The shim as a systemd service: its environment file and unit, enabled, never started.
fn persist_shim_commands(env: &[(&str, String)]) -> Vec<String> {
    let env_lines: Vec<String> = env.iter().map(|(k, v)| quote(&format!("{k}={v}"))).collect();
    let exec_start = format!("ExecStart={SHIM_PATH}");
    let environment = format!("EnvironmentFile={SHIM_ENV_FILE}");
    let unit = [
        "[Unit]",
        "Description=dstack shim",
        "Wants=network-online.target",
        "After=network-online.target docker.service",
        "",
        "[Service]",
        &environment,
        &exec_start,
        "Restart=always",
        "RestartSec=3",
        "",
        "[Install]",
        "WantedBy=multi-user.target",
    ];
    let unit_lines: Vec<String> = unit.iter().map(|line| quote(line)).collect();
    vec![
        format!("printf '%s\\n' {} > {SHIM_ENV_FILE}", env_lines.join(" ")),
        format!("chmod 0600 {SHIM_ENV_FILE}"),
        format!(
            "printf '%s\\n' {} > /etc/systemd/system/dstack-shim.service",
            unit_lines.join(" ")
        ),
        "systemctl daemon-reload".to_owned(),
        "systemctl enable dstack-shim.service".to_owned(),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn downloads() -> AgentDownloads {
        AgentDownloads { shim_url: "https://x/shim".into(), runner_url: "https://x/runner".into() }
    }

    #[test]
    fn the_script_writes_keys_and_enables_the_shim_without_starting_it() {
        let key = "ssh-ed25519 AAAATEST comment with ' quote".to_owned();
        let script = user_customize(&[key.clone(), format!(" {key}\n")], true, &downloads());
        assert!(
            script.starts_with("#!/bin/bash\nset -euo pipefail\ninstall -d -m 0700 /root/.ssh\n")
        );
        let quoted = format!("printf '%s\\n' {}", quote(&key));
        assert_eq!(script.matches(&quoted).count(), 1, "each key once");
        assert!(quoted.contains(r#"'ssh-ed25519 AAAATEST comment with '"'"' quote'"#), "{quoted}");
        assert!(!script.contains("nohup") && !script.contains("echo \"ssh-"));
        assert!(script.contains("nvidia-ctk runtime configure --runtime=docker"));
        assert!(script.contains("DSTACK_SHIM_HTTP_PORT=10998 "));
        assert!(script.contains("DSTACK_RUNNER_DOWNLOAD_URL=https://x/runner "));
        assert!(script.contains("--output \"$dlpath\" \"https://x/shim\""));
        assert!(script.contains("> /etc/dstack-shim.env\nchmod 0600 /etc/dstack-shim.env"));
        assert!(script.contains("'[Unit]' 'Description=dstack shim'"));
        assert!(script.contains("'' '[Service]' EnvironmentFile=/etc/dstack-shim.env"));
        assert!(script.contains("ufw allow from 192.168.0.0/16\nufw --force enable"));
        assert!(script.ends_with("systemctl daemon-reload\nsystemctl enable dstack-shim.service"));
        let cpu = user_customize(&[], false, &downloads());
        assert!(!cpu.contains("nvidia-container-toolkit") && !cpu.contains("authorized_keys >>"));
    }
}
