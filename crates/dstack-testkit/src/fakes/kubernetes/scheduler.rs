//! The cluster's controllers, as far as a backend sees them: the scheduler binds a pending
//! pod to the first node whose labels fit its `nodeSelector`, whose `NoSchedule`/`NoExecute`
//! taints it tolerates and whose allocatable still holds its requests (minus what the node's
//! live pods request); the kubelet then starts it (`Running`, IPs, container statuses) or,
//! when told, fails it.

use serde_json::{Value, json};

use super::objects::now;

/// Where a pending pod goes.
#[derive(Debug)]
pub(super) enum Placement {
    Node {
        name: String,
        ip: String,
    },
    /// No node fits: the scheduler's message.
    Unschedulable(String),
    /// Bound to a node that does not exist: it waits, as a real pod does.
    Waiting,
}

/// Where the scheduler puts `pod`, given the cluster's `nodes` and `pods`.
pub(super) fn place(pod: &Value, nodes: &[Value], pods: &[&Value]) -> Placement {
    let internal_ip = |node: &Value| {
        let addresses = node.pointer("/status/addresses").and_then(Value::as_array);
        let internal = addresses.into_iter().flatten().find(|a| a["type"] == "InternalIP");
        internal.and_then(|a| a["address"].as_str()).unwrap_or_default().to_owned()
    };
    let found = |node: &Value| Placement::Node {
        name: text(node, "/metadata/name"),
        ip: internal_ip(node),
    };
    let bound = text(pod, "/spec/nodeName");
    if !bound.is_empty() {
        return nodes
            .iter()
            .find(|n| text(n, "/metadata/name") == bound)
            .map_or(Placement::Waiting, found);
    }
    let (mut unmatched, mut tainted, mut insufficient) = (0, 0, Vec::new());
    for node in nodes {
        if !selected(pod, node) || node.pointer("/spec/unschedulable") == Some(&json!(true)) {
            unmatched += 1;
        } else if !tolerated(pod, node) {
            tainted += 1;
        } else if let Some(short) = shortage(pod, node, pods) {
            insufficient.push(short);
        } else {
            return found(node);
        }
    }
    let total = nodes.len();
    let mut reasons = Vec::new();
    if unmatched > 0 {
        reasons.push(format!("{unmatched} node(s) didn't match Pod's node affinity/selector"));
    }
    if tainted > 0 {
        reasons.push(format!("{tainted} node(s) had untolerated taint(s)"));
    }
    insufficient.sort();
    reasons.extend(insufficient.iter().map(|resource| format!("1 Insufficient {resource}")));
    let reasons =
        if reasons.is_empty() { String::new() } else { format!(" {}.", reasons.join(", ")) };
    Placement::Unschedulable(format!(
        "0/{total} nodes are available:{reasons} preemption: 0/{total} nodes are available: \
         {total} Preemption is not helpful for scheduling."
    ))
}

fn text(value: &Value, pointer: &str) -> String {
    value.pointer(pointer).and_then(Value::as_str).unwrap_or_default().to_owned()
}

fn selected(pod: &Value, node: &Value) -> bool {
    let selector = pod.pointer("/spec/nodeSelector").and_then(Value::as_object);
    let labels = node.pointer("/metadata/labels");
    selector
        .into_iter()
        .flatten()
        .all(|(key, value)| labels.and_then(|l| l.get(key)) == Some(value))
}

fn tolerated(pod: &Value, node: &Value) -> bool {
    let tolerations = pod.pointer("/spec/tolerations").and_then(Value::as_array);
    let tolerations = tolerations.map(Vec::as_slice).unwrap_or_default();
    let taints = node.pointer("/spec/taints").and_then(Value::as_array);
    taints.into_iter().flatten().filter(|t| t["effect"] != "PreferNoSchedule").all(|taint| {
        tolerations.iter().any(|t| {
            let key = t["key"].as_str().unwrap_or_default();
            let effect = t["effect"].as_str().unwrap_or_default();
            let exists = t["operator"] == "Exists";
            ((key.is_empty() && exists) || taint["key"] == key)
                && (exists
                    || t["value"].as_str().unwrap_or_default()
                        == taint["value"].as_str().unwrap_or_default())
                && (effect.is_empty() || taint["effect"] == effect)
        })
    })
}

