-- Deleting a user or a project keeps its row, as dstack does: it is marked deleted, renamed
-- so that its name can be taken again, and its original name kept.
ALTER TABLE users ADD COLUMN deleted INTEGER NOT NULL DEFAULT 0;
ALTER TABLE users ADD COLUMN original_name TEXT;
ALTER TABLE projects ADD COLUMN deleted INTEGER NOT NULL DEFAULT 0;
ALTER TABLE projects ADD COLUMN original_name TEXT;

-- Project secrets; `value` is encrypted like every other secret column.
CREATE TABLE secrets (
    id TEXT PRIMARY KEY NOT NULL,
    project_id TEXT NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    value TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    UNIQUE (project_id, name)
);
