//! What the Seeweb tests share: the fake (`dstack_testkit::fakes::seeweb`, in the shapes of
//! Seeweb's `ecsapi` SDK and dstack's Seeweb test fixtures), a registry pointed at it, configs.
#![allow(dead_code)]

use std::sync::Arc;
use std::time::Duration;

use dstack_backend_kit::{BackendContext, HttpSettings};
use dstack_core::config::load::from_yaml;
use dstack_core::config::{BackendConfigWithCreds, BackendType};
use dstack_core::{Compute, Configurator, Registry};
use dstack_testkit::fakes::seeweb::{self, FakeSeeweb, Plan};
use dstack_testkit::fixtures;

pub const TOKEN: &str = "seeweb-token-1";

pub struct Setup {
    pub fake: FakeSeeweb,
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

/// The fake with `plans`, and a registry whose Seeweb endpoint is the fake.
pub async fn setup_with(plans: Vec<Plan>) -> Setup {
    let fake = seeweb::start(&[TOKEN], plans).await;
    let (catalog_dir, catalog) = fixtures::empty_catalog();
    let mut context = BackendContext::new(catalog);
    context.endpoints.set(BackendType::Seeweb, fake.url());
    context.http = http();
    let mut registry = Registry::new();
    dstack_backend_seeweb::register(&mut registry, &context);
    Setup { fake, registry, _catalog: catalog_dir }
}

/// The fake with Seeweb-like plans ([`seeweb::default_plans`]).
pub async fn setup() -> Setup {
    setup_with(seeweb::default_plans()).await
}

impl Setup {
    pub fn configurator(&self) -> Arc<dyn Configurator> {
        self.registry.get(BackendType::Seeweb).unwrap()
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

/// A Seeweb config with `token`, in `regions` when given.
pub fn config(token: &str, regions: Option<&[&str]>) -> BackendConfigWithCreds {
    let regions = match regions {
        Some(regions) => format!("regions: [{}]\n", regions.join(", ")),
        None => String::new(),
    };
    from_yaml(&format!("type: seeweb\n{regions}creds: {{type: api_token, api_token: '{token}'}}\n"))
        .unwrap()
}

pub fn gpu(spec: &str) -> dstack_core::resources::Requirements {
    dstack_core::resources::Requirements {
        resources: from_yaml(&format!("gpu: {spec}\n")).unwrap(),
        ..Default::default()
    }
}
