//! The fake's answers, route by route: the main host's (user, offers, SSH keys, instances)
//! and each region host's (VM create, destroy, status).

use serde_json::{Value, json};

use super::{CreateFault, Key, LOGIN_USER, Machine, Outcome, REGIONS, State, VPC_REGIONS};
use crate::{Recorded, Reply};

const GPU_CREATE_KEYS: [&str; 13] = [
    "gpu_type",
    "num_gpus",
    "hdd",
    "region",
    "name",
    "is_spot",
    "duration",
    "disk_type",
    "http_ports",
    "script_id",
    "script_args",
    "fs_id",
    "arguments",
];
const CPU_CREATE_KEYS: [&str; 8] =
    ["num_cpus", "vcpus", "ram_gb", "hdd", "region", "name", "duration", "disk_type"];

fn refuse(status: u16, detail: &str) -> Reply {
    Reply::status(status, json!({"detail": detail}))
}

fn not_found() -> Reply {
    refuse(404, "Not Found")
}

fn success() -> Reply {
    Reply::json(json!({"success": true}))
}

/// The request's `machine_id` query parameter.
fn machine_id(request: &Recorded) -> Option<u64> {
    let query = request.query.as_deref()?;
    query.split('&').find_map(|pair| pair.strip_prefix("machine_id=")?.parse().ok())
}

/// The region of a region host's route, if the fake has that host.
fn host_region(request: &Recorded) -> Option<&str> {
    let region = request.params.get("region")?.as_str();
    REGIONS.contains(&region).then_some(region)
}

/// Keys of `body` other than `expected`, and `expected` keys it lacks.
fn body_problem(body: &Value, expected: &[&str]) -> Option<String> {
    let Some(body) = body.as_object() else { return Some("a JSON object is required".into()) };
    let extra: Vec<&String> = body.keys().filter(|k| !expected.contains(&k.as_str())).collect();
    let missing: Vec<&&str> = expected.iter().filter(|k| !body.contains_key(**k)).collect();
    (!extra.is_empty() || !missing.is_empty())
        .then(|| format!("unexpected fields {extra:?}, missing fields {missing:?}"))
}

pub(super) fn user_info(_: &mut State, _: &Recorded) -> Reply {
    Reply::json(json!({"user_id": "fake-user", "name": "Fake User", "country": "IN"}))
}

pub(super) fn server_meta(state: &mut State, _: &Recorded) -> Reply {
    Reply::json(state.meta.clone())
}

pub(super) fn ssh_keys(state: &mut State, _: &Recorded) -> Reply {
    let keys: Vec<Value> = state
        .keys
        .iter()
        .map(|k| json!({"ssh_key": k.key, "key_name": k.name, "key_id": k.id, "user_id": "fake-user"}))
        .collect();
    Reply::json(json!(keys))
}

pub(super) fn add_ssh_key(state: &mut State, request: &Recorded) -> Reply {
    if let Some(problem) = body_problem(&request.body, &["ssh_key", "key_name"]) {
        return refuse(422, &problem);
    }
    let (key, name) = (&request.body["ssh_key"], &request.body["key_name"]);
    let (Some(key), Some(name)) = (key.as_str(), name.as_str()) else {
        return refuse(422, "ssh_key and key_name are strings");
    };
    if !["ssh-", "ecdsa-", "sk-"].iter().any(|p| key.starts_with(p)) {
        return refuse(400, "Invalid SSH public key");
    }
    if state.keys.iter().any(|k| k.name == name) {
        return refuse(400, "Key name already exists");
    }
    if state.keys.len() >= state.key_limit {
        return refuse(400, &format!("SSH key limit reached ({})", state.key_limit));
    }
    let id = state.key_id();
    state.keys.push(Key { id, name: name.to_owned(), key: key.to_owned() });
    success()
}

pub(super) fn delete_ssh_key(state: &mut State, request: &Recorded) -> Reply {
    let before = state.keys.len();
    state.keys.retain(|k| k.id != request.params["id"]);
    if state.keys.len() == before { refuse(404, "not found") } else { success() }
}

