//! What every VM-based backend does the same way when it creates an instance: the instance's
//! name, its tags, and the cloud-init user data that installs and starts dstack's agent
//! (`dstack-shim`), as dstack 0.22.5 does.

use indexmap::IndexMap;
use rand::Rng;

use crate::offers::InstanceConfiguration;

/// The dstack release whose agent instances run by default.
pub const DSTACK_VERSION: &str = "0.22.5";

/// Version of dstack's VM base images by default (the CPU AMI's name is `dstack-<version>`).
pub const VM_BASE_IMAGE_VERSION: &str = "0.14";

/// dstack's release bucket, as a template with `{version}`, `{component}` and `{arch}`.
const RELEASE_URL: &str = "https://dstack-runner-downloads.s3.eu-west-1.amazonaws.com/{version}/binaries/dstack-{component}-linux-{arch}";

/// Which agent new instances run and where they download it from, and the name of dstack's
/// base image. The embedding program decides: the server reads dstack's variables into it
/// ([`AgentSettings::from_vars`]); nothing here reads the environment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AgentSettings {
    pub shim_version: String,
    pub runner_version: String,
    /// Download URL templates with `{version}` and `{arch}`.
    pub shim_url: String,
    pub runner_url: String,
    /// dstack's staging prefix of the base image name (empty for releases).
    pub base_image_prefix: String,
    pub base_image_version: String,
}

impl Default for AgentSettings {
    fn default() -> Self {
        Self::from_vars(|_| None)
    }
}

impl AgentSettings {
    /// From dstack's variables, looked up with `var`: `DSTACK_VERSION` (both agents), else
    /// `DSTACK_SHIM_VERSION` / `DSTACK_RUNNER_VERSION`; `DSTACK_SHIM_DOWNLOAD_URL` /
    /// `DSTACK_RUNNER_DOWNLOAD_URL`; `DSTACK_VM_BASE_IMAGE_PREFIX` /
    /// `DSTACK_VM_BASE_IMAGE_VERSION`.
    pub fn from_vars(var: impl Fn(&str) -> Option<String>) -> Self {
        let version = |component: &str| {
            var("DSTACK_VERSION")
                .or_else(|| var(&format!("DSTACK_{component}_VERSION")))
                .unwrap_or_else(|| DSTACK_VERSION.to_owned())
        };
        let url = |component: &str| {
            var(&format!("DSTACK_{}_DOWNLOAD_URL", component.to_ascii_uppercase()))
                .unwrap_or_else(|| RELEASE_URL.replace("{component}", component))
        };
        AgentSettings {
            shim_version: version("SHIM"),
            runner_version: version("RUNNER"),
            shim_url: url("shim"),
            runner_url: url("runner"),
            base_image_prefix: var("DSTACK_VM_BASE_IMAGE_PREFIX").unwrap_or_default(),
            base_image_version: var("DSTACK_VM_BASE_IMAGE_VERSION")
                .unwrap_or_else(|| VM_BASE_IMAGE_VERSION.to_owned()),
        }
    }

    /// The download URLs for `arch` (`amd64` or `arm64`).
    pub fn downloads(&self, arch: &str) -> AgentDownloads {
        let fill = |template: &str, version: &str| {
            template.replace("{version}", version).replace("{arch}", arch)
        };
        AgentDownloads {
            shim_url: fill(&self.shim_url, &self.shim_version),
            runner_url: fill(&self.runner_url, &self.runner_version),
        }
    }

    /// The base image's name: `[prefix]dstack-<version>`.
    pub fn base_image_name(&self) -> String {
        format!("{}dstack-{}", self.base_image_prefix, self.base_image_version)
    }
}

const SHIM_HTTP_PORT: u16 = 10998;
/// The port dstack-runner serves its API on, in the container.
pub const RUNNER_HTTP_PORT: u16 = 10999;
/// The port dstack-runner's own sshd listens on, in the container.
pub const RUNNER_SSH_PORT: u16 = 10022;
const SHIM_RESTART_INTERVAL_SECONDS: u32 = 3;
const BIN_DIR: &str = "/usr/local/bin";
const WORKING_DIR: &str = "/root/.dstack";
/// Subnets the instance's firewall lets in besides SSH (dstack's private ranges).
const PRIVATE_SUBNETS: [&str; 3] = ["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16"];
const MAX_NAME_LENGTH: usize = 60;
const NAME_SUFFIX_LENGTH: usize = 8;

