//! Scoring a replay run: the I/O side of comparing.
//!
//! [`score_run`] reads every finished item of a run, loads the original and
//! the candidate call with their content, runs the [`Scorer`], asks for
//! embeddings and the judge when they are configured, and stores one
//! [`ScoredItem`] per item under a scoring id. Nothing here calls a replay
//! target: a run scored again (another judge, another scorer) reads the
//! answers it already has.
//!
//! Which scoring a call adds to: unless `rescore` is asked, the newest
//! scoring of the run with the same [`ScoringSpec`] (same judge, mode,
//! template and embeddings) is completed with the items it lacks, so
//! `reprise compare` after more items finished only scores those. Any
//! other spec, or `rescore`, starts a new scoring of every item; older
//! scorings stay and can still be shown by id.
//!
//! Failed items (the target kept failing) are stored too, without scores:
//! they count in the error rate.

use std::sync::Arc;

use serde::{Deserialize, Serialize};
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

use crate::compare::caller::Caller;
use crate::compare::judge::ask::{Judge, PairwiseRecord, RubricRecord};
use crate::compare::judge::{JudgeTemplate, JudgedPrompt, TemplateKind};
use crate::compare::score::{PairInput, Scorer, Scores};
use crate::compare::summary::aggregate::{CallOutcome, ItemRecord};
use crate::model::comparison::ScoringState;
use crate::model::replay::{Item, ItemState};
use crate::model::time::now_unix_nano;
use crate::model::{Call, CallId, Message};
use crate::redact::Policy;
use crate::replay::run::Run;
use crate::store::read::comparisons::ScoringRow;
use crate::store::write::batch::WriteBatch;
use crate::store::write::comparisons::ComparisonWrite;
use crate::store::{ReadError, Store, WriteError};
use crate::targets::{Backoff, Budget, TargetSpec};

/// Items scored at once (each may wait for the judge's own limits).
const ITEMS_IN_FLIGHT: usize = 16;
/// Scored items written per batch.
const ITEMS_PER_WRITE: usize = 64;
/// Characters of an answer kept for the worst-regressions listing.
const SNIPPET_CHARS: usize = 240;
/// Bumped when the scorers change what they compute, so an older scoring
/// is not completed with newer numbers.
const SCORER_VERSION: u32 = 1;

#[derive(Debug, thiserror::Error)]
pub enum ScoringError {
    #[error(transparent)]
    Read(#[from] ReadError),
    #[error("cannot store the scoring: {0}")]
    Write(#[from] WriteError),
    #[error("the refusal patterns do not compile: {0}")]
    Scorer(String),
    #[error("cannot start the judge: {0}")]
    Client(String),
}

/// A model a scoring used, by target name and model.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ModelRef {
    pub target: String,
    pub model: String,
}

impl ModelRef {
    fn of(target: &TargetSpec) -> Self {
        ModelRef {
            target: target.name.clone(),
            model: target.model.clone(),
        }
    }
}

/// What makes two scorings comparable: stored with each scoring.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScoringSpec {
    pub judge: Option<ModelRef>,
    /// `pairwise` or `rubric` when there is a judge.
    pub mode: Option<TemplateKind>,
    /// blake3 of the judge template and rubric text, when there is a judge.
    pub template_hash: Option<String>,
    pub embeddings: Option<ModelRef>,
    pub scorer_version: u32,
}

/// Everything one scoring needs.
pub struct ScoringOptions {
    pub judge: Option<TargetSpec>,
    pub template: JudgeTemplate,
    pub rubric_text: String,
    pub embeddings: Option<TargetSpec>,
    pub rescore: bool,
    pub unparseable_retries: u32,
    pub budget: Budget,
    pub backoff: Backoff,
    /// Applied to each scored item (judge replies and rationales quote the
    /// answers) before it is stored.
    pub redaction: Arc<Policy>,
}

impl ScoringOptions {
    pub fn spec(&self) -> ScoringSpec {
        let judge = self.judge.as_ref().map(ModelRef::of);
        let (mode, template_hash) = match &judge {
            Some(_) => {
                let mut hasher = blake3::Hasher::new();
                hasher.update(self.template.text().as_bytes());
                hasher.update(b"\0");
                hasher.update(self.rubric_text.as_bytes());
                (
                    Some(self.template.kind()),
                    Some(hasher.finalize().to_hex()[..16].to_owned()),
                )
            }
            None => (None, None),
        };
        ScoringSpec {
            judge,
            mode,
            template_hash,
            embeddings: self.embeddings.as_ref().map(ModelRef::of),
            scorer_version: SCORER_VERSION,
        }
    }
}

