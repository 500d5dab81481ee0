//! `reprise import FILE.jsonl` (or `-` for stdin): raw records, one JSON
//! object per line, stored in batches. Records are the ones `POST
//! /api/v1/calls` takes ([`crate::ingest::raw`]); their ids come from their
//! content or idempotency key, so importing a file twice stores it once.
//!
//! By default the records go straight into the database file (`--db`),
//! which works beside a running server; `--server URL` posts them to a
//! server instead.

use std::io::{BufRead, BufReader, IsTerminal as _, Read};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressStyle};
use serde_json::Value;

use crate::cost::PriceTable;
use crate::ingest::limits::Limits;
use crate::ingest::raw::parse_record;
use crate::ingest::{Ingest, IngestError};
use crate::model::time::now_unix_nano;
use crate::store::{Store, StoreOptions};

#[derive(Debug, Clone, clap::Args)]
pub struct ImportArgs {
    /// JSONL file of records, or `-` for standard input.
    pub file: PathBuf,
    /// SQLite database to import into (created if missing).
    #[arg(long, env = "REPRISE_DB", default_value = "reprise.db")]
    pub db: PathBuf,
    /// Post the records to this running server (e.g. http://127.0.0.1:4318)
    /// instead of writing the database file.
    #[arg(long)]
    pub server: Option<String>,
    /// Records per batch.
    #[arg(long, default_value_t = 500)]
    pub batch: usize,
    /// Price table extending the built-in prices (as for `serve`).
    #[arg(long, env = "REPRISE_PRICES")]
    pub prices: Option<PathBuf>,
    /// With --server: the API key (ingest scope) to send; the records go
    /// to the key's project.
    #[arg(long, env = "REPRISE_API_KEY", hide_env_values = true)]
    pub api_key: Option<String>,
    /// Without --server: the redaction file to apply, as `serve` takes it;
    /// by default, the policy the server last ran with on this database.
    /// Records go into the default project, redacted with its policy.
    #[arg(long, env = "REPRISE_REDACTION")]
    pub redaction: Option<PathBuf>,
}

