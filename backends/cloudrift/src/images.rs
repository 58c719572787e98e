//! The VM image dstack 0.22.5 boots on CloudRift: among the recipes of the `Linux` group
//! tagged `VM`, those with VM details, the driver tag of the offer's GPU vendor
//! (`amd-driver` for AMD, `nvidia-driver` otherwise, CPU-only included) and `Ubuntu` in the
//! name; the newest Ubuntu version wins (`... 24.04 ...`), the later recipe on a tie.

use dstack_core::offers::AcceleratorVendor;
use serde_json::Value;

/// The image URL for `vendor`'s GPUs, if the recipe groups have one.
pub fn vm_image_url(groups: &[Value], vendor: Option<AcceleratorVendor>) -> Option<String> {
    let driver = match vendor {
        Some(AcceleratorVendor::Amd) => "amd-driver",
        _ => "nvidia-driver",
    };
    let mut best: Option<((u64, u64), String)> = None;
    for recipe in vm_recipes(groups) {
        let tags = recipe.get("tags").and_then(Value::as_array);
        if !tags.is_some_and(|tags| tags.iter().any(|t| t.as_str() == Some(driver))) {
            continue;
        }
        let name = recipe.get("name").and_then(Value::as_str).unwrap_or_default();
        if !name.contains("Ubuntu") {
            continue;
        }
        let url = recipe
            .pointer("/details/VirtualMachine/image_url")
            .and_then(Value::as_str)
            .filter(|url| !url.is_empty());
        if let (Some(url), Some(version)) = (url, ubuntu_version(name))
            && best.as_ref().is_none_or(|(newest, _)| version >= *newest)
        {
            best = Some((version, url.to_owned()));
        }
    }
    best.map(|(_, url)| url)
}

/// The recipes of the `Linux` group (any case) tagged `vm` (any case) that describe a VM.
fn vm_recipes(groups: &[Value]) -> impl Iterator<Item = &Value> {
    groups
        .iter()
        .filter(|group| {
            let name = group.get("name").and_then(Value::as_str).unwrap_or_default();
            let tags = group.get("tags").and_then(Value::as_array);
            name.eq_ignore_ascii_case("linux")
                && tags.is_some_and(|tags| {
                    tags.iter().any(|t| t.as_str().is_some_and(|t| t.eq_ignore_ascii_case("vm")))
                })
        })
        .flat_map(|group| group.get("recipes").and_then(Value::as_array).into_iter().flatten())
        .filter(|recipe| recipe.pointer("/details/VirtualMachine").is_some_and(truthy))
}

/// Python's truth of a JSON value, as dstack tests `details.get("VirtualMachine", False)`.
fn truthy(value: &Value) -> bool {
    match value {
        Value::Null => false,
        Value::Bool(b) => *b,
        Value::Number(n) => n.as_f64() != Some(0.0),
        Value::String(s) => !s.is_empty(),
        Value::Array(items) => !items.is_empty(),
        Value::Object(map) => !map.is_empty(),
    }
}

/// dstack's `re.search(r".* (\d+\.\d+)", name)`: the last ` X.Y` in the name, as
/// `(major, minor)` (how `packaging.version` orders `24.04`).
fn ubuntu_version(name: &str) -> Option<(u64, u64)> {
    let bytes = name.as_bytes();
    (0..bytes.len()).rev().filter(|&i| bytes[i] == b' ').find_map(|space| {
        let rest = &name[space + 1..];
        let major_len = rest.bytes().take_while(u8::is_ascii_digit).count();
        let after = &rest[major_len..];
        let minor = after.strip_prefix('.')?;
        let minor_len = minor.bytes().take_while(u8::is_ascii_digit).count();
        if major_len == 0 || minor_len == 0 {
            return None;
        }
        Some((rest[..major_len].parse().ok()?, minor[..minor_len].parse().ok()?))
    })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn vm(name: &str, tags: &[&str], url: &str) -> Value {
        json!({"name": name, "tags": tags, "details": {"VirtualMachine": {"image_url": url}}})
    }

    /// dstack's `test_api_client.py` recipes, plus an older release, a Docker recipe and a
    /// group that is not Linux.
    fn groups() -> Vec<Value> {
        vec![
            json!({"name": "Linux", "tags": ["VM"], "recipes": [
                vm("Ubuntu 22.04 Server", &["nvidia-driver"], "https://images/old.img"),
                vm("Ubuntu 24.04 Server", &["nvidia-driver"], "https://images/nvidia.img"),
                vm("Ubuntu 24.04 Server (AMD)", &["amd-driver"], "https://images/amd.img"),
                {"name": "Ubuntu 26.04 Docker", "tags": ["nvidia-driver"], "details": {"Docker": {}}},
            ]}),
            json!({"name": "Windows", "tags": ["VM"], "recipes": [
                vm("Ubuntu 30.04 Server", &["nvidia-driver"], "https://images/other-group.img"),
            ]}),
        ]
    }

    #[test]
    fn the_newest_ubuntu_for_the_vendor() {
        let groups = groups();
        assert_eq!(
            vm_image_url(&groups, Some(AcceleratorVendor::Nvidia)).as_deref(),
            Some("https://images/nvidia.img")
        );
        assert_eq!(
            vm_image_url(&groups, Some(AcceleratorVendor::Amd)).as_deref(),
            Some("https://images/amd.img")
        );
        assert_eq!(vm_image_url(&groups, None).as_deref(), Some("https://images/nvidia.img"));
        assert_eq!(vm_image_url(&[], None), None);
    }

    #[test]
    fn versions_read_like_dstacks_pattern() {
        assert_eq!(ubuntu_version("Ubuntu 24.04 Server"), Some((24, 4)));
        assert_eq!(ubuntu_version("Ubuntu 22.04.3 LTS"), Some((22, 4)));
        assert_eq!(ubuntu_version("Ubuntu 20.04 then 22.10"), Some((22, 10)));
        assert_eq!(ubuntu_version("Ubuntu Noble"), None);
        assert_eq!(ubuntu_version("Ubuntu24.04"), None);
        // 24.10 is newer than 24.04, whatever the text order.
        let groups = vec![json!({"name": "linux", "tags": ["vm"], "recipes": [
            vm("Ubuntu 24.10", &["nvidia-driver"], "https://images/oracular.img"),
            vm("Ubuntu 24.04", &["nvidia-driver"], "https://images/noble.img"),
        ]})];
        assert_eq!(vm_image_url(&groups, None).as_deref(), Some("https://images/oracular.img"));
    }
}