/// One scored item, as stored (JSON) and as the report reads it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ScoredItem {
    /// The item as people see it: the original call id, `#N` for repetition N > 0.
    pub item_id: String,
    pub original_call_id: CallId,
    #[serde(default)]
    pub result_call_id: Option<CallId>,
    pub target: String,
    pub repetition: u32,
    pub original: CallOutcome,
    pub candidate: CallOutcome,
    #[serde(default)]
    pub scores: Option<Scores>,
    #[serde(default)]
    pub judge: Option<PairwiseRecord>,
    #[serde(default)]
    pub rubric: Option<RubricRecord>,
    #[serde(default)]
    pub original_snippet: Option<String>,
    #[serde(default)]
    pub candidate_snippet: Option<String>,
    /// Why the item has no scores (the candidate failed, a call is gone),
    /// or what went wrong with embeddings.
    #[serde(default)]
    pub note: Option<String>,
    /// Replayed without tools: the original answered with a tool call but
    /// its tool definitions were not recorded, so a text answer is all the
    /// candidate could give.
    #[serde(default)]
    pub tools_missing: bool,
}

impl ScoredItem {
    /// The aggregate's view of the item.
    pub fn to_record(&self) -> ItemRecord {
        ItemRecord {
            item_id: self.item_id.clone(),
            target: self.target.clone(),
            original: self.original.clone(),
            candidate: self.candidate.clone(),
            scores: self.scores.clone(),
            judgement: self.judge.as_ref().and_then(|judge| judge.judgement),
            rubric: self.rubric.as_ref().and_then(|rubric| rubric.grades),
        }
    }
}

/// What one call of [`score_run`] did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ScoringDone {
    pub scoring_id: String,
    /// Items scored by this call (0 when the scoring was already complete).
    pub scored: usize,
    /// Whether a new scoring was created rather than an existing one completed.
    pub created: bool,
}

/// A scoring ready to receive items.
#[derive(Clone, Debug)]
pub struct Prepared {
    pub scoring_id: String,
    /// A new scoring rather than an existing one being completed.
    pub created: bool,
    /// The scoring is `running` and must be finished, even with no items.
    pub open: bool,
    /// The items it lacks.
    pub items: Vec<Item>,
}

/// Decides which scoring to add to and which items it lacks, and creates
/// (or reopens) it. Cheap: the API calls it before answering 202.
pub async fn prepare(
    store: &Store,
    run: &Run,
    options: &ScoringOptions,
) -> Result<Prepared, ScoringError> {
    let spec = options.spec();
    let items = store.reader.replay_finished_items(run.row_id).await?;
    let scorings = store.reader.comparison_scorings(run.row_id).await?;
    let reusable = if options.rescore {
        None
    } else {
        find_same_spec(&scorings, &spec)
    };
    if let Some(scoring) = reusable {
        let scored = store.reader.comparison_items(scoring.row_id).await?;
        let mut done = std::collections::HashSet::new();
        for (item, _) in &scored {
            done.insert(*item);
        }
        let mut pending = Vec::new();
        for item in items {
            if !done.contains(&item.row_id) {
                pending.push(item);
            }
        }
        let open = !pending.is_empty() || scoring.state != ScoringState::Done;
        if open {
            let reopen = ComparisonWrite::ReopenScoring {
                scoring_id: scoring.scoring_id.clone(),
            };
            write_comparison(store, run.project_id, vec![reopen]).await?;
        }
        return Ok(Prepared {
            scoring_id: scoring.scoring_id.clone(),
            created: false,
            open,
            items: pending,
        });
    }
    let scoring_id = ulid::Ulid::new().to_string();
    let spec_json = serde_json::to_string(&spec).unwrap_or_else(|_| "{}".to_owned());
    let create = ComparisonWrite::CreateScoring {
        scoring_id: scoring_id.clone(),
        run: run.row_id,
        created_at_unix_nano: now_unix_nano(),
        spec: spec_json,
    };
    write_comparison(store, run.project_id, vec![create]).await?;
    Ok(Prepared {
        scoring_id,
        created: true,
        open: true,
        items,
    })
}

