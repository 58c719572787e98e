//! The backends this build of the server links, one `register` line per Cargo feature, and
//! the context they are registered with, built from the server's settings.

use std::sync::Arc;

use dstack_backend_kit::BackendContext;
use dstack_catalog::{Catalog, Source};
use dstack_core::backend::{Registry, Timeouts};

use crate::settings::Settings;

/// The backend features `dstack-server` has (see Cargo.toml), compiled in or not. The tidy
/// test holds it equal to the manifest.
pub const BACKEND_FEATURES: &[&str] = &[
    "aws",
    "cloudrift",
    "digitalocean",
    "hotaisle",
    "jarvislabs",
    "kubernetes",
    "lambda",
    "seeweb",
    "verda",
    "vultr",
];

/// A registry of every backend compiled into this binary.
pub fn build(context: &BackendContext) -> Registry {
    let mut registry = Registry::new();
    registry.declare_features(BACKEND_FEATURES);
    let _ = context; // used by the backends compiled in
    // One line per backend crate, behind its feature.
    #[cfg(feature = "aws")]
    dstack_backend_aws::register(&mut registry, context);
    #[cfg(feature = "cloudrift")]
    dstack_backend_cloudrift::register(&mut registry, context);
    #[cfg(feature = "digitalocean")]
    dstack_backend_digitalocean::register(&mut registry, context);
    #[cfg(feature = "hotaisle")]
    dstack_backend_hotaisle::register(&mut registry, context);
    #[cfg(feature = "jarvislabs")]
    dstack_backend_jarvislabs::register(&mut registry, context);
    #[cfg(feature = "kubernetes")]
    dstack_backend_kubernetes::register(&mut registry, context);
    #[cfg(feature = "lambda")]
    dstack_backend_lambda::register(&mut registry, context);
    #[cfg(feature = "seeweb")]
    dstack_backend_seeweb::register(&mut registry, context);
    #[cfg(feature = "verda")]
    dstack_backend_verda::register(&mut registry, context);
    #[cfg(feature = "vultr")]
    dstack_backend_vultr::register(&mut registry, context);
    registry
}

/// What backends are registered with: the shared offer catalog, dstack's agent settings and
/// the endpoint overrides, from the server's settings.
pub fn context(settings: &Settings) -> BackendContext {
    BackendContext {
        agent: settings.agent.clone(),
        endpoints: settings.endpoints.clone(),
        ssh: settings.fleets.ssh.clone(),
        ..BackendContext::new(catalog(&settings.server_dir))
    }
}

/// The limits every backend call runs within; the credential check's comes from the settings.
pub fn timeouts(settings: &Settings) -> Timeouts {
    Timeouts { check: settings.backend_check_timeout, ..Timeouts::default() }
}

/// The offer catalog of a server in `server_dir`: gpuhunt's sources (`GPUHUNT_CATALOG_DIR`,
/// `GPUHUNT_CATALOG_URL`), with copies kept in `<server_dir>/data/catalogs`.
pub fn catalog(server_dir: &std::path::Path) -> Arc<Catalog> {
    Arc::new(Catalog::new(Source::from_env(), Some(server_dir.join("data").join("catalogs"))))
}
