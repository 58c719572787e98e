//! A stateful fake of Seeweb's ECS API (`https://api.seeweb.it/ecs/v2`, `X-APITOKEN` auth),
//! for the Seeweb backend's tests and the server's end-to-end tests.
//!
//! Seeweb publishes no machine-readable API description, so the shapes follow Seeweb's own
//! Python SDK, `ecsapi` 0.4.0 (PyPI; its pydantic models `Plan`, `_PlanAvailable`, `Region`,
//! `SshKey`, `Server`, `Action` and their `_...Response` wrappers: `{"status": "ok", ...}`),
//! and the fixtures of dstack 0.22.5's Seeweb tests (`tests/_internal/core/backends/seeweb/`:
//! the 401 body `{"message": "unauthorized"}`, capacity errors
//! `{"status": "error", "message": "Plan is not available in this region"}`, a missing
//! server's 404 `{"status": "error", "message": "not found"}`).
//!
//! It holds SSH keys, servers and their actions. A server is created `Booting` with an
//! `in-progress` action; after a number of polls of that action (one by default) the action is
//! `completed` and the server `Booted` with an IPv4 — or, when a test asks, the action `failed`
//! and the server `Fail`, or it never finishes.

use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, Mutex};

use serde_json::{Value, json};

use crate::{FakeApi, Recorded, Reply};

/// The path Seeweb's base URL ends with.
pub const PREFIX: &str = "/ecs/v2";
const NOW: &str = "2025-06-01T10:00:00+00:00";
/// The message dstack's fixtures use for a plan without capacity.
pub const NO_CAPACITY: &str = "Plan is not available in this region";

/// A plan the fake sells.
#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    pub name: String,
    pub cpu: u32,
    pub ram_mib: u64,
    pub disk_gb: u64,
    pub gpu: u32,
    /// `None` for CPU plans.
    pub gpu_label: Option<String>,
    pub hourly_price: f64,
    /// Whether the plan is active (`available` in `/plans`).
    pub available: bool,
    /// Where the plan is sold (`available_regions`).
    pub regions: Vec<String>,
    /// Where it can be created now (`/plans/availables` `region_availables`).
    pub capacity: Vec<String>,
    /// Its active images (`os_availables`); an inactive `ubuntu-2004` is listed besides.
    pub images: Vec<String>,
}

fn strings(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| (*s).to_owned()).collect()
}

impl Plan {
    /// A GPU plan with 8 vCPUs, 64 GiB of RAM, 500 GB of disk and both NVIDIA images.
    pub fn gpu(
        name: &str,
        gpus: u32,
        label: &str,
        price: f64,
        regions: &[&str],
        capacity: &[&str],
    ) -> Self {
        Plan {
            name: name.to_owned(),
            cpu: 8 * gpus,
            ram_mib: 65536 * u64::from(gpus),
            disk_gb: 500,
            gpu: gpus,
            gpu_label: Some(label.to_owned()),
            hourly_price: price,
            available: true,
            regions: strings(regions),
            capacity: strings(capacity),
            images: strings(&["ubuntu-2204-nvidia-driver", "ubuntu-2204-uefi-nvidia-driver"]),
        }
    }

    /// A CPU plan (which gpuhunt does not offer), with capacity wherever it is sold.
    pub fn cpu(name: &str, price: f64, regions: &[&str]) -> Self {
        let images = strings(&["ubuntu-2204", "debian-12"]);
        let (cpu, ram_mib, disk_gb) = (4, 8192, 80);
        let base = Plan::gpu(name, 0, "", price, regions, regions);
        Plan { cpu, ram_mib, disk_gb, gpu_label: None, images, ..base }
    }
}

