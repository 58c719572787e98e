//! Tags on AWS resources. Configured tags are checked by the config's own rules (in
//! `dstack-core`); at creation, tags that break AWS's rules (from runs, say) are skipped with a
//! warning, as dstack does.

use aws_sdk_ec2::types::{ResourceType, Tag, TagSpecification};
use dstack_core::config::backends::{Tags, is_valid_aws_tag as is_valid};

/// The tags AWS accepts; the others are logged and left out.
pub fn valid_only(tags: Tags) -> Tags {
    tags.into_iter()
        .filter(|(key, value)| {
            let valid = is_valid(key, value);
            if !valid {
                tracing::warn!("skipping invalid AWS tag `{key}: {value}`");
            }
            valid
        })
        .collect()
}

/// One tag specification for a resource type.
pub fn specification(resource: ResourceType, tags: &Tags) -> TagSpecification {
    TagSpecification::builder()
        .resource_type(resource)
        .set_tags(Some(tags.iter().map(|(k, v)| Tag::builder().key(k).value(v).build()).collect()))
        .build()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invalid_tags_are_left_out() {
        let kept = valid_only(Tags::from([
            ("good".to_owned(), "1".to_owned()),
            ("bad!".to_owned(), "2".to_owned()),
        ]));
        assert_eq!(kept.keys().collect::<Vec<_>>(), ["good"]);
    }
}
