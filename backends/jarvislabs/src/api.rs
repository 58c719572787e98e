//! The calls dstack 0.22.5 makes to JarvisLabs (its `JarvisLabsAPIClient`), read the way it
//! reads them: the user, SSH keys, VM creation on the region's host, instance lookups and
//! destruction.

use dstack_core::ErrorKind;
use dstack_core::error::Result;
use reqwest::Method;
use serde_json::{Map, Value, json};

use crate::client::{JarvisLabsClient, checked, is_successful, py_str, unexpected};

/// What a GPU VM is created with (`POST templates/vm/create` on the region's host).
#[derive(Debug, Clone, PartialEq)]
pub struct GpuVm {
    pub gpu_type: String,
    pub num_gpus: usize,
    pub is_spot: bool,
    /// GB.
    pub storage: u64,
    pub region: String,
    pub name: String,
}

/// What a CPU VM is created with (`POST templates/vm/cpu/create` on the region's host).
#[derive(Debug, Clone, PartialEq)]
pub struct CpuVm {
    pub vcpus: u32,
    pub ram_gb: u64,
    /// GB.
    pub storage: u64,
    pub region: String,
    pub name: String,
}

impl GpuVm {
    /// dstack's body, key for key. The startup script fields stay empty: JarvisLabs accepts a
    /// `script_id` for VMs but does not run it, so the shim is started over SSH instead.
    pub fn body(&self) -> Value {
        json!({
            "gpu_type": self.gpu_type,
            "num_gpus": self.num_gpus,
            "hdd": self.storage,
            "region": self.region,
            "name": self.name,
            "is_spot": self.is_spot,
            "duration": "hour",
            "disk_type": "ssd",
            "http_ports": "",
            "script_id": null,
            "script_args": "",
            "fs_id": null,
            "arguments": "",
        })
    }
}

impl CpuVm {
    /// dstack's body, key for key.
    pub fn body(&self) -> Value {
        json!({
            "num_cpus": 1,
            "vcpus": self.vcpus,
            "ram_gb": self.ram_gb,
            "hdd": self.storage,
            "region": self.region,
            "name": self.name,
            "duration": "hour",
            "disk_type": "ssd",
        })
    }
}

impl JarvisLabsClient {
    /// dstack's credential check: `GET users/user_info` (401 and 403 are "Invalid
    /// credentials" on `creds.api_key`; other failures are reported as they are).
    pub async fn check_api_key(&self) -> Result<()> {
        match self.main.get::<Value>("/users/user_info").await? {
            Value::Object(_) | Value::Null => Ok(()),
            _ => Err(unexpected("Unexpected JarvisLabs user_info response")),
        }
    }

    /// The account's SSH keys (`GET ssh/`).
    pub async fn ssh_keys(&self) -> Result<Vec<Map<String, Value>>> {
        match self.main.get::<Value>("/ssh/").await? {
            Value::Array(items) => Ok(items
                .into_iter()
                .filter_map(|item| match item {
                    Value::Object(key) => Some(key),
                    _ => None,
                })
                .collect()),
            _ => Err(unexpected("Unexpected JarvisLabs SSH key list response")),
        }
    }

    /// `POST ssh/ {ssh_key, key_name}`.
    pub async fn add_ssh_key(&self, public_key: &str, key_name: &str) -> Result<()> {
        let body = json!({"ssh_key": public_key, "key_name": key_name});
        checked(self.main.post("/ssh/", &body).await?, "Failed to add JarvisLabs SSH key").map(drop)
    }

    /// The `key_id` of the key named `key_name` whose "type blob" is `public_key`'s.
    pub async fn find_ssh_key_id(
        &self,
        public_key: &str,
        key_name: &str,
    ) -> Result<Option<String>> {
        let wanted = normalize_public_key(public_key);
        Ok(self.ssh_keys().await?.into_iter().find_map(|key| {
            let name = key.get("key_name").map(py_str).unwrap_or_default();
            let text = key.get("ssh_key").map(py_str).unwrap_or_default();
            if name != key_name || normalize_public_key(&text) != wanted {
                return None;
            }
            key.get("key_id").filter(|id| !id.is_null()).map(py_str)
        }))
    }

    /// Adds a key and finds its ID: JarvisLabs' answer to the `POST` does not carry it.
    pub async fn create_ssh_key(&self, public_key: &str, key_name: &str) -> Result<String> {
        self.add_ssh_key(public_key, key_name).await?;
        self.find_ssh_key_id(public_key, key_name)
            .await?
            .ok_or_else(|| unexpected("Failed to find created JarvisLabs SSH key"))
    }

