//! What the Vultr tests share: the fake (`dstack_testkit::fakes::vultr`, in the shapes of
//! Vultr's OpenAPI description `vultr/openapi.json` and of the plan fields gpuhunt 0.1.34
//! reads), a registry pointing at it, configs and requirements.

#![allow(dead_code)]

use std::sync::Arc;
use std::time::Duration;

use dstack_backend_kit::{BackendContext, HttpSettings};
use dstack_catalog::{Catalog, Source};
use dstack_core::config::load::from_yaml;
use dstack_core::config::{BackendConfigWithCreds, BackendType};
use dstack_core::{Compute, Configurator, Registry};
use dstack_testkit::fakes::vultr::{self, FakeVultr};

pub const KEY: &str = "VULTRTESTKEY0123456789ABCDEFGHIJKLMN";

pub struct Setup {
    pub fake: FakeVultr,
    pub registry: Registry,
}

impl Setup {
    pub fn configurator(&self) -> Arc<dyn Configurator> {
        self.registry.get(BackendType::Vultr).unwrap()
    }

    /// The compute of a stored config with `regions` (YAML, `None`: omitted).
    pub async fn compute(&self, regions: Option<&str>) -> Arc<dyn Compute> {
        let configurator = self.configurator();
        let record = configurator.create_backend("main", config(KEY, regions)).await.unwrap();
        configurator.compute(&record).await.unwrap()
    }
}

pub async fn setup() -> Setup {
    let fake = vultr::start(&[KEY], vultr::plans(), vultr::VDM).await;
    // The backend reads no published catalog: Vultr is an online provider.
    let catalog = Arc::new(Catalog::new(Source::PlainDirectory("/nonexistent".into()), None));
    let mut context = BackendContext::new(catalog);
    context.endpoints.set(BackendType::Vultr, fake.url());
    context.http = HttpSettings {
        max_attempts: 2,
        initial_backoff: Duration::from_millis(10),
        ..HttpSettings::default()
    };
    let mut registry = Registry::new();
    dstack_backend_vultr::register(&mut registry, &context);
    Setup { fake, registry }
}

/// `type: vultr` with `key` and, when given, `regions: <regions>`.
pub fn config(key: &str, regions: Option<&str>) -> BackendConfigWithCreds {
    let regions = regions.map(|r| format!("regions: {r}\n")).unwrap_or_default();
    from_yaml(&format!("type: vultr\n{regions}creds: {{api_key: {key}}}\n")).unwrap()
}

/// Requirements of `resources` (YAML).
pub fn requirements(resources: &str) -> dstack_core::resources::Requirements {
    dstack_core::resources::Requirements {
        resources: from_yaml(resources).unwrap(),
        ..Default::default()
    }
}

/// Anything at all.
pub fn anything() -> dstack_core::resources::Requirements {
    requirements("cpu: 1..\nmemory: 0..\ngpu: 0..\ndisk: 1GB..\n")
}

pub fn gpu(spec: &str) -> dstack_core::resources::Requirements {
    requirements(&format!("gpu: {spec}\n"))
}
