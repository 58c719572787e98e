//! A stateful fake of Lambda Cloud's API (`https://cloud.lambdalabs.com/api/v1`, Bearer
//! auth), for the Lambda backend's tests and the server's end-to-end tests.
//!
//! Lambda's API description is not among the shared API specs, so the shapes follow Lambda's
//! public API reference as dstack 0.22.5's `LambdaAPIClient` reads it: every answer wraps its
//! payload in `{"data": ...}`; errors are `{"error": {"code", "message", "suggestion"}}` with
//! the codes `global/invalid-api-key` (401), `global/object-does-not-exist` (404),
//! `instance-operations/launch/insufficient-capacity` (400) and `global/invalid-parameters`
//! (400). Instances carry `id`, `name`, `ip`, `private_ip`, `status` (`booting`, `active`,
//! `terminated`), `region {name}`, `instance_type {name}`, `ssh_key_names`.
//!
//! It holds SSH keys and instances. A launched instance is `booting` without an IP for a
//! number of `GET /instances/{id}` polls (one by default), then `active` at `127.0.0.1`, so
//! that SSH goes to the test `sshd`. A terminated instance stays listed as `terminated`;
//! terminating it again is refused as Lambda refuses invalid parameters.

use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, Mutex};

use serde_json::{Map, Value, json};

use crate::{FakeApi, Recorded, Reply};

/// The path Lambda's base URL ends with.
pub const PREFIX: &str = "/api/v1";
/// The address of every instance once it is up: the test `sshd` listens on loopback.
pub const INSTANCE_IP: &str = "127.0.0.1";
/// Lambda's code for a launch without capacity.
pub const INSUFFICIENT_CAPACITY: &str = "instance-operations/launch/insufficient-capacity";

/// What the next launch does instead of launching as asked.
#[derive(Debug, Clone)]
enum LaunchFault {
    /// Answers 400 with `code`, launching nothing.
    Refuse(String, String),
    /// Launches the instance and answers 500 (the answer is lost).
    LoseAnswer,
}

#[derive(Debug, Default)]
struct State {
    /// Instance type → the regions with capacity now.
    capacity: Vec<(String, Vec<String>)>,
    /// id, name, public key.
    ssh_keys: Vec<(String, String, String)>,
    /// Id → the instance as `GET /instances/{id}` shows it.
    instances: BTreeMap<String, Value>,
    /// Id → the polls left before it is active.
    booting: BTreeMap<String, u32>,
    polls_until_active: u32,
    launch_faults: VecDeque<LaunchFault>,
    /// How long a launch takes to answer after the instance exists (a slow API: the window
    /// in which a client may stop between Lambda's action and its answer).
    launch_delay: std::time::Duration,
    next_id: u64,
}

impl State {
    fn id(&mut self) -> String {
        self.next_id += 1;
        format!("{:032x}", 0x0920_582c_7ff0_4139_9e34_8230_0000_0000u128 + u128::from(self.next_id))
    }
}

/// A running fake of Lambda's API.
#[derive(Debug)]
pub struct FakeLambda {
    pub api: FakeApi,
    state: Shared,
}

type Shared = Arc<Mutex<State>>;

fn lock(state: &Shared) -> std::sync::MutexGuard<'_, State> {
    state.lock().unwrap_or_else(|e| e.into_inner())
}

fn error(status: u16, code: &str, message: &str) -> Reply {
    Reply::status(status, json!({"error": {"code": code, "message": message, "suggestion": null}}))
}

fn not_found() -> Reply {
    error(404, "global/object-does-not-exist", "Specified instance does not exist.")
}

/// Starts the fake, accepting `keys`, with `capacity` (instance type → regions with
/// capacity now) in `GET /instance-types`.
pub async fn start(keys: &[&str], capacity: &[(&str, &[&str])]) -> FakeLambda {
    let capacity = capacity
        .iter()
        .map(|(name, regions)| {
            ((*name).to_owned(), regions.iter().map(|r| (*r).to_owned()).collect())
        })
        .collect();
    let state = State { capacity, polls_until_active: 1, ..State::default() };
    let state: Shared = Arc::new(Mutex::new(state));
    let mut builder = FakeApi::builder().prefix(PREFIX).unauthorized(error(
        401,
        "global/invalid-api-key",
        "API key was invalid, expired, or deleted.",
    ));
    for key in keys {
        builder = builder.bearer(key);
    }
    let route = |s: &Shared, f: fn(&mut State, &Recorded) -> Reply| {
        let s = s.clone();
        move |r: &Recorded| f(&mut lock(&s), r)
    };
    let api = builder
        .route("GET", "/instance-types", route(&state, instance_types))
        .route("GET", "/ssh-keys", route(&state, ssh_keys))
        .route("POST", "/ssh-keys", route(&state, add_ssh_key))
        .route("DELETE", "/ssh-keys/{id}", route(&state, delete_ssh_key))
        .route("GET", "/instances", route(&state, instances))
        .route("GET", "/instances/{id}", route(&state, instance))
        .route("POST", "/instance-operations/launch", {
            let state = state.clone();
            move |request: &Recorded| {
                let (reply, delay) = {
                    let mut state = lock(&state);
                    (launch(&mut state, request), state.launch_delay)
                };
                // The instance exists (and is listed) while the answer is on its way.
                std::thread::sleep(delay);
                reply
            }
        })
        .route("POST", "/instance-operations/terminate", route(&state, terminate))
        .start()
        .await;
    FakeLambda { api, state }
}

