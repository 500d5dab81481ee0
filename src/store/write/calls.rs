//! The writer's SQL for calls: inserting the calls ingest normalized,
//! applying what the linker derived again, and the queue of spans whose
//! call must be derived again (`pending_links`).

use std::collections::{HashMap, HashSet};

use sqlx::QueryBuilder;
use sqlx::sqlite::{Sqlite, SqliteConnection};

use super::error::WriteError;
use super::statements::chunks;
use crate::model::CallSummary;
use crate::model::{SpanId, TraceId};
use crate::store::encoding::call_index::CallIndex;
use crate::store::write::batch::{LinkDone, SpanKey, WriteBatch};

/// Full-text entries of calls written in a commit group, as (call row,
/// text). They are added to the index once, at the end of the group:
/// FTS5 writes out a segment of its pending terms whenever a savepoint
/// opens, so indexing inside each batch's savepoint wrote one small
/// segment per batch, and merging those cost more than the indexing.
pub type TextEntries<'a> = Vec<(i64, &'a str)>;

/// What inserting a batch's calls found.
pub struct InsertedCalls {
    pub inserted: u64,
    /// Indices into the batch's calls of those inserted (the others were
    /// already stored).
    pub inserted_indices: Vec<usize>,
    /// Spans whose call needs the linker: their span already had a call (an
    /// earlier event-only call, or a re-send), or another stored call has
    /// the same response id.
    pub links: Vec<SpanKey>,
}

const CALL_COLUMNS: &str = "call_id, project_id, source, trace_id, span_id, service, provider, \
    operation, request_model, response_model, response_id, start_time_unix_nano, duration_ms, \
    ttft_ms, streaming, input_tokens, output_tokens, cached_input_tokens, reasoning_tokens, \
    cost_usd, status, error_type, session_id, user_id, duration_bucket, ttft_bucket, pack_id, \
    content_offset, content_length";

fn push_call(
    row: &mut sqlx::query_builder::Separated<'_, Sqlite, &'static str>,
    project_id: i64,
    c: &CallSummary,
    index: &CallIndex,
    pack_id: i64,
    offset: u32,
    length: u32,
) {
    row.push_bind(c.call_id.to_bytes().to_vec())
        .push_bind(project_id)
        .push_bind(c.source_code())
        .push_bind(c.trace_id.map(|id| id.as_bytes().to_vec()))
        .push_bind(c.span_id.map(|id| id.as_bytes().to_vec()))
        .push_bind(c.service.clone())
        .push_bind(c.provider.clone())
        .push_bind(c.operation.clone())
        .push_bind(c.request_model.clone())
        .push_bind(c.response_model.clone())
        .push_bind(c.response_id.clone())
        .push_bind(c.start_time_unix_nano as i64)
        .push_bind(c.duration_ms)
        .push_bind(c.ttft_ms)
        .push_bind(c.streaming)
        .push_bind(c.usage.input_tokens)
        .push_bind(c.usage.output_tokens)
        .push_bind(c.usage.cached_input_tokens)
        .push_bind(c.usage.reasoning_tokens)
        .push_bind(c.cost_usd)
        .push_bind(c.status_code())
        .push_bind(c.error_type.clone())
        .push_bind(c.session_id.clone())
        .push_bind(c.user_id.clone())
        .push_bind(index.duration_bucket)
        .push_bind(index.ttft_bucket)
        .push_bind(pack_id)
        .push_bind(offset as i64)
        .push_bind(length as i64);
}

