//! Filtering and keyset pagination of the user and project lists, as dstack pages them:
//! newest first (ties by id ascending), or oldest first (ties by id descending), continuing
//! after the `(prev_created_at, prev_id)` of the previous page's last item.

use serde_json::json;

use super::error::ApiError;

/// The most items one listing returns (dstack's bound).
pub const MAX_LIMIT: u16 = 2000;

/// The paging fields a list request carries.
#[derive(Debug, Default)]
pub struct Page<'a> {
    pub name_pattern: Option<&'a str>,
    pub prev_created_at: Option<&'a str>,
    pub prev_id: Option<&'a str>,
    pub limit: Option<u16>,
    pub ascending: bool,
}

/// What is paged: its creation time (microseconds), id and name.
pub trait Paged {
    fn created_at(&self) -> i64;
    fn id(&self) -> &str;
    fn name(&self) -> &str;
}

fn invalid(field: &str, kind: &str, msg: String, input: serde_json::Value) -> ApiError {
    ApiError::Validation(vec![
        json!({"type": kind, "loc": ["body", field], "msg": msg, "input": input}),
    ])
}

impl Page<'_> {
    /// pydantic's checks of the fields (422s), before anything is read.
    pub fn check(&self) -> Result<(), ApiError> {
        if let Some(limit) = self.limit
            && limit > MAX_LIMIT
        {
            return Err(invalid(
                "limit",
                "less_than_equal",
                format!("Input should be less than or equal to {MAX_LIMIT}"),
                json!(limit),
            ));
        }
        if let Some(pattern) = self.name_pattern
            && !pattern.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        {
            return Err(invalid(
                "name_pattern",
                "string_pattern_mismatch",
                "String should match pattern '^[a-zA-Z0-9-_]*$'".to_owned(),
                json!(pattern),
            ));
        }
        if let Some(at) = self.prev_created_at {
            parse_datetime(at).ok_or_else(|| {
                invalid(
                    "prev_created_at",
                    "datetime_from_date_parsing",
                    "Input should be a valid datetime".to_owned(),
                    json!(at),
                )
            })?;
        }
        if let Some(id) = self.prev_id
            && uuid::Uuid::parse_str(id).is_err()
        {
            return Err(invalid(
                "prev_id",
                "uuid_parsing",
                "Input should be a valid UUID".to_owned(),
                json!(id),
            ));
        }
        Ok(())
    }

    /// Whether an item passes the name filter (case-insensitive substring).
    pub fn matches(&self, item: &impl Paged) -> bool {
        self.name_pattern.is_none_or(|p| item.name().to_lowercase().contains(&p.to_lowercase()))
    }

    /// The items passing the name filter: how many there are (what `return_total_count`
    /// answers) and this page of them.
    pub fn select<T: Paged>(&self, items: impl IntoIterator<Item = T>) -> (usize, Vec<T>) {
        let matching: Vec<T> = items.into_iter().filter(|item| self.matches(item)).collect();
        (matching.len(), self.apply(matching))
    }

    /// Sorts `items` (already filtered), keeps those after the previous page, and cuts the
    /// page to `limit`. Call [`Page::check`] first.
    pub fn apply<T: Paged>(&self, mut items: Vec<T>) -> Vec<T> {
        if self.ascending {
            items.sort_by(|a, b| a.created_at().cmp(&b.created_at()).then(b.id().cmp(a.id())));
        } else {
            items.sort_by(|a, b| b.created_at().cmp(&a.created_at()).then(a.id().cmp(b.id())));
        }
        if let Some(at) = self.prev_created_at.and_then(parse_datetime) {
            let id = self.prev_id;
            items.retain(|item| {
                let (t, i) = (item.created_at(), item.id());
                match (self.ascending, id) {
                    (true, None) => t > at,
                    (true, Some(id)) => t > at || (t == at && i < id),
                    (false, None) => t < at,
                    (false, Some(id)) => t < at || (t == at && i > id),
                }
            });
        }
        items.truncate(usize::from(self.limit.unwrap_or(MAX_LIMIT)));
        items
    }
}

/// An ISO 8601 date-time as microseconds since the epoch; one without an offset is UTC, as
/// dstack stores times.
pub fn parse_datetime(text: &str) -> Option<i64> {
    use time::format_description::well_known::Rfc3339;
    let parsed = time::OffsetDateTime::parse(text, &Rfc3339)
        .or_else(|_| time::OffsetDateTime::parse(&format!("{text}Z"), &Rfc3339))
        .ok()?;
    i64::try_from(parsed.unix_timestamp_nanos() / 1000).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Item(i64, &'static str);

    impl Paged for Item {
        fn created_at(&self) -> i64 {
            self.0
        }
        fn id(&self) -> &str {
            self.1
        }
        fn name(&self) -> &str {
            self.1
        }
    }

    fn ids(items: &[Item]) -> Vec<&str> {
        items.iter().map(|i| i.1).collect()
    }

    #[test]
    fn pages_continue_after_the_previous_last_item() {
        let items = || vec![Item(1, "a"), Item(2, "b"), Item(2, "c"), Item(3, "d")];
        let newest = Page { limit: Some(2), ..Page::default() };
        assert_eq!(ids(&newest.apply(items())), ["d", "b"]);
        let at = "1970-01-01T00:00:00.000002Z";
        let next = Page { limit: Some(2), prev_created_at: Some(at), prev_id: Some("b"), ..newest };
        assert_eq!(ids(&next.apply(items())), ["c", "a"]);
        let oldest = Page { ascending: true, ..Page::default() };
        assert_eq!(ids(&oldest.apply(items())), ["a", "c", "b", "d"]);
        let after = Page { prev_created_at: Some(at), prev_id: Some("c"), ..oldest };
        assert_eq!(ids(&after.apply(items())), ["b", "d"]);
    }

    #[test]
    fn fields_are_checked_as_pydantic_checks_them() {
        assert!(Page { limit: Some(2001), ..Page::default() }.check().is_err());
        assert!(Page { name_pattern: Some("a b"), ..Page::default() }.check().is_err());
        assert!(Page { prev_id: Some("x"), ..Page::default() }.check().is_err());
        assert!(Page { prev_created_at: Some("yesterday"), ..Page::default() }.check().is_err());
        assert_eq!(parse_datetime("1970-01-01T00:00:01"), Some(1_000_000));
        assert_eq!(parse_datetime("1970-01-01T01:00:01+01:00"), Some(1_000_000));
    }
}