impl FakeLambda {
    /// The base URL, `/api/v1` included: what `DSTACK_LAMBDA_API_URL` takes.
    pub fn url(&self) -> &str {
        self.api.url()
    }

    /// What the fake holds that costs or lingers: `instance <name> <status>` for instances not
    /// terminated, `sshkey <name>`, sorted.
    pub fn live(&self) -> Vec<String> {
        let state = lock(&self.state);
        let mut live: Vec<String> = state
            .instances
            .values()
            .filter(|i| i["status"] != "terminated")
            .map(|i| format!("instance {} {}", text(&i["name"]), text(&i["status"])))
            .collect();
        live.extend(state.ssh_keys.iter().map(|(_, name, _)| format!("sshkey {name}")));
        live.sort();
        live
    }

    /// The instances as `GET /instances/{id}` shows them.
    pub fn instances(&self) -> Vec<Value> {
        lock(&self.state).instances.values().cloned().collect()
    }

    /// A key registered before the test.
    pub fn add_ssh_key(&self, name: &str, public_key: &str) {
        let mut state = lock(&self.state);
        let id = state.id();
        state.ssh_keys.push((id, name.to_owned(), public_key.to_owned()));
    }

    /// The next launch answers 400 `insufficient-capacity`, launching nothing.
    pub fn next_launch_no_capacity(&self) {
        self.next_launch_refused(
            INSUFFICIENT_CAPACITY,
            "Not enough capacity to fulfill launch request.",
        );
    }

    /// The next launch answers 400 with `code` and `message`, launching nothing.
    pub fn next_launch_refused(&self, code: &str, message: &str) {
        let fault = LaunchFault::Refuse(code.to_owned(), message.to_owned());
        lock(&self.state).launch_faults.push_back(fault);
    }

    /// The next launch launches its instance but answers 500.
    pub fn next_launch_answer_lost(&self) {
        lock(&self.state).launch_faults.push_back(LaunchFault::LoseAnswer);
    }

    /// Launches answer `delay` after their instance exists.
    pub fn set_launch_delay(&self, delay: std::time::Duration) {
        lock(&self.state).launch_delay = delay;
    }

    /// How many launches were asked for.
    pub fn launches(&self) -> usize {
        let requests = self.api.requests();
        requests.iter().filter(|r| r.path == "/instance-operations/launch").count()
    }

    /// How many polls an instance stays `booting` (default 1).
    pub fn set_polls_until_active(&self, polls: u32) {
        lock(&self.state).polls_until_active = polls;
    }

    /// Sets an instance's status (`unhealthy`, `terminated`, ...), as Lambda may change it.
    pub fn set_status(&self, id: &str, status: &str) {
        let mut state = lock(&self.state);
        state.booting.remove(id);
        if let Some(instance) = state.instances.get_mut(id) {
            instance["status"] = json!(status);
        }
    }
}

fn text(value: &Value) -> &str {
    value.as_str().unwrap_or_default()
}

fn instance_types(state: &mut State, _: &Recorded) -> Reply {
    let data: Map<String, Value> = state
        .capacity
        .iter()
        .map(|(name, regions)| {
            let regions: Vec<Value> =
                regions.iter().map(|r| json!({"name": r, "description": r})).collect();
            let entry = json!({
                "instance_type": {"name": name, "description": name},
                "regions_with_capacity_available": regions,
            });
            (name.clone(), entry)
        })
        .collect();
    Reply::json(json!({"data": data}))
}

fn key_json(id: &str, name: &str, public_key: &str) -> Value {
    json!({"id": id, "name": name, "public_key": public_key})
}

fn ssh_keys(state: &mut State, _: &Recorded) -> Reply {
    let keys: Vec<Value> = state.ssh_keys.iter().map(|(i, n, k)| key_json(i, n, k)).collect();
    Reply::json(json!({"data": keys}))
}

