-- Projects and API keys.
--
-- Every data table already carries a project_id; this gives the ids names.
-- Project 1 is "default": the project of everything stored before keys
-- existed, and of every request while authentication is off.

CREATE TABLE projects (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    created_at_unix_nano INTEGER NOT NULL
);

INSERT INTO projects (id, name, created_at_unix_nano) VALUES (1, 'default', 0);

-- Only a hash of each key is kept: the key itself is shown once, when it is
-- created. A key is never deleted, only revoked, so logs that name a key id
-- stay meaningful.
CREATE TABLE api_keys (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    project_id INTEGER NOT NULL REFERENCES projects (id),
    -- BLAKE3 of the whole key text (`rpk_…`), 32 bytes
    key_hash BLOB NOT NULL UNIQUE,
    -- the key's first characters, to tell keys apart in listings
    key_prefix TEXT NOT NULL,
    -- space-separated, among: ingest read admin
    scopes TEXT NOT NULL,
    created_at_unix_nano INTEGER NOT NULL,
    revoked_at_unix_nano INTEGER
);