/// A unique cloud name for an instance: `dstack-<project>-<instance>-<8 random chars>`, at
/// most 60 characters; the project is left out when it is not a valid resource name everywhere.
pub fn unique_instance_name(config: &InstanceConfiguration) -> String {
    unique_instance_name_within(config, MAX_NAME_LENGTH)
}

/// [`unique_instance_name`] for a provider with a shorter limit (JarvisLabs: 40): the prefix
/// is cut, the random suffix kept, as dstack's `generate_unique_instance_name(max_length)`.
pub fn unique_instance_name_within(config: &InstanceConfiguration, max_length: usize) -> String {
    format!("{}-{}", name_prefix(config, max_length), random_suffix())
}

/// A name like [`unique_instance_name`]'s whose suffix comes from the instance's dstack id
/// (`instance_id`), so that every attempt to create one instance uses the same name: a
/// backend without idempotency tokens finds by it what an interrupted attempt created.
pub fn stable_instance_name(config: &InstanceConfiguration) -> String {
    stable_name(&config.project_name, &config.instance_name, &config.instance_id, MAX_NAME_LENGTH)
}

/// `dstack-<project>-<resource>-<suffix>` within `max_length`, the suffix derived from `id`:
/// the same on every attempt to create the one resource `id` names.
pub(crate) fn stable_name(project: &str, resource: &str, id: &str, max_length: usize) -> String {
    let hash = fnv1a(&[id]);
    const CHARS: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
    let suffix: String = (0..NAME_SUFFIX_LENGTH)
        .map(|i| CHARS[((hash >> (i * 6)) % CHARS.len() as u64) as usize] as char)
        .collect();
    format!("{}-{suffix}", resource_name_prefix(project, resource, max_length))
}

/// An idempotency token (hex, 32 characters) for creating one dstack instance on one offer:
/// the same instance (`instance_id`) and the same `offer_parts` (region, zone, instance type)
/// give the same token on every attempt, so that a provider that keeps tokens (AWS's
/// `ClientToken`) returns the instance an interrupted attempt started.
pub fn idempotency_token(config: &InstanceConfiguration, offer_parts: &[&str]) -> String {
    let mut parts = vec![config.instance_id.as_str()];
    parts.extend_from_slice(offer_parts);
    let first = fnv1a(&parts);
    parts.push("\u{1}");
    format!("{first:016x}{:016x}", fnv1a(&parts))
}

/// FNV-1a over the parts (each ended by a NUL): stable across Rust releases, unlike the
/// standard library's hasher.
fn fnv1a(parts: &[&str]) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in parts.iter().flat_map(|p| p.bytes().chain([0])) {
        hash = (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3);
    }
    hash
}

/// `dstack-<project>-<instance>` (the project left out when it is not a valid resource name
/// everywhere), cut to leave room for the suffix within `max_length`.
fn name_prefix(config: &InstanceConfiguration, max_length: usize) -> String {
    resource_name_prefix(&config.project_name, &config.instance_name, max_length)
}

/// `dstack-<project>-<resource>`, the project left out when it is not a valid resource name
/// everywhere (dstack's `generate_unique_backend_name`), cut to leave room for the suffix.
fn resource_name_prefix(project_name: &str, resource_name: &str, max_length: usize) -> String {
    let valid_project = (2..=41).contains(&project_name.len())
        && project_name.starts_with(|c: char| c.is_ascii_lowercase())
        && project_name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
    let mut prefix = if valid_project {
        format!("dstack-{project_name}-{resource_name}")
    } else {
        format!("dstack-{resource_name}")
    };
    prefix.truncate(max_length.saturating_sub(NAME_SUFFIX_LENGTH + 1));
    prefix
}

/// 8 random characters of `[a-z0-9]`.
fn random_suffix() -> String {
    const CHARS: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
    let mut rng = rand::rng();
    (0..NAME_SUFFIX_LENGTH).map(|_| CHARS[rng.random_range(0..CHARS.len())] as char).collect()
}

