//! CloudRift's API, as far as dstack 0.22.5 uses it: every call is `POST /api/v1/<method>`
//! with `X-API-Key` and the envelope `{"version": "2026-10-12", "data": ...}`, answered with
//! `{"version": ..., "data": ...}`. Answers are read as leniently as dstack reads them: a
//! missing list is empty, and instances stay JSON for the SSH port rules ([`crate::ssh_port`]).

use std::collections::{HashMap, HashSet};

use dstack_backend_kit::{Auth, HttpSettings, ProviderError, RestClient};
use dstack_core::config::BackendType;
use dstack_core::error::Result;
use dstack_core::{BackendError, ErrorKind, Secret};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

/// dstack's `CLOUDRIFT_SERVER_ADDRESS`; the calls are below it, at `/api/v1/...`.
pub const DEFAULT_API_URL: &str = "https://api.cloudrift.ai";

/// dstack 0.22.5's `CLOUDRIFT_API_VERSION`: CloudRift refuses older versions on its
/// provisioning calls.
pub const API_VERSION: &str = "2026-10-12";

/// The statuses dstack lists when it lists instances without IDs.
const LISTED_STATUSES: [&str; 3] = ["Initializing", "Active", "Deactivating"];

/// The request body: `version` first, as rift-server reads it first.
#[derive(Serialize)]
struct Envelope<'a> {
    version: &'a str,
    data: &'a Value,
}

/// A client of CloudRift's API for one API key.
#[derive(Debug, Clone)]
pub struct RiftClient {
    rest: RestClient,
}

/// CloudRift's error bodies are not documented: a JSON `error`, `message` or `detail` string
/// is its message; anything else is shown as it came.
fn error_body(_status: reqwest::StatusCode, body: &str) -> Option<ProviderError> {
    let value: Value = serde_json::from_str(body).ok()?;
    let text = ["error", "message", "detail"]
        .iter()
        .find_map(|key| value.get(key).and_then(Value::as_str))
        .or_else(|| value.as_str())?;
    Some(ProviderError::message(text))
}

/// `instance-types/list`: the variants, with free nodes per datacenter.
#[derive(Debug, Deserialize)]
struct InstanceTypes {
    #[serde(default)]
    instance_types: Vec<InstanceType>,
}

#[derive(Debug, Deserialize)]
struct InstanceType {
    #[serde(default)]
    variants: Vec<Variant>,
}

#[derive(Debug, Deserialize)]
struct Variant {
    name: String,
    #[serde(default)]
    available_nodes_per_dc: HashMap<String, i64>,
}

/// What `instances/rent` asks for: a VM of `instance_type` in `region` with `ssh_keys`,
/// running `commands` at first boot, from `image_url`, with a public IP.
#[derive(Debug, Clone, PartialEq)]
pub struct Rental<'a> {
    pub instance_type: &'a str,
    pub region: &'a str,
    pub ssh_keys: &'a [String],
    pub commands: &'a str,
    pub image_url: &'a str,
}

impl RiftClient {
    pub fn new(base_url: &str, api_key: &Secret, http: &HttpSettings) -> Self {
        let auth = Auth::Header("X-API-Key", api_key.clone());
        let rest = RestClient::new(BackendType::Cloudrift, base_url, auth, http)
            .with_credential_fields(&[&["creds", "api_key"]])
            .with_error_body(error_body);
        Self { rest }
    }

    /// One call; the answer's `data` when it is an object (an empty one otherwise, as dstack
    /// reads a string answer).
    async fn call(&self, method: &str, data: Value) -> Result<Map<String, Value>> {
        let body = Envelope { version: API_VERSION, data: &data };
        let answer: Value = self.rest.post(&format!("/api/v1/{method}"), &body).await?;
        if let Some(server) = answer.get("version").and_then(Value::as_str)
            && server > API_VERSION
        {
            tracing::debug!("CloudRift speaks {server}, newer than this backend's {API_VERSION}");
        }
        match answer {
            Value::Object(mut answer) => match answer.remove("data") {
                Some(Value::Object(data)) => Ok(data),
                _ => Ok(Map::new()),
            },
            _ => Ok(Map::new()),
        }
    }

