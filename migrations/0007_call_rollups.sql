-- Daily aggregates of calls, so statistics over many calls read a few
-- thousand rows instead of every call (see store/read/stats.rs).
--
-- One row per day and combination of the columns stats filter and group
-- on, of three kinds: the totals of those calls (kind 0, bucket 0), and how
-- many of them fall in each log-scale bucket of duration (kind 1) and of
-- time to first token (kind 2): the same buckets the calls carry, so
-- percentiles from rollups equal those from a scan.
--
-- Triggers on `calls` keep the rollups in step in the same transaction as
-- every insert, delete and update of a call, whichever code path makes it.
CREATE TABLE call_rollups (
    project_id INTEGER NOT NULL,
    -- start of the UTC day, Unix nanoseconds
    day INTEGER NOT NULL,
    source INTEGER NOT NULL,
    status INTEGER NOT NULL,
    service TEXT,
    provider TEXT,
    request_model TEXT,
    response_model TEXT,
    kind INTEGER NOT NULL,
    bucket INTEGER NOT NULL,
    n INTEGER NOT NULL,
    errors INTEGER NOT NULL,
    input_tokens INTEGER NOT NULL,
    output_tokens INTEGER NOT NULL,
    cost_usd REAL NOT NULL,
    -- calls with a known cost
    priced INTEGER NOT NULL
);
CREATE INDEX call_rollups_by_key ON call_rollups (
    project_id, day, source, status, service, provider, request_model, response_model, kind, bucket
);

-- Adding a row here adds it to the matching rollup row (creating it, and
-- deleting it once it counts no calls): the triggers on `calls` below add
-- each call's contribution, or take it away with negative counts.
CREATE VIEW call_rollup_changes AS
SELECT project_id, day, source, status, service, provider, request_model, response_model,
       kind, bucket, n, errors, input_tokens, output_tokens, cost_usd, priced
FROM call_rollups;

CREATE TRIGGER call_rollup_changes_apply INSTEAD OF INSERT ON call_rollup_changes BEGIN
    INSERT INTO call_rollups (project_id, day, source, status, service, provider, request_model,
                              response_model, kind, bucket, n, errors, input_tokens, output_tokens,
                              cost_usd, priced)
    SELECT NEW.project_id, NEW.day, NEW.source, NEW.status, NEW.service, NEW.provider,
           NEW.request_model, NEW.response_model, NEW.kind, NEW.bucket, 0, 0, 0, 0, 0.0, 0
    WHERE NOT EXISTS (
        SELECT 1 FROM call_rollups
        WHERE project_id = NEW.project_id AND day = NEW.day AND source = NEW.source
          AND status = NEW.status AND service IS NEW.service AND provider IS NEW.provider
          AND request_model IS NEW.request_model AND response_model IS NEW.response_model
          AND kind = NEW.kind AND bucket = NEW.bucket
    );
    UPDATE call_rollups
    SET n = n + NEW.n, errors = errors + NEW.errors, input_tokens = input_tokens + NEW.input_tokens,
        output_tokens = output_tokens + NEW.output_tokens, cost_usd = cost_usd + NEW.cost_usd,
        priced = priced + NEW.priced
    WHERE project_id = NEW.project_id AND day = NEW.day AND source = NEW.source
      AND status = NEW.status AND service IS NEW.service AND provider IS NEW.provider
      AND request_model IS NEW.request_model AND response_model IS NEW.response_model
      AND kind = NEW.kind AND bucket = NEW.bucket;
    DELETE FROM call_rollups
    WHERE NEW.n < 0 AND n <= 0
      AND project_id = NEW.project_id AND day = NEW.day AND source = NEW.source
      AND status = NEW.status AND service IS NEW.service AND provider IS NEW.provider
      AND request_model IS NEW.request_model AND response_model IS NEW.response_model
      AND kind = NEW.kind AND bucket = NEW.bucket;
END;

-- A call's contribution, with sign +1 (inserted) or -1 (deleted).
CREATE TRIGGER calls_rollup_insert AFTER INSERT ON calls BEGIN
    INSERT INTO call_rollup_changes
    SELECT NEW.project_id, NEW.start_time_unix_nano / 86400000000000 * 86400000000000, NEW.source,
           NEW.status, NEW.service, NEW.provider, NEW.request_model, NEW.response_model, 0, 0,
           1, NEW.status, COALESCE(NEW.input_tokens, 0), COALESCE(NEW.output_tokens, 0),
           COALESCE(NEW.cost_usd, 0.0), NEW.cost_usd IS NOT NULL;
    INSERT INTO call_rollup_changes
    SELECT NEW.project_id, NEW.start_time_unix_nano / 86400000000000 * 86400000000000, NEW.source,
           NEW.status, NEW.service, NEW.provider, NEW.request_model, NEW.response_model, 1,
           NEW.duration_bucket, 1, 0, 0, 0, 0.0, 0
    WHERE NEW.duration_bucket IS NOT NULL;
    INSERT INTO call_rollup_changes
    SELECT NEW.project_id, NEW.start_time_unix_nano / 86400000000000 * 86400000000000, NEW.source,
           NEW.status, NEW.service, NEW.provider, NEW.request_model, NEW.response_model, 2,
           NEW.ttft_bucket, 1, 0, 0, 0, 0.0, 0
    WHERE NEW.ttft_bucket IS NOT NULL;
END;