/// A unique cloud name for a fleet's placement group, as dstack's
/// `generate_unique_placement_group_name`: `dstack-<project>-<fleet>-<8 random chars>`, at most
/// 60 characters, the project left out when it is not a valid resource name everywhere.
pub fn unique_placement_group_name(project_name: &str, fleet_name: &str) -> String {
    format!(
        "{}-{}",
        resource_name_prefix(project_name, fleet_name, MAX_NAME_LENGTH),
        random_suffix()
    )
}

/// The tags of a created resource: dstack's own first, then the backend's configured tags,
/// then the run's; an earlier source wins, so users cannot override what admins set.
pub fn merge_tags(
    base: IndexMap<String, String>,
    backend: Option<&IndexMap<String, String>>,
    resource: Option<&IndexMap<String, String>>,
) -> IndexMap<String, String> {
    let mut tags = base;
    for extra in [backend, resource].into_iter().flatten() {
        for (key, value) in extra {
            tags.entry(key.clone()).or_insert_with(|| value.clone());
        }
    }
    tags
}

/// dstack's own tags of a resource a project's instances share (a security group, a key pair).
pub fn project_base_tags(project_name: &str) -> IndexMap<String, String> {
    IndexMap::from([
        ("owner".to_owned(), "dstack".to_owned()),
        ("dstack_project".to_owned(), project_name.to_owned()),
    ])
}

/// dstack's own tags of an instance: its name, the project's tags, and who asked for it.
pub fn instance_base_tags(name: &str, config: &InstanceConfiguration) -> IndexMap<String, String> {
    let mut tags = IndexMap::from([("Name".to_owned(), name.to_owned())]);
    tags.extend(project_base_tags(&config.project_name));
    tags.extend([
        ("dstack_name".to_owned(), config.instance_name.clone()),
        ("dstack_user".to_owned(), config.user.clone()),
    ]);
    tags
}

/// Where an instance downloads dstack's agent from ([`AgentSettings::downloads`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AgentDownloads {
    pub shim_url: String,
    pub runner_url: String,
}

/// cloud-init user data that authorizes `authorized_keys`, sets up the firewall (unless the
/// image may lack `ufw`) and starts `dstack-shim`, restarting it if it exits.
pub fn user_data(
    authorized_keys: &[String],
    downloads: &AgentDownloads,
    skip_firewall_setup: bool,
) -> String {
    cloud_config(authorized_keys, &shim_commands(downloads, skip_firewall_setup))
}

/// dstack's `get_shim_commands`: the shell commands that set up the firewall (unless
/// skipped), download `dstack-shim` and keep it running. Backends whose provider takes a
/// startup script rather than cloud-init run them joined with ` && ` (Verda, CloudRift);
/// others put their own commands first (dstack's `backend_specific_commands`).
pub fn shim_commands(downloads: &AgentDownloads, skip_firewall_setup: bool) -> Vec<String> {
    let shim = format!("{BIN_DIR}/dstack-shim");
    let mut commands: Vec<String> = vec![
        // NVIDIA's container toolkit and Docker disagree on the cgroup driver on some images.
        "/bin/sh -c 'grep -q nvidia /etc/docker/daemon.json && ! grep -q native.cgroupdriver /etc/docker/daemon.json && jq '\\''.\"exec-opts\" = ((.\"exec-opts\" // []) + [\"native.cgroupdriver=cgroupfs\"])'\\'' /etc/docker/daemon.json > /tmp/daemon.json && sudo mv /tmp/daemon.json /etc/docker/daemon.json && sudo service docker restart || true'".to_owned(),
    ];
    if !skip_firewall_setup {
        commands.extend(
            ["ufw --force reset", "ufw default deny incoming", "ufw default allow outgoing"]
                .map(str::to_owned),
        );
        commands.push("ufw allow ssh".to_owned());
        commands.extend(PRIVATE_SUBNETS.iter().map(|subnet| format!("ufw allow from {subnet}")));
        commands.push("ufw --force enable".to_owned());
    }
    commands.extend([
        "dlpath=$(sudo mktemp -t dstack-shim.XXXXXXXXXX)".to_owned(),
        format!(
            "sudo curl -sS --compressed --connect-timeout 60 --max-time 240 --retry 1 --output \"$dlpath\" \"{}\"",
            downloads.shim_url
        ),
        format!("sudo mv \"$dlpath\" {shim}"),
        format!("sudo chmod +x {shim}"),
        format!("{{ sudo chcon system_u:object_r:bin_t:s0 {shim} 2>/dev/null || true; }}"),
        format!("sudo mkdir {WORKING_DIR} -p"),
    ]);
    let env = [
        ("DSTACK_SHIM_HOME", WORKING_DIR.to_owned()),
        ("DSTACK_SHIM_HTTP_PORT", SHIM_HTTP_PORT.to_string()),
        ("DSTACK_SHIM_LOG_LEVEL", "5".to_owned()),
        ("DSTACK_RUNNER_DOWNLOAD_URL", downloads.runner_url.clone()),
        ("DSTACK_RUNNER_BINARY_PATH", format!("{BIN_DIR}/dstack-runner")),
        ("DSTACK_RUNNER_HTTP_PORT", RUNNER_HTTP_PORT.to_string()),
        ("DSTACK_RUNNER_SSH_PORT", RUNNER_SSH_PORT.to_string()),
        ("DSTACK_RUNNER_LOG_LEVEL", "5".to_owned()),
    ];
    commands.extend(env.iter().map(|(key, value)| format!("export \"{key}={value}\"")));
    commands.push(format!(
        "nohup sh -c 'while true; do {shim}; sleep {SHIM_RESTART_INTERVAL_SECONDS}; done' &"
    ));
    commands
}

