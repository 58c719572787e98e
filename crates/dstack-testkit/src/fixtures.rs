//! What many tests need alike.

use std::path::Path;
use std::sync::Arc;

use dstack_catalog::{Catalog, Source};
use dstack_core::Secret;
use dstack_core::backend::SshKeyPair;
use dstack_core::container::JobConfiguration;
use dstack_core::offers::{InstanceConfiguration, Requirements, SshKey};

/// The header of gpuhunt's catalog CSV (v2, as gpuhunt 0.1.30 writes it).
pub const CATALOG_HEADER: &str = "instance_name,location,price,cpu,memory,gpu_count,gpu_name,gpu_memory,spot,disk_size,gpu_vendor,flags,cpu_arch,provider_data";

/// Lambda's catalog rows the tests use: an A10 and an A100 in us-east-1, and an A100 in
/// us-west-1.
pub const LAMBDA_ROWS: &[&str] = &[
    "gpu_1x_a10,us-east-1,0.75,30,200.0,1,A10,24.0,False,1400.0,nvidia,,x86,{}",
    "gpu_1x_a100,us-east-1,1.29,30,200.0,1,A100,40.0,False,512.0,nvidia,,x86,{}",
    "gpu_1x_a100,us-west-1,1.29,30,200.0,1,A100,40.0,False,512.0,nvidia,,x86,{}",
];

/// Writes `{provider}.csv` with `rows` into `dir` (gpuhunt's plain-directory layout).
pub fn write_catalog(dir: &Path, provider: &str, rows: &[&str]) {
    let mut text = format!("{CATALOG_HEADER}\n");
    for row in rows {
        text.push_str(row);
        text.push('\n');
    }
    std::fs::create_dir_all(dir).expect("a catalog directory");
    std::fs::write(dir.join(format!("{provider}.csv")), text).expect("a catalog file");
}

/// A catalog read from a plain directory.
pub fn catalog_in(dir: &Path) -> Arc<Catalog> {
    Arc::new(Catalog::new(Source::PlainDirectory(dir.to_owned()), None))
}

/// A catalog with nothing in it.
pub fn empty_catalog() -> (tempfile::TempDir, Arc<Catalog>) {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let catalog = catalog_in(dir.path());
    (dir, catalog)
}

/// The configuration of an instance in `project`, with one SSH key.
pub fn instance_configuration(project: &str) -> InstanceConfiguration {
    InstanceConfiguration {
        project_name: project.to_owned(),
        instance_name: "fleet-0".to_owned(),
        instance_id: "4c1bd2ad-4f6c-4d1c-9d7e-2f1b7c0e5a61".to_owned(),
        ssh_keys: vec![SshKey { public: ssh_key_pair().public }],
        user: "admin".to_owned(),
        reservation: None,
        placement_group: None,
        tags: None,
    }
}

/// A job of `project` to run as a container, needing `requirements`, with one extra key
/// (the user's) besides the project's.
pub fn job_configuration(project: &str, requirements: &Requirements) -> JobConfiguration {
    JobConfiguration {
        project_name: project.to_owned(),
        user: "admin".to_owned(),
        job_name: "train-0-0".to_owned(),
        job_id: "9d3c1a52-6a0e-4e43-8f0e-0c8b5a7f4e21".to_owned(),
        image: "dstackai/base:0.10-base-ubuntu22.04".to_owned(),
        registry_auth: None,
        privileged: false,
        requirements: requirements.clone(),
        instance_mounts: Vec::new(),
        extra_authorized_keys: vec![USER_PUBLIC_KEY.to_owned()],
        tags: None,
    }
}

/// The user's public key [`job_configuration`] authorizes (a fixed test key).
pub const USER_PUBLIC_KEY: &str =
    "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIDVd7dnLFFR7ij5101OBtH8d/tNUmi0ndpldIlZBgT2f user@laptop";

/// A project SSH key pair (a fixed test key; never used outside tests).
pub fn ssh_key_pair() -> SshKeyPair {
    SshKeyPair {
        public: "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIG8Xy0Xkq1p0q3gQ1b2mS7YqR3v9zJc6W2nA4dVtEfKh dstack-test".to_owned(),
        private: Secret::new("-----BEGIN OPENSSH PRIVATE KEY-----\ntest\n-----END OPENSSH PRIVATE KEY-----\n"),
    }
}

/// A fake of Lambda Cloud's API accepting `keys`, with `capacity` (instance type → regions
/// with capacity now): [`crate::fakes::lambda`], for tests that need only its API.
pub async fn fake_lambda(keys: &[&str], capacity: &[(&str, &[&str])]) -> crate::FakeApi {
    crate::fakes::lambda::start(keys, capacity).await.api
}
