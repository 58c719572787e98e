//! What a backend is, and how the server reaches it.
//!
//! A backend crate writes one [`BackendDefinition`]: its type and [`Capabilities`], its config
//! type, its credential check and how it builds its [`Compute`]. Everything every backend does
//! alike — reading its config out of the API union, the config's own rules, the stored record,
//! the views with and without credentials — is written once, in [`Defined`], which turns a
//! definition into the object-safe [`Configurator`] the [`Registry`] holds (opendal's
//! `Service` / `ServiceDyn` split). The registry wraps every configurator and compute in
//! [`instrument`]: each call has its timeout and a tracing span, and each error names the
//! backend, the operation and the resource.

mod capabilities;
mod compute;
mod configurator;
mod definition;
pub mod instrument;
mod record;
mod registry;

pub use capabilities::Capabilities;
pub use compute::{Compute, SshKeyPair};
pub use configurator::{Configurator, ValidationContext};
pub use definition::{BackendDefinition, Defined};
pub use instrument::Timeouts;
pub use record::BackendRecord;
pub use registry::Registry;

#[cfg(test)]
mod tests;