/// Plans like Seeweb's: an L4 and an L40S in two regions, an A100 pair sold out, a CPU plan.
pub fn default_plans() -> Vec<Plan> {
    vec![
        Plan::gpu("ECS1GPU6", 1, "L4 24GB", 0.38, &["it-fr2", "it-mi2"], &["it-fr2"]),
        Plan::gpu("ECS1GPU7", 1, "L40S 48GB", 0.85, &["it-fr2", "ch-lug1"], &["it-fr2", "ch-lug1"]),
        Plan::gpu("ECS2GPU9", 2, "A100 80GB", 3.2, &["it-fr2"], &[]),
        Plan::cpu("ECS4", 0.05, &["it-fr2"]),
    ]
}

/// How the next created server ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    Ready,
    Fails,
    NeverReady,
}

/// What the next `POST /servers` does instead of creating a server as asked.
#[derive(Debug, Clone)]
enum CreateFault {
    /// Answers `status` with `{"status": "error", "message": ...}`, creating nothing.
    Refuse(u16, String),
    /// Creates the server and answers 500 (the answer is lost).
    LoseAnswer,
}

#[derive(Debug)]
struct Action {
    /// The server it creates.
    resource: String,
    status: &'static str,
    polls_left: u32,
    outcome: Outcome,
}

#[derive(Debug, Default)]
struct State {
    plans: Vec<Plan>,
    /// id, label, key.
    ssh_keys: Vec<(i64, String, String)>,
    /// Name → the server as `GET /servers/{name}` shows it.
    servers: BTreeMap<String, Value>,
    actions: BTreeMap<i64, Action>,
    next_id: i64,
    create_faults: VecDeque<CreateFault>,
    next_outcome: Option<Outcome>,
    polls_until_ready: u32,
}

/// A running fake of Seeweb's API.
#[derive(Debug)]
pub struct FakeSeeweb {
    pub api: FakeApi,
    state: Arc<Mutex<State>>,
}

type Shared = Arc<Mutex<State>>;

fn lock(state: &Shared) -> std::sync::MutexGuard<'_, State> {
    state.lock().unwrap_or_else(|e| e.into_inner())
}

/// Starts the fake, accepting `tokens` and selling `plans`.
pub async fn start(tokens: &[&str], plans: Vec<Plan>) -> FakeSeeweb {
    let state = State { plans, next_id: 200_001, polls_until_ready: 1, ..State::default() };
    let state: Shared = Arc::new(Mutex::new(state));
    let mut builder = FakeApi::builder()
        .prefix(PREFIX)
        .unauthorized(Reply::status(401, json!({"message": "unauthorized"})));
    for token in tokens {
        builder = builder.header_auth("x-apitoken", token);
    }
    let route = |s: &Shared, f: fn(&mut State, &Recorded) -> Reply| {
        let s = s.clone();
        move |r: &Recorded| f(&mut lock(&s), r)
    };
    let api = builder
        .route("GET", "/regions", route(&state, regions))
        .route("GET", "/plans", route(&state, plans_list))
        .route("GET", "/plans/availables", route(&state, plans_available))
        .route("GET", "/sshkeys", route(&state, ssh_keys))
        .route("POST", "/sshkeys", route(&state, create_ssh_key))
        .route("DELETE", "/sshkeys/{id}", route(&state, delete_ssh_key))
        .route("GET", "/servers", route(&state, servers))
        .route("POST", "/servers", route(&state, create_server))
        .route("GET", "/servers/{name}", route(&state, server))
        .route("DELETE", "/servers/{name}", route(&state, delete_server))
        .route("GET", "/actions/{id}", route(&state, action))
        .start()
        .await;
    FakeSeeweb { api, state }
}

impl FakeSeeweb {
    /// The base URL, `/ecs/v2` included: what `DSTACK_SEEWEB_API_URL` takes.
    pub fn url(&self) -> &str {
        self.api.url()
    }

    /// What the fake holds: `server <name>` and `sshkey <label>`, sorted.
    pub fn live(&self) -> Vec<String> {
        let state = lock(&self.state);
        let mut live: Vec<String> =
            state.servers.keys().map(|name| format!("server {name}")).collect();
        live.extend(state.ssh_keys.iter().map(|(_, label, _)| format!("sshkey {label}")));
        live.sort();
        live
    }