    /// `DELETE ssh/{key_id}`; a key that is gone is success.
    pub async fn delete_ssh_key(&self, key_id: &str) -> Result<()> {
        match self.main.delete::<Value>(&format!("/ssh/{}", encode(key_id))).await {
            Err(err) if err.kind() == ErrorKind::NotFound => Ok(()),
            answer => checked(answer?, "Failed to delete JarvisLabs SSH key").map(drop),
        }
    }

    /// Creates a GPU VM on its region's host; returns its `machine_id`.
    pub async fn create_gpu_vm(&self, vm: &GpuVm) -> Result<String> {
        let answer = self.region(&vm.region)?.post("/templates/vm/create", &vm.body()).await?;
        created_machine_id(answer, "GPU VM creation")
    }

    /// Creates a CPU VM on its region's host; returns its `machine_id`.
    pub async fn create_cpu_vm(&self, vm: &CpuVm) -> Result<String> {
        let answer = self.region(&vm.region)?.post("/templates/vm/cpu/create", &vm.body()).await?;
        created_machine_id(answer, "CPU VM creation")
    }

    /// `GET users/fetch/{id}`'s `instance`; `None` when JarvisLabs does not list it (404, an
    /// unsuccessful answer, or no instance in it).
    pub async fn get_instance(&self, machine_id: &str) -> Result<Option<Map<String, Value>>> {
        let answer =
            match self.main.get::<Value>(&format!("/users/fetch/{}", encode(machine_id))).await {
                Err(err) if err.kind() == ErrorKind::NotFound => return Ok(None),
                answer => answer?,
            };
        if !is_successful(&answer) {
            return Ok(None);
        }
        Ok(match answer {
            Value::Object(mut data) => match data.remove("instance") {
                Some(Value::Object(instance)) => Some(instance),
                _ => None,
            },
            _ => None,
        })
    }

    /// Every instance of the account (`GET users/fetch`'s `instances`, as JarvisLabs' SDK
    /// reads it), to find a VM whose create got no answer.
    pub async fn instances(&self) -> Result<Vec<Map<String, Value>>> {
        let answer =
            checked(self.main.get("/users/fetch").await?, "JarvisLabs instance list failed")?;
        let listed = answer.get("instances").and_then(Value::as_array).cloned().unwrap_or_default();
        Ok(listed
            .into_iter()
            .filter_map(|item| match item {
                Value::Object(instance) => Some(instance),
                _ => None,
            })
            .collect())
    }

    /// `GET misc/status?machine_id=` on the region's host: how a create that JarvisLabs does
    /// not list ended. `None` when it knows nothing of it (404).
    pub async fn instance_status(
        &self,
        machine_id: &str,
        region: &str,
    ) -> Result<Option<Map<String, Value>>> {
        let path = format!("/misc/status?machine_id={}", encode(machine_id));
        match self.region(region)?.get::<Value>(&path).await {
            Err(err) if err.kind() == ErrorKind::NotFound => Ok(None),
            Ok(Value::Object(status)) => Ok(Some(status)),
            Ok(_) => Ok(None),
            Err(err) => Err(err),
        }
    }

    /// `POST <endpoint>?machine_id=` on the region's host; a machine that is gone is success.
    pub async fn destroy(&self, machine_id: &str, region: &str, endpoint: &str) -> Result<()> {
        let path = format!("/{endpoint}?machine_id={}", encode(machine_id));
        // dstack sends no body: the machine is named in the query.
        let answer = self.region(region)?.call::<(), Value>(Method::POST, &path, None).await;
        match answer {
            Err(err) if err.kind() == ErrorKind::NotFound => Ok(()),
            answer => checked(answer?, "Failed to destroy JarvisLabs instance").map(drop),
        }
    }
}

/// dstack's `_get_created_machine_id`.
fn created_machine_id(answer: Value, operation: &str) -> Result<String> {
    let answer = checked(answer, &format!("JarvisLabs {operation} failed"))?;
    match answer.get("machine_id") {
        Some(id) if !id.is_null() => Ok(py_str(id)),
        _ => Err(unexpected(format!("JarvisLabs {operation} failed: missing machine_id"))),
    }
}

/// dstack's `_normalize_public_key`: the key's type and blob, without its comment.
pub(crate) fn normalize_public_key(public_key: &str) -> String {
    public_key.split_whitespace().take(2).collect::<Vec<_>>().join(" ")
}

/// A path segment or query value, percent-encoded where it is not plain.
fn encode(text: &str) -> String {
    let mut out = String::new();
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || b"-_.~".contains(&byte) {
            out.push(byte as char);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_compare_without_their_comment() {
        assert_eq!(normalize_public_key("  ssh-rsa AAAA test-comment \n"), "ssh-rsa AAAA");
        assert_eq!(normalize_public_key("ssh-rsa AAAA another"), "ssh-rsa AAAA");
        assert_eq!(encode("12 a/b"), "12%20a%2Fb");
    }
}