pub async fn insert_calls<'a>(
    conn: &mut SqliteConnection,
    batch: &'a WriteBatch,
    pack_ids: &[i64],
    text: &mut TextEntries<'a>,
) -> Result<InsertedCalls, WriteError> {
    let mut links = twins_of_stored_calls(conn, batch).await?;
    let mut inserted = 0;
    let mut inserted_ids: HashMap<Vec<u8>, i64> = HashMap::new();
    for range in chunks(batch.calls.len()) {
        let mut query: QueryBuilder<Sqlite> =
            QueryBuilder::new(format!("INSERT INTO calls ({CALL_COLUMNS}) "));
        query.push_values(&batch.calls[range], |mut row, call| {
            let slot = call.content;
            push_call(
                &mut row,
                batch.project_id,
                &call.columns,
                &call.index,
                pack_ids[slot.pack],
                slot.offset,
                slot.length,
            );
        });
        query.push(" ON CONFLICT DO NOTHING RETURNING call_id, id");
        let rows: Vec<(Vec<u8>, i64)> = query.build_query_as().fetch_all(&mut *conn).await?;
        for (call_id, row_id) in rows {
            inserted_ids.insert(call_id, row_id);
            inserted += 1;
        }
    }
    let mut indexed = Vec::with_capacity(inserted_ids.len());
    let mut inserted_indices = Vec::with_capacity(inserted_ids.len());
    for (position, call) in batch.calls.iter().enumerate() {
        if let Some(row_id) = inserted_ids.get(call.columns.call_id.to_bytes().as_slice()) {
            indexed.push((*row_id, &call.index));
            inserted_indices.push(position);
        }
    }
    insert_index(conn, &indexed, text).await?;
    for call in &batch.calls {
        let key = call.columns.trace_id.zip(call.columns.span_id);
        if let Some(key) = key
            && !inserted_ids.contains_key(call.columns.call_id.to_bytes().as_slice())
        {
            links.push(key);
        }
        for alias in &call.aliases {
            insert_alias(conn, batch.project_id, *alias, &call.columns).await?;
        }
    }
    Ok(InsertedCalls {
        inserted,
        inserted_indices,
        links,
    })
}

/// A stored call that shares a response id with a call of a batch. Its
/// ids stay bytes: one that is not an id is passed over, not an error.
#[derive(sqlx::FromRow)]
struct TwinRow {
    response_id: String,
    trace_id: Option<Vec<u8>>,
    span_id: Option<Vec<u8>>,
}

/// Spans of stored calls that share a response id with a call of this
/// batch, and the batch's own spans for those calls: the linker decides
/// whether they are one provider call.
async fn twins_of_stored_calls(
    conn: &mut SqliteConnection,
    batch: &WriteBatch,
) -> Result<Vec<SpanKey>, WriteError> {
    let with_ids: Vec<&CallSummary> = batch
        .calls
        .iter()
        .map(|c| &c.columns)
        .filter(|c| c.response_id.is_some())
        .collect();
    let mut keys = Vec::new();
    for range in chunks(with_ids.len()) {
        let slice = &with_ids[range];
        let mut query: QueryBuilder<Sqlite> = QueryBuilder::new(
            "SELECT response_id, trace_id, span_id FROM calls WHERE project_id = ",
        );
        query
            .push_bind(batch.project_id)
            .push(" AND response_id IN (");
        let mut separated = query.separated(", ");
        for call in slice {
            separated.push_bind(call.response_id.clone());
        }
        query.push(")");
        let rows: Vec<TwinRow> = query.build_query_as().fetch_all(&mut *conn).await?;
        let mut matched: HashSet<String> = HashSet::new();
        for row in rows {
            matched.insert(row.response_id);
            if let Some(key) = key_columns(row.trace_id, row.span_id) {
                keys.push(key);
            }
        }
        for call in slice {
            if call
                .response_id
                .as_ref()
                .is_some_and(|id| matched.contains(id))
                && let Some(key) = call.trace_id.zip(call.span_id)
            {
                keys.push(key);
            }
        }
    }
    Ok(keys)
}

fn key_columns(trace_id: Option<Vec<u8>>, span_id: Option<Vec<u8>>) -> Option<SpanKey> {
    let trace_id = TraceId::try_from(trace_id?.as_slice()).ok()?;
    let span_id = SpanId::try_from(span_id?.as_slice()).ok()?;
    Some((trace_id, span_id))
}

