-- Comparisons: a replay run's answers scored against the originals.
--
-- A scoring is one pass over a run with one set of scorers and one judge
-- (or none). Scoring a run again with another judge adds a scoring and
-- leaves the targets alone: it reads the stored answers, never calls the
-- targets again. The comparison shows the newest finished scoring unless
-- one is named.

CREATE TABLE comparison_scorings (
    id INTEGER PRIMARY KEY,
    -- the public id: a ULID in its 26-character text form
    scoring_id TEXT NOT NULL UNIQUE,
    -- replay_runs.id
    run INTEGER NOT NULL,
    created_at_unix_nano INTEGER NOT NULL,
    finished_at_unix_nano INTEGER,
    -- running, done, failed
    state TEXT NOT NULL,
    error TEXT,
    -- JSON: the judge (target name and model), rubric mode, the template's
    -- hash, the embeddings target; equal specs may share a scoring
    spec TEXT NOT NULL
);
CREATE INDEX comparison_scorings_by_run ON comparison_scorings (run, id);

-- One scored item per scoring: scores, both judge verdicts with their
-- rationales and the judge's raw replies, as JSON.
CREATE TABLE comparison_items (
    run INTEGER NOT NULL,
    -- replay_items.id
    item INTEGER NOT NULL,
    -- comparison_scorings.id
    scoring INTEGER NOT NULL,
    record TEXT NOT NULL,
    PRIMARY KEY (run, item, scoring)
);
CREATE INDEX comparison_items_by_scoring ON comparison_items (scoring, item);
