//! dstack's `FleetConfiguration` (`type: fleet`): the common fields, the cloud ones
//! (`BackendFleetConfiguraionProps`) and the SSH ones (`ssh_config`, `env`), read with
//! pydantic's rules and dumped back in dstack's field order.

use indexmap::IndexMap;
use serde_json::{Map, Value, json};

use super::check::{Errors, Loc, at, get};
use super::fields;
use super::nodes::FleetNodes;
use super::profile::{Retry, SpotPolicy};
use crate::config::BackendType;
use crate::resources::ResourcesSpec;

/// Fields in dstack's order (the JSON order of its dump).
pub(crate) const CONFIGURATION_FIELDS: [&str; 19] = [
    "type",
    "name",
    "placement",
    "blocks",
    "nodes",
    "reservation",
    "resources",
    "backends",
    "regions",
    "availability_zones",
    "instance_types",
    "spot_policy",
    "retry",
    "max_price",
    "idle_duration",
    "tags",
    "backend_options",
    "ssh_config",
    "env",
];

/// The cloud-only fields (`BackendFleetConfiguraionProps`), in order.
pub(crate) const CLOUD_FIELDS: [&str; 13] = [
    "nodes",
    "reservation",
    "resources",
    "backends",
    "regions",
    "availability_zones",
    "instance_types",
    "spot_policy",
    "retry",
    "max_price",
    "idle_duration",
    "tags",
    "backend_options",
];

/// `placement`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Placement {
    Any,
    Cluster,
}

impl Placement {
    pub fn as_str(self) -> &'static str {
        match self {
            Placement::Any => "any",
            Placement::Cluster => "cluster",
        }
    }
}

/// `blocks`: how many blocks to split an instance into.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Blocks {
    /// As many as the GPUs (or CPUs when there are none).
    Auto,
    Count(u32),
}

impl Blocks {
    /// `instances.total_blocks` of a new instance: `None` while `auto` is undecided.
    pub fn total_blocks(self) -> Option<u32> {
        match self {
            Blocks::Auto => None,
            Blocks::Count(n) => Some(n),
        }
    }

    pub fn to_json(self) -> Value {
        match self {
            Blocks::Auto => json!("auto"),
            Blocks::Count(n) => json!(n),
        }
    }
}

/// A fleet configuration. `ssh_config` is kept as sent: this server refuses SSH fleets.
#[derive(Debug, Clone, PartialEq)]
pub struct FleetConfiguration {
    pub name: Option<String>,
    pub placement: Option<Placement>,
    pub blocks: Blocks,
    pub nodes: Option<FleetNodes>,
    pub reservation: Option<String>,
    pub resources: Option<ResourcesSpec>,
    pub backends: Option<Vec<BackendType>>,
    pub regions: Option<Vec<String>>,
    pub availability_zones: Option<Vec<String>>,
    pub instance_types: Option<Vec<String>>,
    pub spot_policy: Option<SpotPolicy>,
    pub retry: Option<Retry>,
    pub max_price: Option<f64>,
    /// Seconds; `-1` (or any negative value) is off.
    pub idle_duration: Option<i64>,
    pub tags: Option<IndexMap<String, String>>,
    pub backend_options: Option<Vec<Value>>,
    pub ssh_config: Option<Value>,
    /// The mapping form: a value is a string, or `{"key": NAME}` for `NAME` without a value.
    pub env: Map<String, Value>,
}

fn blocks(errors: &mut Errors, loc: Loc, value: &Value) -> Option<Blocks> {
    match value {
        Value::Null => {
            errors.add(
                "literal_error",
                at(&loc, "literal['auto']"),
                "Input should be 'auto'",
                value,
            );
            errors.add(
                "int_type",
                at(&loc, "constrained-int"),
                "Input should be a valid integer",
                value,
            );
            None
        }
        Value::String(s) if s == "auto" => Some(Blocks::Auto),
        other => {
            let mut inner = Errors::default();
            let n = inner.int(at(&loc, "constrained-int"), other);
            if let Some(n) = n
                && n >= 1
            {
                return u32::try_from(n).ok().map(Blocks::Count);
            }
            errors.add(
                "literal_error",
                at(&loc, "literal['auto']"),
                "Input should be 'auto'",
                other,
            );
            if n.is_some() {
                let msg = "Input should be greater than or equal to 1";
                inner.add("greater_than_equal", at(&loc, "constrained-int"), msg, other);
            }
            errors.0.extend(inner.0);
            None
        }
    }
}

