-- The placement groups of cluster fleets (dstack's placement_groups): created on a fleet's
-- master instance, deleted once the fleet no longer needs them (`fleet_deleted`).
CREATE TABLE placement_groups (
    id TEXT PRIMARY KEY NOT NULL,
    project_id TEXT NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    fleet_id TEXT NOT NULL REFERENCES fleets (id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    -- The PlacementGroup JSON (name, project, backend, region, strategy).
    configuration TEXT NOT NULL,
    -- The backend's PlacementGroupProvisioningData JSON.
    provisioning_data TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    fleet_deleted INTEGER NOT NULL DEFAULT 0, -- 0 or 1
    deleted INTEGER NOT NULL DEFAULT 0 -- 0 or 1
);
CREATE INDEX placement_groups_fleet ON placement_groups (fleet_id);
