//! A stateful fake of Verda's (formerly DataCrunch's) public API, `https://api.verda.com/v1`.
//!
//! Verda publishes no machine-readable description, so the shapes follow the `verda` Python
//! SDK 1.25.0 (what dstack 0.22.5 calls: `authentication`, `http_client`, `instances`,
//! `ssh_keys`, `startup_scripts`), the SDK's own unit-test fixtures (DataCrunch-io's
//! `datacrunch-python` tests: the token answer, the instance payload, `POST` answering the new
//! ID as the body, `PUT /instances` answering 202) and dstack's `verda/test_compute.py` (the
//! error messages). Errors are `{"code", "message"}` with Verda's documented codes
//! (`invalid_request` 400, `unauthorized_request` 401, `not_found` 404).
//!
//! What the fake cannot do as Verda does, and why:
//! - Verda answers a created ID as a bare text body; [`crate::FakeApi`] answers JSON only, so
//!   the fake answers the ID as a JSON string (`"<id>"`). Clients should accept both.
//! - [`crate::FakeApi`] keeps the `Authorization` header from its routes and checks only
//!   fixed credentials, while OAuth tokens are issued at run time. So API calls are accepted
//!   once a token was issued and until [`FakeVerda::expire_tokens`]; after it, every API call
//!   answers 401 until a new token is issued.
//!
//! Instances go `ordered` → `provisioning` → `running` (with an IP) one step per
//! `GET /instances/{id}`, unless held ([`FakeVerda::hold_provisioning`]); deleting one that is
//! not running yet answers "Can't discontinue a provisioning instance", as Verda does.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};

use serde_json::{Value, json};

use crate::{FakeApi, Recorded, Reply};

/// `verda` catalog rows as gpuhunt writes them: cheapest first, no disk size (configurable).
pub const CATALOG_ROWS: &[&str] = &[
    "CPU.4V.16G,FIN-01,0.0093,4,16.0,0,,,True,,,,x86,",
    "CPU.4V.16G,FIN-01,0.0279,4,16.0,0,,,False,,,,x86,",
    "1V100.6V,FIN-01,0.39,6,23.0,1,V100,16.0,False,,nvidia,,x86,",
    "1H100.80S.30V,FIN-02,1.1,30,120.0,1,H100,80.0,True,,nvidia,,x86,",
    "1H100.80S.30V,FIN-02,2.19,30,120.0,1,H100,80.0,False,,nvidia,,x86,",
    "8A100.176V,ICE-01,11.0,176,960.0,8,A100,80.0,False,,nvidia,,x86,",
];

/// Availability the fake reports: `(location_code, is_spot, instance types)`.
pub type Availability<'a> = (&'a str, bool, &'a [&'a str]);

#[derive(Default)]
struct State {
    clients: Vec<(String, String)>,
    availability: Vec<(String, bool, Vec<String>)>,
    seq: u64,
    token_lifetime: u64,
    tokens_issued: u32,
    refresh_tokens: Vec<String>,
    expired: bool,
    ssh_keys: BTreeMap<String, (String, String)>,
    scripts: BTreeMap<String, (String, String)>,
    instances: BTreeMap<String, Value>,
    hold: bool,
    fail_ssh_key_after: Option<usize>,
    fail_script: bool,
    fail_deploy: Option<(u16, String, String)>,
}

impl State {
    fn id(&mut self, kind: u64) -> String {
        self.seq += 1;
        format!("{kind:08x}-0000-4000-8000-{:012x}", self.seq)
    }
}

/// A running fake of Verda's API.
pub struct FakeVerda {
    pub api: FakeApi,
    state: Arc<Mutex<State>>,
}

impl std::fmt::Debug for FakeVerda {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FakeVerda").field("url", &self.api.url()).finish()
    }
}

fn error(status: u16, code: &str, message: &str) -> Reply {
    Reply::status(status, json!({"code": code, "message": message}))
}

fn invalid(message: &str) -> Reply {
    error(400, "invalid_request", message)
}

type Shared = Arc<Mutex<State>>;

fn lock(state: &Shared) -> MutexGuard<'_, State> {
    state.lock().unwrap_or_else(|e| e.into_inner())
}