/// A fetch moves a VM along: `Running`, with its address, at its N-th fetch.
pub(super) fn instance(state: &mut State, request: &Recorded) -> Reply {
    let id = request.params["id"].parse::<u64>().ok();
    let Some(machine) = id.and_then(|id| state.machines.get_mut(&id)) else {
        return refuse(404, "Instance not found");
    };
    if machine.outcome == Outcome::Ready && machine.row["status"] == "Creating" {
        machine.fetches_left = machine.fetches_left.saturating_sub(1);
        if machine.fetches_left == 0 {
            machine.row["status"] = json!("Running");
            machine.row["public_ip"] = json!("127.0.0.1");
            machine.row["ssh_str"] =
                json!(format!("ssh -o StrictHostKeyChecking=no {LOGIN_USER}@127.0.0.1"));
        }
    }
    Reply::json(json!({"success": true, "instance": machine.row}))
}

pub(super) fn instances(state: &mut State, _: &Recorded) -> Reply {
    let rows: Vec<&Value> = state.machines.values().map(|m| &m.row).collect();
    Reply::json(json!({"success": true, "instances": rows}))
}

/// What may refuse a create before anything is made: the host, the account's keys, a
/// queued fault, the disk and the name.
fn precheck(state: &mut State, request: &Recorded, keys: &[&str]) -> Result<String, Reply> {
    let Some(region) = host_region(request) else { return Err(not_found()) };
    if let Some(problem) = body_problem(&request.body, keys) {
        return Err(refuse(422, &problem));
    }
    let body = &request.body;
    if body["region"] != region {
        return Err(refuse(400, &format!("This host serves {region}, not {}", body["region"])));
    }
    if state.keys.is_empty() {
        return Err(refuse(400, "No SSH key on the account. Add one before creating a VM"));
    }
    if let Some(CreateFault::Refuse(status, message)) = state.create_faults.front().cloned() {
        state.create_faults.pop_front();
        return Err(refuse(status, &message));
    }
    if body["hdd"].as_u64().is_none_or(|hdd| hdd < 100) {
        return Err(refuse(400, "VM storage must be at least 100GB"));
    }
    let name = body["name"].as_str().unwrap_or_default();
    if name.is_empty() || name.chars().count() > 40 {
        return Err(refuse(422, "name must have 1 to 40 characters"));
    }
    Ok(region.to_owned())
}

/// Stores the VM (or its failure) and answers with its `machine_id`.
fn create(state: &mut State, region: &str, gpu_type: &str, mut row: Value) -> Reply {
    let id = state.id();
    let outcome = state.next_outcome.take().unwrap_or(Outcome::Ready);
    let lost = matches!(state.create_faults.front(), Some(CreateFault::LoseAnswer));
    if lost {
        state.create_faults.pop_front();
    }
    if let Outcome::Fails(error, code) = &outcome {
        state.failed.insert(id, (region.to_owned(), error.clone(), *code));
    } else {
        let vpc = VPC_REGIONS.contains(&region);
        row["machine_id"] = json!(id);
        row["region"] = json!(region);
        row["status"] = json!("Creating");
        row["template"] = json!("vm");
        row["public_ip"] = Value::Null;
        row["ssh_str"] = Value::Null;
        row["private_ip"] = json!(format!("10.10.{}.{}", id % 200, id % 250 + 2));
        row["vpc_id"] = if vpc { json!(format!("vpc-{region}-default")) } else { Value::Null };
        row["disk_type"] = json!("ssd");
        row["cost"] = json!(0.0);
        row["user_id"] = json!("fake-user");
        let fetches_left = state.fetches_until_running.max(1);
        let (region, gpu_type) = (region.to_owned(), gpu_type.to_owned());
        state.machines.insert(id, Machine { id, region, gpu_type, row, fetches_left, outcome });
    }
    if lost {
        return refuse(500, "Internal Server Error");
    }
    Reply::json(json!({"machine_id": id}))
}

