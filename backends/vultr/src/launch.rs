//! What dstack sends to create a Vultr machine: its label, the cloud-init user data (the
//! firewall open to the VPC's subnet only) and the create request with the image dstack picks.

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use dstack_core::offers::InstanceConfiguration;
use dstack_core::provisioning::{AgentDownloads, user_data};
use rand::Rng;
use serde_json::{Value, json};

use crate::client::Kind;

/// dstack's `MAX_INSTANCE_NAME_LEN` for Vultr labels.
pub const MAX_LABEL_LEN: usize = 64;
const SUFFIX_LEN: usize = 8;
/// Ubuntu 22.04 x64: dstack's image for Cloud GPU (`vcg`) plans, Docker included.
pub const UBUNTU_2204_OS_ID: i64 = 1743;
/// The "Docker on Ubuntu 22.04" marketplace image: dstack's image for every other plan.
pub const DOCKER_IMAGE_ID: &str = "docker";
/// The subnets dstack's user data lets in by default; Vultr's lets in the VPC's only.
const DEFAULT_SUBNETS: [&str; 3] = ["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16"];

/// dstack's `generate_unique_instance_name(max_length=64)`: `dstack-[<project>-]<name>`, cut to
/// leave room for `-` and 8 random characters. The project is left out when it is not a
/// valid dstack resource name (`^[a-z][a-z0-9-]{1,40}$`).
pub fn label(config: &InstanceConfiguration) -> String {
    let project = &config.project_name;
    let valid = (2..=41).contains(&project.len())
        && project.starts_with(|c: char| c.is_ascii_lowercase())
        && project.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
    let mut prefix = if valid {
        format!("dstack-{project}-{}", config.instance_name)
    } else {
        format!("dstack-{}", config.instance_name)
    };
    let keep = MAX_LABEL_LEN - SUFFIX_LEN - 1;
    if prefix.len() > keep {
        let mut end = keep;
        while !prefix.is_char_boundary(end) {
            end -= 1;
        }
        prefix.truncate(end);
    }
    const CHARS: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
    let mut rng = rand::rng();
    let suffix: String =
        (0..SUFFIX_LEN).map(|_| CHARS[rng.random_range(0..CHARS.len())] as char).collect();
    format!("{prefix}-{suffix}")
}

/// `a.b.c.d/n`, when `subnet` and `mask` make one.
pub fn cidr(subnet: Option<&str>, mask: Option<u32>) -> Option<String> {
    let (subnet, mask) = (subnet?, mask.filter(|m| *m <= 32)?);
    let octets: Vec<&str> = subnet.split('.').collect();
    let valid = octets.len() == 4 && octets.iter().all(|o| o.parse::<u8>().is_ok());
    valid.then(|| format!("{subnet}/{mask}"))
}

/// dstack's `get_user_data(authorized_keys, firewall_allow_from_subnets=[<vpc subnet>])`:
/// the kit's user data with the firewall open to `subnet` instead of the private ranges.
pub fn vultr_user_data(
    keys: &[String],
    downloads: &AgentDownloads,
    subnet: Option<&str>,
) -> String {
    let data = user_data(keys, downloads, false);
    let Some(subnet) = subnet else {
        tracing::warn!("the VPC has no IPv4 subnet; the firewall lets the private ranges in");
        return data;
    };
    let defaults = DEFAULT_SUBNETS.map(|s| format!("ufw allow from {s}")).join(" && ");
    if !data.contains(&defaults) {
        tracing::warn!("the user data has no default firewall rules to replace");
        return data;
    }
    data.replacen(&defaults, &format!("ufw allow from {subnet}"), 1)
}

/// dstack's create request: bare metal (`vbm`) and plain plans get the Docker image, Cloud GPU
/// (`vcg`) plans Ubuntu 22.04 (Docker is on NVIDIA's GPU images). User data is base64.
pub fn request(
    region: &str,
    plan: &str,
    label: &str,
    user_data: &str,
    vpc_id: &str,
) -> (Kind, Value) {
    let kind = Kind::of_plan(plan);
    let mut body = json!({
        "region": region,
        "plan": plan,
        "label": label,
        "user_data": BASE64.encode(user_data),
        "attach_vpc": [vpc_id],
    });
    if kind == Kind::Instance && plan.contains("vcg") {
        body["os_id"] = json!(UBUNTU_2204_OS_ID);
    } else {
        body["image_id"] = json!(DOCKER_IMAGE_ID);
    }
    (kind, body)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(project: &str, name: &str) -> InstanceConfiguration {
        InstanceConfiguration {
            project_name: project.to_owned(),
            instance_name: name.to_owned(),
            instance_id: "id".to_owned(),
            ssh_keys: vec![],
            user: "admin".to_owned(),
            reservation: None,
            placement_group: None,
            tags: None,
        }
    }

    #[test]
    fn labels_are_unique_and_at_most_64_characters() {
        let a = label(&config("main", "fleet-0"));
        assert!(
            a.starts_with("dstack-main-fleet-0-") && a.len() == "dstack-main-fleet-0-".len() + 8
        );
        assert_ne!(a, label(&config("main", "fleet-0")));
        assert!(label(&config("Main_Project", "fleet-0")).starts_with("dstack-fleet-0-"));
        assert_eq!(label(&config("main", &"x".repeat(100))).len(), MAX_LABEL_LEN);
    }

    #[test]
    fn subnets_are_checked_and_images_follow_the_plan() {
        assert_eq!(cidr(Some("10.1.96.0"), Some(20)).as_deref(), Some("10.1.96.0/20"));
        assert_eq!(cidr(Some("10.1.96.0\"; rm"), Some(20)), None);
        assert_eq!(cidr(Some("10.1.96.0"), None), None);
        let (kind, body) = request("ewr", "vbm-8c-132gb", "l", "u", "v");
        assert_eq!(
            (kind, &body["image_id"], &body["os_id"]),
            (Kind::BareMetal, &json!("docker"), &Value::Null)
        );
        let (kind, body) = request("ewr", "vcg-a100-3c-30g-20vram", "l", "u", "v");
        assert_eq!((kind, &body["os_id"]), (Kind::Instance, &json!(1743)));
        assert_eq!(body["user_data"], "dQ==");
        let (_, body) = request("ewr", "vc2-1c-1gb", "l", "u", "v");
        assert_eq!((&body["image_id"], &body["attach_vpc"]), (&json!("docker"), &json!(["v"])));
    }
}