fn resources(errors: &mut Errors, loc: Loc, value: &Value) -> Option<ResourcesSpec> {
    if value.is_null() {
        return None;
    }
    errors.model(&loc, value, "ResourcesSpec")?;
    match crate::config::load::from_json::<ResourcesSpec>(value) {
        Ok(spec) => Some(spec),
        Err(diagnostics) => {
            for d in diagnostics {
                let mut error_loc = loc.clone();
                let mut input = value;
                for part in d.path.split(['.', '[']).filter(|p| !p.is_empty()) {
                    let part = match part.strip_suffix(']').and_then(|i| i.parse::<u64>().ok()) {
                        Some(i) => json!(i),
                        None => json!(part),
                    };
                    input = match &part {
                        Value::Number(i) => i.as_u64().and_then(|i| input.get(i as usize)),
                        other => other.as_str().and_then(|k| input.get(k)),
                    }
                    .unwrap_or(input);
                    error_loc.push(part);
                }
                if d.message.starts_with("unknown field") {
                    let msg = "Extra inputs are not permitted";
                    errors.add("extra_forbidden", error_loc, msg, input);
                } else {
                    errors.value_error(error_loc, &d.message, input);
                }
            }
            None
        }
    }
}

/// `SSHParams`, checked only as far as its shape: this server refuses SSH fleets.
fn ssh_config(errors: &mut Errors, loc: Loc, value: &Value) -> Option<Value> {
    if value.is_null() {
        return None;
    }
    let map = errors.model(&loc, value, "SSHParams")?;
    let fields = ["user", "port", "identity_file", "ssh_key", "proxy_jump", "hosts", "network"];
    errors.forbid_extra(&loc, map, &fields);
    if let Some(hosts) = errors.required(&loc, map, "hosts") {
        errors.list(at(&loc, "hosts"), hosts);
    }
    Some(value.clone())
}

const ENV_LIST: &str = "list[constrained-str]";
const ENV_DICT: &str = "dict[str,union[str,EnvSentinel]]";

/// `Env`: a mapping, or a list of `NAME=value` / `NAME` (the union's errors carry its
/// members' tags, as pydantic's do).
fn env(errors: &mut Errors, loc: Loc, value: &Value) -> Map<String, Value> {
    let mut out = Map::new();
    let mut inner = Errors::default();
    let not_a_list = |inner: &mut Errors| {
        inner.add("list_type", at(&loc, ENV_LIST), "Input should be a valid list", value);
    };
    let not_a_dict = |inner: &mut Errors| {
        inner.add("dict_type", at(&loc, ENV_DICT), "Input should be a valid dictionary", value);
    };
    match value {
        Value::Null => {}
        Value::Object(map) => {
            for (key, v) in map {
                let entry = match v {
                    Value::Object(_) => Some(v.clone()),
                    other => {
                        inner.string(at(&at(&loc, ENV_DICT), key.as_str()), other).map(Value::from)
                    }
                };
                if let Some(entry) = entry {
                    out.insert(key.clone(), entry);
                }
            }
            if !inner.is_empty() {
                errors.add("list_type", at(&loc, ENV_LIST), "Input should be a valid list", value);
            }
        }
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                let Some(text) = inner.string(at(&at(&loc, ENV_LIST), i), item) else { continue };
                let key = text.split_once('=').map_or(text.as_str(), |(k, _)| k);
                let valid = key.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
                    && key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
                if !valid {
                    let msg = "String should match pattern '^([a-zA-Z_][a-zA-Z0-9_]*)(=.*$|$)'";
                    inner.add("string_pattern_mismatch", at(&at(&loc, ENV_LIST), i), msg, item);
                }
            }
            if !inner.is_empty() {
                not_a_dict(&mut inner);
            } else {
                for text in items.iter().filter_map(Value::as_str) {
                    let (key, entry) = match text.split_once('=') {
                        Some((k, v)) => (k.to_owned(), Value::from(v)),
                        None => (text.to_owned(), json!({"key": text})),
                    };
                    if out.contains_key(&key) {
                        let msg = format!("Duplicate environment variable: {text}");
                        errors.value_error(loc.clone(), msg, value);
                        break;
                    }
                    out.insert(key, entry);
                }
            }
        }
        _ => {
            not_a_list(&mut inner);
            not_a_dict(&mut inner);
        }
    }
    errors.0.extend(inner.0);
    out
}