pub(super) fn create_gpu_vm(state: &mut State, request: &Recorded) -> Reply {
    let region = match precheck(state, request, &GPU_CREATE_KEYS) {
        Ok(region) => region,
        Err(reply) => return reply,
    };
    let body = &request.body;
    let gpu_type = body["gpu_type"].as_str().unwrap_or_default();
    let rows = state.meta["server_meta"].as_array().cloned().unwrap_or_default();
    let Some(row) = rows.iter().find(|r| {
        r["region"] == region
            && r["gpu_type"] == gpu_type
            && (r["workload_type"].is_null() || r["workload_type"] == "vm")
    }) else {
        return refuse(400, &format!("Invalid gpu_type {gpu_type} for VMs in {region}"));
    };
    let number = |v: &Value| v.as_u64().or_else(|| v.as_str().and_then(|s| s.parse().ok()));
    let free = number(&row["effective_num_free_devices"]).unwrap_or(0);
    let per_instance = number(&row["num_gpus"]).unwrap_or(1);
    let wanted = body["num_gpus"].as_u64().unwrap_or(0);
    if wanted == 0 || wanted > free.min(per_instance) {
        return refuse(
            400,
            &format!("{gpu_type} not available at this moment, please try again later"),
        );
    }
    let vm = json!({
        "name": body["name"], "gpu_type": gpu_type, "num_gpus": wanted,
        "cores": number(&row["cpus_per_gpu"]).unwrap_or(0) * wanted,
        "ram": number(&row["ram_per_gpu"]).unwrap_or(0) * wanted,
        "storage_gb": body["hdd"], "is_spot": body["is_spot"], "http_ports": body["http_ports"],
    });
    create(state, &region, gpu_type, vm)
}

pub(super) fn create_cpu_vm(state: &mut State, request: &Recorded) -> Reply {
    let region = match precheck(state, request, &CPU_CREATE_KEYS) {
        Ok(region) => region,
        Err(reply) => return reply,
    };
    let body = &request.body;
    if body["num_cpus"] != 1 {
        return refuse(400, "num_cpus must be 1");
    }
    let combos = state.meta["cpu_meta"]["combinations"].as_array().cloned().unwrap_or_default();
    let plan = combos.iter().any(|c| {
        c["vcpus"] == body["vcpus"]
            && c["ram_gb"] == body["ram_gb"]
            && c["available"] == true
            && c["regions"][region.as_str()] == true
    });
    if !plan {
        return refuse(400, &format!("CPU VM plan not available in {region}"));
    }
    let vm = json!({
        "name": body["name"], "gpu_type": "CPU", "num_gpus": 0, "cores": body["vcpus"],
        "ram": body["ram_gb"], "storage_gb": body["hdd"], "is_spot": false,
    });
    create(state, &region, "CPU", vm)
}

/// Destroys a VM on its own region's host through the endpoint of its kind.
fn destroy(state: &mut State, request: &Recorded, kind: &str) -> Reply {
    let Some(region) = host_region(request) else { return not_found() };
    let Some(id) = machine_id(request) else { return refuse(422, "machine_id is required") };
    let Some(machine) = state.machines.get(&id).filter(|m| m.region == region) else {
        return refuse(404, "Machine not found");
    };
    let actual = if machine.gpu_type == "CPU" { "cpu" } else { "gpu" };
    if actual != kind {
        return refuse(400, &format!("Machine {id} is a {actual} VM; use its destroy endpoint"));
    }
    state.machines.remove(&id);
    success()
}

pub(super) fn destroy_gpu_vm(state: &mut State, request: &Recorded) -> Reply {
    destroy(state, request, "gpu")
}

pub(super) fn destroy_cpu_vm(state: &mut State, request: &Recorded) -> Reply {
    destroy(state, request, "cpu")
}

/// `misc/destroy` is for containers; the fake has VMs only.
pub(super) fn destroy_other(state: &mut State, request: &Recorded) -> Reply {
    destroy(state, request, "container")
}

/// The region host's view of a create: how it is going, or why it failed.
pub(super) fn status(state: &mut State, request: &Recorded) -> Reply {
    let Some(region) = host_region(request) else { return not_found() };
    let Some(id) = machine_id(request) else { return refuse(422, "machine_id is required") };
    if let Some((_, error, code)) = state.failed.get(&id).filter(|(at, _, _)| at == region) {
        return Reply::json(json!({"status": "Failed", "error": error, "code": code}));
    }
    match state.machines.get(&id).filter(|m| m.region == region) {
        Some(machine) => {
            Reply::json(json!({"status": machine.row["status"], "error": null, "code": null}))
        }
        None => refuse(404, "Not found"),
    }
}
