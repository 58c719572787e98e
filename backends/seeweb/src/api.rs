//! The calls dstack 0.22.5 makes to Seeweb's ECS API (its `SeewebApiClient`), read the way it
//! reads them: plans with capacity, SSH keys, servers and their actions.

use std::collections::{BTreeSet, HashMap};

use dstack_core::ErrorKind;
use dstack_core::error::Result;
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};

use crate::client::{SeewebClient, checked, py_str, truthy, unexpected};

/// Where a plan can be created now, and the images it allows (`GET /plans/availables`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PlanAvailability {
    pub regions: BTreeSet<String>,
    /// Active images, in Seeweb's order.
    pub images: Vec<String>,
}

/// A created server: its name (the instance ID) and the action that creates it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreatedServer {
    pub name: String,
    pub action_id: Option<i64>,
}

impl SeewebClient {
    /// dstack's credential check: `GET /regions` (a refused token is "Invalid credentials" on
    /// `creds.api_token`; any other failure is reported as it is).
    pub async fn check_token(&self) -> Result<()> {
        checked(self.rest.get("/regions").await?, false).map(drop)
    }

    /// Plan → regions with capacity and active images. A plan's regions are
    /// `region_availables` (or `region_available`) `[].region`; its images the
    /// `os_availables[].name` whose `active_flag` is not `false`.
    pub async fn available_plans(&self) -> Result<HashMap<String, PlanAvailability>> {
        let data = checked(self.rest.get("/plans/availables").await?, false)?;
        let mut available = HashMap::new();
        for plan in list(&data, "plans")? {
            let Some(name) = plan.get("name").and_then(Value::as_str) else { continue };
            let raw_regions = ["region_availables", "region_available"]
                .iter()
                .filter_map(|field| plan.get(*field))
                .find(|value| truthy(value));
            let regions = raw_regions
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(|region| region.get("region")?.as_str().map(str::to_owned))
                .collect();
            let images = plan
                .get("os_availables")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter(|image| image.get("active_flag") != Some(&Value::Bool(false)))
                .filter_map(|image| image.get("name")?.as_str().map(str::to_owned))
                .collect();
            available.insert(name.to_owned(), PlanAvailability { regions, images });
        }
        Ok(available)
    }

    /// The label of the Seeweb SSH key equal to `public_key` (compared on "type blob"),
    /// creating it as `dstack-<20 hex chars of SHA-256("type blob")>` if there is none.
    /// Returns the label and whether this call created it.
    pub async fn get_or_create_ssh_key(&self, public_key: &str) -> Result<(String, bool)> {
        let canonical = canonical_ssh_key(public_key).ok_or_else(|| {
            unexpected("Invalid SSH public key").with_kind(ErrorKind::InvalidConfig)
        })?;
        let data = checked(self.rest.get("/sshkeys").await?, false)?;
        for key in list(&data, "pubkeys")? {
            let existing = key.get("key").map(py_str).unwrap_or_default();
            if canonical_ssh_key(&existing).as_deref() == Some(canonical.as_str())
                && let Some(label) = key.get("label").and_then(Value::as_str)
            {
                return Ok((label.to_owned(), false));
            }
        }
        let label = ssh_key_label(&canonical);
        let body = json!({"key": public_key.trim(), "label": label});
        checked(self.rest.post("/sshkeys", &body).await?, false)?;
        Ok((label, true))
    }

    /// Deletes the SSH key labelled `label`, if there is one (`DELETE /sshkeys/{id}`).
    pub async fn delete_ssh_key(&self, label: &str) -> Result<()> {
        let data = checked(self.rest.get("/sshkeys").await?, false)?;
        let ids: Vec<String> = list(&data, "pubkeys")?
            .into_iter()
            .filter(|key| key.get("label").and_then(Value::as_str) == Some(label))
            .filter_map(|key| key.get("id").filter(|id| id.is_number()).map(py_str))
            .collect();
        for id in ids {
            match self.rest.delete::<Value>(&format!("/sshkeys/{id}")).await {
                Err(err) if err.kind() == ErrorKind::NotFound => {}
                other => drop(checked(other?, false)?),
            }
        }
        Ok(())
    }

