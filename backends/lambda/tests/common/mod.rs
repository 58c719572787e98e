//! What the Lambda tests share: the fake of Lambda's API (`dstack_testkit::fakes::lambda`),
//! a registry pointed at it whose SSH connections go to a test `sshd`, configs.
#![allow(dead_code)]

use std::sync::Arc;
use std::time::Duration;

use dstack_backend_kit::{BackendContext, HttpSettings};
use dstack_core::backend::SshKeyPair;
use dstack_core::config::load::from_yaml;
use dstack_core::config::{BackendConfigWithCreds, BackendType};
use dstack_core::offers::{InstanceConfiguration, SshKey};
use dstack_core::ssh::SshSettings;
use dstack_core::{Compute, Configurator, Registry};
use dstack_testkit::fakes::lambda::{self, FakeLambda};
use dstack_testkit::fixtures;

pub const KEY: &str = "secret_lambda_key_1";

pub struct Setup {
    pub fake: FakeLambda,
    pub registry: Registry,
    _catalog: tempfile::TempDir,
}

/// Short enough for tests, long enough for a loaded CI machine; every instance's SSH port is
/// `ssh_port` (the test sshd's, or a closed one).
pub fn ssh_settings(ssh_port: u16) -> SshSettings {
    SshSettings {
        connect_timeout: Duration::from_secs(5),
        connect_attempts: 2,
        retry_interval: Duration::from_millis(200),
        launch_timeout: Duration::from_secs(10),
        setup_timeout: Duration::from_secs(10),
        instance_port: Some(ssh_port),
        ..SshSettings::default()
    }
}

/// The fake with capacity for an A100 in us-east-1 only, and a registry whose Lambda
/// endpoint is the fake and whose instances are reached on `ssh_port`.
pub async fn setup(ssh_port: u16) -> Setup {
    let fake = lambda::start(&[KEY], &[("gpu_1x_a10", &[]), ("gpu_1x_a100", &["us-east-1"])]).await;
    let catalog = tempfile::tempdir().unwrap();
    fixtures::write_catalog(catalog.path(), "lambdalabs", fixtures::LAMBDA_ROWS);
    let mut context = BackendContext::new(fixtures::catalog_in(catalog.path()));
    context.endpoints.set(BackendType::Lambda, fake.url());
    context.http = HttpSettings {
        max_attempts: 2,
        initial_backoff: Duration::from_millis(1),
        max_backoff: Duration::from_millis(5),
        ..HttpSettings::default()
    };
    context.ssh = ssh_settings(ssh_port);
    let mut registry = Registry::new();
    dstack_backend_lambda::register(&mut registry, &context);
    Setup { fake, registry, _catalog: catalog }
}

impl Setup {
    pub fn configurator(&self) -> Arc<dyn Configurator> {
        self.registry.get(BackendType::Lambda).unwrap()
    }

    /// The compute of a stored `config`, as the server builds it.
    pub async fn compute(&self, config: BackendConfigWithCreds) -> Arc<dyn Compute> {
        let configurator = self.configurator();
        let record = configurator.create_backend("main", config).await.unwrap();
        configurator.compute(&record).await.unwrap()
    }

    /// `METHOD path` of every request so far.
    pub fn calls(&self) -> Vec<String> {
        self.fake.api.requests().iter().map(|r| format!("{} {}", r.method, r.path)).collect()
    }
}

/// A Lambda config with `key`, in us-east-1.
pub fn lambda(key: &str) -> BackendConfigWithCreds {
    from_yaml(&format!("type: lambda\nregions: [us-east-1]\ncreds: {{api_key: {key}}}\n")).unwrap()
}

pub fn gpu(spec: &str) -> dstack_core::resources::Requirements {
    dstack_core::resources::Requirements {
        resources: from_yaml(&format!("gpu: {spec}\n")).unwrap(),
        ..Default::default()
    }
}

/// An instance of project `main` whose only key is `keys`' public key.
pub fn instance(keys: &SshKeyPair) -> InstanceConfiguration {
    InstanceConfiguration {
        ssh_keys: vec![SshKey { public: keys.public.clone() }],
        ..fixtures::instance_configuration("main")
    }
}

/// The sudo calls [`dstack_backend_lambda::SETUP`] makes, then the launcher's.
pub fn expected_sudo_calls(shim_commands: &[String]) -> Vec<Vec<String>> {
    let words = |line: &str| line.split(' ').map(str::to_owned).collect::<Vec<_>>();
    vec![
        words("apt-get update"),
        words("apt-get install -y --no-install-recommends nvidia-container-toolkit"),
        words("install -d -m 0755 /etc/docker"),
        words("tee /etc/docker/daemon.json"),
        words("nvidia-ctk runtime configure --runtime=docker"),
        words("systemctl restart docker.service"),
        vec!["sh".to_owned(), "-c".to_owned(), shim_commands.join(" && ")],
    ]
}
