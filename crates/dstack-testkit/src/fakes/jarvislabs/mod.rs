//! A stateful fake of JarvisLabs' API (Bearer auth), for the JarvisLabs backend's tests and
//! the server's end-to-end tests. It serves the main host at its base URL and every region's
//! host at `<base URL>/<region>` — the backend derives the region hosts from one override URL
//! so — and tells for each request which host got it ([`FakeJarvisLabs::calls`]). A call on
//! the wrong host finds no route (404), as it would on JarvisLabs.
//!
//! JarvisLabs publishes no machine-readable API description. The shapes follow:
//! - dstack 0.22.5's JarvisLabs tests (`tests/_internal/core/backends/jarvislabs/`): the
//!   create bodies and `{"machine_id": 123}` answers of `templates/vm/create` and
//!   `templates/vm/cpu/create`, `POST ssh/` → `{"success": true}`, `GET ssh/` →
//!   `[{"ssh_key", "key_name", "key_id"}]`, `DELETE ssh/{id}` (404 `{"detail": "not
//!   found"}`), `users/fetch/{id}` → `{"success": true, "instance": {...}}` with `template`,
//!   `gpu_type`, `region`, `status`, `public_ip`, `ssh_str`, destroys with `?machine_id=`,
//!   and `misc/status` → `{"status": "Failed", "error": ..., "code": ...}`;
//! - gpuhunt 0.1.34's `server_meta` fixture for the offers ([`server_meta`]);
//! - JarvisLabs' SDK (`jarvislabs` 0.2.19 on PyPI: `models.Instance`, `SSHKey`, `UserInfo`,
//!   `InstanceListResponse`, `StatusResponse`): `users/fetch` lists `instances`, an instance
//!   shows `public_ip` and `ssh_str` only while `Running`, a VM needs an SSH key on the
//!   account, and a VPC region's VM carries `vpc_id` and `private_ip`.
//!
//! A created VM is `Creating`, and `Running` at the fetch that makes it ready (the first, by
//! default) with the address `127.0.0.1`, so SSH reaches a test sshd. Switches make the next
//! create be refused, lose its answer, fail while starting, or never start.

mod meta;
mod routes;

use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, Mutex};

use serde_json::{Value, json};

pub use meta::{server_meta, vm_row};

use crate::{FakeApi, Recorded, Reply};

/// The regions the fake has hosts for (gpuhunt 0.1.34's `JARVISLABS_REGION_URLS`).
pub const REGIONS: [&str; 4] = ["india-01", "india-chennai-01", "india-noida-01", "europe-01"];
/// Regions whose VMs join the account's VPC.
pub const VPC_REGIONS: [&str; 2] = ["india-chennai-01", "india-noida-01"];
/// The capacity message of dstack's fixtures.
pub const NO_CAPACITY: &str = "L4 not available at this moment, please try again later";
/// The login user in every VM's `ssh_str`.
pub const LOGIN_USER: &str = "ubuntu";

/// How the next created VM ends.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Outcome {
    Ready,
    /// Never listed by `users/fetch`; `misc/status` says `Failed` with this error and code.
    Fails(String, u16),
    NeverReady,
}

/// What the next VM create does instead of creating as asked.
#[derive(Debug, Clone)]
enum CreateFault {
    Refuse(u16, String),
    /// Creates the VM and answers 500.
    LoseAnswer,
}

#[derive(Debug, Clone)]
struct Key {
    id: String,
    name: String,
    key: String,
}

#[derive(Debug, Clone)]
struct Machine {
    id: u64,
    region: String,
    /// `CPU` for CPU VMs.
    gpu_type: String,
    row: Value,
    fetches_left: u32,
    outcome: Outcome,
}

#[derive(Debug)]
struct State {
    meta: Value,
    keys: Vec<Key>,
    machines: BTreeMap<u64, Machine>,
    /// `misc/status` of creates that failed: id → (region, error, code).
    failed: BTreeMap<u64, (String, String, u16)>,
    next_id: u64,
    key_limit: usize,
    create_faults: VecDeque<CreateFault>,
    next_outcome: Option<Outcome>,
    fetches_until_running: u32,
}

type Shared = Arc<Mutex<State>>;

fn lock(state: &Shared) -> std::sync::MutexGuard<'_, State> {
    state.lock().unwrap_or_else(|e| e.into_inner())
}

/// A running fake of JarvisLabs' API.
#[derive(Debug)]
pub struct FakeJarvisLabs {
    pub api: FakeApi,
    state: Shared,
}

/// Starts the fake, accepting `keys`, offering gpuhunt's fixture ([`server_meta`]).
pub async fn start(keys: &[&str]) -> FakeJarvisLabs {
    start_with(keys, server_meta()).await
}

