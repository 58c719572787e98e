-- The state of the Rust dstack server (PostgreSQL). Secret columns hold `enc:<type>:<name>:<payload>`
-- values (see src/encryption.rs); times are microseconds since the Unix epoch.
CREATE TABLE server_meta (
    key TEXT PRIMARY KEY NOT NULL,
    value TEXT NOT NULL
);

CREATE TABLE users (
    id TEXT PRIMARY KEY NOT NULL,
    name TEXT NOT NULL UNIQUE,
    -- SHA-256 of the token, for lookup; the token itself is kept encrypted because the API
    -- returns it to its owner and to admins.
    token_hash TEXT NOT NULL UNIQUE,
    token TEXT NOT NULL,
    global_role TEXT NOT NULL,
    email TEXT,
    active INTEGER NOT NULL, -- 0 or 1: sqlx's Any driver has no portable boolean
    created_at BIGINT NOT NULL,
    ssh_public_key TEXT NOT NULL,
    ssh_private_key TEXT NOT NULL
);

CREATE TABLE projects (
    id TEXT PRIMARY KEY NOT NULL,
    name TEXT NOT NULL UNIQUE,
    owner_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at BIGINT NOT NULL,
    is_public INTEGER NOT NULL, -- 0 or 1
    templates_repo TEXT,
    ssh_public_key TEXT NOT NULL,
    ssh_private_key TEXT NOT NULL
);

CREATE TABLE members (
    project_id TEXT NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    project_role TEXT NOT NULL,
    member_num INTEGER NOT NULL,
    PRIMARY KEY (project_id, user_id)
);

CREATE TABLE backends (
    id TEXT PRIMARY KEY NOT NULL,
    project_id TEXT NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    type TEXT NOT NULL,
    -- What the backend's configurator stored: non-secret config JSON, and secret auth JSON.
    config TEXT NOT NULL,
    auth TEXT NOT NULL,
    -- The config as the user gave it (API form), to skip unchanged config.yml entries:
    -- its non-secret view, and the whole config with credentials.
    source_config TEXT,
    source_auth TEXT,
    UNIQUE (project_id, type)
);
