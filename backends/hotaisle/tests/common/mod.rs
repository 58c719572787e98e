//! What the Hot Aisle tests share: the fake (`dstack_testkit::fakes::hotaisle`, held to Hot
//! Aisle's Swagger 2.0 description), a registry pointed at it, SSH settings for the test
//! sshd, configs and requirements.
#![allow(dead_code)]

use std::sync::Arc;
use std::time::Duration;

use dstack_backend_hotaisle::HotAisle;
use dstack_backend_kit::{BackendContext, HttpSettings};
use dstack_core::backend::SshKeyPair;
use dstack_core::config::load::from_yaml;
use dstack_core::config::{BackendConfigWithCreds, BackendType};
use dstack_core::offers::{InstanceConfiguration, InstanceOfferWithAvailability, SshKey};
use dstack_core::provisioning::{AgentSettings, shim_commands};
use dstack_core::resources::Requirements;
use dstack_core::ssh::SshSettings;
use dstack_core::{Compute, Configurator, Registry};
use dstack_testkit::fakes::hotaisle::{self, FakeHotAisle};
use dstack_testkit::fixtures;
use dstack_testkit::sshd::Sshd;

pub const KEY: &str = "hotaisle-key-1";
pub const TEAM: &str = "dstack-team";
pub const REGION: &str = "us-michigan-1";
/// The login user of Hot Aisle's images.
pub const USER: &str = "hotaisle";

pub struct Setup {
    pub fake: FakeHotAisle,
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

/// SSH to the test sshd's `port` (or a closed one), short enough for tests.
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

fn context(fake: &FakeHotAisle, ssh: SshSettings) -> (tempfile::TempDir, BackendContext) {
    let (catalog_dir, catalog) = fixtures::empty_catalog();
    let mut context = BackendContext::new(catalog);
    context.endpoints.set(BackendType::Hotaisle, fake.url());
    context.http = http();
    context.ssh = ssh;
    (catalog_dir, context)
}

/// A registry as the server builds it (`register`, which reads dstack's feature flag from
/// the environment), its Hot Aisle endpoint the fake.
pub fn registered(fake: FakeHotAisle, ssh: SshSettings) -> Setup {
    let (catalog, context) = context(&fake, ssh);
    let mut registry = Registry::new();
    dstack_backend_hotaisle::register(&mut registry, &context);
    Setup { fake, registry, _catalog: catalog }
}

/// A registry whose backend releases bare metal without `force` or with it, whatever the
/// environment says.
pub fn with_no_force_release(fake: FakeHotAisle, ssh: SshSettings, no_force: bool) -> Setup {
    let (catalog, context) = context(&fake, ssh);
    let mut registry = Registry::new();
    registry.register(HotAisle::new(&context).with_no_force_release(no_force));
    Setup { fake, registry, _catalog: catalog }
}

/// The fake with Hot Aisle's types for a user in [`TEAM`], SSH to `port`.
pub async fn setup(port: u16) -> Setup {
    registered(hotaisle::start(&[KEY], &[TEAM]).await, ssh(port))
}

impl Setup {
    pub fn configurator(&self) -> Arc<dyn Configurator> {
        self.registry.get(BackendType::Hotaisle).unwrap()
    }

    /// The compute of a stored `config`, as the server builds it.
    pub async fn compute(&self, config: BackendConfigWithCreds) -> Arc<dyn Compute> {
        let configurator = self.configurator();
        let record = configurator.create_backend("main", config).await.unwrap();
        configurator.compute(&record).await.unwrap()
    }

    /// `METHOD path[?query]` of every request so far.
    pub fn calls(&self) -> Vec<String> {
        let requests = self.fake.api.requests();
        let call = |r: &dstack_testkit::Recorded| match &r.query {
            Some(query) => format!("{} {}?{query}", r.method, r.path),
            None => format!("{} {}", r.method, r.path),
        };
        requests.iter().map(call).collect()
    }
}

/// A Hot Aisle config with `key` for `team`; `extra` YAML lines (`regions: [...]`,
/// `bare_metal: true`).
pub fn config(key: &str, team: &str, extra: &str) -> BackendConfigWithCreds {
    from_yaml(&format!(
        "type: hotaisle\nteam_handle: {team}\n{extra}creds: {{type: api_key, api_key: '{key}'}}\n"
    ))
    .unwrap()
}

pub fn gpu(spec: &str) -> Requirements {
    Requirements { resources: from_yaml(&format!("gpu: {spec}\n")).unwrap(), ..Default::default() }
}

/// The fixture instance with the project key `keys`.
pub fn instance(keys: &SshKeyPair) -> InstanceConfiguration {
    InstanceConfiguration {
        ssh_keys: vec![SshKey { public: keys.public.clone() }],
        ..fixtures::instance_configuration("main")
    }
}

/// The offer named `name` of `compute`.
pub async fn offer(compute: &dyn Compute, name: &str) -> InstanceOfferWithAvailability {
    let offers = compute.offers(&gpu("1..")).await.unwrap();
    offers.into_iter().find(|o| o.offer.instance.name == name).expect("the type is offered")
}

/// What `sudo` gets from dstack's launcher: `sh -c '<the shim commands joined by &&>'`.
pub fn launcher_sudo_call() -> Vec<String> {
    let commands = shim_commands(&AgentSettings::default().downloads("amd64"), false);
    vec!["sh".to_owned(), "-c".to_owned(), commands.join(" && ")]
}

/// A test sshd letting [`USER`] in with `keys` (`None` where this machine cannot run one), on
/// `port` when given.
pub fn sshd(keys: &SshKeyPair, port: Option<u16>) -> Option<Sshd> {
    match port {
        Some(port) => Sshd::start_on(port, USER, &keys.public),
        None => Sshd::start(USER, &keys.public),
    }
}
