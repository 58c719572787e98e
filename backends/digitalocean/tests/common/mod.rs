//! What the DigitalOcean tests share: the fake (`dstack_testkit::fakes::digitalocean`, held to
//! DigitalOcean's published OpenAPI description), a registry whose `digitalocean` and
//! `amddevcloud` backends both point at it, configs and requirements.
#![allow(dead_code)]

use std::sync::Arc;
use std::time::Duration;

use dstack_backend_kit::{BackendContext, HttpSettings};
use dstack_core::config::load::from_yaml;
use dstack_core::config::{BackendConfigWithCreds, BackendType};
use dstack_core::offers::InstanceOfferWithAvailability;
use dstack_core::{Compute, Configurator, Registry};
use dstack_testkit::fakes::digitalocean::{self, FakeDigitalOcean};
use dstack_testkit::fixtures;

/// A key the fake accepts.
pub const KEY: &str = "dop_v1_4a1b7c0e5a61secret";

pub struct Setup {
    pub fake: FakeDigitalOcean,
    pub registry: Registry,
    _catalog: tempfile::TempDir,
}

/// The fake with its default sizes, and both backend types at its URL (AMD Developer Cloud
/// serves DigitalOcean's API, so one fake stands for both hosts).
pub async fn setup() -> Setup {
    let fake = digitalocean::start(&[KEY], digitalocean::sizes()).await;
    let (catalog_dir, catalog) = fixtures::empty_catalog();
    let mut context = BackendContext::new(catalog);
    context.endpoints.set(BackendType::Digitalocean, fake.url());
    context.endpoints.set(BackendType::Amddevcloud, fake.url());
    context.http = HttpSettings {
        max_attempts: 2,
        initial_backoff: Duration::from_millis(10),
        ..HttpSettings::default()
    };
    let mut registry = Registry::new();
    dstack_backend_digitalocean::register(&mut registry, &context);
    Setup { fake, registry, _catalog: catalog_dir }
}

impl Setup {
    pub fn configurator(&self, backend: BackendType) -> Arc<dyn Configurator> {
        self.registry.get(backend).unwrap()
    }

    /// The compute of a backend created from `config`.
    pub async fn compute(&self, config: BackendConfigWithCreds) -> Arc<dyn Compute> {
        let configurator = self.configurator(config.backend_type());
        let record = configurator.create_backend("main", config).await.unwrap();
        configurator.compute(&record).await.unwrap()
    }

    /// `METHOD /path?query` of every request so far.
    pub fn calls(&self) -> Vec<String> {
        self.fake
            .api
            .requests()
            .iter()
            .map(|r| match &r.query {
                Some(q) => format!("{} {}?{q}", r.method, r.path),
                None => format!("{} {}", r.method, r.path),
            })
            .collect()
    }
}

/// A config of `backend` (`digitalocean` or `amddevcloud`) with `extra` YAML lines.
pub fn config(backend: &str, extra: &str, key: &str) -> BackendConfigWithCreds {
    from_yaml(&format!("type: {backend}\n{extra}creds: {{api_key: {key}}}\n")).unwrap()
}

/// Requirements of these resources (YAML), dstack's defaults for the rest.
pub fn requirements(resources: &str) -> dstack_core::resources::Requirements {
    dstack_core::resources::Requirements {
        resources: from_yaml(resources).unwrap(),
        ..Default::default()
    }
}

/// Requirements any size meets.
pub fn anything() -> dstack_core::resources::Requirements {
    requirements("cpu: 1..\nmemory: 0.5GB..\ndisk: 1GB..\n")
}

/// `slug region` of each offer, in order.
pub fn names(offers: &[InstanceOfferWithAvailability]) -> Vec<String> {
    offers.iter().map(|o| format!("{} {}", o.offer.instance.name, o.offer.region)).collect()
}
