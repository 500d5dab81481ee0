-- What the server records about how it runs, for the commands that write
-- into the same file without it (`reprise replay`, `compare`, `import`):
-- today the redaction policy it was last started with, so they redact
-- exactly as it does.
CREATE TABLE settings (
    name TEXT PRIMARY KEY,
    value TEXT NOT NULL,
    updated_at_unix_nano INTEGER NOT NULL
);
