//! The labels dstack puts on what it creates: its base labels (which selectors use), the
//! run's tags besides them, and Kubernetes' label syntax, which drops what it refuses.

use std::collections::BTreeMap;

/// The label services select their pod by.
pub const INSTANCE_LABEL: &str = "app.kubernetes.io/instance";

/// dstack's `build_base_labels`: `component` is `job` or `ssh-proxy`.
pub fn base_labels(
    component: &str,
    unique_name: &str,
    project: &str,
    name: Option<&str>,
    user: Option<&str>,
) -> BTreeMap<String, String> {
    let mut labels: BTreeMap<String, String> = [
        ("app.kubernetes.io/name", format!("dstack-{component}")),
        (INSTANCE_LABEL, unique_name.to_owned()),
        ("app.kubernetes.io/managed-by", "dstack".to_owned()),
        ("k8s.dstack.ai/project", project.to_owned()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect();
    if let Some(name) = name {
        labels.insert("k8s.dstack.ai/name".to_owned(), name.to_owned());
    }
    if let Some(user) = user {
        labels.insert("k8s.dstack.ai/user".to_owned(), user.to_owned());
    }
    labels
}

/// `base` with the `tags` it does not set (dstack's `merge_tags`: its own labels win), minus
/// every pair Kubernetes would refuse (logged).
pub fn with_tags<'a>(
    mut labels: BTreeMap<String, String>,
    tags: impl IntoIterator<Item = (&'a String, &'a String)>,
) -> BTreeMap<String, String> {
    for (key, value) in tags {
        labels.entry(key.clone()).or_insert_with(|| value.clone());
    }
    labels.retain(|key, value| {
        match validate_label_key(key).and_then(|()| validate_label_value(value)) {
            Ok(()) => true,
            Err(why) => {
                tracing::warn!("Skipping invalid label {key}={value}: {why}");
                false
            }
        }
    });
    labels
}

fn is_alnum(c: char) -> bool {
    c.is_ascii_alphanumeric()
}

/// `[A-Za-z0-9]([A-Za-z0-9_.-]*[A-Za-z0-9])?`
fn is_label_word(text: &str) -> bool {
    text.starts_with(is_alnum)
        && text.ends_with(is_alnum)
        && text.chars().all(|c| is_alnum(c) || "_.-".contains(c))
}

/// A DNS subdomain of lowercase labels: `[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.…)*`.
fn is_dns_subdomain(text: &str) -> bool {
    let lower = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit();
    text.split('.').all(|part| {
        part.starts_with(lower)
            && part.ends_with(lower)
            && part.chars().all(|c| lower(c) || c == '-')
    })
}

/// Kubernetes' label key rules, with dstack's reasons.
pub fn validate_label_key(key: &str) -> Result<(), &'static str> {
    let parts: Vec<&str> = key.split('/').collect();
    let name = match parts.as_slice() {
        [name] => name,
        [prefix, name] => {
            if prefix.is_empty() {
                return Err("Empty prefix");
            }
            if prefix.len() > 253 {
                return Err("Prefix too long");
            }
            if !is_dns_subdomain(prefix) {
                return Err("Invalid prefix");
            }
            name
        }
        _ => return Err("Too many segments"),
    };
    if name.is_empty() {
        return Err("Empty name");
    }
    if name.len() > 63 {
        return Err("Name too long");
    }
    if !is_label_word(name) {
        return Err("Invalid name");
    }
    Ok(())
}

/// Kubernetes' label value rules (empty is valid), with dstack's reasons.
pub fn validate_label_value(value: &str) -> Result<(), &'static str> {
    if value.len() > 63 {
        return Err("Value too long");
    }
    if !value.is_empty() && !is_label_word(value) {
        return Err("Invalid value");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// dstack 0.22.5's `test_resources.py` cases.
    #[test]
    fn label_keys_follow_kubernetes_rules() {
        for valid in ["env", "k8s.example.com/Valid.Label_Name-1"] {
            assert_eq!(validate_label_key(valid), Ok(()), "{valid}");
        }
        let long_prefix = format!("{}/name", "a".repeat(254));
        let long_name = "a".repeat(64);
        let long_prefixed_name = format!("prefix/{}", "a".repeat(64));
        for (key, why) in [
            ("app.kubernetes.io//name", "Too many segments"),
            ("/name", "Empty prefix"),
            (long_prefix.as_str(), "Prefix too long"),
            ("invalid prefix/name", "Invalid prefix"),
            ("my_app/name", "Invalid prefix"),
            ("-invalid/name", "Invalid prefix"),
            ("invalid-/name", "Invalid prefix"),
            ("Invalid/name", "Invalid prefix"),
            ("", "Empty name"),
            ("prefix/", "Empty name"),
            (long_name.as_str(), "Name too long"),
            (long_prefixed_name.as_str(), "Name too long"),
            ("-name", "Invalid name"),
            ("name-", "Invalid name"),
        ] {
            assert_eq!(validate_label_key(key), Err(why), "{key}");
        }
    }

    #[test]
    fn label_values_follow_kubernetes_rules() {
        assert_eq!(validate_label_value(""), Ok(()));
        assert_eq!(validate_label_value("Valid.Label_Value-1"), Ok(()));
        assert_eq!(validate_label_value(&"a".repeat(64)), Err("Value too long"));
        for bad in ["invalid value", "-invalid", "invalid-"] {
            assert_eq!(validate_label_value(bad), Err("Invalid value"), "{bad}");
        }
    }

    #[test]
    fn dstacks_labels_win_over_tags_and_invalid_tags_are_dropped() {
        let base = base_labels("job", "pod-1", "main", Some("train-0-0"), Some("admin"));
        assert_eq!(base["app.kubernetes.io/name"], "dstack-job");
        assert_eq!(base[INSTANCE_LABEL], "pod-1");
        let tags: BTreeMap<String, String> = [
            ("k8s.dstack.ai/project", "other"),
            ("team", "ml"),
            ("bad key", "x"),
            ("ok", "bad value"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
        let labels = with_tags(base, &tags);
        assert_eq!(labels["k8s.dstack.ai/project"], "main");
        assert_eq!(labels["team"], "ml");
        assert!(!labels.contains_key("bad key") && !labels.contains_key("ok"));
    }
}
