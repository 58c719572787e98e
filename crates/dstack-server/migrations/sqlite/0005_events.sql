-- dstack's events: what happened to fleets and instances, by whom (NULL: the server), and
-- what it was about (one or more targets). Times are microseconds since the epoch.
CREATE TABLE events (
    id TEXT PRIMARY KEY NOT NULL,
    message TEXT NOT NULL,
    recorded_at BIGINT NOT NULL,
    actor_user_id TEXT
);
CREATE INDEX events_recorded ON events (recorded_at, id);

CREATE TABLE event_targets (
    event_id TEXT NOT NULL REFERENCES events (id) ON DELETE CASCADE,
    -- fleet, instance (dstack's EventTargetType values)
    type TEXT NOT NULL,
    project_id TEXT,
    id TEXT NOT NULL,
    name TEXT NOT NULL,
    -- The fleet a fleet or instance target belongs to (for `within_fleets`).
    fleet_id TEXT
);
CREATE INDEX event_targets_event ON event_targets (event_id);
