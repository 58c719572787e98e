//! AWS's tag rules (https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/Using_Tags.html), as
//! dstack applies them: configured tags are checked up front; at creation, tags that break the
//! rules (from runs, say) are skipped with a warning.

use aws_sdk_ec2::types::{ResourceType, Tag, TagSpecification};
use dstack_core::config::backends::Tags;

/// At most this many tags per resource.
pub const MAX_TAGS: usize = 25;

fn allowed(c: char) -> bool {
    c.is_alphanumeric() || c.is_whitespace() || "_.:/=+-@".contains(c)
}

/// Whether AWS accepts the tag.
pub fn is_valid(key: &str, value: &str) -> bool {
    (1..=128).contains(&key.chars().count())
        && !key.starts_with("aws:")
        && key.chars().all(allowed)
        && value.chars().count() <= 256
        && value.chars().all(allowed)
}

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
    fn aws_rules() {
        assert!(is_valid("team", "ml-platform/a@b.c"));
        assert!(!is_valid("aws:reserved", "x"));
        assert!(!is_valid("", "x"));
        assert!(!is_valid("k", "bad#value"));
        assert!(!is_valid(&"k".repeat(129), "x"));
        let kept = valid_only(Tags::from([
            ("good".to_owned(), "1".to_owned()),
            ("bad!".to_owned(), "2".to_owned()),
        ]));
        assert_eq!(kept.keys().collect::<Vec<_>>(), ["good"]);
    }
}
