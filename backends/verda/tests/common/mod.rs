//! What the Verda tests share: the fake with its accounts and availability, a `verda` catalog,
//! the registry, and small helpers. The fake's shapes follow the `verda` Python SDK 1.25.0,
//! its unit-test fixtures and dstack 0.22.5's `verda/test_compute.py` (Verda publishes no
//! machine-readable API description).
#![allow(dead_code)]

use std::sync::Arc;
use std::time::Duration;

use dstack_backend_kit::{BackendContext, HttpSettings};
use dstack_core::config::load::from_yaml;
use dstack_core::config::{BackendConfigWithCreds, BackendType};
use dstack_core::offers::{InstanceOfferWithAvailability, Requirements};
use dstack_core::{Compute, Configurator, Registry};
use dstack_testkit::fakes::verda::{self, FakeVerda};
use dstack_testkit::fixtures;

pub const ID: &str = "verda-client-1";
pub const SECRET: &str = "verda-secret-value-1";

pub use dstack_testkit::fakes::verda::CATALOG_ROWS as ROWS;

pub struct Setup {
    pub fake: FakeVerda,
    pub registry: Registry,
    _catalog: tempfile::TempDir,
}

pub async fn setup() -> Setup {
    let fake = verda::start(
        &[(ID, SECRET)],
        &[
            ("FIN-01", false, &["CPU.4V.16G", "1V100.6V"]),
            ("FIN-02", false, &[]),
            ("FIN-02", true, &["1H100.80S.30V"]),
        ],
    )
    .await;
    let catalog = tempfile::tempdir().unwrap();
    fixtures::write_catalog(catalog.path(), "verda", ROWS);
    let mut context = BackendContext::new(fixtures::catalog_in(catalog.path()));
    // Only `verda`'s override: `datacrunch` follows it.
    context.endpoints.set(BackendType::Verda, fake.url());
    context.http = HttpSettings {
        max_attempts: 2,
        initial_backoff: Duration::from_millis(10),
        ..HttpSettings::default()
    };
    let mut registry = Registry::new();
    dstack_backend_verda::register(&mut registry, &context);
    Setup { fake, registry, _catalog: catalog }
}

pub fn config(kind: &str, id: &str, secret: &str) -> BackendConfigWithCreds {
    from_yaml(&format!(
        "type: {kind}\nregions: [FIN-01, FIN-02]\ncreds: {{client_id: {id}, client_secret: {secret}}}\n"
    ))
    .unwrap()
}

pub fn requirements(resources: &str, spot: Option<bool>) -> Requirements {
    Requirements { resources: from_yaml(resources).unwrap(), spot, ..Default::default() }
}

impl Setup {
    pub fn configurator(&self, backend: BackendType) -> Arc<dyn Configurator> {
        self.registry.get(backend).unwrap()
    }

    pub async fn compute(&self, backend: BackendType) -> Arc<dyn Compute> {
        let configurator = self.configurator(backend);
        let record = configurator
            .create_backend("main", config(backend.as_str(), ID, SECRET))
            .await
            .unwrap();
        configurator.compute(&record).await.unwrap()
    }

    pub fn calls(&self) -> Vec<String> {
        let requests = self.fake.api.requests();
        requests
            .iter()
            .map(|r| match &r.query {
                Some(q) => format!("{} {}?{q}", r.method, r.path),
                None => format!("{} {}", r.method, r.path),
            })
            .collect()
    }

    pub fn finish(&self) {
        assert_eq!(self.fake.api.violations(), Vec::<String>::new());
    }
}

pub async fn cpu_offer(compute: &dyn Compute) -> InstanceOfferWithAvailability {
    let offers = compute.offers(&requirements("cpu: 4\n", Some(false))).await.unwrap();
    offers.into_iter().find(|o| o.offer.instance.name == "CPU.4V.16G").unwrap()
}
