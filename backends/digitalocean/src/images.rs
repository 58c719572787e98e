//! The image of a droplet and its user data, as dstack's `_get_image_for_instance` and
//! `get_user_data` choose them.

use dstack_core::offers::{AcceleratorVendor, Resources};
use dstack_core::provisioning::{AgentDownloads, cloud_config, shim_commands};

/// A droplet image: its slug, and whether it comes with Docker.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Image {
    pub slug: &'static str,
    pub ships_docker: bool,
}

/// What dstack runs first on images without Docker (its `DOCKER_INSTALL_COMMANDS`).
pub const DOCKER_INSTALL_COMMANDS: &[&str] = &[
    "export DEBIAN_FRONTEND=noninteractive",
    "mkdir -p /etc/apt/keyrings",
    "curl --max-time 60 -fsSL https://download.docker.com/linux/ubuntu/gpg | gpg --dearmor -o /etc/apt/keyrings/docker.gpg",
    "echo \"deb [arch=$(dpkg --print-architecture) signed-by=/etc/apt/keyrings/docker.gpg] https://download.docker.com/linux/ubuntu $(lsb_release -cs) stable\" | tee /etc/apt/sources.list.d/docker.list > /dev/null",
    "apt-get update",
    "apt-get --assume-yes install docker-ce docker-ce-cli containerd.io docker-compose-plugin",
];

/// dstack's choice: Ubuntu 24.04 for CPU sizes; `gpu-amd-base` (ROCm, no Docker) for AMD;
/// DigitalOcean's AI/ML-ready images for NVIDIA — `gpu-h100x8-base` for 8 GPUs and
/// `gpu-h100x1-base` otherwise (DigitalOcean has 1- and 8-GPU sizes only).
pub fn for_instance(resources: &Resources) -> Image {
    let Some(first) = resources.gpus.first() else {
        return Image { slug: "ubuntu-24-04-x64", ships_docker: false };
    };
    if first.vendor == AcceleratorVendor::Amd {
        return Image { slug: "gpu-amd-base", ships_docker: false };
    }
    match resources.gpus.len() {
        8 => Image { slug: "gpu-h100x8-base", ships_docker: true },
        1 => Image { slug: "gpu-h100x1-base", ships_docker: true },
        count => {
            tracing::warn!("Unsupported NVIDIA GPU count: {count}, using single GPU image");
            Image { slug: "gpu-h100x1-base", ships_docker: true }
        }
    }
}

/// The droplet's cloud-init: dstack's user data, with Docker installed first on images
/// without it (dstack's `backend_specific_commands`).
pub fn droplet_user_data(
    image: Image,
    authorized_keys: &[String],
    downloads: &AgentDownloads,
) -> String {
    let mut commands: Vec<String> = Vec::new();
    if !image.ships_docker {
        commands.extend(DOCKER_INSTALL_COMMANDS.iter().map(|c| (*c).to_owned()));
    }
    commands.extend(shim_commands(downloads, false));
    cloud_config(authorized_keys, &commands)
}

#[cfg(test)]
mod tests {
    use dstack_core::offers::{Disk, Gpu};
    use dstack_core::provisioning::user_data;

    use super::*;

    fn resources(gpus: Vec<Gpu>) -> Resources {
        Resources {
            cpus: 8,
            memory_mib: 65536,
            gpus,
            spot: false,
            disk: Disk { size_mib: 0 },
            cpu_arch: None,
            description: String::new(),
        }
    }

    fn gpu(vendor: AcceleratorVendor, name: &str) -> Gpu {
        Gpu { name: name.to_owned(), memory_mib: 81920, vendor }
    }

    /// dstack's `TestGetImageForInstance`, case for case.
    #[test]
    fn images_follow_the_gpu_vendor_and_count() {
        let amd = gpu(AcceleratorVendor::Amd, "MI300X");
        let h100 = gpu(AcceleratorVendor::Nvidia, "H100");
        let slug = |gpus: Vec<Gpu>| {
            let image = for_instance(&resources(gpus));
            (image.slug, image.ships_docker)
        };
        assert_eq!(slug(vec![]), ("ubuntu-24-04-x64", false));
        assert_eq!(slug(vec![amd.clone()]), ("gpu-amd-base", false));
        assert_eq!(slug(vec![amd; 8]), ("gpu-amd-base", false));
        assert_eq!(slug(vec![h100.clone()]), ("gpu-h100x1-base", true));
        assert_eq!(slug(vec![h100.clone(); 8]), ("gpu-h100x8-base", true));
        assert_eq!(slug(vec![h100; 2]), ("gpu-h100x1-base", true));
    }

    #[test]
    fn docker_is_installed_first_where_the_image_lacks_it() {
        let downloads = AgentDownloads {
            shim_url: "https://example/shim".to_owned(),
            runner_url: "https://example/runner".to_owned(),
        };
        let keys = ["ssh-ed25519 AAAA key".to_owned()];
        let plain = user_data(&keys, &downloads, false);
        let docker = Image { slug: "gpu-h100x1-base", ships_docker: true };
        assert_eq!(droplet_user_data(docker, &keys, &downloads), plain);

        let cpu = Image { slug: "ubuntu-24-04-x64", ships_docker: false };
        let data = droplet_user_data(cpu, &keys, &downloads);
        let script = |data: &str| {
            let line = data.lines().find(|l| l.starts_with("  - \"")).unwrap().to_owned();
            serde_json::from_str::<String>(&line[4..]).unwrap()
        };
        let expected = format!("{} && {}", DOCKER_INSTALL_COMMANDS.join(" && "), script(&plain));
        assert_eq!(script(&data), expected);
        let rest = |data: &str| -> Vec<String> {
            data.lines().filter(|l| !l.starts_with("  - \"")).map(str::to_owned).collect()
        };
        assert_eq!(rest(&data), rest(&plain));
        assert!(data.ends_with('\n') && data.starts_with("#cloud-config\n"));
    }
}
