-- Fleets and their instances, as dstack keeps them; times are microseconds since the epoch.
CREATE TABLE fleets (
    id TEXT PRIMARY KEY NOT NULL,
    project_id TEXT NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    -- active, terminating, terminated
    status TEXT NOT NULL,
    -- The FleetSpec JSON as it was applied.
    spec TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    last_processed_at BIGINT NOT NULL,
    deleted INTEGER NOT NULL DEFAULT 0, -- 0 or 1
    deleted_at BIGINT
);
-- One live fleet per name and project; deleted ones keep their names.
CREATE UNIQUE INDEX fleets_live_name ON fleets (project_id, name) WHERE deleted = 0;

CREATE TABLE instances (
    id TEXT PRIMARY KEY NOT NULL,
    project_id TEXT NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    fleet_id TEXT NOT NULL REFERENCES fleets (id) ON DELETE CASCADE,
    -- <fleet>-<num>
    name TEXT NOT NULL,
    instance_num INTEGER NOT NULL,
    -- pending, provisioning, idle, busy, terminating, terminated
    status TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    last_processed_at BIGINT NOT NULL,
    started_at BIGINT,
    finished_at BIGINT,
    deleted INTEGER NOT NULL DEFAULT 0, -- 0 or 1
    deleted_at BIGINT,
    -- What to provision, fixed when the instance is created (JSON): the merged profile, the
    -- requirements and the instance configuration given to the backend.
    profile TEXT NOT NULL,
    requirements TEXT NOT NULL,
    instance_configuration TEXT NOT NULL,
    -- destroy-after-idle or dont-destroy, and seconds
    termination_policy TEXT NOT NULL,
    termination_idle_time BIGINT NOT NULL,
    -- Set by a delete: the worker holding the row moves it to terminating at its next pass.
    termination_requested INTEGER NOT NULL DEFAULT 0, -- 0 or 1
    termination_reason TEXT,
    termination_reason_message TEXT,
    termination_deadline BIGINT,
    first_termination_retry_at BIGINT,
    last_termination_retry_at BIGINT,
    -- The offer a create is being tried on (JSON), written before the backend is called: a
    -- server that stopped mid-call retries exactly it first, with the same idempotency token.
    pending_offer TEXT,
    -- Once created: the offer taken (its price too) and the backend's provisioning data
    -- (JSON).
    backend TEXT,
    region TEXT,
    offer TEXT,
    job_provisioning_data TEXT,
    -- Which server works on the row, until when (a row lock that outlives a crash by at most
    -- its timeout).
    lock_owner TEXT,
    lock_expires_at BIGINT
);
CREATE INDEX instances_fleet ON instances (fleet_id);
CREATE INDEX instances_due ON instances (last_processed_at) WHERE deleted = 0;
CREATE UNIQUE INDEX instances_live_num ON instances (fleet_id, instance_num) WHERE deleted = 0;
