-- Listing calls sorted by latency, tokens or cost must not sort every row:
-- one index per sort expression, in the exact form the query orders by, so
-- a page of the slowest or most expensive calls reads only that page.
CREATE INDEX calls_by_latency ON calls (project_id, COALESCE(duration_ms, -1), id);
CREATE INDEX calls_by_tokens ON calls (project_id, (COALESCE(input_tokens, 0) + COALESCE(output_tokens, 0)), id);
CREATE INDEX calls_by_cost ON calls (project_id, COALESCE(cost_usd, -1), id);