    /// The servers as `GET /servers/{name}` shows them.
    pub fn servers(&self) -> Vec<Value> {
        lock(&self.state).servers.values().cloned().collect()
    }

    /// A key registered before the test (`label`, OpenSSH `key`).
    pub fn add_ssh_key(&self, label: &str, key: &str) {
        let mut state = lock(&self.state);
        let id = state.id();
        state.ssh_keys.push((id, label.to_owned(), key.to_owned()));
    }

    /// The next `POST /servers` answers 400 with dstack's capacity message.
    pub fn next_create_no_capacity(&self) {
        self.next_create_refused(400, NO_CAPACITY);
    }

    /// The next `POST /servers` answers `status` with `message`, creating nothing.
    pub fn next_create_refused(&self, status: u16, message: &str) {
        lock(&self.state).create_faults.push_back(CreateFault::Refuse(status, message.to_owned()));
    }

    /// The next `POST /servers` creates its server but answers 500.
    pub fn next_create_answer_lost(&self) {
        lock(&self.state).create_faults.push_back(CreateFault::LoseAnswer);
    }

    /// The next created server fails while starting (action `failed`, server `Fail`).
    pub fn next_instance_fails(&self) {
        lock(&self.state).next_outcome = Some(Outcome::Fails);
    }

    /// The next created server never finishes starting (and never gets an IPv4).
    pub fn next_instance_never_ready(&self) {
        lock(&self.state).next_outcome = Some(Outcome::NeverReady);
    }

    /// How many polls of its action a server takes to start (default 1: the first poll finds
    /// it started).
    pub fn set_polls_until_ready(&self, polls: u32) {
        lock(&self.state).polls_until_ready = polls;
    }

    /// Where `plan` can be created from now on.
    pub fn set_capacity(&self, plan: &str, regions: &[&str]) {
        if let Some(p) = lock(&self.state).plans.iter_mut().find(|p| p.name == plan) {
            p.capacity = strings(regions);
        }
    }
}

impl State {
    fn id(&mut self) -> i64 {
        self.next_id += 1;
        self.next_id
    }
}

fn ok(mut body: Value) -> Reply {
    body["status"] = json!("ok");
    Reply::json(body)
}

fn refuse(status: u16, message: &str) -> Reply {
    Reply::status(status, json!({"status": "error", "message": message}))
}

fn region_json(location: &str) -> Value {
    let id = location.bytes().map(u64::from).sum::<u64>();
    json!({"id": id, "location": location, "description": location.to_uppercase()})
}

fn image_json(id: usize, name: &str, active: bool) -> Value {
    json!({
        "id": id, "name": name, "creation_date": NOW, "deletion_date": null, "active_flag": active,
        "status": "CD", "uuid": format!("00000000-0000-4000-8000-{id:012}"), "description": name,
        "notes": "", "public": true, "cloud_image": true, "so_base": "linux", "required_disk": 20,
        "api_version": "v2", "api_version_value": 2, "version": "1",
    })
}

fn plan_json(index: usize, plan: &Plan) -> Value {
    json!({
        "id": index + 1, "name": plan.name, "cpu": plan.cpu.to_string(),
        "ram": plan.ram_mib.to_string(), "disk": plan.disk_gb.to_string(),
        "gpu": plan.gpu.to_string(), "gpu_label": plan.gpu_label,
        "hourly_price": plan.hourly_price, "montly_price": plan.hourly_price * 730.0,
        "windows": false, "host_type": if plan.gpu > 0 { "GPU" } else { "ECS" },
        "available": plan.available, "default_image": plan.images.first(),
        "available_regions": plan.regions.iter().map(|r| region_json(r)).collect::<Vec<_>>(),
    })
}

