//! Every metric name and label key reprise exposes, in one place, so the
//! dashboards in `dashboards/`, the docs and the code cannot disagree
//! about a spelling. Names follow the Prometheus conventions: a `reprise_`
//! prefix, base units in the name (`_seconds`, `_bytes`, `_usd`), `_total`
//! on counters.
//!
//! Instrumented code never uses these directly: it calls the recording
//! functions of [`super::ingest`], [`super::store`], [`super::calls`] and
//! [`super::replay`].

// --- Ingest: requests as the receivers saw them -------------------------

/// Counter `{transport, signal, outcome}`: ingest requests answered.
/// `outcome` is `ok`, `partial` (some items rejected, reported in OTLP
/// `partial_success` or in the raw records' `rejected` list) or `rejected`
/// (the whole request was refused; the reason is in
/// [`INGEST_REJECTIONS`]).
pub const INGEST_REQUESTS: &str = "reprise_ingest_requests_total";
/// Counter `{transport, signal, reason}`: refused requests by reason, the
/// labels of `ErrorCode::INGEST` (`malformed`, `all_rejected`,
/// `body_too_large`, `decompressed_too_large`, `content_type`,
/// `content_encoding`, `overloaded`, `unavailable`, `internal`).
pub const INGEST_REJECTIONS: &str = "reprise_ingest_rejections_total";
/// Histogram `{transport, signal}`: time from the request's arrival to its
/// answer, which for an accepted request includes waiting for the commit.
pub const INGEST_REQUEST_DURATION: &str = "reprise_ingest_request_duration_seconds";
/// Counter `{transport, signal}`: request payload bytes after
/// decompression, in the encoding sent (protobuf or JSON).
pub const INGEST_RECEIVED_BYTES: &str = "reprise_ingest_received_bytes_total";
/// Counter `{transport}`: spans in decoded trace exports.
pub const INGEST_SPANS_RECEIVED: &str = "reprise_ingest_spans_received_total";
/// Counter `{transport}`: spans rejected as invalid on their own.
pub const INGEST_SPANS_REJECTED: &str = "reprise_ingest_spans_rejected_total";
/// Counter `{transport}`: log records in decoded log exports.
pub const INGEST_LOG_RECORDS_RECEIVED: &str = "reprise_ingest_log_records_received_total";
/// Counter `{transport}`: log records rejected as invalid on their own.
pub const INGEST_LOG_RECORDS_REJECTED: &str = "reprise_ingest_log_records_rejected_total";
/// Counter `{transport}`: raw records posted to `POST /api/v1/calls`.
pub const INGEST_RAW_RECORDS_RECEIVED: &str = "reprise_ingest_raw_records_received_total";
/// Counter `{transport}`: raw records refused as invalid on their own.
pub const INGEST_RAW_RECORDS_REJECTED: &str = "reprise_ingest_raw_records_rejected_total";

// --- Store: the write queue, the writer and the linker ------------------

/// Gauge, sampled at scrape time: bytes of prepared batches waiting for
/// the writer.
pub const WRITE_QUEUE_BYTES: &str = "reprise_write_queue_bytes";
/// Gauge: the write queue's byte budget (`--max-queue-mb`); ingest answers
/// "retry later" when [`WRITE_QUEUE_BYTES`] reaches it.
pub const WRITE_QUEUE_CAPACITY_BYTES: &str = "reprise_write_queue_capacity_bytes";
/// Counter `{outcome}`: writer transactions, `ok` or `error`.
pub const STORE_COMMITS: &str = "reprise_store_commits_total";
/// Histogram: time to write and commit one group of batches.
pub const STORE_COMMIT_DURATION: &str = "reprise_store_commit_duration_seconds";
/// Histogram: batches (ingest requests, linker rounds) per commit.
pub const STORE_COMMIT_BATCHES: &str = "reprise_store_commit_batches";
/// Histogram: rows (spans, log records, calls, blobs) per commit.
pub const STORE_COMMIT_ROWS: &str = "reprise_store_commit_rows";
/// Counter `{table}`: rows that were new (re-sent data is not counted),
/// `table` = `spans` or `log_records`.
pub const STORE_INSERTED_ROWS: &str = "reprise_store_inserted_rows_total";
/// Gauge, sampled at scrape time: spans waiting for the linker.
pub const LINKER_PENDING_LINKS: &str = "reprise_linker_pending_links";
/// Gauge, sampled at scrape time: spans and log records acknowledged but
/// not yet derived into calls.
pub const DERIVE_PENDING_ITEMS: &str = "reprise_derive_pending_items";
/// Gauge, sampled at scrape time: compressed bytes of acknowledged exports
/// not yet derived.
pub const DERIVE_PENDING_BYTES: &str = "reprise_derive_pending_bytes";
/// Gauge, sampled at scrape time: how long the oldest export not yet
/// derived has waited, in seconds.
pub const DERIVE_OLDEST_AGE: &str = "reprise_derive_oldest_pending_age_seconds";
/// Counter: derivation batches that failed (and are retried).
pub const DERIVE_FAILURES: &str = "reprise_derive_failures_total";
/// Counter: acknowledged exports that could not be derived and were moved
/// to `ingest_failed`.
pub const DERIVE_QUARANTINED: &str = "reprise_derive_quarantined_total";
/// Gauge, sampled at scrape time: database pages in use, in bytes (what
/// retention by size and the hard limit compare with).
pub const STORE_DATABASE_USED_BYTES: &str = "reprise_store_database_used_bytes";
/// Gauge, sampled at scrape time: the database file's size, free pages
/// included.
pub const STORE_DATABASE_FILE_BYTES: &str = "reprise_store_database_file_bytes";
pub const STORE_WAL_BYTES: &str = "reprise_store_wal_bytes";
/// Gauge, set at start when configured: `--max-db-mb`, the size past
/// which retention deletes the oldest data.
pub const STORE_RETENTION_LIMIT_BYTES: &str = "reprise_store_retention_limit_bytes";
/// Gauge, set at start when configured: `--hard-limit-mb`, the size the
/// file never grows past (ingest answers 503 when full).
pub const STORE_HARD_LIMIT_BYTES: &str = "reprise_store_hard_limit_bytes";
/// Counter: rows deleted by retention.
pub const STORE_PRUNED_ROWS: &str = "reprise_store_pruned_rows_total";

