//! Fleets as dstack 0.22.5 models them (`core/models/fleets.py`, `core/models/profiles.py`,
//! `server/services/fleets.py`): the `FleetSpec` the CLI sends to `fleets/get_plan` and
//! `fleets/apply`, read with pydantic's rules and messages; the server-side checks; whether an
//! apply updates a fleet in place or re-creates it; and what a fleet's instances store.
//!
//! - [`FleetSpec::from_json`] reads a spec (422-style [`FieldError`]s);
//!   [`FleetSpec::to_json`] writes it back as dstack dumps it (`nodes` without `target` when it
//!   equals `min`), [`FleetSpec::effective`] adds the server's one default (the GPU spec).
//! - [`FleetSpec::validate`] runs `_validate_fleet_spec_and_set_defaults` (400 messages).
//! - [`update::plan_action`] / [`update::check_can_update`] decide update against create.
//! - [`FleetSpec::requirements`], [`FleetSpec::instance_profile_json`],
//!   [`FleetSpec::termination`]: what a new cloud instance of the fleet stores.

mod check;
pub mod configuration;
pub mod duration;
mod fields;
pub mod instance;
pub mod nodes;
pub mod profile;
pub mod spec;
pub mod update;
pub mod validate;

#[cfg(test)]
mod tests;

use serde_json::Value;

pub use configuration::{Blocks, FleetConfiguration, Placement};
pub use instance::{FleetRequirements, Termination, TerminationPolicy};
pub use nodes::FleetNodes;
pub use profile::{OffDuration, Profile, Retry, RetryEvent, SpotPolicy};
pub use spec::FleetSpec;
pub use update::{Action, check_can_update, plan_action};

/// One error of a body that does not fit dstack's models, as pydantic reports it (FastAPI
/// answers 422 with a list of them). `loc` is relative to the spec (`["configuration",
/// "nodes", "min"]`): the server prefixes it with where the spec is in the body.
#[derive(Debug, Clone, PartialEq)]
pub struct FieldError {
    /// pydantic's error type: `value_error`, `extra_forbidden`, `enum`, `int_parsing`…
    pub kind: &'static str,
    pub loc: Vec<Value>,
    /// pydantic's message, e.g. `Value error, min cannot be negative`.
    pub msg: String,
    /// The value that was refused.
    pub input: Value,
}

impl FieldError {
    /// The error as FastAPI lists it, with `prefix` (such as `["body", "spec"]`) before `loc`.
    pub fn to_json(&self, prefix: &[&str]) -> Value {
        let mut loc: Vec<Value> = prefix.iter().map(|p| Value::from(*p)).collect();
        loc.extend(self.loc.iter().cloned());
        serde_json::json!({"type": self.kind, "loc": loc, "msg": self.msg, "input": self.input})
    }
}

fn messages(errors: &[FieldError]) -> String {
    errors.iter().map(|e| e.msg.as_str()).collect::<Vec<_>>().join("; ")
}

/// Why a fleet spec is refused.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum FleetSpecError {
    /// The spec does not fit dstack's models (FastAPI's 422 `detail` list).
    #[error("invalid fleet spec: {}", messages(.0))]
    Invalid(Vec<FieldError>),
    /// dstack's `ServerClientError`: a 400 with code `error` and this message, verbatim.
    #[error("{0}")]
    Rejected(String),
    /// An SSH fleet (`ssh_config`): valid as far as this crate checks, but not provisioned by
    /// this server yet. The server answers "SSH fleets are not supported by this server yet".
    #[error("SSH fleets are not supported by this server yet")]
    SshFleetsUnsupported,
}
