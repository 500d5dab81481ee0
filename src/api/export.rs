//! `GET /api/v1/export?format=jsonl|openai-chat&…filters`: every matching
//! call, streamed one JSON line at a time, oldest first by default. Pages
//! are read as the client consumes them, so an export of millions of calls
//! never sits in memory.
//!
//! The request is checked and the first page read before the status line
//! goes out, so refused filters and searches answer 4xx as the listing
//! does. Should a later page fail, the stream ends with one line
//! `{"error": {"code": "internal", "message": …}}` instead of just stopping.
//!
//! `jsonl` writes canonical calls as `GET /api/v1/calls/{id}` returns them.
//! `openai-chat` writes the OpenAI fine-tuning chat format: `{"messages":
//! [...], "tools": [...]}` with the call's answer as the last message;
//! calls without an answer, or whose content OpenAI's format cannot
//! express, are left out.

use std::collections::BTreeSet;

use axum::body::Body;
use axum::extract::{RawQuery, State};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use http::header;
use serde::Serialize;
use serde_json::{Value, json};
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::calls::FullCall;
use super::error::ApiError;
use super::error::responses::{BadRequest, Forbidden, Internal, Unauthorized};
use super::params::{param, parse_sort, query_pairs};
use super::{ApiState, AppState};
use crate::error_code::ErrorCode;
use crate::model::Call;
use crate::model::filter::{CallFilter, CallFilterParams};
use crate::model::project::Project;
use crate::providers::translate::TargetParams;
use crate::providers::wire::openai_chat::to_openai_chat;
use crate::store::ReadError;
use crate::store::read::{CallPage, CallSort};

const PAGE: usize = 200;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(export))
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Format {
    Jsonl,
    OpenAiChat,
}

#[utoipa::path(
    get,
    path = "/api/v1/export",
    operation_id = "exportCalls",
    tag = "calls",
    summary = "Every matching call, streamed as JSON lines.",
    description = "`jsonl`: canonical calls as `GET /api/v1/calls/{id}` returns them. `openai-chat`: the OpenAI fine-tuning chat format, calls without an answer left out. Oldest first unless `order=desc`.",
    params(
        CallFilterParams,
        ("format" = Option<String>, Query, description = "Line format: `jsonl` (default) or `openai-chat`.", pattern = "^(jsonl|openai-chat)$"),
        ("sort" = Option<String>, Query, description = "Sort key: `time` (default), `latency`, `tokens` or `cost`.", pattern = "^(time|latency|tokens|cost)$"),
        ("order" = Option<String>, Query, description = "Sort order: `asc` or `desc` (default `asc`).", pattern = "^(asc|desc)$"),
        super::fresh::FreshParam,
    ),
    responses(
        (status = 200, description = "Newline-delimited JSON, streamed: one `FullCall` (`jsonl`) or `FineTuningExample` (`openai-chat`) per line. Should a later page fail, the last line is an `Error`.", content_type = "application/x-ndjson", body = String),
        BadRequest,
        Unauthorized,
        Forbidden,
        Internal,
        super::error::responses::NotFresh,
    ),
)]
#[tracing::instrument(skip_all)]
async fn export(
    State(state): State<ApiState>,
    project: Project,
    RawQuery(query): RawQuery,
) -> Result<Response, ApiError> {
    let pairs = query_pairs(query.as_deref());
    let filter =
        CallFilterParams::from_pairs(&pairs, &["format", "sort", "order", super::fresh::PARAM])?
            .parse()?;
    super::fresh::wait_if_asked(&state.store, &pairs).await?;
    let format = match param(&pairs, "format").unwrap_or("jsonl") {
        "jsonl" => Format::Jsonl,
        "openai-chat" => Format::OpenAiChat,
        other => {
            return Err(ApiError::invalid(
                "format",
                format!("{other:?} is not jsonl or openai-chat"),
            ));
        }
    };
    let mut sort = parse_sort(&pairs)?;
    if param(&pairs, "order").is_none() {
        sort.ascending = true;
    }
    // The whole request is checked, and its first page read, before the
    // status line goes out: a search the listing refuses is a 400 here too,
    // not a 200 with an empty body.
    let first = state
        .store
        .reader
        .list_calls(project.id, &filter, sort, PAGE, None)
        .await?;
    let (lines, receiver) = mpsc::channel::<Result<Bytes, std::io::Error>>(4);
    let export = Export {
        state,
        project_id: project.id,
        filter,
        sort,
        format,
    };
    tokio::spawn(export.produce(first, lines));
    let filename = match format {
        Format::Jsonl => "calls.jsonl",
        Format::OpenAiChat => "calls-openai-chat.jsonl",
    };
    Ok((
        [
            (header::CONTENT_TYPE, "application/x-ndjson".to_string()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{filename}\""),
            ),
        ],
        Body::from_stream(ReceiverStream::new(receiver)),
    )
        .into_response())
}

