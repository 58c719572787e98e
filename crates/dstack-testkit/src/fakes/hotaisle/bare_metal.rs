//! The Hot Aisle fake's bare-metal servers: reservations (`POST .../bare_metal/`), their OS
//! install stages (`GET .../bare_metal/{server}/`) and releases, with or without `force`.

use serde_json::{Value, json};

use super::{Server, State, error, forced, inventory, param};
use crate::{Recorded, Reply};

impl State {
    pub(super) fn reserve(&mut self, request: &Recorded) -> Reply {
        if self.servers.len() >= self.bare_metal_limit {
            return error(403, "tenant limit exceeded");
        }
        let specs = request.body.get("specs").cloned().unwrap_or(Value::Null);
        let Some(kind) =
            self.bare_metal_types.iter_mut().find(|t| t.specs == specs && t.quantity > 0)
        else {
            return error(404, "no available servers");
        };
        kind.quantity -= 1;
        self.next += 1;
        let id = format!("5f0c2a61-8d3e-4b7a-9c1d-{:012x}", self.next);
        let description = request.body.get("description").and_then(Value::as_str);
        let server = Server {
            name: format!("server-{:02}", self.next),
            ip: format!("10.20.0.{}", self.next % 250 + 2),
            description: description.unwrap_or_default().to_owned(),
            specs,
            installs_in: self.install_polls,
            fails: std::mem::take(&mut self.fail_next_install),
            polled: 0,
        };
        let mut answer = self.server_json(&id, &server);
        answer["os_status"] = inventory::os_status(inventory::INSTALL_STAGES[0]);
        self.servers.insert(id, server);
        Reply::status(201, answer)
    }

    fn server_json(&self, id: &str, server: &Server) -> Value {
        inventory::server_json(id, &server.name, &server.ip, &server.description, &server.specs)
    }

    pub(super) fn get_server(&mut self, request: &Recorded) -> Reply {
        let id = param(request, "server");
        let Some(server) = self.servers.get_mut(&id) else {
            return error(404, "Not Found: server not found or not assigned to team");
        };
        server.polled += 1;
        let stage = match server.polled.checked_sub(server.installs_in + 1) {
            Some(_) if server.fails => "failed",
            Some(_) => "installed",
            None => {
                let stages = inventory::INSTALL_STAGES;
                stages[(server.polled as usize - 1) % stages.len()]
            }
        };
        let server = server.clone();
        let mut answer = self.server_json(&id, &server);
        answer["os_status"] = inventory::os_status(stage);
        if stage == "installed" {
            let (ip, port) = &self.ssh_access;
            answer["ssh_access"] = json!({"ip_address": ip, "port": port});
        }
        Reply::json(answer)
    }

    pub(super) fn release(&mut self, request: &Recorded) -> Reply {
        let id = param(request, "server");
        if !self.servers.contains_key(&id) {
            return error(404, "Not Found: server not found or not assigned to team");
        }
        if self.minimum_running && !forced(request) {
            return error(
                400,
                "Bad Request: server cannot be released due to minimum usage requirement",
            );
        }
        if let Some(server) = self.servers.remove(&id)
            && let Some(kind) = self.bare_metal_types.iter_mut().find(|t| t.specs == server.specs)
        {
            kind.quantity += 1;
        }
        Reply::status(204, Value::Null)
    }
}
