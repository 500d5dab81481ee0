-- The calls of one trace (`GET /api/v1/traces/{id}`, `?trace_id=` on the
-- call endpoints). `calls_by_span` cannot serve a filter on the trace
-- alone: it is partial on `span_id IS NOT NULL`, which such a query does not
-- imply, so it fell back to walking every call by time.
CREATE INDEX calls_by_trace ON calls (project_id, trace_id, start_time_unix_nano, id)
    WHERE trace_id IS NOT NULL;
