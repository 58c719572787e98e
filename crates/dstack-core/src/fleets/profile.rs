//! dstack's `Profile` (`core/models/profiles.py`): the profile the CLI sends with a fleet spec
//! (from `.dstack/profiles.yml`, else `{"name": "default"}`), and the merged profile a fleet's
//! instances store: the configuration's non-null profile fields over the profile's, then
//! `spot_policy` on-demand and `retry` false by default.

use indexmap::IndexMap;
use serde_json::{Map, Value, json};

use super::check::{Errors, Loc, at, get};
use super::configuration::FleetConfiguration;
pub use super::duration::OffDuration;
use super::duration::parse_off_duration;
use super::fields;
use crate::config::BackendType;

/// `spot_policy`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SpotPolicy {
    Spot,
    OnDemand,
    Auto,
}

impl SpotPolicy {
    pub fn as_str(self) -> &'static str {
        match self {
            SpotPolicy::Spot => "spot",
            SpotPolicy::OnDemand => "on-demand",
            SpotPolicy::Auto => "auto",
        }
    }

    /// `Requirements.spot`: spot only, on-demand only, or either (`auto`).
    pub fn spot(self) -> Option<bool> {
        match self {
            SpotPolicy::Spot => Some(true),
            SpotPolicy::OnDemand => Some(false),
            SpotPolicy::Auto => None,
        }
    }
}

/// An event `retry.on_events` lists.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RetryEvent {
    NoCapacity,
    Interruption,
    Error,
}

impl RetryEvent {
    pub fn as_str(self) -> &'static str {
        match self {
            RetryEvent::NoCapacity => "no-capacity",
            RetryEvent::Interruption => "interruption",
            RetryEvent::Error => "error",
        }
    }
}

/// `retry`: `true`/`false`, or `{on_events, duration}` (seconds). Stored by fleets, not acted
/// on by dstack 0.22.5's fleet provisioning.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Retry {
    Flag(bool),
    Policy { on_events: Option<Vec<RetryEvent>>, duration: Option<i64> },
}

impl Retry {
    pub fn to_json(&self) -> Value {
        match self {
            Retry::Flag(b) => Value::Bool(*b),
            Retry::Policy { on_events, duration } => json!({
                "on_events": on_events
                    .as_ref()
                    .map(|events| events.iter().map(|e| e.as_str()).collect::<Vec<_>>()),
                "duration": duration,
            }),
        }
    }
}

/// Profile fields in dstack's order (`ProfileParams`, then `name`, `default`).
pub(crate) const PROFILE_FIELDS: [&str; 22] = [
    "backends",
    "regions",
    "availability_zones",
    "instance_types",
    "reservation",
    "spot_policy",
    "retry",
    "max_duration",
    "stop_duration",
    "max_price",
    "creation_policy",
    "idle_duration",
    "utilization_policy",
    "startup_order",
    "stop_criteria",
    "schedule",
    "fleets",
    "instances",
    "tags",
    "backend_options",
    "name",
    "default",
];

/// A profile. The fields a fleet uses are typed; the run-only ones that are objects or
/// lists (`utilization_policy`, `schedule`, `fleets`, `instances`) are kept as sent.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Profile {
    pub backends: Option<Vec<BackendType>>,
    pub regions: Option<Vec<String>>,
    pub availability_zones: Option<Vec<String>>,
    pub instance_types: Option<Vec<String>>,
    pub reservation: Option<String>,
    pub spot_policy: Option<SpotPolicy>,
    pub retry: Option<Retry>,
    pub max_duration: Option<OffDuration>,
    pub stop_duration: Option<OffDuration>,
    pub max_price: Option<f64>,
    pub creation_policy: Option<String>,
    /// Seconds; `-1` (or any negative value) is off.
    pub idle_duration: Option<i64>,
    pub utilization_policy: Option<Value>,
    pub startup_order: Option<String>,
    pub stop_criteria: Option<String>,
    pub schedule: Option<Value>,
    pub fleets: Option<Value>,
    pub instances: Option<Value>,
    pub tags: Option<IndexMap<String, String>>,
    /// Each entry as dstack dumps it (`{"type":"vastai", …}`).
    pub backend_options: Option<Vec<Value>>,
    pub name: String,
    pub default: bool,
}

fn kept(errors: &mut Errors, loc: Loc, value: &Value, model: &str) -> Option<Value> {
    if value.is_null() {
        return None;
    }
    errors.model(&loc, value, model).map(|_| value.clone())
}

fn kept_list(errors: &mut Errors, loc: Loc, value: &Value, min_items: usize) -> Option<Value> {
    if value.is_null() {
        return None;
    }
    let items = errors.list(loc.clone(), value)?;
    if items.len() < min_items {
        let msg = format!(
            "List should have at least {min_items} item after validation, not {}",
            items.len()
        );
        errors.add("too_short", loc, msg, value);
        return None;
    }
    Some(value.clone())
}

