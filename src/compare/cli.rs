//! `reprise compare RUN`: scores what the run's matching scoring lacks
//! (everything with `--rescore`), then prints the comparison.
//!
//! Like `reprise replay`, it works on the database file directly and may
//! run beside a server using the same file; it never calls the replay
//! targets, only the judge and the embeddings target when configured.

use anyhow::Context as _;

use crate::compare::scoring::score_run;
use crate::compare::settings::{CompareFile, ScoringRequest};
use crate::compare::summary::report::{self, Format};
use crate::config::{CompareArgs, CompareFormat};
use crate::store::{Store, StoreOptions};

pub async fn run(args: &CompareArgs) -> anyhow::Result<()> {
    let file = CompareFile::load(args.config.as_deref())?;
    let options = if args.no_score {
        None
    } else {
        Some(file.scoring_options(&ScoringRequest {
            judge: args.judge.clone(),
            embeddings: args.embeddings.clone(),
            rubric: args.rubric.then_some(true),
            judge_template: args.judge_template.clone(),
            rescore: args.rescore,
        })?)
    };
    let store = Store::open(&StoreOptions::existing(args.db.clone())).await?;
    // The CLI works in the default project, as `reprise replay` does, and
    // redacts the judge's replies with the policy the server runs with.
    let project_id = crate::model::project::DEFAULT_PROJECT_ID;
    let redactor = match crate::redact::stored::for_store(&store, None).await {
        Ok(redactor) => redactor,
        Err(error) => {
            store.close().await;
            return Err(error.into());
        }
    };
    let options = options.map(|mut options| {
        options.redaction = redactor.policy_for(crate::model::project::DEFAULT_PROJECT_NAME);
        options
    });
    let result = compare(&store, project_id, args, &file, options).await;
    store.close().await;
    let text = result?;
    print!("{text}");
    Ok(())
}

async fn compare(
    store: &Store,
    project_id: i64,
    args: &CompareArgs,
    file: &CompareFile,
    options: Option<crate::compare::scoring::ScoringOptions>,
) -> anyhow::Result<String> {
    let run = crate::replay::run::read_run(&store.reader, project_id, &args.run)
        .await?
        .with_context(|| format!("no replay run {} in {}", args.run, args.db.display()))?;
    if let Some(options) = options {
        let done = score_run(store, &run, options).await?;
        if done.scored > 0 {
            eprintln!("scored {} items (scoring {})", done.scored, done.scoring_id);
        }
    }
    let report = report::load_report(
        store,
        &run,
        args.scoring.as_deref(),
        &file.compare.aggregate,
    )
    .await?;
    let format = match args.format {
        CompareFormat::Table => Format::Table,
        CompareFormat::Json => Format::Json,
        CompareFormat::Markdown => Format::Markdown,
        CompareFormat::Html => Format::Html,
    };
    let mut text = report::render(&report, format);
    if !text.ends_with('\n') {
        text.push('\n');
    }
    Ok(text)
}
