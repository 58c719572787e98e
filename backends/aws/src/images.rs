//! Which AMI an instance boots: the configured `os_images`, or dstack's defaults — AWS's
//! Deep Learning Base AMI for NVIDIA GPUs, dstack's own base image for CPUs. The newest
//! available image matching the name (wildcards allowed) and owner wins.

use aws_sdk_ec2::Client;
use aws_sdk_ec2::types::ImageState;
use dstack_core::config::backends::AwsOsImages;
use dstack_core::error::Result;
use dstack_core::{BackendError, ErrorKind};

use crate::client::filter;
use crate::error::from_sdk;

/// The account that publishes dstack's base images.
pub const DSTACK_ACCOUNT_ID: &str = "142421590066";
/// The account that publishes AWS's Deep Learning AMIs.
pub const DLAMI_OWNER_ACCOUNT_ID: &str = "898082745236";
/// AWS's Deep Learning Base AMI, which supports every GPU instance type dstack offers.
pub const DLAMI_NAME: &str = "Deep Learning Base OSS Nvidia Driver GPU AMI (Ubuntu 22.04) *";

/// The image to look for: name pattern, owner, and the user to log in as.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageQuery {
    pub name: String,
    pub owner: String,
    pub user: String,
}

impl ImageQuery {
    /// The image for an instance with GPUs (`gpu`) or without, from `os_images` when set,
    /// else AWS's Deep Learning AMI or dstack's image named `base_image`.
    pub fn for_instance(
        gpu: bool,
        os_images: Option<&AwsOsImages>,
        base_image: &str,
    ) -> Result<Self> {
        if let Some(images) = os_images {
            let (kind, image) = if gpu { ("nvidia", &images.nvidia) } else { ("cpu", &images.cpu) };
            let image = image.as_ref().ok_or_else(|| {
                BackendError::new(
                    ErrorKind::NotFound,
                    format!("`os_images.{kind}` is not configured, so this instance cannot be provisioned"),
                )
            })?;
            return Ok(Self {
                name: image.name.clone(),
                owner: image.owner.as_str().to_owned(),
                user: image.user.clone(),
            });
        }
        let (name, owner) = if gpu {
            (DLAMI_NAME.to_owned(), DLAMI_OWNER_ACCOUNT_ID)
        } else {
            (base_image.to_owned(), DSTACK_ACCOUNT_ID)
        };
        Ok(Self { name, owner: owner.to_owned(), user: "ubuntu".to_owned() })
    }
}

/// The ID of the newest available image matching `query`, or `NotFound`.
pub async fn find(client: &Client, query: &ImageQuery, region: &str) -> Result<String> {
    let answer = client
        .describe_images()
        .filters(filter("name", &[&query.name]))
        .owners(&query.owner)
        .send()
        .await
        .map_err(|e| from_sdk("DescribeImages", e))?;
    let newest = answer
        .images()
        .iter()
        .filter(|image| image.state() == Some(&ImageState::Available))
        // ISO 8601 timestamps sort as text.
        .max_by(|a, b| a.creation_date().cmp(&b.creation_date()))
        .and_then(|image| image.image_id());
    newest.map(str::to_owned).ok_or_else(|| {
        BackendError::new(
            ErrorKind::NotFound,
            format!("AMI `{}` owned by {} not found in region {region}", query.name, query.owner),
        )
    })
}