async fn insert_alias(
    conn: &mut SqliteConnection,
    project_id: i64,
    (trace_id, span_id): SpanKey,
    call: &CallSummary,
) -> Result<(), WriteError> {
    sqlx::query(
        "INSERT INTO call_aliases (project_id, trace_id, span_id, call_id) VALUES (?, ?, ?, ?) \
         ON CONFLICT (project_id, trace_id, span_id) DO UPDATE SET call_id = excluded.call_id",
    )
    .bind(project_id)
    .bind(trace_id.as_bytes())
    .bind(span_id.as_bytes())
    .bind(call.call_id.to_bytes().as_slice())
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Applies what the linker derived: replaces (or adds) each call and folds
/// the calls it replaces into it. Returns the spans whose derived call was
/// refused, to be linked again.
pub async fn write_linked_calls<'a>(
    conn: &mut SqliteConnection,
    batch: &'a WriteBatch,
    pack_ids: &[i64],
    text: &mut TextEntries<'a>,
) -> Result<Vec<SpanKey>, WriteError> {
    let mut refused = Vec::new();
    for linked in &batch.linked_calls {
        let new_id = linked.columns.call_id.to_bytes();
        // Deleting a call also deletes its aliases (a trigger); the linker
        // sends the complete alias set of the call it derived, which is
        // written back below.
        for old in &linked.replaces {
            sqlx::query("DELETE FROM calls WHERE project_id = ? AND call_id = ?")
                .bind(batch.project_id)
                .bind(old.to_bytes().as_slice())
                .execute(&mut *conn)
                .await?;
        }
        sqlx::query("DELETE FROM calls WHERE project_id = ? AND call_id = ?")
            .bind(batch.project_id)
            .bind(new_id.as_slice())
            .execute(&mut *conn)
            .await?;
        let slot = linked.content;
        let mut query: QueryBuilder<Sqlite> =
            QueryBuilder::new(format!("INSERT INTO calls ({CALL_COLUMNS}) "));
        query.push_values(std::iter::once(linked), |mut row, linked| {
            push_call(
                &mut row,
                batch.project_id,
                &linked.columns,
                &linked.index,
                pack_ids[slot.pack],
                slot.offset,
                slot.length,
            );
        });
        // A call stored for the same span since the linker read it (the
        // span arrived while its log events were being linked) stays, and
        // the span is linked again: the next round sees both.
        query.push(" ON CONFLICT DO NOTHING RETURNING id");
        match query
            .build_query_scalar::<i64>()
            .fetch_optional(&mut *conn)
            .await?
        {
            Some(row_id) => {
                insert_index(conn, &[(row_id, &linked.index)], text).await?;
            }
            None => refused.extend(linked.columns.trace_id.zip(linked.columns.span_id)),
        }
        for alias in &linked.aliases {
            insert_alias(conn, batch.project_id, *alias, &linked.columns).await?;
        }
    }
    Ok(refused)
}

