-- Replay runs: recorded calls sent again to other models. A run is a
-- selection of original calls × targets × repetitions; each combination is
-- one item with its own state, so a run survives a restart and resumes
-- where it stopped.
--
-- One process at a time executes a run: it holds the run's lease
-- (lease_owner until lease_expires_unix_nano) and renews it while it
-- works. Items it has claimed carry the same owner; a result is committed
-- only while the item is still `running` under that owner, in the same
-- transaction as the result call, so an item's result is stored once.

CREATE TABLE replay_runs (
    id INTEGER PRIMARY KEY,
    -- the public id: a ULID in its 26-character text form
    run_id TEXT NOT NULL UNIQUE,
    project_id INTEGER NOT NULL,
    name TEXT,
    created_at_unix_nano INTEGER NOT NULL,
    finished_at_unix_nano INTEGER,
    -- running, done, cancelled, stopped (a budget guard ended it)
    state TEXT NOT NULL,
    stop_reason TEXT,
    -- JSON: targets as resolved when the run was created (never keys:
    -- only the names of the variables that hold them), overrides, budget,
    -- streaming, the selection as asked
    spec TEXT NOT NULL,
    lease_owner TEXT,
    lease_expires_unix_nano INTEGER
);
CREATE INDEX replay_runs_by_created ON replay_runs (project_id, created_at_unix_nano, id);
CREATE INDEX replay_runs_by_state ON replay_runs (state) WHERE state = 'running';

CREATE TABLE replay_items (
    id INTEGER PRIMARY KEY,
    -- replay_runs.id
    run INTEGER NOT NULL,
    original_call_id BLOB NOT NULL,
    target TEXT NOT NULL,
    repetition INTEGER NOT NULL,
    -- pending, running, done, failed, cancelled
    state TEXT NOT NULL,
    -- provider requests made for this item, retries included
    attempts INTEGER NOT NULL DEFAULT 0,
    last_error TEXT,
    -- the replayed call (source = replay); also set for a provider error
    -- that exhausted its retries, whose call records the error
    result_call_id BLOB,
    latency_ms REAL,
    ttft_ms REAL,
    input_tokens INTEGER,
    output_tokens INTEGER,
    cost_usd REAL,
    estimated_cost_usd REAL,
    lease_owner TEXT,
    updated_at_unix_nano INTEGER NOT NULL,
    UNIQUE (run, original_call_id, target, repetition)
);
CREATE INDEX replay_items_by_state ON replay_items (run, state, target, id);
