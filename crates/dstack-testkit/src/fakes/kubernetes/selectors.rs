//! List queries as the apiserver reads them: `fieldSelector` (`=`, `==`, `!=` terms on the
//! fields each resource indexes; another field is a 400 `field label not supported`) and
//! `labelSelector` (equality, inequality, existence, `in`/`notin` sets). Backslash escapes
//! in field values are not read.

use serde_json::Value;

/// A query's parameter, decoded (`+` is a space, `%XX` a byte).
pub(super) fn query_param(query: Option<&str>, name: &str) -> Option<String> {
    query.unwrap_or_default().split('&').find_map(|pair| {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        (decode(key) == name).then(|| decode(value))
    })
}

fn decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes.get(i + 1..i + 3).and_then(|h| std::str::from_utf8(h).ok());
        match (bytes[i], hex.and_then(|h| u8::from_str_radix(h, 16).ok())) {
            (b'%', Some(byte)) => {
                out.push(byte);
                i += 3;
            }
            (b'+', _) => {
                out.push(b' ');
                i += 1;
            }
            (byte, _) => {
                out.push(byte);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// A parsed `fieldSelector`: (JSON pointer of the field, wanted value, equal?) terms.
#[derive(Debug, Clone, Default)]
pub(super) struct FieldSelector(Vec<(&'static str, String, bool)>);

/// The fields the apiserver selects `plural` on, with where they are in the object.
fn fields(plural: &str) -> &'static [(&'static str, &'static str)] {
    const META: [(&str, &str); 2] =
        [("metadata.name", "/metadata/name"), ("metadata.namespace", "/metadata/namespace")];
    match plural {
        "pods" => &[
            META[0],
            META[1],
            ("spec.nodeName", "/spec/nodeName"),
            ("spec.restartPolicy", "/spec/restartPolicy"),
            ("spec.schedulerName", "/spec/schedulerName"),
            ("spec.serviceAccountName", "/spec/serviceAccountName"),
            ("status.phase", "/status/phase"),
            ("status.podIP", "/status/podIP"),
            ("status.nominatedNodeName", "/status/nominatedNodeName"),
        ],
        "secrets" => &[META[0], META[1], ("type", "/type")],
        "nodes" => &[META[0], ("spec.unschedulable", "/spec/unschedulable")],
        _ => &META,
    }
}

impl FieldSelector {
    /// The selector of `plural`'s list, or the apiserver's complaint.
    pub fn parse(plural: &str, text: &str) -> Result<Self, String> {
        let mut terms = Vec::new();
        for term in text.split(',').filter(|t| !t.is_empty()) {
            let (field, value, equal) = if let Some((f, v)) = term.split_once("!=") {
                (f, v, false)
            } else if let Some((f, v)) = term.split_once("==") {
                (f, v, true)
            } else if let Some((f, v)) = term.split_once('=') {
                (f, v, true)
            } else {
                return Err(format!("invalid selector: '{text}'; can't understand '{term}'"));
            };
            let field = field.trim();
            let Some(&(_, pointer)) = fields(plural).iter().find(|(name, _)| *name == field) else {
                return Err(format!("field label not supported: {field}"));
            };
            terms.push((pointer, value.trim().to_owned(), equal));
        }
        Ok(Self(terms))
    }

    /// Whether `object` fits every term (an absent field is the empty string).
    pub fn matches(&self, object: &Value) -> bool {
        self.0.iter().all(|(pointer, wanted, equal)| {
            let actual = match object.pointer(pointer) {
                Some(Value::String(s)) => s.clone(),
                Some(Value::Null) | None => String::new(),
                Some(other) => other.to_string(),
            };
            (actual == *wanted) == *equal
        })
    }
}

#[derive(Debug, Clone)]
enum Requirement {
    Equals(String, String),
    NotEquals(String, String),
    Exists(String),
    Absent(String),
    In(String, Vec<String>),
    NotIn(String, Vec<String>),
}

/// A parsed `labelSelector`.
#[derive(Debug, Clone, Default)]
pub(super) struct LabelSelector(Vec<Requirement>);

impl LabelSelector {
    pub fn parse(text: &str) -> Result<Self, String> {
        let mut requirements = Vec::new();
        for term in split_outside_parentheses(text) {
            let term = term.trim();
            if term.is_empty() {
                continue;
            }
            let unparsable = || format!("unable to parse requirement: {term:?}");
            let requirement = if let Some((key, values)) = set_term(term, " notin ") {
                Requirement::NotIn(key, values.ok_or_else(unparsable)?)
            } else if let Some((key, values)) = set_term(term, " in ") {
                Requirement::In(key, values.ok_or_else(unparsable)?)
            } else if let Some((key, value)) = term.split_once("!=") {
                Requirement::NotEquals(key.trim().to_owned(), value.trim().to_owned())
            } else if let Some((key, value)) = term.split_once("==").or(term.split_once('=')) {
                Requirement::Equals(key.trim().to_owned(), value.trim().to_owned())
            } else if let Some(key) = term.strip_prefix('!') {
                Requirement::Absent(key.trim().to_owned())
            } else if term.contains(char::is_whitespace) || term.contains(['(', ')']) {
                return Err(unparsable());
            } else {
                Requirement::Exists(term.to_owned())
            };
            requirements.push(requirement);
        }
        Ok(Self(requirements))
    }

    /// Whether the labels of `object` fit every requirement.
    pub fn matches(&self, object: &Value) -> bool {
        let labels = object.pointer("/metadata/labels");
        let label = |key: &str| labels.and_then(|l| l.get(key)).and_then(Value::as_str);
        self.0.iter().all(|requirement| match requirement {
            Requirement::Equals(k, v) => label(k) == Some(v.as_str()),
            Requirement::NotEquals(k, v) => label(k) != Some(v.as_str()),
            Requirement::Exists(k) => label(k).is_some(),
            Requirement::Absent(k) => label(k).is_none(),
            Requirement::In(k, values) => label(k).is_some_and(|l| values.iter().any(|v| v == l)),
            Requirement::NotIn(k, values) => {
                !label(k).is_some_and(|l| values.iter().any(|v| v == l))
            }
        })
    }
}

/// `key in (a,b)` → the key and the values (`None` when the set is malformed).
fn set_term(term: &str, operator: &str) -> Option<(String, Option<Vec<String>>)> {
    let (key, rest) = term.split_once(operator)?;
    let values = rest.trim().strip_prefix('(').and_then(|r| r.strip_suffix(')')).map(|inner| {
        inner.split(',').map(|v| v.trim().to_owned()).filter(|v| !v.is_empty()).collect()
    });
    Some((key.trim().to_owned(), values))
}

fn split_outside_parentheses(text: &str) -> Vec<&str> {
    let (mut parts, mut depth, mut start) = (Vec::new(), 0i32, 0);
    for (i, c) in text.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => depth -= 1,
            ',' if depth == 0 => {
                parts.push(&text[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(&text[start..]);
    parts
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn query_parameters_are_decoded() {
        let query = Some("watch=true&fieldSelector=status.phase%21%3DFailed%2Cspec.nodeName%3Dn+1");
        assert_eq!(
            query_param(query, "fieldSelector").as_deref(),
            Some("status.phase!=Failed,spec.nodeName=n 1")
        );
        assert_eq!(query_param(query, "watch").as_deref(), Some("true"));
        assert_eq!(query_param(query, "limit"), None);
    }

    #[test]
    fn field_selectors_select_on_indexed_fields() {
        let pod = json!({"metadata": {"name": "a"}, "status": {"phase": "Running"}});
        let live = FieldSelector::parse("pods", "status.phase!=Succeeded,status.phase!=Failed");
        assert!(live.unwrap().matches(&pod));
        let named = FieldSelector::parse("pods", "metadata.name==b").unwrap();
        assert!(!named.matches(&pod));
        let unbound = FieldSelector::parse("pods", "spec.nodeName=").unwrap();
        assert!(unbound.matches(&pod), "an absent field is empty");
        let err = FieldSelector::parse("pods", "spec.image=x").unwrap_err();
        assert_eq!(err, "field label not supported: spec.image");
        assert!(FieldSelector::parse("services", "status.phase=x").is_err());
    }

    #[test]
    fn label_selectors_cover_equality_existence_and_sets() {
        let pod = json!({"metadata": {"labels": {"app": "dstack", "tier": "gpu"}}});
        let fits = |s: &str| LabelSelector::parse(s).unwrap().matches(&pod);
        assert!(fits("app=dstack,tier==gpu"));
        assert!(!fits("app=dstack,tier=cpu"));
        assert!(fits("app,!missing,tier!=cpu"));
        assert!(fits("tier in (cpu, gpu),app notin (other)"));
        assert!(!fits("tier notin (gpu)"));
        assert!(fits(""));
        assert!(LabelSelector::parse("tier in cpu").is_err());
    }
}