/// The first resource `node` lacks for `pod`, beside what its live `pods` request.
fn shortage(pod: &Value, node: &Value, pods: &[&Value]) -> Option<String> {
    let name = text(node, "/metadata/name");
    let wanted = requests(pod);
    wanted.iter().find_map(|(resource, amount)| {
        let allocatable =
            node.pointer("/status/allocatable").and_then(|a| a.get(resource.as_str()));
        let allocatable = allocatable.and_then(Value::as_str).and_then(quantity).unwrap_or(0.0);
        let used: f64 = pods
            .iter()
            .filter(|p| text(p, "/spec/nodeName") == name && live(p))
            .flat_map(|p| requests(p))
            .filter(|(r, _)| r == resource)
            .map(|(_, amount)| amount)
            .sum();
        (used + amount > allocatable + 1e-9).then(|| resource.clone())
    })
}

/// Whether `pod` holds its node's resources (neither succeeded nor failed).
pub(super) fn live(pod: &Value) -> bool {
    !matches!(pod.pointer("/status/phase").and_then(Value::as_str), Some("Succeeded" | "Failed"))
}

/// What `pod` requests, summed over its containers.
fn requests(pod: &Value) -> Vec<(String, f64)> {
    let mut sum: Vec<(String, f64)> = Vec::new();
    let containers = pod.pointer("/spec/containers").and_then(Value::as_array);
    for container in containers.into_iter().flatten() {
        let requests = container.pointer("/resources/requests").and_then(Value::as_object);
        for (resource, amount) in requests.into_iter().flatten() {
            let amount = amount.as_str().and_then(quantity).unwrap_or(0.0);
            match sum.iter_mut().find(|(r, _)| r == resource) {
                Some((_, total)) => *total += amount,
                None => sum.push((resource.clone(), amount)),
            }
        }
    }
    sum
}

/// A resource quantity (`500m`, `4Gi`, `1e3`, `2`) as a number.
pub(super) fn quantity(text: &str) -> Option<f64> {
    const SUFFIXES: [(&str, f64); 14] = [
        ("Ki", 1024.0),
        ("Mi", 1_048_576.0),
        ("Gi", 1_073_741_824.0),
        ("Ti", 1_099_511_627_776.0),
        ("Pi", 1_125_899_906_842_624.0),
        ("Ei", 1_152_921_504_606_846_976.0),
        ("n", 1e-9),
        ("u", 1e-6),
        ("m", 1e-3),
        ("k", 1e3),
        ("M", 1e6),
        ("G", 1e9),
        ("T", 1e12),
        ("P", 1e15),
    ];
    let text = text.trim();
    for (suffix, factor) in SUFFIXES.iter().chain(&[("E", 1e18)]) {
        if let Some(number) = text.strip_suffix(suffix) {
            return number.parse::<f64>().ok().map(|n| n * factor);
        }
    }
    text.parse().ok()
}

/// The kubelet starts `pod` on the node at `host_ip` with `pod_ip`.
pub(super) fn run(pod: &mut Value, node: &str, host_ip: &str, pod_ip: &str) {
    let started = now();
    pod["spec"]["nodeName"] = json!(node);
    let containers = pod.pointer("/spec/containers").and_then(Value::as_array).cloned();
    let statuses: Vec<Value> = containers
        .into_iter()
        .flatten()
        .map(|c| {
            let image = c["image"].as_str().unwrap_or_default();
            json!({
                "name": c["name"], "ready": true, "started": true, "restartCount": 0,
                "image": image, "imageID": "",
                "containerID": format!("containerd://{}", super::objects::uid().replace('-', "")),
                "state": {"running": {"startedAt": started}},
            })
        })
        .collect();
    let condition =
        |kind: &str| json!({"type": kind, "status": "True", "lastTransitionTime": started});
    let kinds =
        ["PodReadyToStartContainers", "Initialized", "Ready", "ContainersReady", "PodScheduled"];
    let conditions = kinds.map(condition);
    let qos = pod.pointer("/status/qosClass").cloned().unwrap_or(json!("BestEffort"));
    pod["status"] = json!({
        "phase": "Running",
        "conditions": conditions,
        "hostIP": host_ip, "hostIPs": [{"ip": host_ip}],
        "podIP": pod_ip, "podIPs": [{"ip": pod_ip}],
        "startTime": started,
        "containerStatuses": statuses,
        "qosClass": qos,
    });
}