fn find_same_spec<'a>(scorings: &'a [ScoringRow], spec: &ScoringSpec) -> Option<&'a ScoringRow> {
    for scoring in scorings {
        if scoring.state == ScoringState::Failed {
            continue;
        }
        match serde_json::from_str::<ScoringSpec>(&scoring.spec) {
            Ok(stored) if stored == *spec => return Some(scoring),
            _ => {}
        }
    }
    None
}

/// Scores what the run's matching scoring lacks (everything with
/// `rescore`), stores it, and marks the scoring done.
pub async fn score_run(
    store: &Store,
    run: &Run,
    options: ScoringOptions,
) -> Result<ScoringDone, ScoringError> {
    let prepared = prepare(store, run, &options).await?;
    let done = ScoringDone {
        scoring_id: prepared.scoring_id.clone(),
        scored: prepared.items.len(),
        created: prepared.created,
    };
    complete(store, run, options, prepared).await?;
    Ok(done)
}

/// Scores a prepared scoring's items and marks it done or failed; a
/// scoring that was complete already is left as it was.
pub async fn complete(
    store: &Store,
    run: &Run,
    options: ScoringOptions,
    prepared: Prepared,
) -> Result<(), ScoringError> {
    if !prepared.open {
        return Ok(());
    }
    let scoring_id = prepared.scoring_id;
    let result = score_items(store, run, &scoring_id, options, prepared.items).await;
    finish(store, run, &scoring_id, result.as_ref().err()).await?;
    result
}

async fn finish(
    store: &Store,
    run: &Run,
    scoring_id: &str,
    error: Option<&ScoringError>,
) -> Result<(), ScoringError> {
    let (state, error) = match error {
        None => (ScoringState::Done, None),
        Some(error) => (ScoringState::Failed, Some(error.to_string())),
    };
    let write = ComparisonWrite::FinishScoring {
        scoring_id: scoring_id.to_owned(),
        state,
        error,
        finished_at_unix_nano: now_unix_nano(),
    };
    write_comparison(store, run.project_id, vec![write]).await?;
    Ok(())
}

/// What every item task shares.
struct Shared {
    store: Store,
    project_id: i64,
    scorer: Scorer,
    judge: Option<Judge>,
    embeddings: Option<Caller>,
}

async fn score_items(
    store: &Store,
    run: &Run,
    scoring_id: &str,
    options: ScoringOptions,
    items: Vec<Item>,
) -> Result<(), ScoringError> {
    let scorer = Scorer::english().map_err(|error| ScoringError::Scorer(error.to_string()))?;
    let judge = match options.judge {
        Some(target) => Some(Judge {
            caller: Caller::new(target, options.budget.clone(), options.backoff)
                .map_err(|error| ScoringError::Client(error.to_string()))?,
            template: options.template,
            rubric: options.rubric_text,
            unparseable_retries: options.unparseable_retries,
        }),
        None => None,
    };
    let embeddings = match options.embeddings {
        Some(target) => Some(
            Caller::new(target, options.budget.clone(), options.backoff)
                .map_err(|error| ScoringError::Client(error.to_string()))?,
        ),
        None => None,
    };
    let redaction = options.redaction.clone();
    let shared = Arc::new(Shared {
        store: store.clone(),
        project_id: run.project_id,
        scorer,
        judge,
        embeddings,
    });
    let in_flight = Arc::new(Semaphore::new(ITEMS_IN_FLIGHT));
    let mut tasks = JoinSet::new();
    for item in items {
        let shared = shared.clone();
        let in_flight = in_flight.clone();
        tasks.spawn(async move {
            let _permit = in_flight.acquire_owned().await;
            let row_id = item.row_id;
            score_item(&shared, item)
                .await
                .map(|scored| (row_id, scored))
        });
    }
    let mut ready: Vec<(i64, String)> = Vec::new();
    let mut first_error = None;
    while let Some(joined) = tasks.join_next().await {
        match joined {
            Ok(Ok((row_id, scored))) => {
                let mut record = serde_json::to_value(&scored).unwrap_or_default();
                redaction.redact_json(&mut record);
                ready.push((row_id, record.to_string()));
            }
            Ok(Err(error)) => {
                first_error.get_or_insert(error);
            }
            Err(error) => {
                tracing::error!(%error, "a scoring task ended abnormally");
            }
        }
        if ready.len() >= ITEMS_PER_WRITE {
            put_items(store, run, scoring_id, std::mem::take(&mut ready)).await?;
        }
    }
    if !ready.is_empty() {
        put_items(store, run, scoring_id, ready).await?;
    }
    match first_error {
        Some(error) => Err(error),
        None => Ok(()),
    }
}

