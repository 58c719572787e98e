//! Test helpers shared by the server's and the backends' tests.
//!
//! - [`conformance`]: what every backend must do, driven by the capabilities it declares;
//!   each backend's tests run it against the backend's emulator or fake.
//! - [`FakeApi`]: a provider's REST API on loopback — scripted routes, auth, a request log,
//!   faults on demand.
//! - [`fakes`]: stateful fakes of the providers whose clouds cannot run here.
//! - [`openapi::Spec`]: a provider's published API description, which a fake's requests and
//!   answers are held to.
//! - [`sshd::Sshd`]: a real OpenSSH server on loopback, the instance backends log into; its
//!   `sudo` records what it was asked to run.
//! - [`FakeShim`]: `dstack-shim`'s HTTP API on loopback (its healthcheck), reached through a
//!   test `sshd`'s tunnel; it can answer as another service, fail, or stop.
//! - [`FakeConfigurator`]: a configurator with scripted checks, for the server's own tests.
//! - [`fixtures`]: what many tests need alike (an instance configuration, catalog files).

pub mod conformance;
mod fake_api;
mod fake_configurator;
mod fake_shim;
pub mod fakes;
pub mod fixtures;
pub mod openapi;
pub mod sshd;

pub use fake_api::{FakeApi, FakeApiBuilder, Recorded, Reply};
pub use fake_configurator::FakeConfigurator;
pub use fake_shim::{FAKE_SHIM_VERSION, FakeShim};
