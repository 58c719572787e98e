//! What the Kubernetes tests share: the fake cluster (`dstack_testkit::fakes::kubernetes`,
//! held to Kubernetes' published OpenAPI), a registry pointed at nothing else, SSH settings
//! that send jump-pod logins to the test sshd, configs and requirements.
#![allow(dead_code)]

use std::sync::Arc;
use std::time::Duration;

use dstack_backend_kit::BackendContext;
use dstack_core::config::load::from_json;
use dstack_core::config::{BackendConfigWithCreds, BackendType};
use dstack_core::resources::Requirements;
use dstack_core::ssh::SshSettings;
use dstack_core::{Compute, Configurator, Registry};
use dstack_testkit::fakes::kubernetes::{self, FakeKubernetes, NodeShape, node};
use dstack_testkit::fixtures;
use serde_json::{Value, json};

pub const PRODUCT: &str = "NVIDIA-A100-SXM4-80GB";
/// The external IP the fake's nodes report (logins to it go to the test sshd).
pub const EXTERNAL_IP: &str = "203.0.113.10";

pub struct Setup {
    pub fake: FakeKubernetes,
    pub registry: Registry,
    _catalog: tempfile::TempDir,
}

/// SSH to the test sshd on loopback `port`, whatever host a jump pod has.
pub fn ssh(port: u16) -> SshSettings {
    SshSettings {
        instance_host: Some("127.0.0.1".to_owned()),
        instance_port: Some(port),
        connect_timeout: Duration::from_secs(5),
        retry_interval: Duration::from_millis(100),
        setup_timeout: Duration::from_secs(10),
        ..SshSettings::default()
    }
}

/// A cluster of a CPU node and a GPU node (4×A100 behind NVIDIA's taint), both with
/// [`EXTERNAL_IP`]; pods start at their first read.
pub async fn cluster() -> FakeKubernetes {
    let fake = kubernetes::start().await;
    fake.add_node(node(&NodeShape {
        name: "cpu-1",
        cpu: "16",
        memory: "64Gi",
        ephemeral_storage: "500Gi",
        external_ip: Some(EXTERNAL_IP),
        ..NodeShape::default()
    }));
    let taint = [json!({"key": "nvidia.com/gpu", "value": "present", "effect": "NoSchedule"})];
    fake.add_node(node(&NodeShape {
        name: "gpu-1",
        cpu: "32",
        memory: "256Gi",
        ephemeral_storage: "1000Gi",
        extended: &[("nvidia.com/gpu", "4")],
        labels: &[("nvidia.com/gpu.product", PRODUCT)],
        external_ip: Some(EXTERNAL_IP),
        taints: &taint,
        ..NodeShape::default()
    }));
    fake
}

/// A registry as the server builds it, jump-pod logins going to `ssh_port`.
pub fn registered(fake: FakeKubernetes, ssh_port: u16) -> Setup {
    let (catalog, catalog_dir) = {
        let (dir, catalog) = fixtures::empty_catalog();
        (catalog, dir)
    };
    let mut context = BackendContext::new(catalog);
    context.ssh = ssh(ssh_port);
    let mut registry = Registry::new();
    dstack_backend_kubernetes::register(&mut registry, &context);
    Setup { fake, registry, _catalog: catalog_dir }
}

impl Setup {
    pub fn configurator(&self) -> Arc<dyn Configurator> {
        self.registry.get(BackendType::Kubernetes).unwrap()
    }

    /// The compute of a stored `config`, as the server builds it.
    pub async fn compute(&self, config: BackendConfigWithCreds) -> Arc<dyn Compute> {
        let configurator = self.configurator();
        let record = configurator.create_backend("main", config).await.unwrap();
        configurator.compute(&record).await.unwrap()
    }
}

/// A config with the `kubeconfig` text and the other fields of `rest` (`contexts`, ...).
pub fn config(kubeconfig: &str, rest: Value) -> BackendConfigWithCreds {
    let mut config = json!({"type": "kubernetes", "kubeconfig": {"data": kubeconfig}});
    if let (Some(config), Some(rest)) = (config.as_object_mut(), rest.as_object()) {
        config.extend(rest.clone());
    }
    from_json(&config).expect("a Kubernetes config")
}

/// Requirements with `resources` (YAML-like JSON: `{"gpu": "A100:1"}`) on dstack's defaults.
pub fn requirements(resources: Value) -> Requirements {
    Requirements { resources: from_json(&resources).unwrap(), ..Default::default() }
}
