//! SSH to dstack instances: key login, host-key policy, timeouts, retries while an instance
//! boots, and the `dstack-shim` launcher.
#![doc = include_str!("../README.md")]

mod connection;
mod error;
mod shim;

pub use connection::{Connection, HostKeyPolicy, Output, Target};
pub use error::SshError;
pub use shim::{launcher_command, shell_quote, start_shim, start_shim_when_reachable};