/// Adds calls' tags and filterable attributes, and collects their
/// full-text entries for [`index_text`].
async fn insert_index<'a>(
    conn: &mut SqliteConnection,
    calls: &[(i64, &'a CallIndex)],
    text: &mut TextEntries<'a>,
) -> Result<(), WriteError> {
    let tags: Vec<(i64, &str)> = calls
        .iter()
        .flat_map(|(row, index)| index.tags.iter().map(move |t| (*row, t.as_str())))
        .collect();
    for range in chunks(tags.len()) {
        let mut query: QueryBuilder<Sqlite> =
            QueryBuilder::new("INSERT OR IGNORE INTO call_tags (call_row, tag) ");
        query.push_values(&tags[range], |mut row, (call_row, tag)| {
            row.push_bind(*call_row).push_bind(tag.to_string());
        });
        query.build().execute(&mut *conn).await?;
    }
    let attributes: Vec<(i64, &str, &str)> = calls
        .iter()
        .flat_map(|(row, index)| {
            index
                .attributes
                .iter()
                .map(move |(k, v)| (*row, k.as_str(), v.as_str()))
        })
        .collect();
    for range in chunks(attributes.len()) {
        let mut query: QueryBuilder<Sqlite> =
            QueryBuilder::new("INSERT OR IGNORE INTO call_attributes (call_row, key, value) ");
        query.push_values(&attributes[range], |mut row, (call_row, key, value)| {
            row.push_bind(*call_row)
                .push_bind(key.to_string())
                .push_bind(value.to_string());
        });
        query.build().execute(&mut *conn).await?;
    }
    text.extend(
        calls
            .iter()
            .filter(|(_, index)| !index.text.is_empty())
            .map(|(row, index)| (*row, index.text.as_str())),
    );
    Ok(())
}

/// Indexes the text of a commit group's calls, inside its transaction, in
/// one statement: FTS5 also writes out its pending terms whenever a
/// statement opens a savepoint, so each statement would leave a segment.
/// A call the group deleted again (the linker replaced it) is left out, and
/// of a row id written twice only the last text counts: SQLite reuses the
/// highest row id once it is deleted.
pub async fn index_text(
    conn: &mut SqliteConnection,
    entries: TextEntries<'_>,
) -> Result<(), WriteError> {
    if entries.is_empty() {
        return Ok(());
    }
    let mut latest: HashMap<i64, &str> = HashMap::with_capacity(entries.len());
    for (row, text) in entries {
        latest.insert(row, text);
    }
    let mut texts: Vec<(i64, &str)> = latest.into_iter().collect();
    // In row order, as the index lays its entries out.
    texts.sort_unstable_by_key(|(row, _)| *row);
    let texts = serde_json::to_string(&texts).map_err(|error| {
        WriteError::Database(format!("full-text entries do not serialize: {error}"))
    })?;
    sqlx::query(
        "INSERT INTO calls_fts (rowid, text) \
         SELECT entry.value ->> 0, entry.value ->> 1 FROM json_each(?) AS entry \
         WHERE EXISTS (SELECT 1 FROM calls WHERE id = entry.value ->> 0)",
    )
    .bind(texts)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Queues spans for the linker; a span already queued gets a new version.
pub async fn queue_links(
    conn: &mut SqliteConnection,
    project_id: i64,
    keys: &[SpanKey],
) -> Result<u64, WriteError> {
    let mut unique: Vec<SpanKey> = keys.to_vec();
    unique.sort();
    unique.dedup();
    for range in chunks(unique.len()) {
        let mut query: QueryBuilder<Sqlite> = QueryBuilder::new(
            "INSERT INTO pending_links (project_id, trace_id, span_id, version) ",
        );
        query.push_values(&unique[range], |mut row, (trace_id, span_id)| {
            row.push_bind(project_id)
                .push_bind(trace_id.as_bytes().to_vec())
                .push_bind(span_id.as_bytes().to_vec())
                .push_bind(0i64);
        });
        query.push(
            " ON CONFLICT (project_id, trace_id, span_id) DO UPDATE SET version = version + 1",
        );
        query.build().execute(&mut *conn).await?;
    }
    Ok(unique.len() as u64)
}

/// Removes pending links the linker dealt with, unless new data queued
/// them again since (their version moved on).
pub async fn clear_links(
    conn: &mut SqliteConnection,
    project_id: i64,
    done: &[LinkDone],
) -> Result<(), WriteError> {
    for link in done {
        sqlx::query(
            "DELETE FROM pending_links WHERE project_id = ? AND trace_id = ? AND span_id = ? \
             AND version = ?",
        )
        .bind(project_id)
        .bind(link.key.0.as_bytes())
        .bind(link.key.1.as_bytes())
        .bind(link.version)
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}

/// Sets recomputed costs.
pub async fn update_costs(
    conn: &mut SqliteConnection,
    project_id: i64,
    updates: &[(crate::model::CallId, Option<f64>)],
) -> Result<(), WriteError> {
    for (call_id, cost) in updates {
        sqlx::query("UPDATE calls SET cost_usd = ? WHERE project_id = ? AND call_id = ?")
            .bind(*cost)
            .bind(project_id)
            .bind(call_id.to_bytes().as_slice())
            .execute(&mut *conn)
            .await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use sqlx::Connection as _;

    use super::*;
    use crate::model::{Call, CallId, Source};
    use crate::store::encoding::pack::{EncodedPack, PackBuilder, PackSlot, Stream};
    use crate::store::write::batch::{CallRow, LinkedCall};
    use crate::store::{Store, StoreOptions};

    async fn insert_call(conn: &mut SqliteConnection, call_id: u8) -> i64 {
        sqlx::query(
            "INSERT INTO calls (call_id, project_id, source, start_time_unix_nano, status, \
             pack_id, content_offset, content_length) VALUES (?, 1, 0, 0, 0, 1, 0, 0)",
        )
        .bind(vec![call_id; 16])
        .execute(&mut *conn)
        .await
        .expect("insert call")
        .last_insert_rowid()
    }

    async fn delete_call(conn: &mut SqliteConnection, id: i64) {
        sqlx::query("DELETE FROM calls WHERE id = ?")
            .bind(id)
            .execute(&mut *conn)
            .await
            .expect("delete");
    }

    async fn found(conn: &mut SqliteConnection, word: &str) -> Vec<i64> {
        sqlx::query_scalar("SELECT rowid FROM calls_fts WHERE calls_fts MATCH ? ORDER BY rowid")
            .bind(word)
            .fetch_all(&mut *conn)
            .await
            .expect("search")
    }

    /// A call of span `key`, its id derived from `seed`.
    fn call_of_span(key: SpanKey, seed: &[u8]) -> Call {
        let mut call = Call::new(CallId::derived(1_000, seed), Source::Otlp, 1_000);
        call.trace_id = Some(key.0);
        call.span_id = Some(key.1);
        call
    }

    /// Packs holding one empty content record, and where it is.
    fn empty_content() -> (Vec<EncodedPack>, PackSlot) {
        let mut packs = PackBuilder::new();
        let slot = packs.add(Stream::Records, b"");
        (packs.finish().expect("packs"), slot)
    }

    /// The race the linker loses: it read a span's log events before the
    /// span was stored, and meanwhile ingest stored the span's own call.
    /// The linker's call is refused; the span must stay queued, or its
    /// events would never join its call.
    #[tokio::test]
    async fn a_linked_call_refused_for_a_newer_call_leaves_its_span_queued() {
        let dir = tempfile::tempdir().expect("temp dir");
        let store = Store::open(&StoreOptions::new(dir.path().join("t.db")))
            .await
            .expect("store");
        let key = (TraceId([7; 16]), SpanId([9; 8]));
        let write = |batch: WriteBatch| store.queue.write(batch);

        // The log events arrive first and queue the span.
        write(WriteBatch {
            project_id: 1,
            link_keys: vec![key],
            ..WriteBatch::default()
        })
        .await
        .expect("events");
        let queued = store.reader.pending_links(10).await.expect("pending");
        let version = queued[0].3;

        // The span arrives with its own call, which nothing else holds yet.
        let span_call = call_of_span(key, b"span");
        let (packs, content) = empty_content();
        write(WriteBatch {
            project_id: 1,
            packs,
            calls: vec![CallRow {
                columns: CallSummary::of(&span_call),
                index: CallIndex::of(&span_call),
                content,
                aliases: Vec::new(),
            }],
            ..WriteBatch::default()
        })
        .await
        .expect("span");

        // The linker, having seen only the events, writes their call.
        let event_call = call_of_span(key, b"events");
        let (packs, content) = empty_content();
        write(WriteBatch {
            project_id: 1,
            packs,
            linked_calls: vec![LinkedCall {
                columns: CallSummary::of(&event_call),
                index: CallIndex::of(&event_call),
                content,
                replaces: Vec::new(),
                aliases: Vec::new(),
            }],
            links_done: vec![LinkDone { key, version }],
            ..WriteBatch::default()
        })
        .await
        .expect("linked");

        let queued = store.reader.pending_links(10).await.expect("pending");
        assert_eq!(queued.len(), 1, "the span is still waiting for the linker");
        assert_eq!((queued[0].1, queued[0].2), key);
        assert!(queued[0].3 > version);
        let stored = store
            .reader
            .call_for_span(1, key.0, key.1)
            .await
            .expect("read");
        assert_eq!(
            stored.map(|c| c.id),
            Some(span_call.id),
            "the span's call stays"
        );
    }

    #[tokio::test]
    async fn text_of_calls_deleted_in_their_group_is_not_indexed() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("t.db");
        // Opening the store creates the schema; the test writes as its writer would.
        let store = Store::open(&StoreOptions::new(&path)).await.expect("store");
        let mut conn = SqliteConnection::connect(&format!("sqlite://{}", path.display()))
            .await
            .expect("connection");
        let mut tx = conn.begin().await.expect("begin");

        let kept = insert_call(&mut tx, 1).await;
        let folded = insert_call(&mut tx, 2).await;
        let replaced = insert_call(&mut tx, 3).await;
        // The linker replaces the newest call by what it derived again,
        // which takes the freed row id, and folds another call away.
        delete_call(&mut tx, replaced).await;
        let derived = insert_call(&mut tx, 4).await;
        assert_eq!(derived, replaced, "SQLite reuses the highest row id");
        delete_call(&mut tx, folded).await;
        let entries = vec![
            (kept, "alpha"),
            (folded, "beta"),
            (replaced, "delta"),
            (derived, "gamma"),
        ];
        index_text(&mut tx, entries).await.expect("index");
        tx.commit().await.expect("commit");

        assert_eq!(found(&mut conn, "alpha").await, vec![kept]);
        assert!(
            found(&mut conn, "beta").await.is_empty(),
            "a folded call leaves no text"
        );
        assert!(
            found(&mut conn, "delta").await.is_empty(),
            "a replaced call leaves no text"
        );
        assert_eq!(found(&mut conn, "gamma").await, vec![derived]);
        drop(store);
    }
}