/// cloud-init user data that runs `commands` (joined with ` && `, in one `sh -c`, as dstack
/// runs them) and authorizes `authorized_keys`.
pub fn cloud_config(authorized_keys: &[String], commands: &[String]) -> String {
    // JSON strings are valid YAML double-quoted scalars, so they need no YAML escaping of
    // their own.
    let quote = |s: &str| serde_json::to_string(s).expect("strings serialize");
    let mut out = String::from("#cloud-config\nruncmd:\n- - sh\n  - -c\n");
    out.push_str(&format!("  - {}\n", quote(&commands.join(" && "))));
    out.push_str("ssh_authorized_keys:\n");
    for key in authorized_keys {
        out.push_str(&format!("- {}\n", quote(key.trim())));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(project: &str) -> InstanceConfiguration {
        InstanceConfiguration {
            project_name: project.to_owned(),
            instance_name: "fleet-0".to_owned(),
            instance_id: "id".to_owned(),
            ssh_keys: vec![],
            user: "admin".to_owned(),
            reservation: None,
            placement_group: None,
            tags: None,
        }
    }

    #[test]
    fn placement_group_names_are_unique_and_bounded() {
        let a = unique_placement_group_name("main", "my-fleet");
        assert!(
            a.starts_with("dstack-main-my-fleet-") && a.len() == "dstack-main-my-fleet-".len() + 8
        );
        assert_ne!(a, unique_placement_group_name("main", "my-fleet"));
        assert!(unique_placement_group_name("Main_Project", "f").starts_with("dstack-f-"));
        assert_eq!(unique_placement_group_name("main", &"x".repeat(100)).len(), MAX_NAME_LENGTH);
    }

    #[test]
    fn instance_names_are_unique_bounded_and_keep_valid_projects() {
        let a = unique_instance_name(&config("main"));
        let b = unique_instance_name(&config("main"));
        assert!(
            a.starts_with("dstack-main-fleet-0-") && a.len() == "dstack-main-fleet-0-".len() + 8
        );
        assert_ne!(a, b);
        assert!(unique_instance_name(&config("Main_Project")).starts_with("dstack-fleet-0-"));
        let long = InstanceConfiguration { instance_name: "x".repeat(100), ..config("main") };
        assert_eq!(unique_instance_name(&long).len(), MAX_NAME_LENGTH);
        let short = unique_instance_name_within(&long, 40);
        assert!(short.len() == 40 && short.starts_with("dstack-main-xxx"), "{short}");
        assert_ne!(short[32..], unique_instance_name_within(&long, 40)[32..], "the suffix stays");
        let stable = stable_instance_name(&config("main"));
        assert_eq!(stable, stable_instance_name(&config("main")), "one name per instance id");
        let other = InstanceConfiguration { instance_id: "another".to_owned(), ..config("main") };
        assert_ne!(stable, stable_instance_name(&other));
        assert!(stable.starts_with("dstack-main-fleet-0-") && stable.len() == 28, "{stable}");
        let token = idempotency_token(&config("main"), &["us-east-1a", "c5.large"]);
        assert_eq!(token.len(), 32);
        assert_eq!(token, idempotency_token(&config("main"), &["us-east-1a", "c5.large"]));
        assert_ne!(token, idempotency_token(&config("main"), &["us-east-1b", "c5.large"]));
        assert_ne!(token, idempotency_token(&other, &["us-east-1a", "c5.large"]));
    }

    #[test]
    fn earlier_tag_sources_win() {
        let base = IndexMap::from([("owner".to_owned(), "dstack".to_owned())]);
        let backend = IndexMap::from([
            ("owner".to_owned(), "admin".to_owned()),
            ("team".to_owned(), "ml".to_owned()),
        ]);
        let run = IndexMap::from([
            ("team".to_owned(), "other".to_owned()),
            ("run".to_owned(), "1".to_owned()),
        ]);
        let tags = merge_tags(base, Some(&backend), Some(&run));
        let pairs: Vec<(&str, &str)> = tags.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        assert_eq!(pairs, [("owner", "dstack"), ("team", "ml"), ("run", "1")]);
    }

    #[test]
    fn user_data_is_cloud_config_that_starts_the_shim() {
        let downloads = AgentDownloads {
            shim_url: "https://example/shim".to_owned(),
            runner_url: "https://example/runner".to_owned(),
        };
        let data = user_data(&["ssh-ed25519 AAAA key\n".to_owned()], &downloads, false);
        let json = crate::yaml::node::parse(&data).expect("user data is YAML").root.to_json();
        let script = json["runcmd"][0][2].as_str().unwrap();
        assert!(script.contains("\"https://example/shim\""), "{script}");
        assert!(script.contains("export \"DSTACK_RUNNER_DOWNLOAD_URL=https://example/runner\""));
        assert!(script.contains("ufw allow from 10.0.0.0/8"));
        assert!(script.ends_with("sleep 3; done' &"));
        assert_eq!(json["ssh_authorized_keys"][0], "ssh-ed25519 AAAA key");
        assert!(data.starts_with("#cloud-config\n"));
        let without_firewall = user_data(&[], &downloads, true);
        assert!(!without_firewall.contains("ufw"));
        assert_eq!(
            script,
            shim_commands(&downloads, false).join(" && "),
            "one script, as dstack joins it"
        );
    }

    #[test]
    fn agent_settings_default_to_dstacks_release_and_follow_its_variables() {
        let downloads = AgentSettings::default().downloads("amd64");
        assert_eq!(
            downloads.shim_url,
            "https://dstack-runner-downloads.s3.eu-west-1.amazonaws.com/0.22.5/binaries/dstack-shim-linux-amd64"
        );
        assert_eq!(AgentSettings::default().base_image_name(), "dstack-0.14");
        let vars = |name: &str| match name {
            "DSTACK_SHIM_VERSION" => Some("0.30.0".to_owned()),
            "DSTACK_RUNNER_DOWNLOAD_URL" => {
                Some("http://mirror/{version}/runner-{arch}".to_owned())
            }
            "DSTACK_VM_BASE_IMAGE_PREFIX" => Some("stgn-".to_owned()),
            _ => None,
        };
        let settings = AgentSettings::from_vars(vars);
        let downloads = settings.downloads("arm64");
        assert!(downloads.shim_url.contains("/0.30.0/") && downloads.shim_url.ends_with("arm64"));
        assert_eq!(downloads.runner_url, "http://mirror/0.22.5/runner-arm64");
        assert_eq!(settings.base_image_name(), "stgn-dstack-0.14");
        // dstack 0.22.5: the shim's version never falls back to the runner's.
        let runner_only = AgentSettings::from_vars(|name| {
            (name == "DSTACK_RUNNER_VERSION").then(|| "0.30.1".to_owned())
        });
        assert_eq!(runner_only.runner_version, "0.30.1");
        assert_eq!(runner_only.shim_version, DSTACK_VERSION);
    }
}
