-- Canonical LLM calls: one row per model invocation, with the columns the
-- query API filters, groups and sorts on. Messages, tools, parameters and
-- other attributes are in the call's content record in a pack.

CREATE TABLE calls (
    id INTEGER PRIMARY KEY,
    -- the public id: a 16-byte ULID, time-ordered by start time
    call_id BLOB NOT NULL UNIQUE,
    project_id INTEGER NOT NULL,
    -- 0 otlp, 1 raw, 2 replay
    source INTEGER NOT NULL,
    trace_id BLOB,
    span_id BLOB,
    service TEXT,
    provider TEXT,
    operation TEXT,
    request_model TEXT,
    response_model TEXT,
    response_id TEXT,
    start_time_unix_nano INTEGER NOT NULL,
    duration_ms REAL,
    ttft_ms REAL,
    streaming INTEGER,
    input_tokens INTEGER,
    output_tokens INTEGER,
    cached_input_tokens INTEGER,
    reasoning_tokens INTEGER,
    cost_usd REAL,
    -- 0 ok, 1 error
    status INTEGER NOT NULL,
    error_type TEXT,
    session_id TEXT,
    user_id TEXT,
    -- log-scale buckets of duration and time to first token, so the stats
    -- API computes percentiles with one GROUP BY
    duration_bucket INTEGER,
    ttft_bucket INTEGER,
    pack_id INTEGER NOT NULL,
    content_offset INTEGER NOT NULL,
    content_length INTEGER NOT NULL
);
-- a span is the source of at most one call
CREATE UNIQUE INDEX calls_by_span ON calls (project_id, trace_id, span_id) WHERE span_id IS NOT NULL;
CREATE INDEX calls_by_time ON calls (project_id, start_time_unix_nano, id);
CREATE INDEX calls_by_service ON calls (project_id, service, start_time_unix_nano, id);
CREATE INDEX calls_by_request_model ON calls (project_id, request_model, start_time_unix_nano, id);
CREATE INDEX calls_by_response_model ON calls (project_id, response_model, start_time_unix_nano, id);
CREATE INDEX calls_by_session ON calls (project_id, session_id, start_time_unix_nano, id) WHERE session_id IS NOT NULL;
-- two spans of one provider call (an SDK's own span and an instrumentation's) are found by response id
CREATE INDEX calls_by_response_id ON calls (project_id, response_id) WHERE response_id IS NOT NULL;

-- Further spans folded into a call: a span that described the same provider
-- call as another one points at the call it was merged into.
CREATE TABLE call_aliases (
    project_id INTEGER NOT NULL,
    trace_id BLOB NOT NULL,
    span_id BLOB NOT NULL,
    call_id BLOB NOT NULL,
    PRIMARY KEY (project_id, trace_id, span_id)
) WITHOUT ROWID;

-- Spans whose call must be derived again because more of it arrived: GenAI
-- log events, a span whose events came first, a span that may describe the
-- same provider call as a stored one. The linker works through these after
-- the data is committed; `version` changes whenever new data names the
-- span, so the linker only clears what it has seen.
CREATE TABLE pending_links (
    project_id INTEGER NOT NULL,
    trace_id BLOB NOT NULL,
    span_id BLOB NOT NULL,
    version INTEGER NOT NULL,
    PRIMARY KEY (project_id, trace_id, span_id)
) WITHOUT ROWID;

-- Tags of a call (raw records' `tags`, OpenInference `tag.tags`).
CREATE TABLE call_tags (
    call_row INTEGER NOT NULL,
    tag TEXT NOT NULL,
    PRIMARY KEY (call_row, tag)
) WITHOUT ROWID;
CREATE INDEX call_tags_by_tag ON call_tags (tag, call_row);

-- Attributes a call can be filtered on (`attr.KEY=VALUE`): raw records'
-- `metadata`, and span attributes in the namespaces apps use for their own
-- context (see store/call_index.rs).
CREATE TABLE call_attributes (
    call_row INTEGER NOT NULL,
    key TEXT NOT NULL,
    value TEXT NOT NULL,
    PRIMARY KEY (call_row, key, value)
) WITHOUT ROWID;
CREATE INDEX call_attributes_by_value ON call_attributes (key, value, call_row);

-- Full-text index of what is new in each call: its last user turn and its
-- answer. Contentless: the text itself lives compressed in the packs. No
-- token positions are kept (detail = none), which makes the index about a
-- third of the size: searches match words, not phrases.
CREATE VIRTUAL TABLE calls_fts USING fts5 (text, content = '', contentless_delete = 1, detail = none);

-- A call's index entries go with it.
CREATE TRIGGER calls_delete_index AFTER DELETE ON calls BEGIN
    DELETE FROM call_tags WHERE call_row = old.id;
    DELETE FROM call_attributes WHERE call_row = old.id;
    DELETE FROM calls_fts WHERE rowid = old.id;
    DELETE FROM call_aliases WHERE project_id = old.project_id AND call_id = old.call_id;
END;
