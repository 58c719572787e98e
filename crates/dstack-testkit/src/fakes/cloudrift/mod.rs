//! A stateful fake of CloudRift's API (rift-server) on [`crate::FakeApi`]: the account, the
//! instance types with their free nodes per datacenter, the VM recipes, and rented instances.
//!
//! Its shapes are those of CloudRift's published OpenAPI description (rift-server 0.61.0,
//! `cloudrift/openapi.json` of the shared API specs), and every request and answer is held to
//! it ([`crate::openapi::Spec`]): `POST /api/v1/<method>` with `X-API-Key`, bodies in the
//! envelope `{"version": ..., "data": ...}` (`version` first: rift-server reads it first), and
//! answers `{"version", "data"}`. Where its behaviour is not in the description, it follows
//! dstack 0.22.5's `cloudrift/test_api_client.py` and `test_compute.py`:
//!
//! - Provisioning calls (`recipes/list`, `instances/*`) refuse an envelope whose `version` is
//!   not [`API_VERSION`] (400 `unsupported version`); `auth/me` and `instance-types/list`
//!   still take older ones.
//! - An instance publishes its SSH port in one of the three ways dstack reads
//!   ([`SshPublished`]): port mappings `[[22, host port], ...]`, the `SSH_PORT` placeholder of
//!   its connection instructions (`-p <port>`, or empty for 22), or not at all (22).
//!
//! Differences from the description, on purpose or for lack of a documented answer:
//!
//! - Answers use the documented statuses (201 for most calls, 200 for `auth/me`); the live
//!   server answers 200 where the description says 201 (as berops/terraform-provider-cloudrift
//!   patches it). Any 2xx is success to dstack and to the backend.
//! - `auth/me` and `recipes/list` document no request body; dstack sends its envelope anyway
//!   (`data: null`, `data: {}`), which the fake takes, as the server does.
//! - Error bodies are not documented: the fake answers `{"error": "<message>"}`.
//! - `instructions_template` is written as the description has it (bytes as integers; the
//!   live server sends a base64 string); dstack does not read it.
//!
//! ```ignore
//! let fake = fakes::cloudrift::start(&["rift_key"], fakes::cloudrift::variants()).await;
//! context.endpoints.set(BackendType::Cloudrift, fake.url());
//! fake.publish_ssh(SshPublished::Instructions("-p 57002".into()));
//! assert_eq!(fake.live(), Vec::<String>::new());
//! ```

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};

use serde_json::{Value, json};

use crate::openapi::Spec;
use crate::{FakeApi, Recorded, Reply};

mod catalog;
pub use catalog::{Variant, recipes, variants};

/// The fake's variants as gpuhunt's CloudRift provider writes them: price = cents / 100,
/// memory and disk in GiB, the GPU's dstack name from its brand.
pub const CATALOG_ROWS: &[&str] = &[
    "rtx49-7-50-500-nr.1,us-east-nc-nr-1,0.39,7,50.0,1,RTX4090,24.0,False,500.0,nvidia,,x86,{}",
    "rtx49-7-50-500-nr.2,us-east-nc-nr-1,0.78,14,100.0,2,RTX4090,24.0,False,500.0,nvidia,,x86,{}",
    "rtx59-16-64-1000-kr.1,ap-northeast-kr-se-1,0.65,16,64.0,1,RTX5090,32.0,False,1000.0,nvidia,,x86,{}",
    "mi350x-8-1024.1,us-central-tx-nr-1,2.5,8,1024.0,1,MI350X,288.0,False,2000.0,amd,,x86,{}",
];

/// CloudRift's description, as [`Spec::load`] takes it.
pub const SPEC: (&str, &str) = ("cloudrift", "openapi.json");

/// The envelope version dstack 0.22.5 sends, which provisioning calls require.
pub const API_VERSION: &str = "2026-10-12";

/// The version the fake's answers carry.
const SERVER_VERSION: &str = "2026-10-12";
const CREATED_AT: &str = "2026-06-02T10:00:00Z";
const GIB: u64 = 1 << 30;

/// How an instance publishes its SSH port once its VM is ready.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SshPublished {
    /// `port_mappings: [[22, port], [80, port + 1]]` (and the instructions' `SSH_PORT` too).
    PortMapping(u16),
    /// `port_mappings: []` and the instructions' `["SSH_PORT", option]` (`-p 57002`, or `""`).
    Instructions(String),
    /// No port mappings and no `SSH_PORT` placeholder: port 22.
    Nothing,
}

