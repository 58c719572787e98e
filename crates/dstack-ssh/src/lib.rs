//! SSH to dstack instances: key login, host-key policy, timeouts, retries while an instance
//! boots, the `dstack-shim` launcher, and HTTP through tunnels (the shim's healthcheck).
#![doc = include_str!("../README.md")]

mod connection;
mod error;
mod health;
mod http;
mod shim;

pub use connection::{Connection, HostKeyPolicy, Output, Target};
pub use error::SshError;
pub use health::{
    SHIM_HEALTHCHECK_PATH, SHIM_HOST, SHIM_SERVICE, ShimHealth, ShimUnreachable, shim_healthcheck,
};
pub use http::HttpAnswer;
pub use shim::{launcher_command, start_shim, start_shim_when_reachable};