/// Runs `handler` for a caller holding a valid token; others get Verda's 401.
fn authorized(
    state: &Shared,
    handler: impl Fn(&mut State, &Recorded) -> Reply + Send + Sync + 'static,
) -> impl Fn(&Recorded) -> Reply + Send + Sync + 'static {
    let state = state.clone();
    move |request| {
        let mut state = lock(&state);
        if state.tokens_issued == 0 || state.expired {
            return error(401, "unauthorized_request", "Access token is missing or invalid");
        }
        handler(&mut state, request)
    }
}

fn text(body: &Value, field: &str) -> Option<String> {
    body.get(field).and_then(Value::as_str).map(str::to_owned)
}

fn token(state: &mut State, request: &Recorded) -> Reply {
    let body = &request.body;
    let granted = match text(body, "grant_type").as_deref() {
        Some("client_credentials") => {
            let pair = (text(body, "client_id"), text(body, "client_secret"));
            state.clients.iter().any(|(id, secret)| {
                pair.0.as_deref() == Some(id.as_str()) && pair.1.as_deref() == Some(secret.as_str())
            })
        }
        Some("refresh_token") => {
            text(body, "refresh_token").is_some_and(|t| state.refresh_tokens.contains(&t))
        }
        _ => return invalid("Invalid grant type"),
    };
    if !granted {
        return error(401, "unauthorized_request", "Invalid client credentials");
    }
    state.tokens_issued += 1;
    state.expired = false;
    let refresh = format!("fake-refresh-{}", state.tokens_issued);
    state.refresh_tokens.push(refresh.clone());
    Reply::json(json!({
        "access_token": format!("fake-access-{}", state.tokens_issued),
        "refresh_token": refresh,
        "scope": "fullAccess",
        "token_type": "Bearer",
        "expires_in": state.token_lifetime,
    }))
}

fn instance_availability(state: &mut State, request: &Recorded) -> Reply {
    let query = request.query.as_deref().unwrap_or_default();
    let spot = query.split('&').any(|pair| pair == "isSpot=true");
    let mut locations: Vec<Value> = Vec::new();
    for (location, is_spot, types) in &state.availability {
        if *is_spot == spot {
            locations.push(json!({"location_code": location, "availabilities": types}));
        }
    }
    Reply::json(Value::Array(locations))
}

fn create_ssh_key(state: &mut State, request: &Recorded) -> Reply {
    let (Some(name), Some(key)) = (text(&request.body, "name"), text(&request.body, "key")) else {
        return invalid("name and key are required");
    };
    if let Some(left) = state.fail_ssh_key_after.as_mut() {
        if *left == 0 {
            state.fail_ssh_key_after = None;
            return invalid("Invalid public key");
        }
        *left -= 1;
    }
    let id = state.id(1);
    state.ssh_keys.insert(id.clone(), (name, key));
    Reply::json(json!(id))
}

fn delete_ssh_keys(state: &mut State, request: &Recorded) -> Reply {
    let ids: Vec<String> = match request.body.get("keys").and_then(Value::as_array) {
        Some(keys) => keys.iter().filter_map(|k| k.as_str().map(str::to_owned)).collect(),
        None => return invalid("keys is required"),
    };
    if ids.iter().any(|id| !state.ssh_keys.contains_key(id)) {
        return error(404, "not_found", "SSH key not found");
    }
    ids.iter().for_each(|id| drop(state.ssh_keys.remove(id)));
    Reply::json(Value::Null)
}

fn delete_ssh_key(state: &mut State, request: &Recorded) -> Reply {
    match state.ssh_keys.remove(&request.params["id"]) {
        Some(_) => Reply::json(Value::Null),
        None => error(404, "not_found", "SSH key not found"),
    }
}

fn create_script(state: &mut State, request: &Recorded) -> Reply {
    let (Some(name), Some(script)) = (text(&request.body, "name"), text(&request.body, "script"))
    else {
        return invalid("name and script are required");
    };
    if std::mem::take(&mut state.fail_script) {
        return invalid("Invalid startup script");
    }
    let id = state.id(2);
    state.scripts.insert(id.clone(), (name, script));
    Reply::json(json!(id))
}

fn delete_script(state: &mut State, request: &Recorded) -> Reply {
    match state.scripts.remove(&request.params["id"]) {
        Some(_) => Reply::json(Value::Null),
        None => error(404, "not_found", "Startup script not found"),
    }
}

