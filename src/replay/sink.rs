//! Commits item results: each result call together with its item's new
//! state, in one transaction.
//!
//! Results arrive from many item tasks at once; the sink gathers those
//! that come within a few milliseconds (up to [`MAX_GROUP`]) and writes
//! them as one batch, so their calls share one compressed pack and one
//! commit. Results of different runs never share a batch. When the write
//! queue is more than half full the sink waits, so replays never take the
//! room ingest needs; when a batch is refused because one of its items is
//! no longer running here (the run was cancelled or taken over), each
//! result is tried alone so only those results are dropped.

use std::collections::BTreeMap;
use std::time::Duration;

use tokio::sync::{mpsc, oneshot};

use super::WRITE_ATTEMPTS;
use crate::ingest::Ingest;
use crate::model::Call;
use crate::model::project::Project;
use crate::store::WriteError;
use crate::store::write::replays::{ItemFinish, ReplayWrite};

/// Most results committed in one batch.
pub const MAX_GROUP: usize = 64;
/// How long the sink waits for more results to join a batch.
const GATHER: Duration = Duration::from_millis(5);

/// One item's result, waiting for its commit.
pub struct ItemResult {
    pub run_id: String,
    /// The run's project: the result call is stored there, redacted by its
    /// policy.
    pub project: Project,
    /// The result call; `None` when nothing was sent (the item failed
    /// before a request was made).
    pub call: Option<Call>,
    pub finish: ItemFinish,
}

struct Pending {
    result: ItemResult,
    done: oneshot::Sender<Result<(), WriteError>>,
}

/// The sending side; cheap to clone.
#[derive(Clone)]
pub struct Sink {
    sender: mpsc::Sender<Pending>,
}

impl Sink {
    /// Starts the sink's task; it ends when every [`Sink`] clone is dropped
    /// and the results sent so far are written.
    pub fn spawn(ingest: Ingest) -> (Sink, tokio::task::JoinHandle<()>) {
        let (sender, receiver) = mpsc::channel(MAX_GROUP * 4);
        let task = tokio::spawn(run(ingest, receiver));
        (Sink { sender }, task)
    }

    /// Queues a result and waits for its commit. A `Conflict` error means
    /// the item was no longer running here and the result was dropped.
    pub async fn commit(&self, result: ItemResult) -> Result<(), WriteError> {
        let (done, committed) = oneshot::channel();
        self.sender
            .send(Pending { result, done })
            .await
            .map_err(|_| WriteError::ShuttingDown)?;
        committed.await.map_err(|_| WriteError::ShuttingDown)?
    }
}

async fn run(ingest: Ingest, mut receiver: mpsc::Receiver<Pending>) {
    while let Some(first) = receiver.recv().await {
        let mut gathered = vec![first];
        let deadline = tokio::time::Instant::now() + GATHER;
        while gathered.len() < MAX_GROUP {
            match tokio::time::timeout_at(deadline, receiver.recv()).await {
                Ok(Some(next)) => gathered.push(next),
                Ok(None) | Err(_) => break,
            }
        }
        let mut by_run: BTreeMap<String, Vec<Pending>> = BTreeMap::new();
        for pending in gathered {
            by_run
                .entry(pending.result.run_id.clone())
                .or_default()
                .push(pending);
        }
        for (_, group) in by_run {
            write_group(&ingest, group).await;
        }
    }
}

async fn write_group(ingest: &Ingest, group: Vec<Pending>) {
    let outcome = write(ingest, &group).await;
    match outcome {
        Err(WriteError::Conflict(_)) if group.len() > 1 => {
            for pending in group {
                let single = vec![pending];
                let outcome = write(ingest, &single).await;
                acknowledge(single, outcome);
            }
        }
        outcome => acknowledge(group, outcome),
    }
}

fn acknowledge(group: Vec<Pending>, outcome: Result<(), WriteError>) {
    for pending in group {
        let _ = pending.done.send(outcome.clone());
    }
}

/// Writes the group's calls and item updates in one batch, retrying what
/// may succeed later.
async fn write(ingest: &Ingest, group: &[Pending]) -> Result<(), WriteError> {
    let mut delay = Duration::from_millis(5);
    let mut attempt = 1;
    loop {
        let outcome = write_once(ingest, group).await;
        match outcome {
            Err(error) if error.is_retryable() && attempt < WRITE_ATTEMPTS => {
                tracing::debug!(%error, attempt, "replay results not written yet; retrying");
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(Duration::from_secs(1));
                attempt += 1;
            }
            outcome => return outcome,
        }
    }
}

async fn write_once(ingest: &Ingest, group: &[Pending]) -> Result<(), WriteError> {
    // A group holds the results of one run, so of one project.
    let Some(first) = group.first() else {
        return Ok(());
    };
    let ingest = ingest.for_project(&first.result.project);
    let mut calls = Vec::new();
    let mut writes = Vec::with_capacity(group.len());
    for pending in group {
        calls.extend(pending.result.call.clone());
        writes.push(ReplayWrite::FinishItem(Box::new(
            pending.result.finish.clone(),
        )));
    }
    let (mut batch, claim) = ingest
        .prepare_calls(calls)
        .await
        .map_err(|error| WriteError::Database(error.to_string()))?;
    batch.replay = writes;
    ingest.store.queue.wait_for_half_room().await;
    let done = ingest.store.queue.submit(batch)?;
    let written = done.await.map_err(|_| WriteError::ShuttingDown);
    drop(claim);
    written??;
    Ok(())
}