#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error(transparent)]
    Prices(#[from] crate::cost::PriceError),
    #[error(transparent)]
    Open(#[from] crate::store::OpenError),
    #[error(transparent)]
    Redaction(#[from] crate::redact::stored::StoredPolicyError),
    #[error("the API key cannot be sent in a header: it has characters a key never has")]
    BadApiKey,
    #[error("storing records failed: {0}")]
    Store(IngestError),
    #[error("the server refused the records: {0}")]
    Server(String),
}

/// What an import did.
#[derive(Debug, Default)]
pub struct ImportSummary {
    pub lines: usize,
    pub stored: usize,
    pub already_stored: usize,
    /// Line number (1-based) and reason of every refused line.
    pub rejected: Vec<(usize, String)>,
}

impl ImportSummary {
    pub fn print(&self) {
        eprintln!(
            "read {} records: {} stored, {} already stored, {} rejected",
            self.lines,
            self.stored,
            self.already_stored,
            self.rejected.len()
        );
        for (line, reason) in self.rejected.iter().take(50) {
            eprintln!("  line {line}: {reason}");
        }
        if self.rejected.len() > 50 {
            eprintln!("  … and {} more", self.rejected.len() - 50);
        }
    }
}

/// Where batches go.
enum Sink {
    Store {
        // Boxed: a store and its ingest are far larger than the server variant.
        store: Box<Store>,
        ingest: Box<Ingest>,
    },
    Server {
        client: reqwest::Client,
        url: String,
    },
}

impl Sink {
    /// Stores a batch; returns (newly stored, already stored, refused by index).
    async fn store(
        &self,
        records: &[(usize, Value)],
    ) -> Result<(usize, usize, Vec<(usize, String)>), ImportError> {
        match self {
            Sink::Store { ingest, .. } => {
                let mut calls = Vec::with_capacity(records.len());
                let mut refused = Vec::new();
                let received = now_unix_nano();
                for (line, record) in records {
                    match parse_record(record, received) {
                        Ok(call) => calls.push(call),
                        Err(error) => refused.push((*line, error.to_string())),
                    }
                }
                let accepted = calls.len();
                let stored = store_with_retry(ingest, calls).await?;
                Ok((stored, accepted - stored, refused))
            }
            Sink::Server { client, url } => post_batch(client, url, records).await,
        }
    }

    async fn close(self) {
        if let Sink::Store { store, ingest } = self {
            drop(ingest);
            store.close().await;
        }
    }
}

/// Stores calls, waiting while the writer is busy rather than failing.
async fn store_with_retry(
    ingest: &Ingest,
    calls: Vec<crate::model::Call>,
) -> Result<usize, ImportError> {
    if calls.is_empty() {
        return Ok(0);
    }
    loop {
        match ingest.store_calls(calls.clone()).await {
            Ok(stored) => return Ok(stored.inserted),
            Err(IngestError::Overloaded) => tokio::time::sleep(Duration::from_millis(100)).await,
            Err(error) => return Err(ImportError::Store(error)),
        }
    }
}

/// The HTTP client for --server, sending the key with every request.
fn client(api_key: Option<&str>) -> Result<reqwest::Client, ImportError> {
    let mut headers = reqwest::header::HeaderMap::new();
    if let Some(key) = api_key {
        let mut value = reqwest::header::HeaderValue::from_str(&format!("Bearer {}", key.trim()))
            .map_err(|_| ImportError::BadApiKey)?;
        value.set_sensitive(true);
        headers.insert(reqwest::header::AUTHORIZATION, value);
    }
    reqwest::Client::builder()
        .default_headers(headers)
        .build()
        .map_err(|e| ImportError::Server(e.to_string()))
}

async fn post_batch(
    client: &reqwest::Client,
    url: &str,
    records: &[(usize, Value)],
) -> Result<(usize, usize, Vec<(usize, String)>), ImportError> {
    let body: Vec<&Value> = records.iter().map(|(_, r)| r).collect();
    loop {
        let response = client
            .post(url)
            .json(&body)
            .send()
            .await
            .map_err(|e| ImportError::Server(e.to_string()))?;
        let status = response.status();
        if status.as_u16() == 429 || status.as_u16() == 503 {
            tokio::time::sleep(Duration::from_millis(500)).await;
            continue;
        }
        let reply: Value = response
            .json()
            .await
            .map_err(|e| ImportError::Server(e.to_string()))?;
        let rejected_list = reply["rejected"]
            .as_array()
            .or_else(|| reply["error"]["rejected"].as_array())
            .cloned()
            .unwrap_or_default();
        if !status.is_success() && rejected_list.is_empty() {
            return Err(ImportError::Server(format!("{status}: {reply}")));
        }
        let mut refused = Vec::new();
        for item in rejected_list {
            let index = item["index"].as_u64().unwrap_or(0) as usize;
            let line = records.get(index).map_or(0, |(line, _)| *line);
            refused.push((line, item["error"].as_str().unwrap_or("refused").to_owned()));
        }
        let accepted = records.len() - refused.len();
        let stored = reply["stored"]
            .as_u64()
            .map_or(accepted, |n| (n as usize).min(accepted));
        return Ok((stored, accepted - stored, refused));
    }
}

pub async fn run(args: &ImportArgs) -> Result<ImportSummary, ImportError> {
    let (input, total_bytes): (Box<dyn Read + Send>, Option<u64>) = open_input(&args.file)?;
    let sink = match &args.server {
        Some(server) => Sink::Server {
            client: client(args.api_key.as_deref())?,
            url: format!("{}/api/v1/calls", server.trim_end_matches('/')),
        },
        None => {
            let prices = Arc::new(PriceTable::load(args.prices.as_deref())?);
            let store = Store::open(&StoreOptions::new(args.db.clone())).await?;
            let redactor = Arc::new(
                crate::redact::stored::for_store(&store, args.redaction.as_deref()).await?,
            );
            let ingest =
                Ingest::new(store.clone(), Limits::default(), prices).with_redactor(redactor);
            Sink::Store {
                store: Box::new(store),
                ingest: Box::new(ingest),
            }
        }
    };
    let progress = progress_bar(total_bytes);
    let mut summary = ImportSummary::default();
    let mut batch: Vec<(usize, Value)> = Vec::with_capacity(args.batch);
    let (lines_tx, mut lines_rx) = tokio::sync::mpsc::channel::<
        Result<(usize, usize, String), std::io::Error>,
    >(args.batch * 2);
    // Reading is blocking I/O: a thread feeds lines to the async importer.
    std::thread::spawn(move || {
        let reader = BufReader::new(input);
        for (number, line) in reader.lines().enumerate() {
            let item = line.map(|text| (number + 1, text.len() + 1, text));
            if lines_tx.blocking_send(item).is_err() {
                return;
            }
        }
    });
    let path = args.file.display().to_string();
    while let Some(item) = lines_rx.recv().await {
        let (line, bytes, text) = item.map_err(|source| ImportError::Read {
            path: path.clone(),
            source,
        })?;
        progress.inc(bytes as u64);
        if text.trim().is_empty() {
            continue;
        }
        summary.lines += 1;
        match serde_json::from_str::<Value>(&text) {
            Ok(record) => batch.push((line, record)),
            Err(error) => summary
                .rejected
                .push((line, format!("not valid JSON: {error}"))),
        }
        if batch.len() >= args.batch.max(1) {
            flush(&sink, &mut batch, &mut summary).await?;
        }
    }
    flush(&sink, &mut batch, &mut summary).await?;
    progress.finish_and_clear();
    sink.close().await;
    summary.rejected.sort();
    Ok(summary)
}

async fn flush(
    sink: &Sink,
    batch: &mut Vec<(usize, Value)>,
    summary: &mut ImportSummary,
) -> Result<(), ImportError> {
    if batch.is_empty() {
        return Ok(());
    }
    let (stored, already, refused) = sink.store(batch).await?;
    summary.stored += stored;
    summary.already_stored += already;
    summary.rejected.extend(refused);
    batch.clear();
    Ok(())
}

fn open_input(file: &Path) -> Result<(Box<dyn Read + Send>, Option<u64>), ImportError> {
    if file.as_os_str() == "-" {
        return Ok((Box::new(std::io::stdin()), None));
    }
    let path = file.display().to_string();
    let opened = std::fs::File::open(file).map_err(|source| ImportError::Read {
        path: path.clone(),
        source,
    })?;
    let size = opened.metadata().ok().map(|m| m.len());
    Ok((Box::new(opened), size))
}

/// A progress bar on a terminal; nothing when output is redirected.
fn progress_bar(total_bytes: Option<u64>) -> ProgressBar {
    if !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    match total_bytes {
        Some(total) => {
            let bar = ProgressBar::new(total);
            if let Ok(style) = ProgressStyle::with_template(
                "{bar:40} {bytes}/{total_bytes} {bytes_per_sec} eta {eta}",
            ) {
                bar.set_style(style);
            }
            bar
        }
        None => ProgressBar::new_spinner(),
    }
}