fn deploy(state: &mut State, request: &Recorded) -> Reply {
    let body = &request.body;
    let (Some(kind), Some(image), Some(hostname), Some(location)) = (
        text(body, "instance_type"),
        text(body, "image"),
        text(body, "hostname"),
        text(body, "location_code"),
    ) else {
        return invalid("instance_type, image, hostname and location_code are required");
    };
    let keys: Vec<String> = body["ssh_key_ids"]
        .as_array()
        .map(|keys| keys.iter().filter_map(|k| k.as_str().map(str::to_owned)).collect())
        .unwrap_or_default();
    if keys.iter().any(|k| !state.ssh_keys.contains_key(k)) {
        return invalid("Invalid ssh key id");
    }
    let script = text(body, "startup_script_id");
    if script.as_ref().is_some_and(|s| !state.scripts.contains_key(s)) {
        return invalid("Invalid startup script id");
    }
    if body["os_volume"]["size"].as_u64().is_none_or(|size| size < 50) {
        return invalid("OS volume size must be at least 50 GB");
    }
    if let Some((status, code, message)) = state.fail_deploy.take() {
        return error(status, &code, &message);
    }
    let spot = body["is_spot"].as_bool().unwrap_or(false);
    let available = state
        .availability
        .iter()
        .any(|(l, s, types)| *l == location && *s == spot && types.contains(&kind));
    if !available {
        return invalid("Not enough resources available for this instance type");
    }
    let id = state.id(3);
    let instance = json!({
        "id": id, "instance_type": kind, "price_per_hour": 1.0, "hostname": hostname,
        "description": body["description"], "status": "ordered",
        "created_at": "2026-01-01T00:00:00.000Z", "ssh_key_ids": keys,
        "cpu": {"description": "fake", "number_of_cores": 4},
        "gpu": {"description": "", "number_of_gpus": 0},
        "memory": {"description": "fake", "size_in_gigabytes": 16},
        "storage": {"description": "fake", "size_in_gigabytes": body["os_volume"]["size"]},
        "gpu_memory": {"description": "", "size_in_gigabytes": 0},
        "ip": null, "os_volume_id": format!("{id}-os"), "location": location, "image": image,
        "startup_script_id": script, "is_spot": spot, "pricing": body["pricing"],
    });
    state.instances.insert(id.clone(), instance);
    Reply::json(json!(id))
}

fn get_instance(state: &mut State, request: &Recorded) -> Reply {
    let hold = state.hold;
    let Some(instance) = state.instances.get_mut(&request.params["id"]) else {
        return invalid("Invalid instance id");
    };
    let next = match instance["status"].as_str() {
        Some("ordered") => Some("provisioning"),
        Some("provisioning") if !hold => Some("running"),
        _ => None,
    };
    if let Some(next) = next {
        instance["status"] = json!(next);
        if next == "running" {
            let n = instance["id"].as_str().map_or(0, |id| id.len() as u64 % 200);
            instance["ip"] = json!(format!("192.0.2.{}", n + 10));
        }
    }
    Reply::json(instance.clone())
}

fn instance_action(state: &mut State, request: &Recorded) -> Reply {
    let body = &request.body;
    let ids: Vec<String> = body["id"]
        .as_array()
        .map(|ids| ids.iter().filter_map(|i| i.as_str().map(str::to_owned)).collect())
        .unwrap_or_default();
    if body["action"] != "delete" || ids.is_empty() {
        return invalid("Invalid action");
    }
    for id in &ids {
        match state.instances.get(id).and_then(|i| i["status"].as_str()) {
            None => return invalid("Invalid instance id"),
            Some("discontinued") => return invalid("Can't discontinue a discontinued instance"),
            Some("ordered" | "provisioning") => {
                return invalid("Can't discontinue a provisioning instance");
            }
            Some(_) => {}
        }
    }
    for id in &ids {
        if let Some(instance) = state.instances.get_mut(id) {
            instance["status"] = json!("discontinued");
        }
    }
    Reply::status(202, Value::Null)
}