fn regions(state: &mut State, _: &Recorded) -> Reply {
    let mut locations: Vec<&String> = state.plans.iter().flat_map(|p| &p.regions).collect();
    locations.sort();
    locations.dedup();
    ok(json!({"regions": locations.iter().map(|l| region_json(l)).collect::<Vec<_>>()}))
}

fn plans_list(state: &mut State, _: &Recorded) -> Reply {
    ok(
        json!({"plans": state.plans.iter().enumerate().map(|(i, p)| plan_json(i, p)).collect::<Vec<_>>()}),
    )
}

/// Active plans that can be created somewhere now.
fn plans_available(state: &mut State, _: &Recorded) -> Reply {
    let plans: Vec<Value> = state
        .plans
        .iter()
        .enumerate()
        .filter(|(_, p)| p.available && !p.capacity.is_empty())
        .map(|(i, p)| {
            let mut plan = plan_json(i, p);
            let mut images: Vec<Value> = p
                .images
                .iter()
                .enumerate()
                .map(|(j, name)| image_json(j + 1, name, true))
                .collect();
            images.push(image_json(99, "ubuntu-2004", false));
            plan["os_availables"] = json!(images);
            plan["region_availables"] = p
                .capacity
                .iter()
                .map(
                    |r| json!({"region": r, "hosts": [{"host": format!("{r}-h1"), "servers": []}]}),
                )
                .collect();
            plan["runtimeclass"] = Value::Null;
            plan
        })
        .collect();
    ok(json!({"plans": plans}))
}

fn ssh_keys(state: &mut State, _: &Recorded) -> Reply {
    let keys: Vec<Value> = state
        .ssh_keys
        .iter()
        .map(|(id, label, key)| json!({"id": id, "key": key, "label": label, "created_at": NOW}))
        .collect();
    ok(json!({"pubkeys": keys}))
}

fn create_ssh_key(state: &mut State, request: &Recorded) -> Reply {
    let (Some(key), Some(label)) = (request.body["key"].as_str(), request.body["label"].as_str())
    else {
        return refuse(400, "key and label are required");
    };
    if !["ssh-", "ecdsa-", "sk-"].iter().any(|p| key.starts_with(p)) {
        return refuse(400, "invalid public key");
    }
    if state.ssh_keys.iter().any(|(_, l, _)| l == label) {
        return refuse(400, "label already in use");
    }
    let id = state.id();
    state.ssh_keys.push((id, label.to_owned(), key.to_owned()));
    ok(json!({}))
}

fn delete_ssh_key(state: &mut State, request: &Recorded) -> Reply {
    let before = state.ssh_keys.len();
    let id = request.params["id"].clone();
    state.ssh_keys.retain(|(key_id, _, _)| key_id.to_string() != id);
    if state.ssh_keys.len() == before { refuse(404, "not found") } else { ok(json!({})) }
}

fn servers(state: &mut State, _: &Recorded) -> Reply {
    let list: Vec<Value> = state.servers.values().cloned().collect();
    ok(json!({"count": list.len(), "server": list}))
}

