//! Whether applying a spec to an existing fleet updates it in place or needs it re-created
//! (`_check_can_update_fleet_spec`), with dstack's refusal messages ("Failed to update fields
//! [...]. Can only update [...]."), which `fleets/apply` answers with a 400.

use serde_json::{Map, Value};

use super::FleetSpecError;
use super::spec::{FleetSpec, json_eq};
use super::validate::python_list;

/// A plan's `action`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Create,
    Update,
}

impl Action {
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Create => "create",
            Action::Update => "update",
        }
    }
}

const SPEC_UPDATABLE: [&str; 3] = ["configuration", "configuration_path", "merged_profile"];

const CLOUD_UPDATABLE: [&str; 10] = [
    "nodes",
    "reservation",
    "tags",
    "resources",
    "backends",
    "regions",
    "availability_zones",
    "instance_types",
    "spot_policy",
    "max_price",
];

const SSH_PARAMS_FIELDS: [&str; 7] =
    ["user", "port", "identity_file", "ssh_key", "proxy_jump", "hosts", "network"];

/// get_plan's `action` for `new` (the effective spec) when a fleet of that name exists with
/// the spec `current`: `update` when it can be updated in place, else `create` (the CLI then
/// deletes the fleet and applies again). No existing fleet: `create`.
pub fn plan_action(current: Option<&FleetSpec>, new: &FleetSpec) -> Action {
    match current {
        Some(current) if check_can_update(current, new).is_ok() => Action::Update,
        _ => Action::Create,
    }
}

fn refuse(changed: &[&str], updatable: &[&str]) -> Result<(), FleetSpecError> {
    if changed.iter().all(|f| updatable.contains(f)) {
        return Ok(());
    }
    Err(FleetSpecError::Rejected(format!(
        "Failed to update fields {}. Can only update {}.",
        python_list(changed),
        python_list(updatable)
    )))
}

/// dstack's in-place update rules, on both specs with the server's defaults set. The error
/// is [`FleetSpecError::Rejected`] with dstack's message.
pub fn check_can_update(current: &FleetSpec, new: &FleetSpec) -> Result<(), FleetSpecError> {
    let (current, new) = (current.effective(), new.effective());
    let changed_conf = current.changed_configuration_fields(&new);
    let mut changed = Vec::new();
    if !changed_conf.is_empty() {
        changed.push("configuration");
    }
    if current.configuration_path != new.configuration_path {
        changed.push("configuration_path");
    }
    if !json_eq(&current.profile.to_json(), &new.profile.to_json()) {
        changed.push("profile");
    }
    if current.autocreated != new.autocreated {
        changed.push("autocreated");
    }
    if !json_eq(&current.merged_profile().to_json(), &new.merged_profile().to_json()) {
        changed.push("merged_profile");
    }
    refuse(&changed, &SPEC_UPDATABLE)?;
    if changed_conf.is_empty() {
        return Ok(());
    }
    let rejected = |msg: &str| Err(FleetSpecError::Rejected(msg.to_owned()));
    match (&current.configuration.ssh_config, &new.configuration.ssh_config) {
        (None, None) => refuse(&changed_conf, &CLOUD_UPDATABLE),
        (None, Some(_)) => rejected("Fleet type changed from Cloud to SSH, cannot update"),
        (Some(_), None) => rejected("Fleet type changed from SSH to Cloud, cannot update"),
        (Some(current_ssh), Some(new_ssh)) => {
            refuse(&changed_conf, &["ssh_config"])?;
            check_ssh_config(current_ssh, new_ssh)
        }
    }
}

/// A model's fields as dstack compares them: an omitted field equals its default (`None`).
fn field<'v>(value: &'v Value, key: &str) -> &'v Value {
    static NULL: Value = Value::Null;
    value.get(key).unwrap_or(&NULL)
}

fn without_nulls(value: &Value) -> Value {
    match value {
        Value::Object(map) => Value::Object(
            map.iter()
                .filter(|(_, v)| !v.is_null())
                .map(|(k, v)| (k.clone(), without_nulls(v)))
                .collect::<Map<_, _>>(),
        ),
        Value::Array(items) => Value::Array(items.iter().map(without_nulls).collect()),
        other => other.clone(),
    }
}