// --- LLM calls, counted when a commit inserts them ----------------------

/// Counter `{source, provider, model, status}`: LLM calls stored.
pub const LLM_CALLS: &str = "reprise_llm_calls_total";
/// Counter `{source, provider, model, type}`: tokens of the calls stored;
/// `type` = `input`, `output`, `cached_input` or `reasoning`.
pub const LLM_TOKENS: &str = "reprise_llm_tokens_total";
/// Gauge `{source, provider, model}` that only goes up: cost in USD of the
/// calls stored (when a price is known). A gauge because the metrics
/// facade's counters count integers; query it like a counter
/// (`increase`, `rate`), which handles the reset at restart the same way.
pub const LLM_COST_USD: &str = "reprise_llm_cost_usd";
/// Histogram `{source, provider, model}`: call duration.
pub const LLM_CALL_DURATION: &str = "reprise_llm_call_duration_seconds";
/// Histogram `{source, provider, model}`: time to first token of streamed calls.
pub const LLM_TIME_TO_FIRST_TOKEN: &str = "reprise_llm_time_to_first_token_seconds";

// --- Replay ---------------------------------------------------------------

/// Counter `{target, outcome}`: replay items the executor finished and
/// committed, `outcome` = `done` or `failed` (items cancelled with their
/// run or by a budget guard never reach a target and are not counted).
pub const REPLAY_ITEMS: &str = "reprise_replay_items_total";
/// Counter `{target, reason}`: failed requests to a target, retried or not;
/// `reason` is one of `rate_limited`, `server_error`, `client_error`,
/// `timeout`, `connection`, `stream_cut`, `provider_error`,
/// `malformed_response`, `config`.
pub const REPLAY_ATTEMPT_ERRORS: &str = "reprise_replay_attempt_errors_total";
/// Histogram `{target}`: latency of replayed calls that answered.
pub const REPLAY_LATENCY: &str = "reprise_replay_latency_seconds";
/// Histogram `{target}`: time to first token of streamed replayed calls.
pub const REPLAY_TIME_TO_FIRST_TOKEN: &str = "reprise_replay_time_to_first_token_seconds";
/// Gauge `{target}` that only goes up: cost in USD of replayed calls (see
/// [`LLM_COST_USD`] for why a gauge).
pub const REPLAY_COST_USD: &str = "reprise_replay_cost_usd";
/// Gauge, read from the store at scrape time: replay runs not yet
/// finished (executing, or waiting for a process to take them up).
pub const REPLAY_RUNS_ACTIVE: &str = "reprise_replay_runs_active";
/// Gauge `{target}`, read from the store at scrape time: items waiting or
/// running in unfinished runs.
pub const REPLAY_ITEMS_PENDING: &str = "reprise_replay_items_pending";

// --- The process ------------------------------------------------------------

/// Gauge `{version}`, always 1: which build is running.
pub const BUILD_INFO: &str = "reprise_build_info";
/// Counter: connections closed as soon as they were accepted, because the
/// server held `--max-connections` already.
pub const CONNECTIONS_REFUSED: &str = "reprise_connections_refused_total";

// --- Label keys -------------------------------------------------------------

/// `http` or `grpc`.
pub const LABEL_TRANSPORT: &str = "transport";
/// `traces`, `logs` or `calls` (raw records).
pub const LABEL_SIGNAL: &str = "signal";
/// What became of a request, commit or replay item.
pub const LABEL_OUTCOME: &str = "outcome";
/// Why a request (or a replay attempt) was refused.
pub const LABEL_REASON: &str = "reason";
/// A store table.
pub const LABEL_TABLE: &str = "table";
/// Where a call came from: `otlp`, `raw` or `replay`.
pub const LABEL_SOURCE: &str = "source";
/// The call's provider (`openai`, `anthropic`, …), `unknown` when the
/// telemetry did not say; capped, see [`super::labels`].
pub const LABEL_PROVIDER: &str = "provider";
/// The model as requested (the response model when no request model was
/// recorded), `unknown` when neither was; capped, see [`super::labels`].
pub const LABEL_MODEL: &str = "model";
/// `ok` or `error`.
pub const LABEL_STATUS: &str = "status";
/// Kind of tokens: `input`, `output`, `cached_input`, `reasoning`.
pub const LABEL_TYPE: &str = "type";
/// A replay target's configured name; capped, see [`super::labels`].
pub const LABEL_TARGET: &str = "target";
/// The crate version.
pub const LABEL_VERSION: &str = "version";