/// The kubelet refuses `pod` on the node at `host_ip`: `Failed` with `reason` and `message`.
pub(super) fn fail(pod: &mut Value, node: &str, host_ip: &str, reason: &str, message: &str) {
    let at = now();
    pod["spec"]["nodeName"] = json!(node);
    let qos = pod.pointer("/status/qosClass").cloned().unwrap_or(json!("BestEffort"));
    pod["status"] = json!({
        "phase": "Failed", "reason": reason, "message": message,
        "conditions": [
            {"type": "PodScheduled", "status": "True", "lastTransitionTime": at},
            {"type": "Ready", "status": "False", "reason": "PodFailed", "lastTransitionTime": at},
        ],
        "hostIP": host_ip, "hostIPs": [{"ip": host_ip}],
        "startTime": at,
        "qosClass": qos,
    });
}

/// The scheduler's verdict on a pod it cannot place: `PodScheduled` `False`, `Unschedulable`.
/// Whether the pod changed.
pub(super) fn unschedulable(pod: &mut Value, message: &str) -> bool {
    let condition = json!({
        "type": "PodScheduled", "status": "False", "reason": "Unschedulable",
        "message": message, "lastTransitionTime": now(),
    });
    let same = pod.pointer("/status/conditions/0/message").and_then(Value::as_str) == Some(message);
    if !same {
        pod["status"]["conditions"] = json!([condition]);
    }
    !same
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fakes::kubernetes::objects::{NodeShape, node, running_pod};

    #[test]
    fn quantities_are_read_with_their_suffixes() {
        assert_eq!(quantity("500m"), Some(0.5));
        assert_eq!(quantity("4Gi"), Some(4.0 * 1_073_741_824.0));
        assert_eq!(quantity("2"), Some(2.0));
        assert_eq!(quantity("1e3"), Some(1000.0));
        assert_eq!(quantity("1k"), Some(1000.0));
        assert_eq!(quantity("x"), None);
    }

    #[test]
    fn the_scheduler_respects_selectors_taints_and_requests() {
        let taint = json!({"key": "nvidia.com/gpu", "effect": "NoSchedule"});
        let gpu = node(&NodeShape {
            name: "gpu",
            extended: &[("nvidia.com/gpu", "2")],
            labels: &[("pool", "gpu")],
            taints: std::slice::from_ref(&taint),
            ..NodeShape::default()
        });
        let cpu = node(&NodeShape { name: "cpu", ..NodeShape::default() });
        let nodes = [cpu, gpu];
        let mut pod = json!({"spec": {"nodeSelector": {"pool": "gpu"}, "containers": [
            {"name": "c", "resources": {"requests": {"nvidia.com/gpu": "2"}}}]}});
        let Placement::Unschedulable(why) = place(&pod, &nodes, &[]) else { panic!("tainted") };
        assert!(why.starts_with("0/2 nodes are available: 1 node(s) didn't match"), "{why}");
        pod["spec"]["tolerations"] = json!([{"key": "nvidia.com/gpu", "operator": "Exists"}]);
        let Placement::Node { name, ip } = place(&pod, &nodes, &[]) else { panic!("fits") };
        assert_eq!(name, "gpu");
        assert!(ip.starts_with("10.0.0."), "{ip}");
        let busy = running_pod("default", "other", "gpu", &[("nvidia.com/gpu", "1")]);
        let Placement::Unschedulable(why) = place(&pod, &nodes, &[&busy]) else { panic!("taken") };
        assert!(why.contains("1 Insufficient nvidia.com/gpu"), "{why}");
    }
}
