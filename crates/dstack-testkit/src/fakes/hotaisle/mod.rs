//! A stateful fake of Hot Aisle's API (`https://admin.hotaisle.app/api`,
//! `Authorization: Token <key>`) on [`crate::FakeApi`]: the user and their teams, SSH keys,
//! the available machine types, VMs and bare-metal servers.
//!
//! Its shapes are those of Hot Aisle's published Swagger 2.0 description (`swagger.json` of
//! `github.com/hotaisle/hotaisle-cli`, `hotaisle/swagger.json` of the shared API specs), and
//! every request and answer is held to it ([`crate::openapi::Spec`]): error answers are JSON
//! strings, `POST /user/ssh_keys/` answers 409 for a key already there, deletes take
//! `force`. Beyond the description it follows what dstack 0.22.5 (`core/backends/hotaisle/`
//! and its tests) and gpuhunt 0.1.34 (`providers/hotaisle.py`) read: a reservation's answer
//! carries the `deployment_id` that names the server afterwards; a reservation the team
//! cannot have is a 403 ("tenant limit exceeded"), one no server matches a 404 ("no available
//! servers"); releasing a server before its minimum period without `force` is a 400
//! ("minimum usage requirement").
//!
//! VMs answer with IP `127.0.0.1` (so SSH reaches the test sshd) and are `running` from
//! their second state poll on. Servers get a private IP and go through the OS install
//! stages; once `installed` they expose SSH at `ssh_access` (`127.0.0.1:22` by default).
//!
//! ```ignore
//! let fake = fakes::hotaisle::start(&["key"], &["my-team"]).await;
//! context.endpoints.set(BackendType::Hotaisle, fake.url());
//! fake.script_next("POST", "/teams/{team}/virtual_machines/", Reply::status(402, json!("...")));
//! assert_eq!(fake.live(), Vec::<String>::new());
//! ```

mod bare_metal;
mod inventory;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};

use serde_json::{Value, json};

pub use inventory::{MachineType, bare_metal_types, vm_types};

use crate::openapi::Spec;
use crate::{FakeApi, Recorded, Reply};

/// Hot Aisle's description, as [`Spec::load`] takes it.
pub const SPEC: (&str, &str) = ("hotaisle", "swagger.json");
/// The path Hot Aisle's base URL ends with (the description's `basePath`).
pub const PREFIX: &str = "/api";

#[derive(Debug, Clone)]
struct Vm {
    specs: Value,
    /// State polls before it is `running`.
    boots_in: u32,
    polled: u32,
}

#[derive(Debug, Clone)]
struct Server {
    name: String,
    ip: String,
    description: String,
    specs: Value,
    installs_in: u32,
    fails: bool,
    polled: u32,
}

#[derive(Debug)]
struct State {
    teams: Vec<String>,
    /// `(fingerprint, authorized key)`.
    keys: Vec<(String, String)>,
    vm_types: Vec<MachineType>,
    bare_metal_types: Vec<MachineType>,
    vms: BTreeMap<String, Vm>,
    servers: BTreeMap<String, Server>,
    next: u32,
    boot_polls: u32,
    install_polls: u32,
    fail_next_install: bool,
    /// Whether the reservations' minimum periods are still running (deletes need `force`).
    minimum_running: bool,
    bare_metal_limit: usize,
    ssh_access: (String, u16),
    /// `(method, route)` → answers given instead of the route's, in order.
    scripted: Vec<(String, String, Reply)>,
}

/// A running fake of Hot Aisle's API; stopped when dropped.
#[derive(Debug)]
pub struct FakeHotAisle {
    pub api: FakeApi,
    state: Arc<Mutex<State>>,
}

fn lock(state: &Mutex<State>) -> MutexGuard<'_, State> {
    state.lock().unwrap_or_else(|e| e.into_inner())
}

/// Hot Aisle's error answers: a JSON string.
fn error(status: u16, text: &str) -> Reply {
    Reply::status(status, json!(text))
}

fn param(request: &Recorded, name: &str) -> String {
    percent_decode(request.params.get(name).map(String::as_str).unwrap_or_default())
}

fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes.get(i + 1..i + 3).and_then(|h| std::str::from_utf8(h).ok());
        match (bytes[i], hex.and_then(|h| u8::from_str_radix(h, 16).ok())) {
            (b'%', Some(byte)) => {
                out.push(byte);
                i += 3;
            }
            (byte, _) => {
                out.push(byte);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn forced(request: &Recorded) -> bool {
    request.query.as_deref().unwrap_or_default().split('&').any(|pair| pair == "force=true")
}

impl State {
    fn member(&self, request: &Recorded) -> Result<(), Reply> {
        if self.teams.contains(&param(request, "team")) {
            Ok(())
        } else {
            Err(error(403, "Forbidden: Permission denied"))
        }
    }

    fn user(&self) -> Reply {
        let teams: Vec<Value> = self
            .teams
            .iter()
            .map(|handle| {
                json!({
                    "handle": handle, "name": handle, "description": "",
                    "maximum_virtual_machines": 10,
                    "maximum_bare_metal_servers": self.bare_metal_limit,
                    "roles": ["owner", "operator"], "effective_roles": ["operator", "user"],
                })
            })
            .collect();
        Reply::json(json!({
            "user": {"name": "Dee Stack", "email": "dstack@example.com", "created": "2025-04-10T14:30:00Z"},
            "teams": teams,
        }))
    }

    fn add_key(&mut self, request: &Recorded) -> Reply {
        let text = request.body.get("authorized_key").and_then(Value::as_str).unwrap_or_default();
        let Ok(key) = ssh_key::PublicKey::from_openssh(text.trim()) else {
            return error(422, "Unprocessable Entity: invalid SSH key format");
        };
        let fingerprint = key.fingerprint(ssh_key::HashAlg::Sha256).to_string();
        if self.keys.iter().any(|(f, _)| *f == fingerprint) {
            return error(409, "Conflict: key already registered");
        }
        self.keys.push((fingerprint.clone(), text.trim().to_owned()));
        let encoded = key.to_openssh().unwrap_or_default();
        Reply::json(json!({
            "type": key.algorithm().as_str(),
            "public_key": encoded.split_whitespace().nth(1).unwrap_or_default(),
            "fingerprint": fingerprint,
            "comment": key.comment(),
        }))
    }

    fn create_vm(&mut self, request: &Recorded) -> Reply {
        let mut specs = request.body.clone();
        if let Some(specs) = specs.as_object_mut() {
            specs.remove("user_data_url");
        }
        let Some(kind) = self.vm_types.iter_mut().find(|t| t.specs == specs && t.quantity > 0)
        else {
            return error(404, "No available virtual machine matching requested specifications");
        };
        kind.quantity -= 1;
        self.next += 1;
        let name = format!("vm-{:02}", self.next);
        let vm = Vm { specs, boots_in: self.boot_polls, polled: 0 };
        let answer = inventory::vm_json(&name, "127.0.0.1", &vm.specs);
        self.vms.insert(name, vm);
        Reply::json(answer)
    }

    fn vm_state(&mut self, request: &Recorded) -> Reply {
        let Some(vm) = self.vms.get_mut(&param(request, "vm")) else {
            return error(404, "Not Found: virtual machine not found");
        };
        vm.polled += 1;
        let state = if vm.polled > vm.boots_in { "running" } else { "shut off" };
        Reply::json(json!({"state": state, "host": "enc1-host-07"}))
    }

    fn delete_vm(&mut self, request: &Recorded) -> Reply {
        let name = param(request, "vm");
        if !self.vms.contains_key(&name) {
            return error(404, "Not Found: virtual machine not found");
        }
        if self.minimum_running && !forced(request) {
            return error(400, "Bad Request: minimum reservation time not met");
        }
        if let Some(vm) = self.vms.remove(&name)
            && let Some(kind) = self.vm_types.iter_mut().find(|t| t.specs == vm.specs)
        {
            kind.quantity += 1;
        }
        Reply::status(204, Value::Null)
    }

    fn available(types: &[MachineType]) -> Reply {
        Reply::json(types.iter().filter(|t| t.quantity > 0).map(MachineType::to_json).collect())
    }
}

type Handler = fn(&mut State, &Recorded) -> Reply;

/// The routes, each with whether it is a team's (its `{team}` must be one of the user's).
const ROUTES: &[(&str, &str, bool, Handler)] = &[
    ("GET", "/user/", false, |s, _| s.user()),
    ("POST", "/user/ssh_keys/", false, State::add_key),
    ("DELETE", "/user/ssh_keys/{fingerprint}/", false, |s, r| {
        let fingerprint = param(r, "fingerprint");
        let before = s.keys.len();
        s.keys.retain(|(f, _)| *f != fingerprint);
        if s.keys.len() < before {
            Reply::status(204, Value::Null)
        } else {
            error(404, "Not Found: SSH key not found")
        }
    }),
    ("GET", "/teams/{team}/virtual_machines/available/", true, |s, _| {
        State::available(&s.vm_types)
    }),
    ("POST", "/teams/{team}/virtual_machines/", true, State::create_vm),
    ("GET", "/teams/{team}/virtual_machines/{vm}/state/", true, State::vm_state),
    ("DELETE", "/teams/{team}/virtual_machines/{vm}/", true, State::delete_vm),
    ("GET", "/teams/{team}/bare_metal/available/", true, |s, _| {
        State::available(&s.bare_metal_types)
    }),
    ("POST", "/teams/{team}/bare_metal/", true, State::reserve),
    ("GET", "/teams/{team}/bare_metal/{server}/", true, State::get_server),
    ("DELETE", "/teams/{team}/bare_metal/{server}/", true, State::release),
];

/// Starts a fake accepting `keys` for a user in `teams`, renting [`vm_types`] and
/// [`bare_metal_types`].
pub async fn start(keys: &[&str], teams: &[&str]) -> FakeHotAisle {
    start_with(keys, teams, vm_types(), bare_metal_types()).await
}

/// Starts a fake accepting `keys` for a user in `teams`, renting `vms` and `servers`.
pub async fn start_with(
    keys: &[&str],
    teams: &[&str],
    vms: Vec<MachineType>,
    servers: Vec<MachineType>,
) -> FakeHotAisle {
    let state = Arc::new(Mutex::new(State {
        teams: teams.iter().map(|t| (*t).to_owned()).collect(),
        keys: Vec::new(),
        vm_types: vms,
        bare_metal_types: servers,
        vms: BTreeMap::new(),
        servers: BTreeMap::new(),
        next: 0,
        boot_polls: 1,
        install_polls: 2,
        fail_next_install: false,
        minimum_running: true,
        bare_metal_limit: 2,
        ssh_access: ("127.0.0.1".to_owned(), 22),
        scripted: Vec::new(),
    }));
    let mut builder = FakeApi::builder()
        .prefix(PREFIX)
        .openapi(Spec::load(SPEC.0, SPEC.1))
        .unauthorized(error(401, "Unauthorized"));
    for key in keys {
        builder = builder.header_auth("authorization", &format!("Token {key}"));
    }
    for &(method, route, team, handler) in ROUTES {
        let state = state.clone();
        builder = builder.route(method, route, move |request| {
            let mut state = lock(&state);
            let scripted = state.scripted.iter().position(|(m, r, _)| m == method && r == route);
            if let Some(i) = scripted {
                return state.scripted.remove(i).2;
            }
            if team && let Err(refused) = state.member(request) {
                return refused;
            }
            handler(&mut state, request)
        });
    }
    FakeHotAisle { api: builder.start().await, state }
}

impl FakeHotAisle {
    /// The base URL: what `DSTACK_HOTAISLE_API_URL` takes.
    pub fn url(&self) -> &str {
        self.api.url()
    }

    fn state(&self) -> MutexGuard<'_, State> {
        lock(&self.state)
    }

    /// Requests and answers that do not fit Hot Aisle's description.
    pub fn violations(&self) -> Vec<String> {
        self.api.violations()
    }

    /// What exists and is billed or kept: `vm <name>`, `bare_metal <deployment id>`,
    /// `ssh_key <fingerprint>`.
    pub fn live(&self) -> Vec<String> {
        let state = self.state();
        let vms = state.vms.keys().map(|name| format!("vm {name}"));
        let servers = state.servers.keys().map(|id| format!("bare_metal {id}"));
        let keys = state.keys.iter().map(|(fingerprint, _)| format!("ssh_key {fingerprint}"));
        vms.chain(servers).chain(keys).collect()
    }

    /// The user's SSH keys, as registered.
    pub fn ssh_keys(&self) -> Vec<String> {
        self.state().keys.iter().map(|(_, key)| key.clone()).collect()
    }

    /// The reserved servers' descriptions (dstack puts the instance name there).
    pub fn server_descriptions(&self) -> Vec<String> {
        self.state().servers.values().map(|s| s.description.clone()).collect()
    }

    /// The user's teams from now on.
    pub fn set_teams(&self, teams: &[&str]) {
        self.state().teams = teams.iter().map(|t| (*t).to_owned()).collect();
    }

    /// The next request to `method route` (a route as written here, with `{team}`-style
    /// parameters) gets `reply` instead of its answer.
    pub fn script_next(&self, method: &str, route: &str, reply: Reply) {
        self.state().scripted.push((method.to_owned(), route.to_owned(), reply));
    }

    /// New VMs are `running` after `polls` more state polls (default 1).
    pub fn boot_after(&self, polls: u32) {
        self.state().boot_polls = polls;
    }

    /// New servers are `installed` after `polls` more polls (default 2).
    pub fn install_after(&self, polls: u32) {
        self.state().install_polls = polls;
    }

    /// The next reserved server's OS install ends `failed`.
    pub fn fail_next_install(&self) {
        self.state().fail_next_install = true;
    }

    /// Whether the reservations' minimum periods are still running (default: yes, so
    /// deletes without `force` are refused with 400).
    pub fn minimum_periods_running(&self, running: bool) {
        self.state().minimum_running = running;
    }

    /// Where installed servers expose SSH (`ssh_access`; default `127.0.0.1:22`).
    pub fn ssh_access(&self, ip: &str, port: u16) {
        self.state().ssh_access = (ip.to_owned(), port);
    }

    /// How many servers the team may reserve (default 2).
    pub fn bare_metal_limit(&self, limit: usize) {
        self.state().bare_metal_limit = limit;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn path_parameters_are_percent_decoded() {
        assert_eq!(percent_decode("SHA256:ab%2Fcd%2B"), "SHA256:ab/cd+");
        assert_eq!(percent_decode("100%"), "100%");
        assert_eq!(percent_decode("%zz"), "%zz");
    }
}
