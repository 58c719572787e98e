//! What the CloudRift tests share: the fake (`dstack_testkit::fakes::cloudrift`, held to
//! CloudRift's published OpenAPI description), a `cloudrift` catalog of the fake's variants as
//! gpuhunt 0.1.34 writes them, and a registry pointed at both.
#![allow(dead_code)]

use std::sync::Arc;
use std::time::Duration;

use dstack_backend_kit::{BackendContext, HttpSettings};
use dstack_core::config::load::from_yaml;
use dstack_core::config::{BackendConfigWithCreds, BackendType};
use dstack_core::{Compute, Configurator, Registry};
use dstack_testkit::fakes::cloudrift::{self, FakeCloudRift};
use dstack_testkit::fixtures;

pub const KEY: &str = "rift_test_key_1";

pub use dstack_testkit::fakes::cloudrift::CATALOG_ROWS as ROWS;

pub struct Setup {
    pub fake: FakeCloudRift,
    pub registry: Registry,
    _catalog: tempfile::TempDir,
}

pub async fn setup() -> Setup {
    let fake = cloudrift::start(&[KEY], cloudrift::variants()).await;
    let catalog = tempfile::tempdir().unwrap();
    fixtures::write_catalog(catalog.path(), "cloudrift", ROWS);
    let mut context = BackendContext::new(fixtures::catalog_in(catalog.path()));
    context.endpoints.set(BackendType::Cloudrift, fake.url());
    context.http = HttpSettings {
        max_attempts: 2,
        initial_backoff: Duration::from_millis(10),
        ..HttpSettings::default()
    };
    let mut registry = Registry::new();
    dstack_backend_cloudrift::register(&mut registry, &context);
    Setup { fake, registry, _catalog: catalog }
}

impl Setup {
    pub fn configurator(&self) -> Arc<dyn Configurator> {
        self.registry.get(BackendType::Cloudrift).unwrap()
    }

    /// The compute of a stored `config`.
    pub async fn compute(&self, config: BackendConfigWithCreds) -> Arc<dyn Compute> {
        let configurator = self.configurator();
        let record = configurator.create_backend("main", config).await.unwrap();
        configurator.compute(&record).await.unwrap()
    }

    /// The calls made so far, as `POST /api/v1/...`.
    pub fn calls(&self) -> Vec<String> {
        self.fake.api.requests().iter().map(|r| format!("{} {}", r.method, r.path)).collect()
    }

    /// The `data` of every request to `method`.
    pub fn sent(&self, method: &str) -> Vec<serde_json::Value> {
        let path = format!("/api/v1/{method}");
        let requests = self.fake.api.requests();
        requests.into_iter().filter(|r| r.path == path).map(|r| r.body["data"].clone()).collect()
    }
}

/// A CloudRift config with `key`, in `regions` when given.
pub fn config(key: &str, regions: Option<&[&str]>) -> BackendConfigWithCreds {
    let regions = match regions {
        Some(regions) => format!("regions: [{}]\n", regions.join(", ")),
        None => String::new(),
    };
    from_yaml(&format!("type: cloudrift\n{regions}creds: {{type: api_key, api_key: {key}}}\n"))
        .unwrap()
}

pub fn gpu(spec: &str) -> dstack_core::resources::Requirements {
    dstack_core::resources::Requirements {
        resources: from_yaml(&format!("gpu: {spec}\n")).unwrap(),
        ..Default::default()
    }
}