async fn put_items(
    store: &Store,
    run: &Run,
    scoring_id: &str,
    items: Vec<(i64, String)>,
) -> Result<(), ScoringError> {
    let write = ComparisonWrite::PutItems {
        scoring_id: scoring_id.to_owned(),
        run: run.row_id,
        items,
    };
    write_comparison(store, run.project_id, vec![write]).await?;
    Ok(())
}

/// Scores one item. A missing call is a note on the item, not an error of
/// the scoring; only storage failures are errors.
async fn score_item(shared: &Shared, item: Item) -> Result<ScoredItem, ScoringError> {
    let reader = &shared.store.reader;
    let original = reader
        .call(shared.project_id, item.original_call_id)
        .await?;
    let candidate = match item.result_call_id {
        Some(id) => reader.call(shared.project_id, id).await?,
        None => None,
    };
    let mut scored = ScoredItem {
        item_id: item_label(&item),
        original_call_id: item.original_call_id,
        result_call_id: item.result_call_id,
        target: item.target.clone(),
        repetition: item.repetition,
        original: original
            .as_ref()
            .map(CallOutcome::from_call)
            .unwrap_or_default(),
        candidate: candidate_outcome(&item, candidate.as_ref()),
        scores: None,
        judge: None,
        rubric: None,
        original_snippet: original.as_ref().and_then(snippet),
        candidate_snippet: candidate.as_ref().and_then(snippet),
        note: None,
        tools_missing: item.tools_missing || original.as_ref().is_some_and(Call::tools_missing),
    };
    let Some(original) = original else {
        scored.note = Some(format!(
            "the original call {} is no longer stored",
            item.original_call_id
        ));
        return Ok(scored);
    };
    let candidate = match candidate {
        Some(candidate) if item.state == ItemState::Done => candidate,
        _ => {
            scored.note = Some(
                item.error
                    .clone()
                    .unwrap_or_else(|| "the candidate gave no answer".to_owned()),
            );
            return Ok(scored);
        }
    };
    let original_output = original.output_messages.as_deref().unwrap_or(&[]);
    let candidate_output = candidate.output_messages.as_deref().unwrap_or(&[]);
    let vectors = match &shared.embeddings {
        Some(caller) => match embed_pair(caller, original_output, candidate_output).await {
            Ok(vectors) => vectors,
            Err(message) => {
                scored.note = Some(message);
                None
            }
        },
        None => None,
    };
    let input = PairInput {
        original: original_output,
        candidate: candidate_output,
        expect_json: original.request_params.response_format.is_some(),
        embeddings: vectors.as_ref().map(|(a, b)| (a.as_slice(), b.as_slice())),
    };
    scored.scores = Some(shared.scorer.score_pair(&input));
    if let Some(judge) = &shared.judge {
        let prompt = JudgedPrompt::from_call(&original);
        match judge.mode() {
            TemplateKind::Pairwise => {
                scored.judge = Some(
                    judge
                        .pairwise(&prompt, original_output, candidate_output)
                        .await,
                );
            }
            TemplateKind::Rubric => {
                scored.rubric = Some(
                    judge
                        .grade_pair(&prompt, original_output, candidate_output)
                        .await,
                );
            }
        }
    }
    Ok(scored)
}

fn item_label(item: &Item) -> String {
    if item.repetition == 0 {
        item.original_call_id.to_string()
    } else {
        format!("{}#{}", item.original_call_id, item.repetition)
    }
}

