//! Events, as dstack records them: a message, when, by whom, and the fleets and instances it
//! is about. Written in the transaction of the change they describe.

use sqlx::{Any, Row, Transaction};

use super::{Result, Store, new_id, now_micros};

/// What an event is about (dstack's `EventTarget` in the database).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventTarget {
    /// `fleet` or `instance`.
    pub kind: &'static str,
    pub project_id: String,
    pub id: String,
    pub name: String,
    /// The fleet itself, or the instance's fleet.
    pub fleet_id: String,
}

impl EventTarget {
    pub fn fleet(project_id: &str, id: &str, name: &str) -> Self {
        EventTarget {
            kind: "fleet",
            project_id: project_id.to_owned(),
            id: id.to_owned(),
            name: name.to_owned(),
            fleet_id: id.to_owned(),
        }
    }

    pub fn instance(project_id: &str, fleet_id: &str, id: &str, name: &str) -> Self {
        EventTarget {
            kind: "instance",
            project_id: project_id.to_owned(),
            id: id.to_owned(),
            name: name.to_owned(),
            fleet_id: fleet_id.to_owned(),
        }
    }
}

/// An event to record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewEvent {
    /// dstack's text: stripped of a final `.`, on one line.
    pub message: String,
    /// `None`: the server did it.
    pub actor_user_id: Option<String>,
    pub targets: Vec<EventTarget>,
}

impl NewEvent {
    pub fn new(message: &str, actor_user_id: Option<&str>, targets: Vec<EventTarget>) -> Self {
        let message = message.trim().trim_end_matches('.').replace('\n', " ");
        NewEvent { message, actor_user_id: actor_user_id.map(str::to_owned), targets }
    }
}

/// A recorded event with its targets.
#[derive(Debug, Clone, PartialEq)]
pub struct EventRow {
    pub id: String,
    pub message: String,
    pub recorded_at: i64,
    pub actor_user_id: Option<String>,
    pub targets: Vec<StoredTarget>,
}

/// A recorded target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredTarget {
    pub kind: String,
    pub project_id: Option<String>,
    pub id: String,
    pub name: String,
    pub fleet_id: Option<String>,
}

pub(super) async fn insert(tx: &mut Transaction<'_, Any>, events: &[NewEvent]) -> Result<()> {
    for event in events {
        let id = new_id();
        sqlx::query(
            "INSERT INTO events (id, message, recorded_at, actor_user_id) VALUES ($1, $2, $3, $4)",
        )
        .bind(&id)
        .bind(&event.message)
        .bind(now_micros())
        .bind(&event.actor_user_id)
        .execute(&mut **tx)
        .await?;
        for target in &event.targets {
            sqlx::query(
                "INSERT INTO event_targets (event_id, type, project_id, id, name, fleet_id) \
                 VALUES ($1, $2, $3, $4, $5, $6)",
            )
            .bind(&id)
            .bind(target.kind)
            .bind(&target.project_id)
            .bind(&target.id)
            .bind(&target.name)
            .bind(&target.fleet_id)
            .execute(&mut **tx)
            .await?;
        }
    }
    Ok(())
}

impl Store {
    /// Records events on their own (changes that are not a row write of ours).
    pub async fn record_events(&self, events: &[NewEvent]) -> Result<()> {
        if events.is_empty() {
            return Ok(());
        }
        let mut tx = self.db.pool.begin().await?;
        insert(&mut tx, events).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Every event with a target in one of `project_ids`, oldest first.
    pub async fn events_of(&self, project_ids: &[String]) -> Result<Vec<EventRow>> {
        if project_ids.is_empty() {
            return Ok(Vec::new());
        }
        let placeholders: Vec<String> = (1..=project_ids.len()).map(|i| format!("${i}")).collect();
        let sql = format!(
            "SELECT e.id, e.message, e.recorded_at, e.actor_user_id, t.type, t.project_id, \
             t.id AS target_id, t.name, t.fleet_id FROM events e JOIN event_targets t \
             ON t.event_id = e.id WHERE e.id IN (SELECT event_id FROM event_targets \
             WHERE project_id IN ({})) ORDER BY e.recorded_at, e.id",
            placeholders.join(", ")
        );
        let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
        for id in project_ids {
            query = query.bind(id);
        }
        let rows = query.fetch_all(&self.db.pool).await?;
        let mut events: Vec<EventRow> = Vec::new();
        for row in rows {
            let id: String = row.try_get("id")?;
            let target = StoredTarget {
                kind: row.try_get("type")?,
                project_id: row.try_get("project_id")?,
                id: row.try_get("target_id")?,
                name: row.try_get("name")?,
                fleet_id: row.try_get("fleet_id")?,
            };
            match events.last_mut() {
                Some(last) if last.id == id => last.targets.push(target),
                _ => events.push(EventRow {
                    id,
                    message: row.try_get("message")?,
                    recorded_at: row.try_get("recorded_at")?,
                    actor_user_id: row.try_get("actor_user_id")?,
                    targets: vec![target],
                }),
            }
        }
        Ok(events)
    }

    /// Drops events recorded before `before` (dstack's `DSTACK_SERVER_EVENTS_TTL_SECONDS`).
    pub async fn delete_events_before(&self, before: i64) -> Result<u64> {
        let mut tx = self.db.pool.begin().await?;
        sqlx::query(
            "DELETE FROM event_targets WHERE event_id IN \
             (SELECT id FROM events WHERE recorded_at < $1)",
        )
        .bind(before)
        .execute(&mut *tx)
        .await?;
        let done = sqlx::query("DELETE FROM events WHERE recorded_at < $1")
            .bind(before)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(done.rows_affected())
    }
}
