//! Every setting, read once: command-line flags, each with a `REPRISE_*`
//! environment variable. A flag's doc comment is its `--help` text.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::ingest::limits::Limits;
use crate::store::StoreOptions;
use crate::store::prune::RetentionPolicy;

#[derive(Debug, Parser)]
#[command(
    name = "reprise",
    version,
    about = "Prompt/response telemetry and replay store for LLM applications"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the server: OTLP/HTTP, the API and the UI on one port, OTLP/gRPC on another.
    Serve(ServeArgs),
    /// Import raw prompt/response records from a JSONL file (or `-` for stdin).
    Import(crate::cli::import::ImportArgs),
    /// Write a consistent copy of the database, even while a server runs.
    Backup(crate::cli::backup::BackupArgs),
    /// Replace the database with a backup (stop the server first).
    Restore(crate::cli::backup::RestoreArgs),
    /// Check the database's integrity and show where its space went.
    Check(crate::cli::backup::CheckArgs),
    /// Create, list and revoke API keys.
    Keys(crate::cli::keys::KeysArgs),
}

/// When the database file is flushed to disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Fsync {
    /// Every commit is fsynced: nothing acknowledged is lost, even on power loss.
    Commit,
    /// Leave flushing to the OS: nothing acknowledged is lost if the process
    /// crashes, but a power loss can lose the last commits.
    Os,
}

#[derive(Debug, Clone, Args)]
pub struct ServeArgs {
    /// SQLite database file (created if missing).
    #[arg(long, env = "REPRISE_DB", default_value = "reprise.db")]
    pub db: PathBuf,
    /// Address for OTLP/HTTP, the JSON API and the UI (port 0 picks a free port).
    #[arg(long, env = "REPRISE_HTTP", default_value = "127.0.0.1:4318")]
    pub http: SocketAddr,
    /// Address for OTLP/gRPC (port 0 picks a free port).
    #[arg(long, env = "REPRISE_GRPC", default_value = "127.0.0.1:4317")]
    pub grpc: SocketAddr,
    /// Megabytes of accepted data that may wait for the writer before
    /// ingest answers "retry later" (HTTP 429, gRPC RESOURCE_EXHAUSTED).
    #[arg(long, env = "REPRISE_MAX_QUEUE_MB", default_value_t = 64.0)]
    pub max_queue_mb: f64,
    /// Largest request body accepted, in megabytes (as sent, compressed or not).
    #[arg(long, env = "REPRISE_MAX_BODY_MB", default_value_t = 32)]
    pub max_body_mb: usize,
    /// Largest request body after decompression, in megabytes.
    #[arg(long, env = "REPRISE_MAX_DECOMPRESSED_MB", default_value_t = 128)]
    pub max_decompressed_mb: usize,
    /// A TOML price table that extends and overrides the built-in model
    /// prices used to compute each call's cost.
    #[arg(long, env = "REPRISE_PRICES")]
    pub prices: Option<PathBuf>,
    /// When commits are flushed to disk.
    #[arg(long, env = "REPRISE_FSYNC", value_enum, default_value_t = Fsync::Commit)]
    pub fsync: Fsync,
    /// Refuse every request without a valid API key, even before any key
    /// exists. Without it, keys are required as soon as one exists.
    #[arg(long, env = "REPRISE_REQUIRE_KEYS")]
    pub require_keys: bool,
    /// Allow listening on a non-loopback address with no API key: anyone
    /// who can reach the port can then read and write everything.
    #[arg(long, env = "REPRISE_INSECURE")]
    pub insecure: bool,
    /// PEM certificate chain: serve both ports over TLS (with --tls-key).
    #[arg(long, env = "REPRISE_TLS_CERT", requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,
    /// PEM private key of --tls-cert.
    #[arg(long, env = "REPRISE_TLS_KEY", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
    /// A TOML file choosing, per project, what is redacted before storage
    /// (see README, "Redaction"). Without it, provider API keys and tokens are.
    #[arg(long, env = "REPRISE_REDACTION")]
    pub redaction: Option<PathBuf>,
    /// Delete data ingested longer ago than this (e.g. `30d`, `12h`).
    #[arg(long, env = "REPRISE_RETENTION", value_parser = humantime::parse_duration)]
    pub retention: Option<Duration>,
    /// Keep the database under this many megabytes by deleting the oldest
    /// data first.
    #[arg(long, env = "REPRISE_MAX_DB_MB")]
    pub max_db_mb: Option<f64>,
    /// Never let the database file grow past this many megabytes: when it
    /// is full, ingest answers 503 with Retry-After until retention frees
    /// space (set it below the free disk space).
    #[arg(long, env = "REPRISE_HARD_LIMIT_MB")]
    pub hard_limit_mb: Option<f64>,
    /// How often retention runs.
    #[arg(long, env = "REPRISE_PRUNE_INTERVAL", value_parser = humantime::parse_duration, default_value = "1m")]
    pub prune_interval: Duration,
    /// How long ingest trusts that content it saw is still stored (tests
    /// shorten it to see retention act at once).
    #[arg(long, hide = true, value_parser = humantime::parse_duration, default_value = "10m")]
    pub blob_touch_after: Duration,
}

impl ServeArgs {
    pub fn store_options(&self) -> StoreOptions {
        let mut options = StoreOptions::new(self.db.clone());
        options.max_queue_bytes = ((self.max_queue_mb * 1048576.0) as usize).max(1024);
        options.fsync_every_commit = self.fsync == Fsync::Commit;
        options.hard_limit_bytes = self.hard_limit_mb.map(|mb| (mb * 1048576.0) as u64);
        options.touch_after = self.blob_touch_after;
        options
    }

    pub fn retention(&self) -> RetentionPolicy {
        RetentionPolicy {
            max_age: self.retention,
            max_bytes: self.max_db_mb.map(|mb| (mb * 1048576.0) as u64),
        }
    }

    pub fn limits(&self) -> Limits {
        Limits {
            max_body_bytes: self.max_body_mb.max(1) << 20,
            max_decompressed_bytes: self.max_decompressed_mb.max(1) << 20,
            ..Limits::default()
        }
    }
}
