//! The backends this build of the server links, one `register` line per Cargo feature.

use std::sync::Arc;

use dstack_catalog::{Catalog, Source};
use dstack_core::backend::Registry;

/// The backend features `dstack-server` has (see Cargo.toml), compiled in or not.
pub const BACKEND_FEATURES: &[&str] = &["aws", "lambda"];

/// A registry of every backend compiled into this binary; backends that list offers from
/// catalogs share `catalog`.
pub fn build(catalog: Arc<Catalog>) -> Registry {
    let mut registry = Registry::new();
    registry.declare_features(BACKEND_FEATURES);
    let _ = &catalog; // used by the backends compiled in
    // One line per backend crate, behind its feature.
    #[cfg(feature = "aws")]
    dstack_backend_aws::register(&mut registry, catalog.clone());
    #[cfg(feature = "lambda")]
    dstack_backend_lambda::register(&mut registry, catalog.clone());
    registry
}

/// The offer catalog of a server in `server_dir`: gpuhunt's sources (`GPUHUNT_CATALOG_DIR`,
/// `GPUHUNT_CATALOG_URL`), with copies kept in `<server_dir>/data/catalogs`.
pub fn catalog(server_dir: &std::path::Path) -> Arc<Catalog> {
    Arc::new(Catalog::new(Source::from_env(), Some(server_dir.join("data").join("catalogs"))))
}

#[cfg(test)]
mod tests {
    /// `BACKEND_FEATURES` lists exactly the backend features of Cargo.toml.
    #[test]
    fn backend_features_match_cargo_toml() {
        let manifest = include_str!("../Cargo.toml");
        let features = manifest.split("[features]").nth(1).unwrap().split("\n[").next().unwrap();
        let mut declared: Vec<&str> = features
            .lines()
            .filter_map(|l| l.split_once(" = ").map(|(name, _)| name.trim()))
            .filter(|name| *name != "default")
            .collect();
        declared.sort_unstable();
        assert_eq!(declared, super::BACKEND_FEATURES);
    }
}
