//! What the JarvisLabs tests share: the fake (`dstack_testkit::fakes::jarvislabs`, in the
//! shapes of dstack's JarvisLabs test fixtures, gpuhunt's `server_meta` fixture and
//! JarvisLabs' SDK), a registry pointed at it, configs, requirements and SSH settings.
#![allow(dead_code)]

use std::sync::Arc;
use std::time::Duration;

use dstack_backend_kit::{BackendContext, HttpSettings};
use dstack_core::config::load::from_yaml;
use dstack_core::config::{BackendConfigWithCreds, BackendType};
use dstack_core::offers::{InstanceConfiguration, InstanceOfferWithAvailability, SshKey};
use dstack_core::provisioning::{AgentSettings, shim_commands};
use dstack_core::resources::Requirements;
use dstack_core::ssh::SshSettings;
use dstack_core::{Compute, Configurator, Registry};
use dstack_testkit::fakes::jarvislabs::{self, FakeJarvisLabs};
use dstack_testkit::fixtures;
use serde_json::Value;

pub const KEY: &str = "jl-api-key-1";

pub struct Setup {
    pub fake: FakeJarvisLabs,
    pub registry: Registry,
    _catalog: tempfile::TempDir,
}

pub fn http() -> HttpSettings {
    HttpSettings {
        max_attempts: 2,
        initial_backoff: Duration::from_millis(1),
        max_backoff: Duration::from_millis(5),
        ..HttpSettings::default()
    }
}

/// SSH to instances goes to `port` on loopback (a test sshd, or a closed port).
pub fn ssh(port: u16) -> SshSettings {
    SshSettings {
        instance_port: Some(port),
        connect_timeout: Duration::from_secs(5),
        connect_attempts: 2,
        retry_interval: Duration::from_millis(200),
        launch_timeout: Duration::from_secs(10),
        setup_timeout: Duration::from_secs(10),
        ..SshSettings::default()
    }
}

/// The fake with `meta` as its offers, and a registry whose JarvisLabs endpoint is the
/// fake's main host; instances are reached at `ssh`.
pub async fn setup_with(meta: Value, ssh: SshSettings) -> Setup {
    let fake = jarvislabs::start_with(&[KEY], meta).await;
    let (catalog_dir, catalog) = fixtures::empty_catalog();
    let mut context = BackendContext::new(catalog);
    context.endpoints.set(BackendType::Jarvislabs, fake.url());
    context.http = http();
    context.ssh = ssh;
    let mut registry = Registry::new();
    dstack_backend_jarvislabs::register(&mut registry, &context);
    Setup { fake, registry, _catalog: catalog_dir }
}

/// The fake with gpuhunt's fixture; instances unreachable over SSH (a closed port).
pub async fn setup() -> Setup {
    setup_with(jarvislabs::server_meta(), ssh(dstack_testkit::sshd::free_port())).await
}

impl Setup {
    pub fn configurator(&self) -> Arc<dyn Configurator> {
        self.registry.get(BackendType::Jarvislabs).unwrap()
    }

    /// The compute of a stored `config`, as the server builds it.
    pub async fn compute(&self, config: BackendConfigWithCreds) -> Arc<dyn Compute> {
        let configurator = self.configurator();
        let record = configurator.create_backend("main", config).await.unwrap();
        configurator.compute(&record).await.unwrap()
    }

    /// The compute of `config` in another registry on the same fake, reaching instances
    /// at `ssh` (the server restarted with other SSH settings).
    pub async fn compute_with_ssh(
        &self,
        config: BackendConfigWithCreds,
        ssh: SshSettings,
    ) -> Arc<dyn Compute> {
        let mut context = BackendContext::new(fixtures::empty_catalog().1);
        context.endpoints.set(BackendType::Jarvislabs, self.fake.url());
        context.http = http();
        context.ssh = ssh;
        let mut registry = Registry::new();
        dstack_backend_jarvislabs::register(&mut registry, &context);
        let configurator = registry.get(BackendType::Jarvislabs).unwrap();
        let record = configurator.create_backend("main", config).await.unwrap();
        configurator.compute(&record).await.unwrap()
    }

    /// The first offer meeting `requirements` in the fake's offers.
    pub async fn offer(&self, requirements: &Requirements) -> InstanceOfferWithAvailability {
        let compute = self.compute(config(KEY, None)).await;
        compute.offers(requirements).await.unwrap().remove(0)
    }

    /// The calls as `<host> <METHOD> <path>` whose path starts with `prefix`.
    pub fn calls_to(&self, prefix: &str) -> Vec<String> {
        self.fake
            .calls()
            .into_iter()
            .filter(|c| c.split(' ').nth(2).is_some_and(|p| p.starts_with(prefix)))
            .collect()
    }
}

/// A JarvisLabs config with `key`, in `regions` when given.
pub fn config(key: &str, regions: Option<&[&str]>) -> BackendConfigWithCreds {
    let regions = match regions {
        Some(regions) => format!("regions: [{}]\n", regions.join(", ")),
        None => String::new(),
    };
    from_yaml(&format!("type: jarvislabs\n{regions}creds: {{type: api_key, api_key: '{key}'}}\n"))
        .unwrap()
}

/// Requirements of `resources:` written as YAML (`gpu: L4`, `disk: 250GB`, ...).
pub fn requirements(resources: &str) -> Requirements {
    Requirements { resources: from_yaml(resources).unwrap(), ..Default::default() }
}

pub fn gpu(spec: &str) -> Requirements {
    requirements(&format!("gpu: {spec}\n"))
}

/// An instance configuration of project `main` with `public_keys`.
pub fn instance_config(public_keys: &[&str]) -> InstanceConfiguration {
    let mut config = fixtures::instance_configuration("main");
    config.ssh_keys = public_keys.iter().map(|k| SshKey { public: (*k).to_owned() }).collect();
    config
}

/// The shim commands the backend runs (the default agent, amd64).
pub fn launcher_commands() -> Vec<String> {
    shim_commands(&AgentSettings::default().downloads("amd64"), false)
}

/// What the sudo stand-in records for dstack's setup line, then the launcher: the package
/// installs only for tools the sshd's PATH lacks, then Docker enabled.
pub fn expected_sudo_calls() -> Vec<Vec<String>> {
    let path = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
    let missing = |tool: &str| {
        let check = format!("command -v {tool} >/dev/null 2>&1");
        !std::process::Command::new("sh")
            .args(["-c", &check])
            .env("PATH", path)
            .status()
            .is_ok_and(|s| s.success())
    };
    let words = |text: &str| text.split(' ').map(str::to_owned).collect::<Vec<_>>();
    let install = |package: &str| {
        words(&format!("DEBIAN_FRONTEND=noninteractive apt-get install -y {package}"))
    };
    let mut calls = Vec::new();
    if missing("curl") || missing("docker") || missing("jq") {
        calls.push(words("apt-get update"));
    }
    if missing("curl") {
        calls.push(install("curl"));
    }
    for (tool, package) in [("docker", "docker.io"), ("jq", "jq")] {
        if missing(tool) {
            calls.push(words("apt-get update"));
            calls.push(install(package));
        }
    }
    calls.push(words("systemctl enable --now docker"));
    calls.push(vec!["sh".to_owned(), "-c".to_owned(), launcher_commands().join(" && ")]);
    calls
}
