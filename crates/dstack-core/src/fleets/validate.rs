//! The server's checks of a fleet spec (`_validate_fleet_spec_and_set_defaults`), each a 400
//! with dstack's message: the name, nodes against ssh_config, and the fields a cloud or an
//! SSH fleet does not take. SSH fleets pass these checks and are then refused as unsupported.

use super::FleetSpecError;
use super::configuration::CLOUD_FIELDS;
use super::spec::FleetSpec;

pub const NAME_MESSAGE: &str = "Resource name should match regex '^[a-z][a-z0-9-]{1,40}$'";

/// `^[a-z][a-z0-9-]{1,40}$` as Python's `re.match` applies it: a final newline may follow.
pub fn is_valid_resource_name(name: &str) -> bool {
    let body = name.strip_suffix('\n').unwrap_or(name);
    let mut chars = body.chars();
    chars.next().is_some_and(|c| c.is_ascii_lowercase())
        && (2..=41).contains(&body.len())
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
}

/// Python's `repr` of a list of field names: `['env']`.
pub(crate) fn python_list(fields: &[&str]) -> String {
    let quoted: Vec<String> = fields.iter().map(|f| format!("'{f}'")).collect();
    format!("[{}]", quoted.join(", "))
}

impl FleetSpec {
    /// dstack's server-side checks, in its order. An SSH fleet that passes the checks this
    /// crate makes is [`FleetSpecError::SshFleetsUnsupported`]: its host and key checks are
    /// left to the issue that brings SSH fleets.
    pub fn validate(&self) -> Result<(), FleetSpecError> {
        let conf = &self.configuration;
        let rejected = |msg: String| Err(FleetSpecError::Rejected(msg));
        if let Some(name) = &conf.name
            && !is_valid_resource_name(name)
        {
            return rejected(NAME_MESSAGE.to_owned());
        }
        match (conf.ssh_config.is_some(), conf.nodes.is_some()) {
            (false, false) => return rejected("No ssh_config or nodes specified".to_owned()),
            (true, true) => {
                return rejected("ssh_config and nodes are mutually exclusive".to_owned());
            }
            _ => {}
        }
        if conf.is_ssh() {
            let set: Vec<&str> =
                CLOUD_FIELDS.into_iter().filter(|f| !conf.field_json(f).is_null()).collect();
            if !set.is_empty() {
                return rejected(format!(
                    "SSH fleet configuration does not support the following fields: {}",
                    python_list(&set)
                ));
            }
            return Err(FleetSpecError::SshFleetsUnsupported);
        }
        if !conf.env.is_empty() {
            return rejected(format!(
                "Backend fleet configuration does not support the following fields: {}",
                python_list(&["env"])
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};

    fn validate(configuration: Value) -> Result<(), FleetSpecError> {
        let body = json!({"configuration": configuration, "profile": {"name": "default"}});
        FleetSpec::from_json(&body).unwrap().validate()
    }

    fn rejected(msg: &str) -> Result<(), FleetSpecError> {
        Err(FleetSpecError::Rejected(msg.to_owned()))
    }

    const SSH: fn() -> Value = || json!({"hosts": ["10.0.0.1"], "user": "ubuntu"});

    #[test]
    fn dstacks_messages_in_dstacks_order() {
        assert_eq!(validate(json!({"name": "my-fleet", "nodes": 2})), Ok(()));
        assert_eq!(validate(json!({"nodes": 0})), Ok(()));
        assert_eq!(validate(json!({"name": "My", "nodes": 1})), rejected(NAME_MESSAGE));
        assert_eq!(NAME_MESSAGE, "Resource name should match regex '^[a-z][a-z0-9-]{1,40}$'");
        // The name is checked first.
        assert_eq!(validate(json!({"name": "a"})), rejected(NAME_MESSAGE));
        assert_eq!(validate(json!({})), rejected("No ssh_config or nodes specified"));
        assert_eq!(
            validate(json!({"nodes": 1, "ssh_config": SSH()})),
            rejected("ssh_config and nodes are mutually exclusive")
        );
        assert_eq!(
            validate(json!({"nodes": 1, "env": ["A=1"]})),
            rejected("Backend fleet configuration does not support the following fields: ['env']")
        );
        assert_eq!(validate(json!({"nodes": 1, "env": {}})), Ok(()));
    }

    #[test]
    fn ssh_fleets_are_checked_then_refused_as_unsupported() {
        assert_eq!(
            validate(
                json!({"ssh_config": SSH(), "tags": {"a": "b"}, "resources": {}, "retry": true})
            ),
            rejected(
                "SSH fleet configuration does not support the following fields: ['resources', 'retry', 'tags']"
            )
        );
        assert_eq!(
            validate(json!({"ssh_config": SSH()})),
            Err(FleetSpecError::SshFleetsUnsupported)
        );
        assert_eq!(
            validate(json!({"ssh_config": SSH(), "env": {"A": "1"}})),
            Err(FleetSpecError::SshFleetsUnsupported)
        );
        assert_eq!(
            FleetSpecError::SshFleetsUnsupported.to_string(),
            "SSH fleets are not supported by this server yet"
        );
        // Its shape is still read: `hosts` is required.
        let body = json!({"configuration": {"ssh_config": {"user": "u"}}, "profile": {}});
        let Err(FleetSpecError::Invalid(errors)) = FleetSpec::from_json(&body) else { panic!() };
        assert_eq!(errors[0].loc, [json!("configuration"), json!("ssh_config"), json!("hosts")]);
        assert_eq!(errors[0].msg, "Field required");
    }

    #[test]
    fn resource_names() {
        for good in ["my-fleet", "ab", "a1", "a-", "ab\n", &format!("a{}", "b".repeat(40))] {
            assert!(is_valid_resource_name(good), "{good:?}");
        }
        for bad in [
            "a",
            "f\n",
            "My",
            "1ab",
            "-ab",
            "my_fleet",
            "ab\n\n",
            "",
            &format!("a{}", "b".repeat(41)),
        ] {
            assert!(!is_valid_resource_name(bad), "{bad:?}");
        }
    }

    #[test]
    fn field_lists_as_python_prints_them() {
        assert_eq!(python_list(&["env"]), "['env']");
        assert_eq!(python_list(&["resources", "retry", "tags"]), "['resources', 'retry', 'tags']");
        assert_eq!(python_list(&[]), "[]");
    }
}