/// One export in progress.
struct Export {
    state: ApiState,
    project_id: i64,
    filter: CallFilter,
    sort: CallSort,
    format: Format,
}

impl Export {
    /// Sends the lines of `first` and of every later page; stops when the
    /// client goes away. A failure after the status line was sent ends the
    /// stream with one last line, `{"error": {"code", "message"}}`, so a
    /// client never takes a cut export for a whole one.
    async fn produce(self, first: CallPage, lines: mpsc::Sender<Result<Bytes, std::io::Error>>) {
        let mut page = first;
        loop {
            let chunk = match self.page_lines(&page).await {
                Ok(chunk) => chunk,
                Err(error) => return fail(&lines, error).await,
            };
            if !chunk.is_empty() && lines.send(Ok(Bytes::from(chunk))).await.is_err() {
                return;
            }
            let Some(cursor) = page.next_cursor.take() else {
                return;
            };
            page = match self
                .state
                .store
                .reader
                .list_calls(self.project_id, &self.filter, self.sort, PAGE, Some(cursor))
                .await
            {
                Ok(page) => page,
                Err(error) => return fail(&lines, error).await,
            };
        }
    }

    async fn page_lines(&self, page: &CallPage) -> Result<Vec<u8>, ReadError> {
        let reader = &self.state.store.reader;
        let mut chunk = Vec::new();
        for columns in &page.calls {
            let Some(call) = reader.call(self.project_id, columns.call_id).await? else {
                continue;
            };
            let line = match self.format {
                Format::Jsonl => serde_json::to_vec(&FullCall::new(call)).ok(),
                Format::OpenAiChat => {
                    fine_tuning_example(&call).and_then(|e| serde_json::to_vec(&e).ok())
                }
            };
            if let Some(line) = line {
                chunk.extend_from_slice(&line);
                chunk.push(b'\n');
            }
        }
        Ok(chunk)
    }
}

/// Ends a stream that failed after its status line with an error line.
async fn fail(lines: &mpsc::Sender<Result<Bytes, std::io::Error>>, error: ReadError) {
    tracing::error!(%error, "export stopped");
    let line = json!({"error": {
        "code": ErrorCode::Internal.label(),
        "message": "the export stopped early: internal error",
    }});
    let _ = lines.send(Ok(Bytes::from(format!("{line}\n")))).await;
}

/// One line of the `openai-chat` export: an example of OpenAI's
/// fine-tuning chat format.
#[derive(Debug, Serialize, ToSchema)]
pub struct FineTuningExample {
    /// The prompt messages as the Chat Completions API takes them, then
    /// the answer.
    #[schema(value_type = Vec<Object>)]
    pub messages: Value,
    /// The tools, when the call had any.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Vec<Object>>)]
    pub tools: Option<Value>,
}

/// One example of OpenAI's fine-tuning chat format: the prompt messages and
/// tools as the Chat Completions API takes them, then the answer.
pub fn fine_tuning_example(call: &Call) -> Option<FineTuningExample> {
    let answer = call.output_messages.as_ref()?.first()?.clone();
    let mut conversation = call.clone();
    conversation
        .input_messages
        .get_or_insert_with(Vec::new)
        .push(answer);
    let mut params = TargetParams::new(call.request_model.clone().unwrap_or_default());
    params.stream = false;
    // Sampling parameters are not part of an example.
    params.allow_drop = BTreeSet::from_iter(
        [
            "top_k",
            "seed",
            "response_format",
            "tool_choice",
            "reasoning",
        ]
        .map(String::from),
    );
    let body = to_openai_chat(&conversation, &params).ok()?;
    Some(FineTuningExample {
        messages: body.get("messages")?.clone(),
        tools: body.get("tools").cloned(),
    })
}