fn add_ssh_key(state: &mut State, request: &Recorded) -> Reply {
    let (Some(name), Some(public_key)) =
        (request.body["name"].as_str(), request.body["public_key"].as_str())
    else {
        return error(400, "global/invalid-parameters", "name and public_key are required.");
    };
    if state.ssh_keys.iter().any(|(_, n, _)| n == name) {
        return error(
            400,
            "global/invalid-parameters",
            "An SSH key with this name already exists.",
        );
    }
    let id = state.id();
    state.ssh_keys.push((id.clone(), name.to_owned(), public_key.to_owned()));
    Reply::json(json!({"data": key_json(&id, name, public_key)}))
}

fn delete_ssh_key(state: &mut State, request: &Recorded) -> Reply {
    let id = &request.params["id"];
    let before = state.ssh_keys.len();
    state.ssh_keys.retain(|(i, _, _)| i != id);
    if state.ssh_keys.len() == before {
        return error(404, "global/object-does-not-exist", "Specified SSH key does not exist.");
    }
    Reply::json(json!({}))
}

fn instances(state: &mut State, _: &Recorded) -> Reply {
    Reply::json(json!({"data": state.instances.values().cloned().collect::<Vec<_>>()}))
}

fn instance(state: &mut State, request: &Recorded) -> Reply {
    let id = &request.params["id"];
    if let Some(polls) = state.booting.get_mut(id) {
        *polls = polls.saturating_sub(1);
        if *polls == 0 {
            state.booting.remove(id);
            if let Some(instance) = state.instances.get_mut(id) {
                instance["status"] = json!("active");
                instance["ip"] = json!(INSTANCE_IP);
                instance["private_ip"] = json!("10.19.0.2");
            }
        }
    }
    match state.instances.get(id) {
        Some(instance) => Reply::json(json!({"data": instance})),
        None => not_found(),
    }
}

fn launch(state: &mut State, request: &Recorded) -> Reply {
    let body = &request.body;
    let (Some(region), Some(instance_type)) =
        (body["region_name"].as_str(), body["instance_type_name"].as_str())
    else {
        return error(
            400,
            "global/invalid-parameters",
            "region_name and instance_type_name are required.",
        );
    };
    let key_names: Vec<&str> =
        body["ssh_key_names"].as_array().into_iter().flatten().filter_map(Value::as_str).collect();
    if key_names.len() != 1 || !state.ssh_keys.iter().any(|(_, n, _)| n == key_names[0]) {
        return error(
            400,
            "global/invalid-parameters",
            "Exactly one existing SSH key name is required.",
        );
    }
    let fault = state.launch_faults.pop_front();
    if let Some(LaunchFault::Refuse(code, message)) = &fault {
        return error(400, code, message);
    }
    let has_capacity = state
        .capacity
        .iter()
        .any(|(name, regions)| name == instance_type && regions.iter().any(|r| r == region));
    if !has_capacity {
        return error(400, INSUFFICIENT_CAPACITY, "Not enough capacity to fulfill launch request.");
    }
    let id = state.id();
    let instance = json!({
        "id": id,
        "name": body["name"],
        "ip": null,
        "private_ip": null,
        "status": "booting",
        "ssh_key_names": key_names,
        "file_system_names": body["file_system_names"],
        "region": {"name": region, "description": region},
        "instance_type": {"name": instance_type, "description": instance_type},
        "hostname": null,
        "is_reserved": false,
    });
    state.instances.insert(id.clone(), instance);
    let polls = state.polls_until_active;
    state.booting.insert(id.clone(), polls);
    if matches!(fault, Some(LaunchFault::LoseAnswer)) {
        return Reply::status(
            500,
            json!({"error": {"code": "global/unknown", "message": "Internal error."}}),
        );
    }
    Reply::json(json!({"data": {"instance_ids": [id]}}))
}

fn terminate(state: &mut State, request: &Recorded) -> Reply {
    let ids: Vec<String> = request.body["instance_ids"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|id| id.as_str().map(str::to_owned))
        .collect();
    let mut terminated = Vec::new();
    for id in &ids {
        match state.instances.get(id) {
            None => return not_found(),
            Some(instance) if instance["status"] == "terminated" => {
                return error(400, "global/invalid-parameters", "Instance is already terminated.");
            }
            Some(_) => {}
        }
    }
    for id in ids {
        state.booting.remove(&id);
        if let Some(instance) = state.instances.get_mut(&id) {
            instance["status"] = json!("terminated");
            terminated.push(instance.clone());
        }
    }
    Reply::json(json!({"data": {"terminated_instances": terminated}}))
}