fn create_server(state: &mut State, request: &Recorded) -> Reply {
    let fault = state.create_faults.pop_front();
    if let Some(CreateFault::Refuse(status, message)) = &fault {
        return refuse(*status, message);
    }
    let body = &request.body;
    let (Some(plan_name), Some(image), Some(location)) =
        (body["plan"].as_str(), body["image"].as_str(), body["location"].as_str())
    else {
        return refuse(400, "plan, image and location are required");
    };
    let Some(plan) = state.plans.iter().find(|p| p.name == plan_name).cloned() else {
        return refuse(400, "plan not found");
    };
    if !plan.available || !plan.capacity.iter().any(|r| r == location) {
        return refuse(400, NO_CAPACITY);
    }
    if !plan.images.iter().any(|i| i == image) {
        return refuse(400, "image not allowed for this plan");
    }
    if let Some(label) = body.get("ssh_key").and_then(Value::as_str)
        && !state.ssh_keys.iter().any(|(_, l, _)| l == label)
    {
        return refuse(400, "ssh key not found");
    }
    let (server_id, action_id) = (state.id(), state.id());
    let name = format!("ec{server_id}");
    let notes = body.get("notes").and_then(Value::as_str).unwrap_or("created by ecsapi");
    let server = json!({
        "name": name, "ipv4": "", "ipv6": "", "group": null, "plan": plan.name,
        "plan_size": {"core": plan.cpu.to_string(), "ram": plan.ram_mib.to_string(),
            "disk": plan.disk_gb.to_string(), "gpu": plan.gpu.to_string(),
            "gpu_label": plan.gpu_label, "host_type": "GPU"},
        "reserved_plans": [], "last_restored_snapshot": null, "is_reserved": false,
        "reserved_until": "", "support": null, "location": location,
        "location_label": region_json(location)["description"], "notes": notes, "so": image,
        "so_label": image, "creation_date": NOW, "deletion_date": null, "active_flag": true,
        "status": "Booting", "progress": 0, "api_version": "v2", "api_version_value": 2,
        "user": "fake-user", "virttype": "kvm",
    });
    let outcome = state.next_outcome.take().unwrap_or(Outcome::Ready);
    let (resource, polls_left) = (name.clone(), state.polls_until_ready);
    let action = Action { resource, status: "in-progress", polls_left, outcome };
    state.actions.insert(action_id, action);
    state.servers.insert(name, server.clone());
    if matches!(fault, Some(CreateFault::LoseAnswer)) {
        return Reply::status(500, json!({"status": "error", "message": "internal failure"}));
    }
    ok(json!({"action_id": action_id, "server": server}))
}

fn server(state: &mut State, request: &Recorded) -> Reply {
    match state.servers.get(&request.params["name"]) {
        Some(server) => ok(json!({"server": server})),
        None => refuse(404, "not found"),
    }
}

/// A deleted server is gone at once; the answer carries the (completed) deleting action.
fn delete_server(state: &mut State, request: &Recorded) -> Reply {
    let name = &request.params["name"];
    if state.servers.remove(name).is_none() {
        return refuse(404, "not found");
    }
    let id = state.id();
    ok(json!({"action": action_json(id, "ecs_delete", name, "completed")}))
}

fn action_json(id: i64, kind: &str, resource: &str, status: &str) -> Value {
    let done = status != "in-progress";
    json!({
        "id": id, "status": status, "user": "fake-user", "created_at": NOW,
        "started_at": NOW, "completed_at": if done { json!(NOW) } else { Value::Null },
        "resource": resource, "resource_type": "ECS", "type": kind,
        "progress": if done { 100 } else { 50 },
    })
}

/// Polling a creating action moves its server along.
fn action(state: &mut State, request: &Recorded) -> Reply {
    let Ok(id) = request.params["id"].parse::<i64>() else { return refuse(404, "not found") };
    let Some(action) = state.actions.get_mut(&id) else { return refuse(404, "not found") };
    if action.status == "in-progress" && action.outcome != Outcome::NeverReady {
        if action.polls_left > 1 {
            action.polls_left -= 1;
        } else {
            let (action_status, server_status) = match action.outcome {
                Outcome::Fails => ("failed", "Fail"),
                _ => ("completed", "Booted"),
            };
            action.status = action_status;
            if let Some(server) = state.servers.get_mut(&action.resource) {
                server["status"] = json!(server_status);
                server["progress"] = json!(100);
                if server_status == "Booted" {
                    let octet = id % 250 + 2;
                    server["ipv4"] = json!(format!("192.0.2.{octet}"));
                }
            }
        }
    }
    let action = &state.actions[&id];
    ok(json!({"action": action_json(id, "ecs_create", &action.resource, action.status)}))
}
