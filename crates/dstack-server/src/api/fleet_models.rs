//! dstack's `Fleet` and `Instance`, field for field and in dstack's order, from the stored
//! rows.

use dstack_core::offers::{InstanceOfferWithAvailability, ProvisioningData};
use serde_json::{Value, json};

use super::models::timestamp;
use crate::store::{FleetRow, InstanceRow};

/// dstack's `Instance`. What the backend reported (instance type, hostname, zone) comes from
/// its provisioning data; backend, region and price from the offer taken.
pub fn instance(row: &InstanceRow, project_name: &str, fleet_name: &str) -> Value {
    let data: Option<ProvisioningData> =
        row.job_provisioning_data.as_deref().and_then(|d| serde_json::from_str(d).ok());
    let instance_type = data.as_ref().map(|d| json!(d.instance_type));
    let offer: Option<InstanceOfferWithAvailability> =
        row.offer.as_deref().and_then(|o| serde_json::from_str(o).ok());
    json!({
        "id": row.id,
        "project_name": project_name,
        "backend": row.backend,
        "instance_type": instance_type,
        "name": row.name,
        "fleet_id": row.fleet_id,
        "fleet_name": fleet_name,
        "instance_num": row.instance_num,
        "job_name": null,
        "hostname": data.as_ref().and_then(|d| d.hostname.clone()),
        "status": row.status,
        "unreachable": false,
        "health_status": "healthy",
        "termination_reason": row.termination_reason,
        "termination_reason_message": row.termination_reason_message,
        "created": timestamp(row.created_at),
        "finished_at": row.finished_at.map(timestamp),
        "region": row.region,
        "availability_zone": data.as_ref().and_then(|d| d.availability_zone.clone()),
        "price": offer.map(|o| o.offer.price),
        "total_blocks": 1,
        "busy_blocks": 0,
        "gpu_driver": null,
    })
}

/// dstack's `Fleet`, with its live instances by number.
pub fn fleet(row: &FleetRow, project_name: &str, instances: &[InstanceRow]) -> Value {
    let spec: Value = serde_json::from_str(&row.spec).unwrap_or(Value::Null);
    let instances: Vec<Value> =
        instances.iter().map(|i| instance(i, project_name, &row.name)).collect();
    json!({
        "id": row.id,
        "name": row.name,
        "project_name": project_name,
        "spec": spec,
        "created_at": timestamp(row.created_at),
        "status": row.status,
        "status_message": null,
        "instances": instances,
    })
}
