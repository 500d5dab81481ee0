-- Exports acknowledged but not yet derived into spans, log records and
-- calls (see docs/architecture.md, "Ingest in two stages"). An export is
-- acknowledged once its row here has committed; the deriver turns the
-- oldest rows into everything else and deletes them in the same
-- transaction, so a row's existence is what marks it pending.
--
-- `seq` only grows (AUTOINCREMENT never reuses a deleted row's number), so
-- "derived through seq N" is a watermark readers can wait for.
CREATE TABLE ingest_log (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    project_id INTEGER NOT NULL,
    -- 1: ExportTraceServiceRequest, 2: ExportLogsServiceRequest
    signal INTEGER NOT NULL,
    received_unix_nano INTEGER NOT NULL,
    -- spans or log records in the export
    items INTEGER NOT NULL,
    -- the export's protobuf encoding, compressed as a pack (codec 0 or 1)
    codec INTEGER NOT NULL,
    raw_length INTEGER NOT NULL,
    -- the distinct trace ids of its spans or log records, 16 bytes each:
    -- what a trace read searches instead of decompressing every export
    trace_ids BLOB NOT NULL,
    -- last, so scans of the small columns above never read it
    body BLOB NOT NULL
);

-- Exports that could not be derived however often they were tried (a
-- corrupt row, or a bug that fails on their content), moved here so they
-- no longer hold up the ones behind them. Kept as received, for an
-- operator to inspect or replay; `/healthz` counts them.
CREATE TABLE ingest_failed (
    seq INTEGER PRIMARY KEY,
    project_id INTEGER NOT NULL,
    signal INTEGER NOT NULL,
    received_unix_nano INTEGER NOT NULL,
    items INTEGER NOT NULL,
    codec INTEGER NOT NULL,
    raw_length INTEGER NOT NULL,
    failed_at_unix_nano INTEGER NOT NULL,
    error TEXT NOT NULL,
    body BLOB NOT NULL
);
