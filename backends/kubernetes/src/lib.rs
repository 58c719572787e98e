//! The Kubernetes backend (`type: kubernetes`).
#![doc = include_str!("../README.md")]

mod api;
mod clusters;
mod compute;
mod definition;
mod gpus;
mod jump;
mod labels;
mod manifests;
mod nodes;
mod placement;
mod quantity;
mod resources;

pub use clusters::{ClientSettings, Cluster, LEGACY_REGION, clusters, parse_kubeconfig};
pub use compute::{JobData, KubernetesCompute};
pub use definition::{CAPABILITIES, Kubernetes};
pub use manifests::JUMP_POD_IMAGE;
pub use resources::ResourceAmounts;

/// Registers the Kubernetes backend: job pods download the context's runner, jump pods are
/// reached with the context's SSH settings.
pub fn register(
    registry: &mut dstack_core::Registry,
    context: &dstack_backend_kit::BackendContext,
) {
    registry.register(Kubernetes::new(context));
}