/// Starts the fake, accepting `keys`, with `meta` as `misc/server_meta`'s answer.
pub async fn start_with(keys: &[&str], meta: Value) -> FakeJarvisLabs {
    let state = State {
        meta,
        keys: Vec::new(),
        machines: BTreeMap::new(),
        failed: BTreeMap::new(),
        next_id: 410_000,
        // JarvisLabs' default limit of SSH keys per account.
        key_limit: 10,
        create_faults: VecDeque::new(),
        next_outcome: None,
        fetches_until_running: 1,
    };
    let state: Shared = Arc::new(Mutex::new(state));
    let mut builder =
        FakeApi::builder().unauthorized(Reply::status(401, json!({"detail": "Invalid token"})));
    for key in keys {
        builder = builder.bearer(key);
    }
    let route = |s: &Shared, f: fn(&mut State, &Recorded) -> Reply| {
        let s = s.clone();
        move |r: &Recorded| f(&mut lock(&s), r)
    };
    let api = builder
        .route("GET", "/users/user_info", route(&state, routes::user_info))
        .route("GET", "/users/fetch", route(&state, routes::instances))
        .route("GET", "/users/fetch/{id}", route(&state, routes::instance))
        .route("GET", "/misc/server_meta", route(&state, routes::server_meta))
        .route("GET", "/ssh/", route(&state, routes::ssh_keys))
        .route("POST", "/ssh/", route(&state, routes::add_ssh_key))
        .route("DELETE", "/ssh/{id}", route(&state, routes::delete_ssh_key))
        .route("POST", "/{region}/templates/vm/create", route(&state, routes::create_gpu_vm))
        .route("POST", "/{region}/templates/vm/cpu/create", route(&state, routes::create_cpu_vm))
        .route("POST", "/{region}/templates/vm/destroy", route(&state, routes::destroy_gpu_vm))
        .route("POST", "/{region}/templates/vm/cpu/destroy", route(&state, routes::destroy_cpu_vm))
        .route("POST", "/{region}/misc/destroy", route(&state, routes::destroy_other))
        .route("GET", "/{region}/misc/status", route(&state, routes::status))
        .start()
        .await;
    FakeJarvisLabs { api, state }
}

/// The host a request went to (`main` or a region) and its path on that host.
pub fn host_of(request: &Recorded) -> (String, String) {
    let path = request.path.trim_start_matches('/');
    match path.split_once('/') {
        Some((first, rest)) if REGIONS.contains(&first) => (first.to_owned(), format!("/{rest}")),
        _ => ("main".to_owned(), request.path.clone()),
    }
}

impl FakeJarvisLabs {
    /// The main host's URL: what `DSTACK_JARVISLABS_API_URL` takes.
    pub fn url(&self) -> &str {
        self.api.url()
    }

    /// Every request so far as `<host> <METHOD> <path>[?query]`, the host `main` or a region.
    pub fn calls(&self) -> Vec<String> {
        self.api
            .requests()
            .iter()
            .map(|request| {
                let (host, path) = host_of(request);
                let query = request.query.as_ref().map(|q| format!("?{q}")).unwrap_or_default();
                format!("{host} {} {path}{query}", request.method)
            })
            .collect()
    }

    /// The bodies of the requests `<host> <METHOD> <path>` (as [`Self::calls`] shows them).
    pub fn bodies(&self, call: &str) -> Vec<Value> {
        let requests = self.api.requests();
        let calls = self.calls();
        calls.iter().zip(requests).filter(|(c, _)| *c == call).map(|(_, r)| r.body).collect()
    }

    /// What the fake holds: `machine <id> <name>` and `sshkey <key_name>`, sorted.
    pub fn live(&self) -> Vec<String> {
        let state = lock(&self.state);
        let mut live: Vec<String> = state
            .machines
            .values()
            .map(|m| format!("machine {} {}", m.id, m.row["name"].as_str().unwrap_or_default()))
            .collect();
        live.extend(state.keys.iter().map(|k| format!("sshkey {}", k.name)));
        live.sort();
        live
    }

    /// The VMs as `users/fetch` lists them.
    pub fn machines(&self) -> Vec<Value> {
        lock(&self.state).machines.values().map(|m| m.row.clone()).collect()
    }

    /// A key on the account before the test.
    pub fn add_ssh_key(&self, key_name: &str, key: &str) {
        let mut state = lock(&self.state);
        let id = state.key_id();
        state.keys.push(Key { id, name: key_name.to_owned(), key: key.to_owned() });
    }

    /// How many SSH keys the account may hold (JarvisLabs' default: 10).
    pub fn set_key_limit(&self, limit: usize) {
        lock(&self.state).key_limit = limit;
    }

    /// The next VM create answers `status` with `{"detail": message}`, creating nothing.
    pub fn next_create_refused(&self, status: u16, message: &str) {
        lock(&self.state).create_faults.push_back(CreateFault::Refuse(status, message.to_owned()));
    }

    /// The next VM create answers 400 with dstack's capacity message.
    pub fn next_create_no_capacity(&self) {
        self.next_create_refused(400, NO_CAPACITY);
    }

    /// The next VM create makes its VM but answers 500.
    pub fn next_create_answer_lost(&self) {
        lock(&self.state).create_faults.push_back(CreateFault::LoseAnswer);
    }

    /// The next created VM fails while starting: never listed, `Failed` in `misc/status`.
    pub fn next_instance_fails(&self, error: &str, code: u16) {
        lock(&self.state).next_outcome = Some(Outcome::Fails(error.to_owned(), code));
    }

    /// The next created VM stays `Creating`.
    pub fn next_instance_never_ready(&self) {
        lock(&self.state).next_outcome = Some(Outcome::NeverReady);
    }

    /// At which fetch a new VM is `Running` (default 1: the first).
    pub fn set_fetches_until_running(&self, fetches: u32) {
        lock(&self.state).fetches_until_running = fetches;
    }
}

impl State {
    fn id(&mut self) -> u64 {
        self.next_id += 1;
        self.next_id
    }

    fn key_id(&mut self) -> String {
        let n = self.id();
        format!("{n:08x}-7d1e-4c1b-9a55-{n:012x}")
    }
}