CREATE TRIGGER calls_rollup_delete AFTER DELETE ON calls BEGIN
    INSERT INTO call_rollup_changes
    SELECT OLD.project_id, OLD.start_time_unix_nano / 86400000000000 * 86400000000000, OLD.source,
           OLD.status, OLD.service, OLD.provider, OLD.request_model, OLD.response_model, 0, 0,
           -1, -OLD.status, -COALESCE(OLD.input_tokens, 0), -COALESCE(OLD.output_tokens, 0),
           -COALESCE(OLD.cost_usd, 0.0), -(OLD.cost_usd IS NOT NULL);
    INSERT INTO call_rollup_changes
    SELECT OLD.project_id, OLD.start_time_unix_nano / 86400000000000 * 86400000000000, OLD.source,
           OLD.status, OLD.service, OLD.provider, OLD.request_model, OLD.response_model, 1,
           OLD.duration_bucket, -1, 0, 0, 0, 0.0, 0
    WHERE OLD.duration_bucket IS NOT NULL;
    INSERT INTO call_rollup_changes
    SELECT OLD.project_id, OLD.start_time_unix_nano / 86400000000000 * 86400000000000, OLD.source,
           OLD.status, OLD.service, OLD.provider, OLD.request_model, OLD.response_model, 2,
           OLD.ttft_bucket, -1, 0, 0, 0, 0.0, 0
    WHERE OLD.ttft_bucket IS NOT NULL;
END;

-- An update (repricing sets cost_usd) takes the old row's contribution away
-- and adds the new one's.
CREATE TRIGGER calls_rollup_update AFTER UPDATE OF
    project_id, start_time_unix_nano, source, status, service, provider, request_model,
    response_model, input_tokens, output_tokens, cost_usd, duration_bucket, ttft_bucket
ON calls BEGIN
    INSERT INTO call_rollup_changes
    SELECT OLD.project_id, OLD.start_time_unix_nano / 86400000000000 * 86400000000000, OLD.source,
           OLD.status, OLD.service, OLD.provider, OLD.request_model, OLD.response_model, 0, 0,
           -1, -OLD.status, -COALESCE(OLD.input_tokens, 0), -COALESCE(OLD.output_tokens, 0),
           -COALESCE(OLD.cost_usd, 0.0), -(OLD.cost_usd IS NOT NULL);
    INSERT INTO call_rollup_changes
    SELECT OLD.project_id, OLD.start_time_unix_nano / 86400000000000 * 86400000000000, OLD.source,
           OLD.status, OLD.service, OLD.provider, OLD.request_model, OLD.response_model, 1,
           OLD.duration_bucket, -1, 0, 0, 0, 0.0, 0
    WHERE OLD.duration_bucket IS NOT NULL;
    INSERT INTO call_rollup_changes
    SELECT OLD.project_id, OLD.start_time_unix_nano / 86400000000000 * 86400000000000, OLD.source,
           OLD.status, OLD.service, OLD.provider, OLD.request_model, OLD.response_model, 2,
           OLD.ttft_bucket, -1, 0, 0, 0, 0.0, 0
    WHERE OLD.ttft_bucket IS NOT NULL;
    INSERT INTO call_rollup_changes
    SELECT NEW.project_id, NEW.start_time_unix_nano / 86400000000000 * 86400000000000, NEW.source,
           NEW.status, NEW.service, NEW.provider, NEW.request_model, NEW.response_model, 0, 0,
           1, NEW.status, COALESCE(NEW.input_tokens, 0), COALESCE(NEW.output_tokens, 0),
           COALESCE(NEW.cost_usd, 0.0), NEW.cost_usd IS NOT NULL;
    INSERT INTO call_rollup_changes
    SELECT NEW.project_id, NEW.start_time_unix_nano / 86400000000000 * 86400000000000, NEW.source,
           NEW.status, NEW.service, NEW.provider, NEW.request_model, NEW.response_model, 1,
           NEW.duration_bucket, 1, 0, 0, 0, 0.0, 0
    WHERE NEW.duration_bucket IS NOT NULL;
    INSERT INTO call_rollup_changes
    SELECT NEW.project_id, NEW.start_time_unix_nano / 86400000000000 * 86400000000000, NEW.source,
           NEW.status, NEW.service, NEW.provider, NEW.request_model, NEW.response_model, 2,
           NEW.ttft_bucket, 1, 0, 0, 0, 0.0, 0
    WHERE NEW.ttft_bucket IS NOT NULL;
END;

-- The calls stored before this migration.
INSERT INTO call_rollups
SELECT project_id, start_time_unix_nano / 86400000000000 * 86400000000000 AS d, source, status,
       service, provider, request_model, response_model, 0, 0, COUNT(*), SUM(status),
       COALESCE(SUM(input_tokens), 0), COALESCE(SUM(output_tokens), 0),
       COALESCE(SUM(cost_usd), 0.0), COUNT(cost_usd)
FROM calls
GROUP BY project_id, d, source, status, service, provider, request_model, response_model;
INSERT INTO call_rollups
SELECT project_id, start_time_unix_nano / 86400000000000 * 86400000000000 AS d, source, status,
       service, provider, request_model, response_model, 1, duration_bucket, COUNT(*), 0, 0, 0,
       0.0, 0
FROM calls WHERE duration_bucket IS NOT NULL
GROUP BY project_id, d, source, status, service, provider, request_model, response_model,
         duration_bucket;
INSERT INTO call_rollups
SELECT project_id, start_time_unix_nano / 86400000000000 * 86400000000000 AS d, source, status,
       service, provider, request_model, response_model, 2, ttft_bucket, COUNT(*), 0, 0, 0, 0.0, 0
FROM calls WHERE ttft_bucket IS NOT NULL
GROUP BY project_id, d, source, status, service, provider, request_model, response_model,
         ttft_bucket;