/// Starts the fake, accepting the `clients` (client ID, client secret) and reporting
/// `availability`. Tokens live an hour unless [`FakeVerda::set_token_lifetime`] says otherwise.
pub async fn start(clients: &[(&str, &str)], availability: &[Availability<'_>]) -> FakeVerda {
    let state = Arc::new(Mutex::new(State {
        clients: clients.iter().map(|(i, s)| ((*i).to_owned(), (*s).to_owned())).collect(),
        availability: availability
            .iter()
            .map(|(l, s, t)| ((*l).to_owned(), *s, t.iter().map(|t| (*t).to_owned()).collect()))
            .collect(),
        token_lifetime: 3600,
        ..State::default()
    }));
    let token_state = state.clone();
    let api = FakeApi::builder()
        .prefix("/v1")
        .route("POST", "/oauth2/token", move |r| token(&mut lock(&token_state), r))
        .route("GET", "/instance-availability", authorized(&state, instance_availability))
        .route("POST", "/sshkeys", authorized(&state, create_ssh_key))
        .route("DELETE", "/sshkeys", authorized(&state, delete_ssh_keys))
        .route("DELETE", "/sshkeys/{id}", authorized(&state, delete_ssh_key))
        .route("POST", "/scripts", authorized(&state, create_script))
        .route("DELETE", "/scripts/{id}", authorized(&state, delete_script))
        .route("POST", "/instances", authorized(&state, deploy))
        .route("PUT", "/instances", authorized(&state, instance_action))
        .route("GET", "/instances/{id}", authorized(&state, get_instance))
        .start()
        .await;
    FakeVerda { api, state }
}

impl FakeVerda {
    /// The base URL (`http://127.0.0.1:<port>/v1`): what `DSTACK_VERDA_API_URL` takes.
    pub fn url(&self) -> &str {
        self.api.url()
    }

    fn state(&self) -> MutexGuard<'_, State> {
        lock(&self.state)
    }

    /// What is left: `sshkey <name>`, `script <name>`, `instance <hostname> <status>` for
    /// every key, script and instance not discontinued.
    pub fn live(&self) -> Vec<String> {
        let state = self.state();
        let keys = state.ssh_keys.values().map(|(name, _)| format!("sshkey {name}"));
        let scripts = state.scripts.values().map(|(name, _)| format!("script {name}"));
        let instances =
            state.instances.values().filter(|i| i["status"] != "discontinued").map(|i| {
                format!("instance {} {}", i["hostname"].as_str().unwrap_or(""), i["status"])
            });
        keys.chain(scripts).chain(instances).collect()
    }

    /// Every instance as Verda shows it (discontinued ones included).
    pub fn instances(&self) -> Vec<Value> {
        self.state().instances.values().cloned().collect()
    }

    /// The startup scripts: `(name, script)`.
    pub fn scripts(&self) -> Vec<(String, String)> {
        self.state().scripts.values().cloned().collect()
    }

    /// How many access tokens were issued.
    pub fn tokens_issued(&self) -> u32 {
        self.state().tokens_issued
    }

    /// Revokes the issued tokens: API calls answer 401 until a new token is issued.
    pub fn expire_tokens(&self) {
        self.state().expired = true;
    }

    /// The `expires_in` of tokens issued from now on.
    pub fn set_token_lifetime(&self, seconds: u64) {
        self.state().token_lifetime = seconds;
    }

    /// Instances stay `provisioning` (no IP, not deletable) while `hold` is set.
    pub fn hold_provisioning(&self, hold: bool) {
        self.state().hold = hold;
    }

    /// Sets an instance's status (`error`, `offline`, ...).
    pub fn set_status(&self, instance_id: &str, status: &str) {
        if let Some(instance) = self.state().instances.get_mut(instance_id) {
            instance["status"] = json!(status);
        }
    }

    /// The next SSH key created after `created` more succeed is refused (400).
    pub fn fail_ssh_key_after(&self, created: usize) {
        self.state().fail_ssh_key_after = Some(created);
    }

    /// The next startup script is refused (400).
    pub fn fail_next_script(&self) {
        self.state().fail_script = true;
    }

    /// The next deploy answers `status` with `code` and `message` (Verda's capacity refusal is
    /// a 400 `invalid_request`).
    pub fn fail_next_deploy(&self, status: u16, code: &str, message: &str) {
        self.state().fail_deploy = Some((status, code.to_owned(), message.to_owned()));
    }
}
