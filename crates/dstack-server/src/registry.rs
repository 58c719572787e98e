//! The backends this build of the server links, one `register` line per Cargo feature.

use dstack_core::backend::Registry;

/// A registry of every backend compiled into this binary.
pub fn build() -> Registry {
    #[allow(unused_mut)]
    let mut registry = Registry::new();
    // One line per backend crate, behind its feature:
    // #[cfg(feature = "aws")] dstack_backend_aws::register(&mut registry);
    registry
}
