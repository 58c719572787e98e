//! The SSH port of a CloudRift VM, from the three places dstack 0.22.5 reads it, in its
//! order and with its rules:
//!
//! 1. `port_mappings`: the host port of the first `[22, host port]` pair;
//! 2. `instructions.placeholder_values`: the first `["SSH_PORT", "-p <port>"]` (an empty
//!    option means 22);
//! 3. otherwise 22 — unless the instance has port mappings (even none) or an `SSH_PORT`
//!    placeholder that did not give a port: then the port is not known yet.
//!
//! Ports are read as Python's `int()` reads them (`57001`, `"57001"`, `" 57001 "`), and must
//! be within 1..=65535.

use serde_json::Value;

/// The port sshd listens on inside the VM.
pub const VM_SSH_PORT: u16 = 22;

/// The port to reach the VM's SSH at, or `None` while CloudRift has not published it.
pub fn vm_ssh_port(instance: &Value) -> Option<u16> {
    if let Some(port) = from_port_mappings(instance) {
        return Some(port);
    }
    if let Some(port) = placeholders(instance).find_map(ssh_port_placeholder) {
        return Some(port);
    }
    let has_mappings = instance.get("port_mappings").is_some_and(Value::is_array);
    if has_mappings || placeholders(instance).any(is_ssh_port_placeholder) {
        return None;
    }
    Some(VM_SSH_PORT)
}

fn from_port_mappings(instance: &Value) -> Option<u16> {
    let mappings = instance.get("port_mappings")?.as_array()?;
    mappings.iter().find_map(|mapping| {
        let pair = mapping.as_array().filter(|pair| pair.len() >= 2)?;
        let (vm, host) = (parse_port(&pair[0])?, parse_port(&pair[1])?);
        (vm == VM_SSH_PORT).then_some(host)
    })
}

fn placeholders(instance: &Value) -> impl Iterator<Item = &Value> {
    instance
        .get("instructions")
        .filter(|i| i.is_object())
        .and_then(|i| i.get("placeholder_values"))
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
}

fn is_ssh_port_placeholder(value: &Value) -> bool {
    value.as_array().is_some_and(|pair| pair.len() >= 2 && pair[0].as_str() == Some("SSH_PORT"))
}

/// The port of an `["SSH_PORT", option]` placeholder: `""` is 22, `-p <port>` is the port.
fn ssh_port_placeholder(value: &Value) -> Option<u16> {
    if !is_ssh_port_placeholder(value) {
        return None;
    }
    let option = value[1].as_str()?;
    if option.trim().is_empty() {
        return Some(VM_SSH_PORT);
    }
    match option.split_whitespace().collect::<Vec<_>>()[..] {
        ["-p", port] => parse_port(&Value::String(port.to_owned())),
        _ => None,
    }
}

/// A port as dstack's `_parse_port` takes it: `int(value)` within 1..=65535.
fn parse_port(value: &Value) -> Option<u16> {
    let number: i128 = match value {
        Value::Number(n) => match (n.as_i64(), n.as_u64(), n.as_f64()) {
            (Some(i), _, _) => i128::from(i),
            (_, Some(u), _) => i128::from(u),
            (_, _, Some(f)) if f.is_finite() && f.abs() < 1e30 => f.trunc() as i128,
            _ => return None,
        },
        Value::Bool(b) => i128::from(*b),
        Value::String(s) => python_int(s)?,
        _ => return None,
    };
    u16::try_from(number).ok().filter(|port| *port > 0)
}

/// Python's `int(str)`: surrounding whitespace, a sign, digits with single underscores
/// between them.
fn python_int(text: &str) -> Option<i128> {
    let text = text.trim();
    let (negative, digits) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text.strip_prefix('+').unwrap_or(text)),
    };
    let valid = !digits.is_empty()
        && !digits.starts_with('_')
        && !digits.ends_with('_')
        && !digits.contains("__")
        && digits.chars().all(|c| c.is_ascii_digit() || c == '_');
    if !valid {
        return None;
    }
    let value: i128 = digits.replace('_', "").parse().ok()?;
    Some(if negative { -value } else { value })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    /// dstack's `test_compute.py` `_vm_instance_info`, with `overrides` (`null` removes a key).
    fn info(overrides: Value) -> Value {
        let mut info = json!({
            "node_mode": "VirtualMachine", "host_address": "211.21.50.85",
            "virtual_machines": [{"ready": true}], "port_mappings": [[22, 57001], [80, 57002]],
        });
        for (key, value) in overrides.as_object().unwrap() {
            if value.is_null() {
                info.as_object_mut().unwrap().remove(key);
            } else {
                info[key] = value.clone();
            }
        }
        info
    }

    fn instructions(pairs: Value) -> Value {
        json!({"placeholder_values": pairs})
    }

    #[test]
    fn port_mappings_come_first() {
        assert_eq!(vm_ssh_port(&info(json!({}))), Some(57001));
        let strings = info(json!({"port_mappings": [["22", "57001"]]}));
        assert_eq!(vm_ssh_port(&strings), Some(57001));
        let both = info(json!({"instructions": instructions(json!([["SSH_PORT", "-p 60000"]]))}));
        assert_eq!(vm_ssh_port(&both), Some(57001));
    }

    #[test]
    fn then_the_ssh_port_instruction() {
        let placeholder = instructions(json!([["SSH_PORT", "-p 57001"]]));
        let missing = info(json!({"port_mappings": null, "instructions": placeholder}));
        assert_eq!(vm_ssh_port(&missing), Some(57001));
        let empty = info(json!({"port_mappings": [], "instructions": placeholder}));
        assert_eq!(vm_ssh_port(&empty), Some(57001));
        let default = instructions(json!([["SSH_PORT", ""]]));
        assert_eq!(
            vm_ssh_port(&info(json!({"port_mappings": null, "instructions": default}))),
            Some(22)
        );
    }

    #[test]
    fn then_22_unless_the_data_is_there_but_unusable() {
        assert_eq!(vm_ssh_port(&info(json!({"port_mappings": null}))), Some(22));
        let other = instructions(json!([["USERNAME", "riftuser"]]));
        assert_eq!(
            vm_ssh_port(&info(json!({"port_mappings": null, "instructions": other}))),
            Some(22)
        );
        assert_eq!(vm_ssh_port(&info(json!({"port_mappings": []}))), None, "not mapped yet");
        let invalid = json!([[22], [22, "not-a-port"], [22, 0], [22, 65536], [80, 57002]]);
        assert_eq!(vm_ssh_port(&info(json!({"port_mappings": invalid}))), None);
        let bad = instructions(json!([["SSH_PORT", "-p not-a-port"]]));
        assert_eq!(vm_ssh_port(&info(json!({"port_mappings": null, "instructions": bad}))), None);
        let odd = instructions(json!([["SSH_PORT", "--port 2222"]]));
        assert_eq!(vm_ssh_port(&info(json!({"port_mappings": null, "instructions": odd}))), None);
    }

    #[test]
    fn ports_read_as_pythons_int() {
        let port = |v: Value| parse_port(&v);
        assert_eq!(port(json!(" 57001 ")), Some(57001));
        assert_eq!(port(json!("+2_222")), Some(2222));
        assert_eq!(port(json!(2222.9)), Some(2222));
        assert_eq!(port(json!(true)), Some(1));
        assert_eq!(port(json!("22.0")), None);
        assert_eq!(port(json!("-22")), None);
        assert_eq!(port(json!("2__2")), None);
        assert_eq!(port(json!(null)), None);
    }
}