#[derive(Debug, Clone)]
struct Instance {
    id: String,
    variant: String,
    datacenter: String,
    n: u64,
    status: &'static str,
    polled: u32,
    boots_in: u32,
    stalls: bool,
    fails: bool,
    ssh: SshPublished,
}

#[derive(Debug, Default)]
struct State {
    variants: Vec<Variant>,
    /// Variant → datacenter → rented nodes.
    rented: BTreeMap<String, BTreeMap<String, u32>>,
    recipes: Value,
    instances: BTreeMap<String, Instance>,
    next: u64,
    rent_failures: Vec<String>,
    rent_nothing: bool,
    ssh: Option<SshPublished>,
    boot_polls: u32,
    stall: bool,
    fail_next: bool,
    hold_terminate: bool,
}

fn error(status: u16, message: &str) -> Reply {
    Reply::status(status, json!({"error": message}))
}

/// The envelope's `data`, or why the request is refused.
fn data(request: &Recorded, strict: bool) -> Result<&Value, Reply> {
    let body = request.body.as_object().ok_or_else(|| error(400, "expected a JSON object"))?;
    if body.keys().next().map(String::as_str) != Some("version") {
        return Err(error(400, "the `version` field must come first"));
    }
    let version = body.get("version").and_then(Value::as_str).unwrap_or_default();
    if strict && version != API_VERSION {
        return Err(error(400, "unsupported version"));
    }
    Ok(body.get("data").unwrap_or(&Value::Null))
}

fn answer(data: Value) -> Reply {
    Reply::status(201, json!({"version": SERVER_VERSION, "data": data}))
}

/// An instance as `instances/list` shows it with `mask`.
fn instance_json(i: &Instance, connection: bool, credentials: bool) -> Value {
    let ready = i.status == "Active" && i.polled > i.boots_in;
    let state = match i.status {
        "Failed" => "Crashed",
        "Inactive" | "Deactivating" => "Shutoff",
        _ if ready => "Running",
        _ => "NoState",
    };
    let mut info = json!({
        "id": i.id, "status": i.status, "node_id": format!("f8c403e6-7101-11ee-b00d-{:012x}", i.n),
        "node_mode": "VirtualMachine", "node_status": "Ready", "containers": [],
        "virtual_machines": [{"vmid": i.n, "name": format!("vm-{}", i.n), "ready": ready, "state": state,
            "login_info": {"Username": {"username": "riftuser"}}}],
        "created_at": CREATED_AT, "ssh_key_auth": true,
    });
    if i.status == "Failed" {
        info["failure"] = json!({"id": format!("failure-{}", i.n), "cause": "VmBootFailed",
            "user_message": "The VM failed to boot", "occurred_at": CREATED_AT});
    }
    if !connection {
        return info;
    }
    let octet = i.n % 250 + 2;
    info["host_address"] = if ready { json!(format!("203.0.113.{octet}")) } else { Value::Null };
    info["internal_host_address"] = json!(format!("172.154.10.{octet}"));
    let mut placeholders = vec![json!(["USERNAME", "riftuser"])];
    match (&i.ssh, ready) {
        (_, false) => info["port_mappings"] = json!([]),
        (SshPublished::PortMapping(port), true) => {
            info["port_mappings"] = json!([[22, port], [80, port + 1]]);
            placeholders.push(json!(["SSH_PORT", format!("-p {port}")]));
        }
        (SshPublished::Instructions(option), true) => {
            info["port_mappings"] = json!([]);
            placeholders.push(json!(["SSH_PORT", option]));
        }
        (SshPublished::Nothing, true) => {}
    }
    if credentials {
        let template: Vec<u8> = b"ssh riftuser@{HOST} {SSH_PORT}".to_vec();
        info["instructions"] =
            json!({"instructions_template": template, "placeholder_values": placeholders});
    }
    info
}

impl State {
    fn variant_mut(&mut self, name: &str) -> Option<&mut Variant> {
        self.variants.iter_mut().find(|v| v.name == name)
    }

    fn instance_types(&self) -> Value {
        let mut types: Vec<(String, Vec<&Variant>)> = Vec::new();
        for v in &self.variants {
            match types.iter_mut().find(|(name, _)| name == v.type_name()) {
                Some((_, list)) => list.push(v),
                None => types.push((v.type_name().to_owned(), vec![v])),
            }
        }
        let none = BTreeMap::new();
        let listed: Vec<Value> = types.iter().map(|(name, list)| {
            let dcs: Vec<Value> = list.iter().flat_map(|v| v.free.iter()).map(|(dc, _)| {
                json!({"name": dc, "provider_name": "CloudRift", "country_code": "US"})
            }).collect();
            let maker = if list[0].brand.starts_with("MI") { "AMD" } else { "Nvidia" };
            json!({"name": name, "brand_short": list[0].brand, "manufacturer": maker,
                "cost_per_hour": list[0].cents_per_hour, "datacenters": dcs,
                "variants": list.iter().map(|v| v.to_json(self.rented.get(&v.name).unwrap_or(&none))).collect::<Vec<_>>()})
        }).collect();
        json!({"instance_types": listed})
    }

