//! [`FleetSpec`]: `{configuration, configuration_path, profile, autocreated}` as the API
//! receives it, the JSON dstack writes for it (in plans, answers and the `fleets.spec`
//! column), the effective spec (with the GPU default), and pydantic's equality of specs.

use serde_json::{Map, Value, json};

use super::FleetSpecError;
use super::check::{Errors, Loc, at, get};
use super::configuration::{CONFIGURATION_FIELDS, FleetConfiguration};
use super::nodes::FleetNodes;
use super::profile::Profile;
use crate::resources::{GpuSpec, Range};

/// A fleet spec. The typed fields are what the server reads; [`FleetSpec::raw_configuration`]
/// and [`FleetSpec::raw_profile`] are the JSON exactly as received.
#[derive(Debug, Clone, PartialEq)]
pub struct FleetSpec {
    pub configuration: FleetConfiguration,
    pub configuration_path: Option<String>,
    pub profile: Profile,
    /// Deprecated in dstack; old clients and old rows may carry it. Defaults to false.
    pub autocreated: bool,
    raw_configuration: Value,
    raw_profile: Value,
}

const SPEC_FIELDS: [&str; 5] =
    ["configuration", "configuration_path", "profile", "autocreated", "merged_profile"];

impl FleetSpec {
    /// Reads a spec as dstack's `FleetSpec` model does (unknown keys refused at every level),
    /// reporting every error with its location relative to the spec.
    pub fn from_json(value: &Value) -> Result<FleetSpec, FleetSpecError> {
        let mut errors = Errors::default();
        let root: Loc = Vec::new();
        let Some(map) = errors.model(&root, value, "FleetSpec") else {
            return Err(FleetSpecError::Invalid(errors.0));
        };
        let configuration = errors
            .required(&root, map, "configuration")
            .and_then(|c| FleetConfiguration::read(&mut errors, &vec![json!("configuration")], c));
        let configuration_path =
            errors.opt_string(at(&root, "configuration_path"), get(map, "configuration_path"));
        let profile = errors
            .required(&root, map, "profile")
            .and_then(|p| Profile::read(&mut errors, &vec![json!("profile")], p));
        let autocreated = match map.get("autocreated") {
            None => Some(false),
            Some(v) => errors.bool(at(&root, "autocreated"), v),
        };
        // `merged_profile` is a field (excluded from dumps) that the model recomputes, so a
        // value sent for it is accepted and ignored.
        errors.forbid_extra(&root, map, &SPEC_FIELDS);
        match (configuration, profile, autocreated) {
            (Some(configuration), Some(profile), Some(autocreated)) if errors.is_empty() => {
                Ok(FleetSpec {
                    configuration,
                    configuration_path,
                    profile,
                    autocreated,
                    raw_configuration: map["configuration"].clone(),
                    raw_profile: map["profile"].clone(),
                })
            }
            _ => Err(FleetSpecError::Invalid(errors.0)),
        }
    }

    /// `configuration` exactly as received.
    pub fn raw_configuration(&self) -> &Value {
        &self.raw_configuration
    }

    /// `profile` exactly as received.
    pub fn raw_profile(&self) -> &Value {
        &self.raw_profile
    }

    pub fn name(&self) -> Option<&str> {
        self.configuration.name.as_deref()
    }

    /// Names the fleet (dstack names an unnamed fleet at create, before storing its spec).
    pub fn set_name(&mut self, name: &str) {
        self.configuration.name = Some(name.to_owned());
    }

    pub fn nodes(&self) -> Option<FleetNodes> {
        self.configuration.nodes
    }

    pub fn is_ssh(&self) -> bool {
        self.configuration.is_ssh()
    }

    /// `merged_profile`: what a fleet's provisioning reads (and its instances store).
    pub fn merged_profile(&self) -> Profile {
        self.profile.merged_with(&self.configuration)
    }

    /// The spec with the server's default (`_set_fleet_spec_defaults`): `resources.gpu` =
    /// `{count: {min: 0}}` when resources are set without a GPU spec.
    pub fn effective(&self) -> FleetSpec {
        let mut spec = self.clone();
        if let Some(resources) = spec.configuration.resources.as_mut()
            && resources.gpu.is_none()
        {
            resources.gpu = Some(GpuSpec { count: Range::at_least(0), ..GpuSpec::default() });
        }
        spec
    }

    /// The spec as dstack's `model_dump` writes it: every field, `autocreated` included,
    /// `merged_profile` excluded. Call it on [`FleetSpec::effective`] for what dstack stores
    /// and answers after get_plan and apply.
    pub fn to_json(&self) -> Value {
        json!({
            "configuration": self.configuration.to_json(),
            "configuration_path": self.configuration_path,
            "profile": self.profile.to_json(),
            "autocreated": self.autocreated,
        })
    }

    /// The spec without `autocreated`, as the CLI sends it (and `effective_spec` as it reads
    /// back equal).
    pub fn to_json_without_autocreated(&self) -> Value {
        let mut value = self.to_json();
        if let Value::Object(map) = &mut value {
            map.shift_remove("autocreated");
        }
        value
    }

    /// pydantic's `==` on two specs: the same values field by field, numbers compared by
    /// value (`1 == 1.0`), mappings regardless of key order.
    pub fn same_as(&self, other: &FleetSpec) -> bool {
        json_eq(&self.to_json(), &other.to_json())
            && json_eq(&self.merged_profile().to_json(), &other.merged_profile().to_json())
    }

    /// The fields of this configuration that differ from `other`'s, in dstack's field order.
    pub(crate) fn changed_configuration_fields(&self, other: &FleetSpec) -> Vec<&'static str> {
        CONFIGURATION_FIELDS
            .into_iter()
            .filter(|f| {
                !json_eq(&self.configuration.field_json(f), &other.configuration.field_json(f))
            })
            .collect()
    }
}

/// Python's equality of JSON-like values: numbers by value, objects as dicts.
pub(crate) fn json_eq(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => match (x.as_i64(), y.as_i64()) {
            (Some(x), Some(y)) => x == y,
            _ => x.as_f64() == y.as_f64(),
        },
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(x, y)| json_eq(x, y))
        }
        (Value::Object(x), Value::Object(y)) => objects_eq(x, y),
        _ => a == b,
    }
}

fn objects_eq(x: &Map<String, Value>, y: &Map<String, Value>) -> bool {
    x.len() == y.len() && x.iter().all(|(k, v)| y.get(k).is_some_and(|w| json_eq(v, w)))
}