/// The candidate's figures: from its call when there is one, else from the
/// item (a request that never reached the target has no call).
fn candidate_outcome(item: &Item, call: Option<&Call>) -> CallOutcome {
    let mut outcome = match call {
        Some(call) => CallOutcome::from_call(call),
        None => CallOutcome {
            duration_ms: item.latency_ms,
            ttft_ms: item.ttft_ms,
            input_tokens: item.input_tokens,
            output_tokens: item.output_tokens,
            cost_usd: item.cost_usd,
            error: false,
        },
    };
    if item.state == ItemState::Failed {
        outcome.error = true;
    }
    outcome
}

fn answer_text(messages: &[Message]) -> String {
    let mut text = String::new();
    for message in messages {
        if let Some(part) = message.joined_text() {
            if !text.is_empty() {
                text.push('\n');
            }
            text.push_str(&part);
        }
    }
    text
}

fn snippet(call: &Call) -> Option<String> {
    let text = answer_text(call.output_messages.as_deref()?);
    if text.is_empty() {
        return None;
    }
    Some(truncate_chars(&text, SNIPPET_CHARS))
}

/// The first `max` characters, with `…` when something was cut.
pub fn truncate_chars(text: &str, max: usize) -> String {
    let mut out = String::new();
    for (count, c) in text.chars().enumerate() {
        if count == max {
            out.push('…');
            return out;
        }
        out.push(c);
    }
    out
}

async fn embed_pair(
    caller: &Caller,
    original: &[Message],
    candidate: &[Message],
) -> Result<Option<(Vec<f32>, Vec<f32>)>, String> {
    let texts = [answer_text(original), answer_text(candidate)];
    if texts[0].is_empty() || texts[1].is_empty() {
        return Ok(None);
    }
    let mut vectors = caller
        .embed(&texts)
        .await
        .map_err(|error| format!("no embeddings: {error}"))?;
    let second = vectors.pop();
    let first = vectors.pop();
    Ok(first.zip(second))
}

/// Writes comparison rows through the write queue and waits for the
/// commit, leaving room for ingest as replay writes do.
pub async fn write_comparison(
    store: &Store,
    project_id: i64,
    writes: Vec<ComparisonWrite>,
) -> Result<Vec<u64>, WriteError> {
    let mut delay = std::time::Duration::from_millis(5);
    let mut attempt = 1;
    loop {
        store.queue.wait_for_half_room().await;
        let batch = WriteBatch {
            project_id,
            comparison: writes.clone(),
            ..WriteBatch::default()
        };
        let outcome = match store.queue.submit(batch) {
            Ok(done) => done.await.map_err(|_| WriteError::ShuttingDown)?,
            Err(error) => Err(error),
        };
        match outcome {
            Ok(summary) => return Ok(summary.comparison),
            Err(error) if error.is_retryable() && attempt < WRITE_ATTEMPTS => {
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(std::time::Duration::from_secs(1));
                attempt += 1;
            }
            Err(error) => return Err(error),
        }
    }
}

/// Tries of one comparison write before its error is reported.
const WRITE_ATTEMPTS: u32 = 30;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snippets_cut_on_characters_not_bytes() {
        assert_eq!(truncate_chars("héllo", 3), "hél…");
        assert_eq!(truncate_chars("abc", 3), "abc");
        assert_eq!(truncate_chars("", 3), "");
    }

    #[test]
    fn equal_options_give_equal_specs_and_another_judge_does_not() {
        let target = |name: &str| {
            TargetSpec::new(
                name,
                crate::providers::ProviderKind::OpenAi,
                "http://127.0.0.1:9/v1",
                "m",
            )
        };
        let options = |judge: Option<TargetSpec>| ScoringOptions {
            judge,
            template: JudgeTemplate::default_pairwise(),
            rubric_text: "be fair".into(),
            embeddings: None,
            rescore: false,
            unparseable_retries: 2,
            budget: Budget::default(),
            backoff: Backoff::default(),
            redaction: Arc::new(Policy::none()),
        };
        let first = options(Some(target("j1"))).spec();
        assert_eq!(first, options(Some(target("j1"))).spec());
        assert_ne!(first, options(Some(target("j2"))).spec());
        assert_ne!(first, options(None).spec());
        let mut other_rubric = options(Some(target("j1")));
        other_rubric.rubric_text = "be strict".into();
        assert_ne!(first, other_rubric.spec());
    }
}