    fn rent(&mut self, data: &Value) -> Reply {
        if let Some(message) = self.rent_failures.pop() {
            return error(400, &message);
        }
        let selector = &data["selector"]["ByInstanceTypeAndLocation"];
        let variant = selector["instance_type"].as_str().unwrap_or_default().to_owned();
        let dc = selector["datacenters"][0].as_str().unwrap_or_default().to_owned();
        if data["config"]["VirtualMachine"]["image_url"].as_str().is_none_or(str::is_empty) {
            return error(400, "image_url is required");
        }
        let rent_nothing = std::mem::take(&mut self.rent_nothing);
        let Some(v) = self.variant_mut(&variant) else {
            return error(400, &format!("Instance type {variant} not found"));
        };
        let Some((_, free)) = v.free.iter_mut().find(|(d, n)| *d == dc && *n > 0) else {
            return error(400, &format!("No available nodes for {variant} in {dc}"));
        };
        if rent_nothing {
            return answer(json!({"instance_ids": []}));
        }
        *free -= 1;
        *self.rented.entry(variant.clone()).or_default().entry(dc.clone()).or_default() += 1;
        self.next += 1;
        let n = self.next;
        let id = format!("{n:08x}-4b3b-4b3b-8b3b-4b3b4b3b4b3b");
        let instance = Instance {
            id: id.clone(),
            variant,
            datacenter: dc,
            n,
            status: "Initializing",
            polled: 0,
            boots_in: self.boot_polls,
            stalls: self.stall,
            fails: std::mem::take(&mut self.fail_next),
            ssh: self.ssh.clone().unwrap_or(SshPublished::PortMapping(57000 + n as u16)),
        };
        self.instances.insert(id.clone(), instance);
        answer(json!({"instance_ids": [id]}))
    }

    /// The instances a selector names, as they are after this poll.
    fn list(&mut self, data: &Value) -> Reply {
        let selector = &data["selector"];
        let ids: Option<Vec<&str>> =
            selector["ById"].as_array().map(|a| a.iter().filter_map(Value::as_str).collect());
        let statuses: Vec<&str> = selector["ByStatus"]["statuses"]
            .as_array()
            .map(|a| a.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        let (connection, credentials) = (
            data["mask"]["with_connection_info"] == json!(true),
            data["mask"]["with_credentials"] == json!(true),
        );
        let mut listed = Vec::new();
        for i in self.instances.values_mut() {
            let named = match &ids {
                Some(ids) => ids.contains(&i.id.as_str()),
                None => statuses.contains(&i.status),
            };
            if !named {
                continue;
            }
            if matches!(i.status, "Initializing" | "Active") {
                i.polled += 1;
                i.status = match () {
                    _ if i.fails => "Failed",
                    _ if !i.stalls && i.polled > i.boots_in => "Active",
                    _ => "Initializing",
                };
            }
            listed.push(instance_json(i, connection, credentials));
        }
        answer(json!({"instances": listed}))
    }

    fn terminate(&mut self, data: &Value) -> Reply {
        let ids: Vec<String> = data["selector"]["ById"]
            .as_array()
            .map(|a| a.iter().filter_map(Value::as_str).map(str::to_owned).collect())
            .unwrap_or_default();
        let hold = std::mem::take(&mut self.hold_terminate);
        let mut terminated = Vec::new();
        for id in ids {
            let Some(i) = self.instances.get_mut(&id) else { continue };
            if i.status == "Inactive" || (hold && i.status == "Deactivating") {
                continue;
            }
            if hold {
                i.status = "Deactivating";
                continue;
            }
            i.status = "Inactive";
            terminated.push(instance_json(i, true, false));
            let (variant, dc) = (i.variant.clone(), i.datacenter.clone());
            if let Some(n) = self.rented.get_mut(&variant).and_then(|m| m.get_mut(&dc)) {
                *n -= 1;
            }
            if let Some(v) = self.variant_mut(&variant)
                && let Some((_, free)) = v.free.iter_mut().find(|(d, _)| *d == dc)
            {
                *free += 1;
            }
        }
        answer(json!({"terminated": terminated}))
    }
}

/// A running fake of CloudRift's API; stopped when dropped.
#[derive(Debug)]
pub struct FakeCloudRift {
    pub api: FakeApi,
    state: Arc<Mutex<State>>,
}

fn lock(state: &Mutex<State>) -> MutexGuard<'_, State> {
    state.lock().unwrap_or_else(|e| e.into_inner())
}