    /// `auth/me` (`data: null`): whether the answer names the account's `email`.
    pub async fn has_email(&self) -> Result<bool> {
        Ok(self.call("auth/me", Value::Null).await?.contains_key("email"))
    }

    /// `instance-types/list` of VM types: the `(variant, datacenter)` pairs with a free node.
    pub async fn available(&self) -> Result<HashSet<(String, String)>> {
        let data = json!({"selector": {"ByServiceAndLocation": {"services": ["vm"]}}});
        let types: InstanceTypes = read(self.call("instance-types/list", data).await?)?;
        let mut available = HashSet::new();
        for variant in types.instance_types.into_iter().flat_map(|t| t.variants) {
            for (dc, free) in variant.available_nodes_per_dc {
                if free > 0 {
                    available.insert((variant.name.clone(), dc));
                }
            }
        }
        Ok(available)
    }

    /// `recipes/list` (`data: {}`): the recipe groups.
    pub async fn recipe_groups(&self) -> Result<Vec<Value>> {
        let mut data = self.call("recipes/list", json!({})).await?;
        Ok(take_list(&mut data, "groups"))
    }

    /// `instances/rent`: the IDs of the rented instances.
    pub async fn rent(&self, rental: &Rental<'_>) -> Result<Vec<String>> {
        let data = json!({
            "config": {"VirtualMachine": {
                "cloudinit_commands": rental.commands,
                "image_url": rental.image_url,
                "ssh_key": {"PublicKeys": rental.ssh_keys},
            }},
            "selector": {"ByInstanceTypeAndLocation": {
                "datacenters": [rental.region],
                "instance_type": rental.instance_type,
            }},
            "with_public_ip": true,
        });
        let mut data = self.call("instances/rent", data).await?;
        let ids = take_list(&mut data, "instance_ids");
        Ok(ids.into_iter().filter_map(|id| id.as_str().map(str::to_owned)).collect())
    }

    /// `instances/list` with connection info and credentials (the SSH instructions need
    /// both): the instances `ids` names, or those initializing, active or deactivating.
    pub async fn instances(&self, ids: Option<&[String]>) -> Result<Vec<Value>> {
        let selector = match ids {
            Some(ids) => json!({"ById": ids}),
            None => json!({"ByStatus": {"statuses": LISTED_STATUSES}}),
        };
        let data = json!({
            "selector": selector,
            "mask": {"with_connection_info": true, "with_credentials": true},
        });
        Ok(take_list(&mut self.call("instances/list", data).await?, "instances"))
    }

    /// One instance, if CloudRift lists it.
    pub async fn instance(&self, id: &str) -> Result<Option<Value>> {
        Ok(self.instances(Some(&[id.to_owned()])).await?.into_iter().next())
    }

    /// `instances/terminate` of one instance: how many instances it terminated now.
    pub async fn terminate(&self, id: &str) -> Result<usize> {
        let data = json!({"selector": {"ById": [id]}});
        Ok(take_list(&mut self.call("instances/terminate", data).await?, "terminated").len())
    }
}

/// `data[key]` when it is a list, else nothing.
fn take_list(data: &mut Map<String, Value>, key: &str) -> Vec<Value> {
    match data.remove(key) {
        Some(Value::Array(items)) => items,
        _ => Vec::new(),
    }
}

fn read<T: DeserializeOwned>(data: Map<String, Value>) -> Result<T> {
    serde_json::from_value(Value::Object(data)).map_err(|e| {
        BackendError::new(ErrorKind::Unexpected, format!("unreadable CloudRift answer: {e}"))
            .for_backend(BackendType::Cloudrift)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_bodies_give_their_message() {
        let status = reqwest::StatusCode::BAD_REQUEST;
        let said = |body: &str| error_body(status, body).map(|e| e.message);
        assert_eq!(
            said(r#"{"error": "No available nodes"}"#).as_deref(),
            Some("No available nodes")
        );
        assert_eq!(said(r#""unsupported version""#).as_deref(), Some("unsupported version"));
        assert_eq!(said("unsupported version"), None, "plain text is shown as it came");
    }

    #[test]
    fn the_envelope_puts_the_version_first() {
        let body = Envelope { version: API_VERSION, data: &Value::Null };
        assert_eq!(
            serde_json::to_string(&body).unwrap(),
            r#"{"version":"2026-10-12","data":null}"#
        );
    }
}
