-- Daily aggregates of calls, so statistics over many calls read one row per
-- day, combination and latency bucket instead of one per call (see
-- store/read/stats.rs).
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

-- What each call adds to the rollups: one row of totals, and one row for
-- each of its duration and TTFT buckets it has.
CREATE VIEW call_contributions AS
SELECT id, project_id, start_time_unix_nano / 86400000000000 * 86400000000000 AS day, source,
       status, service, provider, request_model, response_model, 0 AS kind, 0 AS bucket, 1 AS n,
       status AS errors, COALESCE(input_tokens, 0) AS input_tokens,
       COALESCE(output_tokens, 0) AS output_tokens, COALESCE(cost_usd, 0.0) AS cost_usd,
       cost_usd IS NOT NULL AS priced
FROM calls
UNION ALL
SELECT id, project_id, start_time_unix_nano / 86400000000000 * 86400000000000, source, status,
       service, provider, request_model, response_model, 1, duration_bucket, 1, 0, 0, 0, 0.0, 0
FROM calls WHERE duration_bucket IS NOT NULL
UNION ALL
SELECT id, project_id, start_time_unix_nano / 86400000000000 * 86400000000000, source, status,
       service, provider, request_model, response_model, 2, ttft_bucket, 1, 0, 0, 0, 0.0, 0
FROM calls WHERE ttft_bucket IS NOT NULL;

-- A call's contribution is added once it is stored, and taken away (with
-- negative counts) while it is still there to read: before a delete, and
-- before an update (repricing sets cost_usd), after which the new row's is
-- added.
CREATE TRIGGER calls_rollup_insert AFTER INSERT ON calls BEGIN
    INSERT INTO call_rollup_changes
    SELECT project_id, day, source, status, service, provider, request_model, response_model,
           kind, bucket, n, errors, input_tokens, output_tokens, cost_usd, priced
    FROM call_contributions WHERE id = NEW.id;
END;

CREATE TRIGGER calls_rollup_delete BEFORE DELETE ON calls BEGIN
    INSERT INTO call_rollup_changes
    SELECT project_id, day, source, status, service, provider, request_model, response_model,
           kind, bucket, -n, -errors, -input_tokens, -output_tokens, -cost_usd, -priced
    FROM call_contributions WHERE id = OLD.id;
END;

CREATE TRIGGER calls_rollup_update_before BEFORE UPDATE OF
    project_id, start_time_unix_nano, source, status, service, provider, request_model,
    response_model, input_tokens, output_tokens, cost_usd, duration_bucket, ttft_bucket
ON calls BEGIN
    INSERT INTO call_rollup_changes
    SELECT project_id, day, source, status, service, provider, request_model, response_model,
           kind, bucket, -n, -errors, -input_tokens, -output_tokens, -cost_usd, -priced
    FROM call_contributions WHERE id = OLD.id;
END;

CREATE TRIGGER calls_rollup_update_after AFTER UPDATE OF
    project_id, start_time_unix_nano, source, status, service, provider, request_model,
    response_model, input_tokens, output_tokens, cost_usd, duration_bucket, ttft_bucket
ON calls BEGIN
    INSERT INTO call_rollup_changes
    SELECT project_id, day, source, status, service, provider, request_model, response_model,
           kind, bucket, n, errors, input_tokens, output_tokens, cost_usd, priced
    FROM call_contributions WHERE id = NEW.id;
END;

-- The calls stored before this migration.
INSERT INTO call_rollups
SELECT project_id, day, source, status, service, provider, request_model, response_model, kind,
       bucket, SUM(n), SUM(errors), SUM(input_tokens), SUM(output_tokens), SUM(cost_usd),
       SUM(priced)
FROM call_contributions
GROUP BY project_id, day, source, status, service, provider, request_model, response_model,
         kind, bucket;