impl FleetConfiguration {
    /// Reads a configuration at `loc` (`["configuration"]`).
    pub(crate) fn read(errors: &mut Errors, loc: &Loc, value: &Value) -> Option<Self> {
        let map = errors.model(loc, value, "FleetConfiguration")?;
        let before = errors.0.len();
        let f = |key: &str| get(map, key);
        let l = |key: &str| at(loc, key);
        if let Some(kind) = map.get("type") {
            errors.literal(l("type"), kind, &["fleet"]);
        }
        let conf = FleetConfiguration {
            name: errors.opt_string(l("name"), f("name")),
            placement: errors
                .opt_enum(l("placement"), f("placement"), &["any", "cluster"])
                .map(|p| if p == "cluster" { Placement::Cluster } else { Placement::Any }),
            blocks: match map.get("blocks") {
                None => Some(Blocks::Count(1)),
                Some(v) => blocks(errors, l("blocks"), v),
            }
            .unwrap_or(Blocks::Count(1)),
            nodes: match f("nodes") {
                Value::Null => None,
                v => FleetNodes::read(errors, &l("nodes"), v),
            },
            reservation: errors.opt_string(l("reservation"), f("reservation")),
            resources: resources(errors, l("resources"), f("resources")),
            backends: fields::backends(errors, l("backends"), f("backends")),
            regions: errors.opt_string_list(l("regions"), f("regions")),
            availability_zones: errors
                .opt_string_list(l("availability_zones"), f("availability_zones")),
            instance_types: errors.opt_string_list(l("instance_types"), f("instance_types")),
            spot_policy: fields::spot_policy(errors, l("spot_policy"), f("spot_policy")),
            retry: fields::retry(errors, l("retry"), f("retry")),
            max_price: fields::max_price(errors, l("max_price"), f("max_price")),
            idle_duration: fields::idle_duration(errors, l("idle_duration"), f("idle_duration")),
            tags: fields::tags(errors, l("tags"), f("tags")),
            backend_options: fields::backend_options(
                errors,
                l("backend_options"),
                f("backend_options"),
            ),
            ssh_config: ssh_config(errors, l("ssh_config"), f("ssh_config")),
            env: env(errors, l("env"), f("env")),
        };
        errors.forbid_extra(loc, map, &CONFIGURATION_FIELDS);
        (errors.0.len() == before).then_some(conf)
    }

    /// The value of one field as dstack dumps it.
    pub(crate) fn field_json(&self, field: &str) -> Value {
        let strings = |v: &Option<Vec<String>>| json!(v);
        match field {
            "type" => json!("fleet"),
            "name" => json!(self.name),
            "placement" => json!(self.placement.map(Placement::as_str)),
            "blocks" => self.blocks.to_json(),
            "nodes" => self.nodes.as_ref().map_or(Value::Null, FleetNodes::to_json),
            "reservation" => json!(self.reservation),
            "resources" => self.resources.as_ref().map_or(Value::Null, |r| json!(r)),
            "backends" => fields::backends_json(&self.backends),
            "regions" => strings(&self.regions),
            "availability_zones" => strings(&self.availability_zones),
            "instance_types" => strings(&self.instance_types),
            "spot_policy" => json!(self.spot_policy.map(SpotPolicy::as_str)),
            "retry" => self.retry.as_ref().map_or(Value::Null, Retry::to_json),
            "max_price" => json!(self.max_price),
            "idle_duration" => json!(self.idle_duration),
            "tags" => fields::tags_json(&self.tags),
            "backend_options" => json!(self.backend_options),
            "ssh_config" => json!(self.ssh_config),
            "env" => Value::Object(self.env.clone()),
            other => unreachable!("not a configuration field: {other}"),
        }
    }

    /// The configuration as dstack dumps it: every field, in its order, `nodes` without
    /// `target` when it equals `min`.
    pub fn to_json(&self) -> Value {
        Value::Object(
            CONFIGURATION_FIELDS.iter().map(|f| ((*f).to_owned(), self.field_json(f))).collect(),
        )
    }

    /// Whether this is an SSH fleet (`ssh_config` set).
    pub fn is_ssh(&self) -> bool {
        self.ssh_config.is_some()
    }
}
