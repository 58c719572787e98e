//! The Verda backend (`type: verda`) and its deprecated alias DataCrunch (`type: datacrunch`).
#![doc = include_str!("../README.md")]

mod client;
mod compute;
mod definition;
mod offers;
mod session;

pub use compute::VerdaCompute;
pub use definition::{CAPABILITIES, Verda};
pub use offers::IMAGE_SIZE_GB;
pub use session::DEFAULT_API_URL;

/// Registers the Verda backend for `verda` and for `datacrunch`: Verda's API at the context's
/// endpoint (`datacrunch` falls back to `verda`'s override), or Verda's; offers from the
/// context's `verda` catalog.
pub fn register(
    registry: &mut dstack_core::Registry,
    context: &dstack_backend_kit::BackendContext,
) {
    registry.register(Verda::new(context, dstack_core::config::BackendType::Verda));
    registry.register(Verda::new(context, dstack_core::config::BackendType::Datacrunch));
}