/// Starts a fake accepting `keys` (as `X-API-Key`) and renting `variants`. Instances are
/// ready, with an address and port mappings, from their second poll on.
pub async fn start(keys: &[&str], variants: Vec<Variant>) -> FakeCloudRift {
    let spec = Spec::load(SPEC.0, SPEC.1);
    let state = Arc::new(Mutex::new(State {
        variants,
        recipes: recipes(),
        boot_polls: 1,
        ..State::default()
    }));
    let mut builder = FakeApi::builder().openapi(spec).unauthorized(error(401, "Invalid API key"));
    for key in keys {
        builder = builder.header_auth("X-API-Key", key);
    }
    type Handler = fn(&mut State, &Value) -> Reply;
    let routes: [(&str, bool, Handler); 6] = [
        ("auth/me", false, |_, _| {
            Reply::json(json!({"version": SERVER_VERSION, "data": {
                "id": "0c6d3c2e-2f4a-4a8e-9a51-6c1f3f1f9e10", "email": "ml-team@example.com",
                "name": "ML Team", "provider": "CloudRift", "totp_enabled": false}}))
        }),
        ("instance-types/list", false, |state, _| answer(state.instance_types())),
        ("recipes/list", true, |state, _| answer(state.recipes.clone())),
        ("instances/rent", true, State::rent),
        ("instances/list", true, State::list),
        ("instances/terminate", true, State::terminate),
    ];
    for (method, strict, handler) in routes {
        let state = state.clone();
        builder =
            builder.route("POST", &format!("/api/v1/{method}"), move |r| match data(r, strict) {
                Ok(data) => handler(&mut lock(&state), data),
                Err(refused) => refused,
            });
    }
    FakeCloudRift { api: builder.start().await, state }
}

impl FakeCloudRift {
    /// The base URL: what `DSTACK_CLOUDRIFT_API_URL` takes (dstack's
    /// `CLOUDRIFT_SERVER_ADDRESS`, below which the calls are `/api/v1/...`).
    pub fn url(&self) -> &str {
        self.api.url()
    }

    fn state(&self) -> MutexGuard<'_, State> {
        lock(&self.state)
    }

    /// The instances that are not `Inactive`: `instance <id> <variant> <datacenter> <status>`.
    pub fn live(&self) -> Vec<String> {
        let state = self.state();
        let live = state.instances.values().filter(|i| i.status != "Inactive");
        live.map(|i| format!("instance {} {} {} {}", i.id, i.variant, i.datacenter, i.status))
            .collect()
    }

    /// Sets the free nodes of `variant` in `datacenter`.
    pub fn set_free(&self, variant: &str, datacenter: &str, nodes: u32) {
        let mut state = self.state();
        let Some(v) = state.variant_mut(variant) else { return };
        match v.free.iter_mut().find(|(dc, _)| dc == datacenter) {
            Some((_, free)) => *free = nodes,
            None => v.free.push((datacenter.to_owned(), nodes)),
        }
    }

    /// Replaces what `recipes/list` answers (`{"groups": [...], "other_recipes": [...]}`).
    pub fn set_recipes(&self, recipes: Value) {
        self.state().recipes = recipes;
    }

    /// The next rent answers 400 with `message` (as when a node was taken meanwhile).
    pub fn fail_next_rent(&self, message: &str) {
        self.state().rent_failures.push(message.to_owned());
    }

    /// The next rent is accepted but rents nothing (`instance_ids: []`).
    pub fn rent_nothing_next(&self) {
        self.state().rent_nothing = true;
    }

    /// How instances rented from now on publish their SSH port.
    pub fn publish_ssh(&self, published: SshPublished) {
        self.state().ssh = Some(published);
    }

    /// New instances are ready after `polls` more polls (default 1).
    pub fn boot_after(&self, polls: u32) {
        self.state().boot_polls = polls;
    }

    /// New instances never get ready.
    pub fn stall_instances(&self, stall: bool) {
        self.state().stall = stall;
    }

    /// The next instance fails to boot: `Failed` at its first poll.
    pub fn fail_next_instance(&self) {
        self.state().fail_next = true;
    }

    /// The next terminate only starts: it answers `terminated: []` and leaves the instance
    /// `Deactivating` until terminated again.
    pub fn hold_next_terminate(&self) {
        self.state().hold_terminate = true;
    }
}