    /// `POST /servers`. Seeweb names the server; `action_id` (or `action`, or `action.id`)
    /// is the creating action. Capacity words in an error make it "no capacity".
    pub async fn create_server(&self, body: &Value) -> Result<CreatedServer> {
        let data = checked(self.creating.post("/servers", body).await?, true)?;
        let Some(server) = data.get("server") else {
            return Err(unexpected("Seeweb create-server response did not include a server"));
        };
        let Some(name) = server.get("name").and_then(Value::as_str) else {
            return Err(unexpected("Seeweb create-server response contained an invalid server"));
        };
        let action = match data.get("action_id") {
            Some(action) => Some(action),
            None => data.get("action"),
        };
        let action = match action {
            Some(Value::Object(action)) => action.get("id"),
            other => other,
        };
        let action_id = action.and_then(Value::as_i64);
        Ok(CreatedServer { name: name.to_owned(), action_id })
    }

    /// The names of servers whose notes are `notes` (the instance name dstack sends).
    pub async fn servers_with_notes(&self, notes: &str) -> Result<Vec<String>> {
        let data = checked(self.rest.get("/servers").await?, false)?;
        Ok(list(&data, "server")?
            .into_iter()
            .filter(|server| server.get("notes").and_then(Value::as_str) == Some(notes))
            .filter_map(|server| server.get("name")?.as_str().map(str::to_owned))
            .collect())
    }

    /// `GET /actions/{id}`; `None` while Seeweb does not know it.
    pub async fn get_action(&self, id: i64) -> Result<Option<Map<String, Value>>> {
        self.get_object(&format!("/actions/{id}"), "action").await
    }

    /// `GET /servers/{name}`; `None` while Seeweb does not show it.
    pub async fn get_server(&self, name: &str) -> Result<Option<Map<String, Value>>> {
        self.get_object(&format!("/servers/{name}"), "server").await
    }

    /// `DELETE /servers/{name}`; a server that is gone is success.
    pub async fn delete_server(&self, name: &str) -> Result<()> {
        match self.rest.delete::<Value>(&format!("/servers/{name}")).await {
            Err(err) if err.kind() == ErrorKind::NotFound => {
                tracing::debug!("Seeweb server {name} already deleted");
                Ok(())
            }
            other => checked(other?, false).map(drop),
        }
    }

    async fn get_object(&self, path: &str, field: &str) -> Result<Option<Map<String, Value>>> {
        let answer = match self.rest.get::<Value>(path).await {
            Err(err) if err.kind() == ErrorKind::NotFound => return Ok(None),
            other => other?,
        };
        Ok(match checked(answer, false)?.remove(field) {
            Some(Value::Object(object)) => Some(object),
            _ => None,
        })
    }
}

/// The objects of a list field (missing: none); other items are skipped, as dstack skips them.
fn list<'a>(data: &'a Map<String, Value>, field: &str) -> Result<Vec<&'a Map<String, Value>>> {
    match data.get(field) {
        None => Ok(Vec::new()),
        Some(Value::Array(items)) => Ok(items.iter().filter_map(Value::as_object).collect()),
        Some(_) => Err(unexpected(format!("Seeweb API returned an invalid `{field}` list"))),
    }
}

/// dstack's `_canonicalize_ssh_public_key`: "type blob" of an OpenSSH public key.
pub(crate) fn canonical_ssh_key(public_key: &str) -> Option<String> {
    let parts: Vec<&str> = public_key.split_whitespace().collect();
    let known = |kind: &str| ["ssh-", "ecdsa-", "sk-"].iter().any(|p| kind.starts_with(p));
    (parts.len() >= 2 && known(parts[0])).then(|| format!("{} {}", parts[0], parts[1]))
}

/// dstack's label of a project key on Seeweb.
pub(crate) fn ssh_key_label(canonical: &str) -> String {
    let digest = Sha256::digest(canonical.as_bytes());
    let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    format!("dstack-{}", &hex[..20])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_compare_on_type_and_blob() {
        assert_eq!(
            canonical_ssh_key("  ssh-ed25519 AAAATEST comment with spaces\n").as_deref(),
            Some("ssh-ed25519 AAAATEST")
        );
        assert_eq!(canonical_ssh_key("invalid \"key\""), None);
        assert_eq!(canonical_ssh_key("ssh-rsa"), None);
        let label = ssh_key_label("ssh-ed25519 AAAATEST");
        assert!(label.starts_with("dstack-") && label.len() == 27, "{label}");
    }
}