/// `_check_can_update_ssh_config`: only `hosts` may change, and only by adding or removing
/// hosts; a kept host whose parameters changed (its `identity_file` aside) is refused.
fn check_ssh_config(current: &Value, new: &Value) -> Result<(), FleetSpecError> {
    let changed: Vec<&str> = SSH_PARAMS_FIELDS
        .into_iter()
        .filter(|f| !json_eq(&without_nulls(field(current, f)), &without_nulls(field(new, f))))
        .collect();
    refuse(&changed, &["hosts"])?;
    let hostname = |host: &Value| match host {
        Value::String(s) => s.clone(),
        other => field(other, "hostname").as_str().unwrap_or_default().to_owned(),
    };
    let comparable = |host: &Value| {
        let mut host = without_nulls(host);
        if let Value::Object(map) = &mut host {
            map.shift_remove("identity_file");
            if let Some(Value::Object(proxy)) = map.get_mut("proxy_jump") {
                proxy.insert("identity_file".into(), Value::from(""));
            }
        }
        host
    };
    let empty = Vec::new();
    let new_hosts = field(new, "hosts").as_array().unwrap_or(&empty);
    let mut changed_hosts = Vec::new();
    for host in field(current, "hosts").as_array().unwrap_or(&empty) {
        let name = hostname(host);
        let Some(other) = new_hosts.iter().find(|h| hostname(h) == name) else { continue };
        let differs = if host.is_string() || other.is_string() {
            host != other
        } else {
            !json_eq(&comparable(host), &comparable(other))
        };
        if differs {
            changed_hosts.push(name);
        }
    }
    if changed_hosts.is_empty() {
        return Ok(());
    }
    let names: Vec<&str> = changed_hosts.iter().map(String::as_str).collect();
    Err(FleetSpecError::Rejected(format!(
        "Hosts configuration changed, cannot update: {}",
        python_list(&names)
    )))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn spec(configuration: Value, profile: Value) -> FleetSpec {
        FleetSpec::from_json(&json!({"configuration": configuration, "profile": profile})).unwrap()
    }

    fn check(current: (Value, Value), new: (Value, Value)) -> Result<(), String> {
        check_can_update(&spec(current.0, current.1), &spec(new.0, new.1)).map_err(|e| match e {
            FleetSpecError::Rejected(msg) => msg,
            other => panic!("{other:?}"),
        })
    }

    fn p() -> Value {
        json!({"name": "default"})
    }

    const CLOUD_ONLY: &str = "Can only update ['nodes', 'reservation', 'tags', 'resources', 'backends', 'regions', 'availability_zones', 'instance_types', 'spot_policy', 'max_price'].";
    const SPEC_ONLY: &str =
        "Can only update ['configuration', 'configuration_path', 'merged_profile'].";

    // Each expectation is what dstack 0.22.5's `_check_can_update_fleet_spec` answers.
    #[test]
    fn what_can_change_in_place() {
        let ff = |extra: Value| {
            let mut conf = json!({"name": "ff", "nodes": 2});
            conf.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
            conf
        };
        assert_eq!(check((ff(json!({})), p()), (ff(json!({"nodes": 3})), p())), Ok(()));
        assert_eq!(check((ff(json!({})), p()), (ff(json!({})), p())), Ok(()));
        assert_eq!(
            check(
                (ff(json!({})), p()),
                (ff(json!({"max_price": 1.0, "reservation": "r", "tags": {"a": "b"}})), p())
            ),
            Ok(())
        );
        assert_eq!(
            check(
                (ff(json!({})), p()),
                (ff(json!({"nodes": {"min": 2, "target": 2, "max": 2}})), p())
            ),
            Ok(())
        );
        assert_eq!(
            check(
                (ff(json!({"idle_duration": 3600})), p()),
                (ff(json!({"idle_duration": "1h"})), p())
            ),
            Ok(())
        );
        // The server's GPU default makes these equal.
        assert_eq!(
            check(
                (ff(json!({"resources": {"gpu": null}})), p()),
                (ff(json!({"resources": {}})), p())
            ),
            Ok(())
        );
        assert_eq!(
            check((ff(json!({"max_price": 1})), p()), (ff(json!({"max_price": 1.0})), p())),
            Ok(())
        );
        // The same merged spot policy from the profile or from the configuration.
        assert_eq!(
            check(
                (ff(json!({})), json!({"name": "default", "spot_policy": "spot"})),
                (
                    ff(json!({"spot_policy": "spot"})),
                    json!({"name": "default", "spot_policy": "spot"})
                )
            ),
            Ok(())
        );
    }

    #[test]
    fn what_needs_a_new_fleet() {
        let ff = |extra: Value| {
            let mut conf = json!({"name": "ff", "nodes": 2});
            conf.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
            conf
        };
        let base = || (ff(json!({})), p());
        assert_eq!(
            check(base(), (ff(json!({"placement": "cluster"})), p())),
            Err(format!("Failed to update fields ['placement']. {CLOUD_ONLY}"))
        );
        assert_eq!(
            check(
                base(),
                (ff(json!({"placement": "cluster", "idle_duration": "1h", "blocks": 2})), p())
            ),
            Err(format!(
                "Failed to update fields ['placement', 'blocks', 'idle_duration']. {CLOUD_ONLY}"
            ))
        );
        assert_eq!(
            check((ff(json!({"retry": true})), p()), (ff(json!({"retry": false})), p())),
            Err(format!("Failed to update fields ['retry']. {CLOUD_ONLY}"))
        );
        assert_eq!(
            check(base(), (ff(json!({"backend_options": []})), p())),
            Err(format!("Failed to update fields ['backend_options']. {CLOUD_ONLY}"))
        );
        assert_eq!(
            check(base(), (json!({"name": "gg", "nodes": 2}), p())),
            Err(format!("Failed to update fields ['name']. {CLOUD_ONLY}"))
        );
        assert_eq!(
            check(base(), (ff(json!({})), json!({"name": "other"}))),
            Err(format!("Failed to update fields ['profile', 'merged_profile']. {SPEC_ONLY}"))
        );
        assert_eq!(
            check(base(), (ff(json!({})), json!({"name": "default", "idle_duration": 60}))),
            Err(format!("Failed to update fields ['profile', 'merged_profile']. {SPEC_ONLY}"))
        );
        assert_eq!(
            check(
                base(),
                (ff(json!({"placement": "cluster"})), json!({"name": "default", "max_price": 2}))
            ),
            Err(format!(
                "Failed to update fields ['configuration', 'profile', 'merged_profile']. {SPEC_ONLY}"
            ))
        );
        // The merged profile is the same, the profile is not.
        assert_eq!(
            check(
                (ff(json!({})), json!({"name": "default", "spot_policy": "spot"})),
                (ff(json!({"spot_policy": "spot"})), p())
            ),
            Err(format!("Failed to update fields ['configuration', 'profile']. {SPEC_ONLY}"))
        );
        let ssh = json!({"name": "ff", "ssh_config": {"hosts": ["h"], "user": "u"}});
        assert_eq!(
            check(base(), (ssh.clone(), p())),
            Err("Fleet type changed from Cloud to SSH, cannot update".to_owned())
        );
        assert_eq!(
            check((ssh, p()), base()),
            Err("Fleet type changed from SSH to Cloud, cannot update".to_owned())
        );
    }

    #[test]
    fn ssh_hosts_may_be_added_or_removed_but_not_changed() {
        let ssh = |hosts: Value| {
            (json!({"name": "ff", "ssh_config": {"user": "u", "hosts": hosts}}), p())
        };
        let host =
            |port: u16, key: &str| json!({"hostname": "h", "port": port, "identity_file": key});
        assert_eq!(check(ssh(json!(["a"])), ssh(json!(["a", "b"]))), Ok(()));
        assert_eq!(check(ssh(json!(["a", "b"])), ssh(json!(["b"]))), Ok(()));
        assert_eq!(check(ssh(json!([host(22, "k1")])), ssh(json!([host(22, "k2")]))), Ok(()));
        assert_eq!(
            check(ssh(json!([host(22, "k1")])), ssh(json!([host(2222, "k1")]))),
            Err("Hosts configuration changed, cannot update: ['h']".to_owned())
        );
        let other_user = (json!({"name": "ff", "ssh_config": {"user": "v", "hosts": ["a"]}}), p());
        assert_eq!(
            check(ssh(json!(["a"])), other_user),
            Err("Failed to update fields ['user']. Can only update ['hosts'].".to_owned())
        );
    }

    #[test]
    fn plan_actions() {
        let current = spec(json!({"name": "ff", "nodes": 2}), p());
        let grown = spec(json!({"name": "ff", "nodes": 4}), p());
        let clustered = spec(json!({"name": "ff", "nodes": 2, "placement": "cluster"}), p());
        assert_eq!(plan_action(None, &grown), Action::Create);
        assert_eq!(plan_action(Some(&current), &grown), Action::Update);
        assert_eq!(plan_action(Some(&current), &clustered), Action::Create);
        assert_eq!((Action::Create.as_str(), Action::Update.as_str()), ("create", "update"));
    }
}
