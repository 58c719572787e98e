//! What dstack reads off a JarvisLabs instance (`users/fetch/{id}`'s `instance`, or the
//! region's `misc/status`): its login user, its private IP, how to destroy it and why it
//! failed — and the setup command run on it over SSH before the shim starts.

use serde_json::{Map, Value};

use crate::client::{py_str, truthy};

/// The login user when `ssh_str` names none (JarvisLabs' VM images).
pub const DEFAULT_USERNAME: &str = "ubuntu";

/// Regions whose VMs join the account's default VPC: their private IPs route between the
/// account's VMs, so only they carry multinode offers.
pub const VPC_REGIONS: [&str; 2] = ["india-chennai-01", "india-noida-01"];

/// dstack's setup commands: the tools the shim needs (curl, Docker, jq) where the image
/// lacks them, and Docker running. Each is idempotent, so the whole line can be re-run.
pub const SETUP_COMMANDS: [&str; 6] = [
    "mkdir -p ~/.dstack",
    "if ! command -v curl >/dev/null 2>&1 || ! command -v docker >/dev/null 2>&1 || ! command -v jq >/dev/null 2>&1; then sudo apt-get update; fi",
    "if ! command -v curl >/dev/null 2>&1; then sudo DEBIAN_FRONTEND=noninteractive apt-get install -y curl; fi",
    "if ! command -v docker >/dev/null 2>&1; then sudo apt-get update && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y docker.io; fi",
    "if ! command -v jq >/dev/null 2>&1; then sudo apt-get update && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y jq; fi",
    "sudo systemctl enable --now docker || sudo service docker start || true",
];

/// The setup commands as the one command line dstack runs.
pub fn setup_command() -> String {
    SETUP_COMMANDS.join(" && ")
}

fn field<'a>(instance: &'a Map<String, Value>, name: &str) -> Option<&'a Value> {
    instance.get(name).filter(|value| truthy(value))
}

/// The instance's status, lowercased (`running`, `failed`, ...).
pub fn status(instance: &Map<String, Value>) -> String {
    py_str(instance.get("status").unwrap_or(&Value::Null)).to_lowercase()
}

/// dstack's `_get_ssh_username`: the user of the first `user@host` word of `ssh_str` (or
/// `ssh_command`) after the program, else [`DEFAULT_USERNAME`].
pub fn ssh_username(instance: &Map<String, Value>) -> String {
    let command = field(instance, "ssh_str").or_else(|| field(instance, "ssh_command"));
    let Some(words) = command.and_then(Value::as_str).and_then(shlex::split) else {
        return DEFAULT_USERNAME.to_owned();
    };
    words
        .iter()
        .skip(1)
        .filter(|word| !word.starts_with('-'))
        .find_map(|word| word.rsplit_once('@').map(|(user, _)| user.to_owned()))
        .unwrap_or_else(|| DEFAULT_USERNAME.to_owned())
}

/// dstack's `_get_internal_ip`: the private IP, only for a VM in a VPC (elsewhere it does not
/// route between VMs).
pub fn internal_ip(instance: &Map<String, Value>) -> Option<String> {
    field(instance, "vpc_id")?;
    field(instance, "private_ip").and_then(Value::as_str).map(str::to_owned)
}

/// dstack's `_instance_template`: `template`, else `framework`, lowercased.
fn template(instance: &Map<String, Value>) -> String {
    let value = field(instance, "template").or_else(|| field(instance, "framework"));
    value.map(py_str).unwrap_or_default().to_lowercase()
}

/// dstack's `is_cpu_vm`: a `vm` whose GPU type is `CPU`.
pub fn is_cpu_vm(instance: &Map<String, Value>) -> bool {
    let gpu_type = py_str(instance.get("gpu_type").unwrap_or(&Value::Null));
    template(instance) == "vm" && gpu_type.to_uppercase() == "CPU"
}

/// Where the instance is destroyed (on its region's host): CPU VMs, GPU VMs, and anything
/// else (containers) each have their own endpoint.
pub fn destroy_endpoint(instance: &Map<String, Value>) -> &'static str {
    if is_cpu_vm(instance) {
        CPU_DESTROY
    } else if template(instance) == "vm" {
        GPU_DESTROY
    } else {
        "misc/destroy"
    }
}

pub const GPU_DESTROY: &str = "templates/vm/destroy";
pub const CPU_DESTROY: &str = "templates/vm/cpu/destroy";

/// The region the instance says it is in.
pub fn region(instance: &Map<String, Value>) -> Option<String> {
    field(instance, "region").map(py_str)
}

/// dstack's `_format_failed_status`.
pub fn failed_message(status: &Map<String, Value>) -> String {
    let message = field(status, "error").map_or_else(|| "unknown error".to_owned(), py_str);
    match status.get("code").filter(|code| !code.is_null()) {
        Some(code) => {
            format!("JarvisLabs instance creation failed: {message} (code={})", py_str(code))
        }
        None => format!("JarvisLabs instance creation failed: {message}"),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn object(value: Value) -> Map<String, Value> {
        value.as_object().cloned().unwrap()
    }

    #[test]
    fn the_login_user_comes_from_the_ssh_command() {
        let user = |value: Value| ssh_username(&object(value));
        assert_eq!(
            user(json!({"ssh_str": "ssh -o StrictHostKeyChecking=no ubuntu@203.0.113.10"})),
            "ubuntu"
        );
        assert_eq!(user(json!({"ssh_str": "ssh -p 22 root@203.0.113.10"})), "root");
        assert_eq!(user(json!({"ssh_command": "ssh 'a b@c'@h"})), "a b@c");
        assert_eq!(user(json!({"ssh_str": "ssh 'unclosed"})), "ubuntu");
        assert_eq!(user(json!({"ssh_str": 7})), "ubuntu");
        assert_eq!(user(json!({})), "ubuntu");
    }

    #[test]
    fn instances_are_read_as_dstack_reads_them() {
        let vm = |value: Value| object(value);
        assert!(is_cpu_vm(&vm(json!({"template": "vm", "gpu_type": "CPU"}))));
        assert!(is_cpu_vm(&vm(json!({"framework": "VM", "gpu_type": "cpu"}))));
        assert!(!is_cpu_vm(&vm(json!({"template": "pytorch", "gpu_type": "CPU"}))));
        assert_eq!(
            destroy_endpoint(&vm(json!({"template": "vm", "gpu_type": "H100"}))),
            GPU_DESTROY
        );
        assert_eq!(destroy_endpoint(&vm(json!({"template": "pytorch"}))), "misc/destroy");
        let ip = |value: Value| internal_ip(&object(value));
        assert_eq!(ip(json!({"vpc_id": "v1", "private_ip": "10.0.0.5"})), Some("10.0.0.5".into()));
        assert_eq!(ip(json!({"vpc_id": null, "private_ip": "10.0.0.5"})), None);
        assert_eq!(ip(json!({"vpc_id": "v1", "private_ip": ""})), None);
        let failed = |value: Value| failed_message(&object(value));
        assert_eq!(
            failed(json!({"status": "Failed", "error": "image setup failed", "code": 500})),
            "JarvisLabs instance creation failed: image setup failed (code=500)"
        );
        assert_eq!(
            failed(json!({"error": ""})),
            "JarvisLabs instance creation failed: unknown error"
        );
    }
}
