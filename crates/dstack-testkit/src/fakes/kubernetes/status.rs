//! The apiserver's error answers: `Status` objects (`kind: Status`, `status: Failure`) with
//! the reason and message texts kube-apiserver uses, which clients (kube's `ErrorResponse`)
//! read; and the name rules that make creates answer `Invalid`.

use serde_json::{Value, json};

use crate::Reply;

/// A `Status` object of `code` with `reason` and `message`.
pub(super) fn failure(code: u16, reason: &str, message: &str, details: Option<Value>) -> Reply {
    let mut status = json!({
        "kind": "Status", "apiVersion": "v1", "metadata": {},
        "status": "Failure", "message": message, "reason": reason,
    });
    if let Some(details) = details {
        status["details"] = details;
    }
    status["code"] = json!(code);
    Reply::status(code, status)
}

/// The apiserver's answer to a request without valid credentials.
pub(super) fn unauthorized() -> Reply {
    failure(401, "Unauthorized", "Unauthorized", None)
}

/// `pods "x" not found` (404).
pub(super) fn not_found(plural: &str, name: &str) -> Reply {
    let message = format!("{plural} \"{name}\" not found");
    failure(404, "NotFound", &message, Some(json!({"name": name, "kind": plural})))
}

/// `pods "x" already exists` (409).
pub(super) fn already_exists(plural: &str, name: &str) -> Reply {
    let message = format!("{plural} \"{name}\" already exists");
    failure(409, "AlreadyExists", &message, Some(json!({"name": name, "kind": plural})))
}

/// A 400 `BadRequest` (a selector the apiserver cannot parse, a namespace mismatch).
pub(super) fn bad_request(message: &str) -> Reply {
    failure(400, "BadRequest", message, None)
}

/// One reason an object is invalid: the field, the cause's reason (`FieldValueInvalid`,
/// `FieldValueRequired`, `FieldValueForbidden`) and its message.
#[derive(Debug, Clone)]
pub(super) struct Cause {
    pub reason: &'static str,
    pub field: String,
    pub message: String,
}

impl Cause {
    pub fn required(field: &str, detail: &str) -> Self {
        let message = if detail.is_empty() {
            "Required value".to_owned()
        } else {
            format!("Required value: {detail}")
        };
        Self { reason: "FieldValueRequired", field: field.to_owned(), message }
    }

    /// `Invalid value: <value as JSON>: <detail>`.
    pub fn invalid(field: &str, value: &Value, detail: &str) -> Self {
        Self {
            reason: "FieldValueInvalid",
            field: field.to_owned(),
            message: format!("Invalid value: {value}: {detail}"),
        }
    }

    pub fn forbidden(field: &str, detail: &str) -> Self {
        Self {
            reason: "FieldValueForbidden",
            field: field.to_owned(),
            message: format!("Forbidden: {detail}"),
        }
    }
}

/// `Service "x" is invalid: spec.ports[0].nodePort: Invalid value: …` (422), several causes
/// in brackets as the apiserver joins them.
pub(super) fn invalid(kind: &str, name: &str, causes: &[Cause]) -> Reply {
    let each: Vec<String> = causes.iter().map(|c| format!("{}: {}", c.field, c.message)).collect();
    let joined = match each.as_slice() {
        [one] => one.clone(),
        many => format!("[{}]", many.join(", ")),
    };
    let message = format!("{kind} \"{name}\" is invalid: {joined}");
    let causes: Vec<Value> = causes
        .iter()
        .map(|c| json!({"reason": c.reason, "message": c.message, "field": c.field}))
        .collect();
    let mut details = json!({"kind": kind, "causes": causes});
    if !name.is_empty() {
        details["name"] = json!(name);
    }
    failure(422, "Invalid", &message, Some(details))
}

/// Why `name` is not a DNS-1123 label (namespaces, container names), if it is not.
pub(super) fn dns1123_label(name: &str) -> Option<String> {
    let fits = label(name, |c| c.is_ascii_lowercase() || c.is_ascii_digit());
    (!fits).then(|| {
        "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', \
         and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', \
         regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')"
            .to_owned()
    })
}

/// Why `name` is not a DNS-1035 label (services), if it is not.
pub(super) fn dns1035_label(name: &str) -> Option<String> {
    let fits = label(name, |c| c.is_ascii_lowercase());
    (!fits).then(|| {
        "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with \
         an alphabetic character, and end with an alphanumeric character (e.g. 'my-name',  or \
         'abc-123', regex used for validation is '[a-z]([-a-z0-9]*[a-z0-9])?')"
            .to_owned()
    })
}

/// Why `name` is not a DNS-1123 subdomain (pods, secrets), if it is not.
pub(super) fn dns1123_subdomain(name: &str) -> Option<String> {
    let fits = name.len() <= 253
        && name
            .split('.')
            .all(|part| label(part, |c| c.is_ascii_lowercase() || c.is_ascii_digit()));
    (!fits).then(|| {
        "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' \
         or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex \
         used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"
            .to_owned()
    })
}

/// 1–63 characters of `[-a-z0-9]`, starting with one `first` accepts, ending alphanumeric.
fn label(name: &str, first: impl Fn(char) -> bool) -> bool {
    let alnum = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit();
    !name.is_empty()
        && name.len() <= 63
        && name.chars().all(|c| alnum(c) || c == '-')
        && name.chars().next().is_some_and(first)
        && name.chars().last().is_some_and(alnum)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_the_apiservers_rules() {
        assert!(dns1123_label("dstack-1").is_none());
        assert!(dns1123_label("1-dstack").is_none());
        assert!(dns1123_label("Dstack").is_some());
        assert!(dns1123_label("a-").is_some());
        assert!(dns1123_label(&"a".repeat(64)).is_some());
        assert!(dns1035_label("ssh-1").is_none());
        assert!(dns1035_label("1ssh").is_some(), "a service name starts with a letter");
        assert!(dns1123_subdomain("pod.a-1.b").is_none());
        assert!(dns1123_subdomain("pod..b").is_some());
        assert!(dns1123_subdomain("pod_1").is_some());
    }

    #[test]
    fn several_causes_are_bracketed() {
        let causes = [Cause::required("a", ""), Cause::forbidden("b", "no")];
        let reply = invalid("Pod", "p", &causes);
        assert_eq!(reply.status, 422);
        assert_eq!(
            reply.body["message"],
            "Pod \"p\" is invalid: [a: Required value, b: Forbidden: no]"
        );
        assert_eq!(reply.body["details"]["causes"][1]["reason"], "FieldValueForbidden");
        assert_eq!(reply.body["code"], 422);
    }
}