impl Profile {
    /// Reads a profile at `loc` (`["profile"]`); `None` with errors recorded when invalid.
    pub(crate) fn read(errors: &mut Errors, loc: &Loc, value: &Value) -> Option<Profile> {
        let map = errors.model(loc, value, "Profile")?;
        let before = errors.0.len();
        let f = |key: &str| get(map, key);
        let l = |key: &str| at(loc, key);
        let off = |errors: &mut Errors, key: &str| {
            parse_off_duration(f(key))
                .map_err(|msg| errors.value_error(l(key), msg, f(key)))
                .ok()
                .flatten()
        };
        let profile = Profile {
            backends: fields::backends(errors, l("backends"), f("backends")),
            regions: errors.opt_string_list(l("regions"), f("regions")),
            availability_zones: errors
                .opt_string_list(l("availability_zones"), f("availability_zones")),
            instance_types: errors.opt_string_list(l("instance_types"), f("instance_types")),
            reservation: errors.opt_string(l("reservation"), f("reservation")),
            spot_policy: fields::spot_policy(errors, l("spot_policy"), f("spot_policy")),
            retry: fields::retry(errors, l("retry"), f("retry")),
            max_duration: off(errors, "max_duration"),
            stop_duration: off(errors, "stop_duration"),
            max_price: fields::max_price(errors, l("max_price"), f("max_price")),
            creation_policy: errors.opt_enum(
                l("creation_policy"),
                f("creation_policy"),
                &["reuse", "reuse-or-create"],
            ),
            idle_duration: fields::idle_duration(errors, l("idle_duration"), f("idle_duration")),
            utilization_policy: kept(
                errors,
                l("utilization_policy"),
                f("utilization_policy"),
                "UtilizationPolicy",
            ),
            startup_order: errors.opt_enum(
                l("startup_order"),
                f("startup_order"),
                &["any", "master-first", "workers-first"],
            ),
            stop_criteria: errors.opt_enum(
                l("stop_criteria"),
                f("stop_criteria"),
                &["all-done", "master-done"],
            ),
            schedule: kept(errors, l("schedule"), f("schedule"), "Schedule"),
            fleets: kept_list(errors, l("fleets"), f("fleets"), 0),
            instances: kept_list(errors, l("instances"), f("instances"), 1),
            tags: fields::tags(errors, l("tags"), f("tags")),
            backend_options: fields::backend_options(
                errors,
                l("backend_options"),
                f("backend_options"),
            ),
            name: match map.get("name") {
                None => String::new(),
                Some(v) => errors.string(l("name"), v).unwrap_or_default(),
            },
            default: match map.get("default") {
                None => false,
                Some(v) => errors.bool(l("default"), v).unwrap_or_default(),
            },
        };
        errors.forbid_extra(loc, map, &PROFILE_FIELDS);
        (errors.0.len() == before).then_some(profile)
    }

    /// The profile as dstack dumps it: all 22 fields, in its order.
    pub fn to_json(&self) -> Value {
        let strings = |v: &Option<Vec<String>>| json!(v);
        let mut m = Map::new();
        m.insert("backends".into(), fields::backends_json(&self.backends));
        m.insert("regions".into(), strings(&self.regions));
        m.insert("availability_zones".into(), strings(&self.availability_zones));
        m.insert("instance_types".into(), strings(&self.instance_types));
        m.insert("reservation".into(), json!(self.reservation));
        m.insert("spot_policy".into(), json!(self.spot_policy.map(SpotPolicy::as_str)));
        m.insert("retry".into(), self.retry.as_ref().map_or(Value::Null, Retry::to_json));
        m.insert(
            "max_duration".into(),
            self.max_duration.map_or(Value::Null, OffDuration::to_json),
        );
        m.insert(
            "stop_duration".into(),
            self.stop_duration.map_or(Value::Null, OffDuration::to_json),
        );
        m.insert("max_price".into(), json!(self.max_price));
        m.insert("creation_policy".into(), json!(self.creation_policy));
        m.insert("idle_duration".into(), json!(self.idle_duration));
        m.insert("utilization_policy".into(), json!(self.utilization_policy));
        m.insert("startup_order".into(), json!(self.startup_order));
        m.insert("stop_criteria".into(), json!(self.stop_criteria));
        m.insert("schedule".into(), json!(self.schedule));
        m.insert("fleets".into(), json!(self.fleets));
        m.insert("instances".into(), json!(self.instances));
        m.insert("tags".into(), fields::tags_json(&self.tags));
        m.insert("backend_options".into(), json!(self.backend_options));
        m.insert("name".into(), json!(self.name));
        m.insert("default".into(), json!(self.default));
        Value::Object(m)
    }

    /// `FleetSpec.merged_profile`: this profile with every non-null profile field of the
    /// configuration over it, then `spot_policy` on-demand and `retry` false when unset.
    pub fn merged_with(&self, conf: &FleetConfiguration) -> Profile {
        let mut merged = self.clone();
        fn over<T: Clone>(target: &mut Option<T>, value: &Option<T>) {
            if value.is_some() {
                target.clone_from(value);
            }
        }
        over(&mut merged.backends, &conf.backends);
        over(&mut merged.regions, &conf.regions);
        over(&mut merged.availability_zones, &conf.availability_zones);
        over(&mut merged.instance_types, &conf.instance_types);
        over(&mut merged.reservation, &conf.reservation);
        over(&mut merged.spot_policy, &conf.spot_policy);
        over(&mut merged.retry, &conf.retry);
        over(&mut merged.max_price, &conf.max_price);
        over(&mut merged.idle_duration, &conf.idle_duration);
        over(&mut merged.tags, &conf.tags);
        over(&mut merged.backend_options, &conf.backend_options);
        merged.spot_policy.get_or_insert(SpotPolicy::OnDemand);
        merged.retry.get_or_insert(Retry::Flag(false));
        merged
    }
}
