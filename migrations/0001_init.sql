-- reprise storage schema, version 1.
--
-- Bulky bytes (span and log bodies, call content, deduplicated content
-- blobs) live in zstd-compressed packs; the other tables hold small indexed
-- rows that point into packs by (pack_id, offset, length) of the
-- uncompressed pack. Content blobs are addressed by hash so identical
-- content (a system prompt sent 10,000 times, a chat history resent every
-- turn) is stored once.

CREATE TABLE packs (
    -- never reused, so a cached pack is never confused with a newer one
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    created_at_unix_nano INTEGER NOT NULL,
    -- 0 = stored as is, 1 = zstd
    codec INTEGER NOT NULL,
    raw_length INTEGER NOT NULL,
    data BLOB NOT NULL,
    -- the highest span, log record and call row ids when this pack's batch
    -- committed: rows of older packs have no higher ids, so the pruner
    -- finds them by row id range instead of an index on pack_id
    span_rows_through INTEGER,
    log_rows_through INTEGER,
    call_rows_through INTEGER
);

CREATE TABLE blobs (
    -- first 16 bytes of the BLAKE3 hash of the content
    hash BLOB PRIMARY KEY,
    pack_id INTEGER NOT NULL,
    pack_offset INTEGER NOT NULL,
    length INTEGER NOT NULL,
    -- last time ingest referenced this content; the pruner keeps blobs seen
    -- after its cutoff
    last_seen_unix_nano INTEGER NOT NULL
) WITHOUT ROWID;

CREATE TABLE resources (
    id INTEGER PRIMARY KEY,
    hash BLOB NOT NULL UNIQUE,
    service_name TEXT,
    -- encoded StoredResource (small, uncompressed)
    body BLOB NOT NULL
);

CREATE TABLE scopes (
    id INTEGER PRIMARY KEY,
    hash BLOB NOT NULL UNIQUE,
    name TEXT NOT NULL,
    version TEXT NOT NULL,
    body BLOB NOT NULL
);

CREATE TABLE spans (
    id INTEGER PRIMARY KEY,
    project_id INTEGER NOT NULL,
    trace_id BLOB NOT NULL,
    span_id BLOB NOT NULL,
    parent_span_id BLOB,
    name TEXT NOT NULL,
    kind INTEGER NOT NULL,
    start_time_unix_nano INTEGER NOT NULL,
    end_time_unix_nano INTEGER NOT NULL,
    status_code INTEGER NOT NULL,
    resource_id INTEGER NOT NULL,
    scope_id INTEGER NOT NULL,
    pack_id INTEGER NOT NULL,
    body_offset INTEGER NOT NULL,
    body_length INTEGER NOT NULL
);
-- exporters retry on timeouts: a span re-sent with the same ids is stored once
CREATE UNIQUE INDEX spans_by_id ON spans (project_id, trace_id, span_id);

CREATE TABLE log_records (
    id INTEGER PRIMARY KEY,
    project_id INTEGER NOT NULL,
    -- hash of the whole record with its resource and scope: a re-sent record is stored once
    hash BLOB NOT NULL,
    time_unix_nano INTEGER NOT NULL,
    trace_id BLOB,
    span_id BLOB,
    event_name TEXT,
    severity_number INTEGER NOT NULL,
    resource_id INTEGER NOT NULL,
    scope_id INTEGER NOT NULL,
    pack_id INTEGER NOT NULL,
    body_offset INTEGER NOT NULL,
    body_length INTEGER NOT NULL
);
CREATE UNIQUE INDEX log_records_by_hash ON log_records (project_id, hash);
CREATE INDEX log_records_by_span ON log_records (project_id, trace_id, span_id) WHERE trace_id IS NOT NULL;
CREATE INDEX log_records_by_time ON log_records (project_id, time_unix_nano);
