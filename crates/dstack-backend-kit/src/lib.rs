//! What every dstack backend crate is written on, beside the traits of `dstack-core`:
//!
//! - [`BackendContext`]: what registration hands a backend — the offer catalog, HTTP
//!   settings, the agent's download settings and base image, endpoint overrides, how instances
//!   are reached over SSH (for `dstack-ssh`). The server
//!   builds it from its settings; a tool embedding a backend builds its own. Nothing here
//!   reads the environment unless asked to ([`Endpoints::from_vars`]).
//! - [`http::RestClient`]: the client of a REST cloud — one connection pool per backend
//!   instance with timeouts and keep-alive, retries with backoff and jitter that honour
//!   `Retry-After`, HTTP status → [`dstack_core::ErrorKind`] with a hook for the provider's
//!   error body, and errors that never carry a secret.
//! - [`Cached`]: what a backend fetched kept for a time to live, one fetch at a time — the
//!   180 s offer cache dstack gives every backend.

mod cache;
mod context;
pub mod http;

pub use cache::{Cached, OFFERS_TTL};
pub use context::{BackendContext, Endpoints};
pub use http::{Auth, HttpSettings, ProviderError, RestClient};
