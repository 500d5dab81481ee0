//! Aggregate statistics over calls, grouped by model, provider, service or
//! time. Latency and time-to-first-token percentiles come from log-scale
//! buckets stored with each call, so one `GROUP BY` answers them within
//! about 1% of the exact value, however many calls there are.
//!
//! Whole days are read from daily rollups of those columns and buckets
//! (migrations/0007_call_rollups.sql), which triggers keep in step with the
//! calls: stats over a million calls read a few thousand rows. The parts of
//! a range that are not whole days, and filters the rollups do not carry,
//! are answered by scanning the matching calls.

use std::collections::BTreeMap;

use serde::Serialize;
use sqlx::sqlite::{Sqlite, SqliteRow};
use sqlx::{FromRow as _, QueryBuilder, Row as _};

use super::calls::{push_dimension_filter, push_filter};
use super::{ReadError, Reader};
use crate::model::filter::CallFilter;
use crate::store::encoding::call_index::bucket_value;

/// What calls are grouped by.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GroupBy {
    Model,
    Provider,
    Service,
    Hour,
    Day,
    /// One group of every matching call.
    All,
}

impl GroupBy {
    pub fn parse(text: &str) -> Option<GroupBy> {
        match text {
            "model" => Some(GroupBy::Model),
            "provider" => Some(GroupBy::Provider),
            "service" => Some(GroupBy::Service),
            "hour" => Some(GroupBy::Hour),
            "day" => Some(GroupBy::Day),
            "none" | "all" => Some(GroupBy::All),
            _ => None,
        }
    }

    fn expression(self) -> &'static str {
        match self {
            GroupBy::Model => "COALESCE(request_model, response_model)",
            GroupBy::Provider => "provider",
            GroupBy::Service => "service",
            GroupBy::Hour => "(start_time_unix_nano / 3600000000000) * 3600000000000",
            GroupBy::Day => "(start_time_unix_nano / 86400000000000) * 86400000000000",
            GroupBy::All => "NULL",
        }
    }

    /// The same key over the rollups' columns (never asked for hours:
    /// rollups are daily).
    fn rollup_expression(self) -> &'static str {
        match self {
            GroupBy::Day | GroupBy::Hour => "day",
            other => other.expression(),
        }
    }
}

/// A group's key: a name, or the start of an hour or day in Unix nanoseconds.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(untagged)]
pub enum GroupKey {
    None,
    Name(String),
    Time(i64),
}

/// Nearest-rank percentiles, in milliseconds.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Percentiles {
    pub p50: f64,
    pub p90: f64,
    pub p99: f64,
}

/// A group's figures: count, errors, tokens, cost, latency and TTFT.
#[derive(Clone, Debug, PartialEq, Serialize, utoipa::ToSchema)]
pub struct GroupStats {
    /// The group's name, or the start of its hour or day in Unix
    /// nanoseconds; null for calls without the grouped field (and for the
    /// one group of `none`).
    #[schema(schema_with = group_key_schema)]
    pub key: GroupKey,
    pub count: i64,
    pub errors: i64,
    pub error_rate: f64,
    pub input_tokens: i64,
    pub output_tokens: i64,
    /// Sum over the calls that have a cost.
    pub cost_usd: f64,
    /// How many calls have a known cost.
    pub priced_calls: i64,
    pub latency_ms: Option<Percentiles>,
    pub ttft_ms: Option<Percentiles>,
}

/// What an untagged [`GroupKey`] writes: a string, an integer or null.
fn group_key_schema() -> utoipa::openapi::schema::Object {
    use utoipa::openapi::schema::{ObjectBuilder, SchemaType, Type};
    ObjectBuilder::new()
        .schema_type(SchemaType::from_iter([
            Type::String,
            Type::Integer,
            Type::Null,
        ]))
        .build()
}

/// A row's group key, column `k`. Read by name rather than through a row
/// type: the column is an integer (hours, days), text (names) or NULL
/// depending on what the stats are grouped by, known only at run time.
fn group_key(row: &SqliteRow, group_by: GroupBy) -> Result<GroupKey, ReadError> {
    Ok(match group_by {
        GroupBy::All => GroupKey::None,
        GroupBy::Hour | GroupBy::Day => match row.try_get::<Option<i64>, _>("k")? {
            Some(time) => GroupKey::Time(time),
            None => GroupKey::None,
        },
        _ => match row.try_get::<Option<String>, _>("k")? {
            Some(name) => GroupKey::Name(name),
            None => GroupKey::None,
        },
    })
}

/// Percentiles (nearest rank) from bucket counts in ascending bucket order.
pub fn percentiles(buckets: &[(i64, i64)]) -> Option<Percentiles> {
    let total: i64 = buckets.iter().map(|(_, n)| n).sum();
    if total == 0 {
        return None;
    }
    let at = |q: f64| {
        let rank = ((q * total as f64).ceil() as i64).max(1);
        let mut seen = 0;
        for (bucket, count) in buckets {
            seen += count;
            if seen >= rank {
                return bucket_value(*bucket);
            }
        }
        buckets.last().map_or(0.0, |(b, _)| bucket_value(*b))
    };
    Some(Percentiles {
        p50: at(0.50),
        p90: at(0.90),
        p99: at(0.99),
    })
}

/// Nanoseconds in a day: the period of the rollups.
const DAY_NANOS: i64 = 86_400_000_000_000;

/// The whole UTC days `[first, end)` whose calls the rollups answer for; the
/// rest of the filter's time range is scanned.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct RollupDays {
    first: i64,
    end: i64,
}

/// Whether the rollups can answer `filter` grouped by `group_by`, and for
/// which days. They hold the columns stats filter and group on per day, so
/// filters on anything else (sessions, tags, text, latency bounds…) and
/// hourly groups need the calls themselves; so does a range inside one day.
fn rollup_days(filter: &CallFilter, group_by: GroupBy) -> Option<RollupDays> {
    let finer = filter.trace_id.is_some()
        || filter.session_id.is_some()
        || filter.user_id.is_some()
        || !filter.tags.is_empty()
        || !filter.attributes.is_empty()
        || filter.min_duration_ms.is_some()
        || filter.max_duration_ms.is_some()
        || filter.min_tokens.is_some()
        || filter.max_tokens.is_some()
        || filter.search.is_some();
    if finer || group_by == GroupBy::Hour {
        return None;
    }
    let first = match filter.since_unix_nano {
        Some(since) => {
            let since = since as i64;
            let day = since.div_euclid(DAY_NANOS) * DAY_NANOS;
            if day == since { day } else { day + DAY_NANOS }
        }
        None => i64::MIN,
    };
    let end = match filter.until_unix_nano {
        Some(until) => (until as i64).div_euclid(DAY_NANOS) * DAY_NANOS,
        None => i64::MAX,
    };
    (first < end).then_some(RollupDays { first, end })
}

impl RollupDays {
    /// The parts of the filter's range outside these days, as filters.
    fn edges(self, filter: &CallFilter) -> Vec<CallFilter> {
        let mut edges = Vec::new();
        if let Some(since) = filter.since_unix_nano
            && (since as i64) < self.first
        {
            edges.push(CallFilter {
                until_unix_nano: Some(self.first as u64),
                ..filter.clone()
            });
        }
        if let Some(until) = filter.until_unix_nano
            && self.end < until as i64
        {
            edges.push(CallFilter {
                since_unix_nano: Some(self.end as u64),
                ..filter.clone()
            });
        }
        edges
    }
}

/// The sums a scan or rollup row adds to its group.
#[derive(sqlx::FromRow)]
struct TotalsRow {
    n: i64,
    errors: i64,
    input_tokens: i64,
    output_tokens: i64,
    cost_usd: f64,
    priced: i64,
}

/// A row of a scan of the calls: one group key (read apart, see
/// [`group_key`]) and pair of latency buckets.
#[derive(sqlx::FromRow)]
struct ScanRow {
    #[sqlx(flatten)]
    totals: TotalsRow,
    #[sqlx(rename = "b")]
    duration_bucket: Option<i64>,
    #[sqlx(rename = "t")]
    ttft_bucket: Option<i64>,
}

/// A row of the rollups: one group key (read apart, see [`group_key`]),
/// kind and bucket.
#[derive(sqlx::FromRow)]
struct RollupRow {
    #[sqlx(flatten)]
    totals: TotalsRow,
    kind: i64,
    bucket: i64,
}

/// The kinds of rollup rows (migrations/0007_call_rollups.sql).
const ROLLUP_TOTALS: i64 = 0;
const ROLLUP_DURATION: i64 = 1;
const ROLLUP_TTFT: i64 = 2;

/// Sums what scans and rollups report into each group's statistics.
#[derive(Default)]
struct Groups {
    totals: BTreeMap<GroupKey, GroupStats>,
    latency: BTreeMap<GroupKey, BTreeMap<i64, i64>>,
    ttft: BTreeMap<GroupKey, BTreeMap<i64, i64>>,
}

impl Groups {
    /// Adds a row's `n`, `errors`, tokens, `cost_usd` and `priced` to its group.
    fn add_totals(&mut self, key: GroupKey, row: &TotalsRow) {
        let stats = self
            .totals
            .entry(key.clone())
            .or_insert_with(|| GroupStats {
                key,
                count: 0,
                errors: 0,
                error_rate: 0.0,
                input_tokens: 0,
                output_tokens: 0,
                cost_usd: 0.0,
                priced_calls: 0,
                latency_ms: None,
                ttft_ms: None,
            });
        stats.count += row.n;
        stats.errors += row.errors;
        stats.input_tokens += row.input_tokens;
        stats.output_tokens += row.output_tokens;
        stats.cost_usd += row.cost_usd;
        stats.priced_calls += row.priced;
    }

    fn add_bucket(
        histogram: &mut BTreeMap<GroupKey, BTreeMap<i64, i64>>,
        key: GroupKey,
        bucket: i64,
        n: i64,
    ) {
        *histogram.entry(key).or_default().entry(bucket).or_default() += n;
    }

    fn finish(mut self) -> Vec<GroupStats> {
        for (key, stats) in self.totals.iter_mut() {
            if stats.count > 0 {
                stats.error_rate = stats.errors as f64 / stats.count as f64;
            }
            let counts = |buckets: &BTreeMap<GroupKey, BTreeMap<i64, i64>>| {
                let counts: Vec<(i64, i64)> = buckets
                    .get(key)
                    .map(|b| b.iter().map(|(b, n)| (*b, *n)).collect())
                    .unwrap_or_default();
                percentiles(&counts)
            };
            stats.latency_ms = counts(&self.latency);
            stats.ttft_ms = counts(&self.ttft);
        }
        self.totals.into_values().collect()
    }
}

impl Reader {
    /// Statistics of the calls matching `filter`, per group. Whole days come
    /// from the rollups when the filter allows; the rest from the calls.
    pub async fn call_stats(
        &self,
        project_id: i64,
        filter: &CallFilter,
        group_by: GroupBy,
    ) -> Result<Vec<GroupStats>, ReadError> {
        let mut groups = Groups::default();
        match rollup_days(filter, group_by) {
            Some(days) => {
                self.add_rollups(&mut groups, project_id, filter, group_by, days)
                    .await?;
                for edge in days.edges(filter) {
                    self.add_scan(&mut groups, project_id, &edge, group_by)
                        .await?;
                }
            }
            None => {
                self.add_scan(&mut groups, project_id, filter, group_by)
                    .await?
            }
        }
        Ok(groups.finish())
    }

    /// Adds the calls matching `filter`, read one by one.
    async fn add_scan(
        &self,
        groups: &mut Groups,
        project_id: i64,
        filter: &CallFilter,
        group_by: GroupBy,
    ) -> Result<(), ReadError> {
        // One scan of the calls, grouped by key and both latency buckets:
        // totals are summed here, and each bucket's count feeds the
        // percentiles. Three scans (totals, latency, TTFT) took three times
        // as long over a million calls.
        let key = group_by.expression();
        let mut query: QueryBuilder<Sqlite> = QueryBuilder::new(format!(
            "SELECT {key} AS k, duration_bucket AS b, ttft_bucket AS t, COUNT(*) AS n, \
             SUM(status) AS errors, COALESCE(SUM(input_tokens), 0) AS input_tokens, \
             COALESCE(SUM(output_tokens), 0) AS output_tokens, \
             COALESCE(SUM(cost_usd), 0.0) AS cost_usd, COUNT(cost_usd) AS priced FROM calls"
        ));
        push_filter(&mut query, project_id, filter);
        query.push(" GROUP BY k, b, t");
        for row in query.build().fetch_all(&self.pool).await? {
            let key = group_key(&row, group_by)?;
            let scan = ScanRow::from_row(&row)?;
            let count = scan.totals.n;
            groups.add_totals(key.clone(), &scan.totals);
            if let Some(bucket) = scan.duration_bucket {
                Groups::add_bucket(&mut groups.latency, key.clone(), bucket, count);
            }
            if let Some(bucket) = scan.ttft_bucket {
                Groups::add_bucket(&mut groups.ttft, key, bucket, count);
            }
        }
        Ok(())
    }

    /// Adds the rollups of `days` that match `filter`.
    async fn add_rollups(
        &self,
        groups: &mut Groups,
        project_id: i64,
        filter: &CallFilter,
        group_by: GroupBy,
        days: RollupDays,
    ) -> Result<(), ReadError> {
        let key = group_by.rollup_expression();
        let mut query: QueryBuilder<Sqlite> = QueryBuilder::new(format!(
            "SELECT {key} AS k, kind, bucket, SUM(n) AS n, SUM(errors) AS errors, \
             SUM(input_tokens) AS input_tokens, SUM(output_tokens) AS output_tokens, \
             SUM(cost_usd) AS cost_usd, SUM(priced) AS priced FROM call_rollups"
        ));
        query.push(" WHERE project_id = ").push_bind(project_id);
        if days.first != i64::MIN {
            query.push(" AND day >= ").push_bind(days.first);
        }
        if days.end != i64::MAX {
            query.push(" AND day < ").push_bind(days.end);
        }
        push_dimension_filter(&mut query, filter);
        query.push(" GROUP BY k, kind, bucket");
        for row in query.build().fetch_all(&self.pool).await? {
            let key = group_key(&row, group_by)?;
            let rollup = RollupRow::from_row(&row)?;
            let (bucket, n) = (rollup.bucket, rollup.totals.n);
            match rollup.kind {
                ROLLUP_TOTALS => groups.add_totals(key, &rollup.totals),
                ROLLUP_DURATION => Groups::add_bucket(&mut groups.latency, key, bucket, n),
                ROLLUP_TTFT => Groups::add_bucket(&mut groups.ttft, key, bucket, n),
                _ => {}
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::encoding::call_index::bucket;

    #[test]
    fn rollups_answer_for_whole_days_and_the_edges_are_scanned() {
        let day = DAY_NANOS as u64;
        let range = |since: Option<u64>, until: Option<u64>| CallFilter {
            since_unix_nano: since,
            until_unix_nano: until,
            ..CallFilter::default()
        };
        let all = rollup_days(&range(None, None), GroupBy::Model).expect("all days");
        assert_eq!((all.first, all.end), (i64::MIN, i64::MAX));
        assert!(all.edges(&range(None, None)).is_empty());

        // From 12:00 on day 3 to 06:00 on day 7: days 4-6 from rollups.
        let filter = range(Some(3 * day + day / 2), Some(7 * day + day / 4));
        let days = rollup_days(&filter, GroupBy::Day).expect("whole days inside");
        assert_eq!((days.first, days.end), (4 * DAY_NANOS, 7 * DAY_NANOS));
        let edges: Vec<(Option<u64>, Option<u64>)> = days
            .edges(&filter)
            .iter()
            .map(|f| (f.since_unix_nano, f.until_unix_nano))
            .collect();
        assert_eq!(
            edges,
            [
                (Some(3 * day + day / 2), Some(4 * day)),
                (Some(7 * day), Some(7 * day + day / 4))
            ]
        );

        // Day boundaries exactly: no edges.
        let filter = range(Some(2 * day), Some(5 * day));
        let days = rollup_days(&filter, GroupBy::All).expect("days");
        assert_eq!((days.first, days.end), (2 * DAY_NANOS, 5 * DAY_NANOS));
        assert!(days.edges(&filter).is_empty());

        // Inside one day, hourly groups, or filters the rollups lack: scan.
        assert_eq!(
            rollup_days(&range(Some(day + 1), Some(2 * day - 1)), GroupBy::Model),
            None
        );
        assert_eq!(rollup_days(&range(None, None), GroupBy::Hour), None);
        let by_session = CallFilter {
            session_id: Some("s".into()),
            ..CallFilter::default()
        };
        assert_eq!(rollup_days(&by_session, GroupBy::Model), None);
    }

    #[test]
    fn percentiles_use_nearest_rank_over_buckets() {
        // 100 calls: 1..=100 ms. Nearest rank: p50 = 50, p90 = 90, p99 = 99.
        let mut counts: BTreeMap<i64, i64> = BTreeMap::new();
        for ms in 1..=100 {
            *counts.entry(bucket(ms as f64)).or_default() += 1;
        }
        let buckets: Vec<(i64, i64)> = counts.into_iter().collect();
        let p = percentiles(&buckets).expect("some");
        for (got, want) in [(p.p50, 50.0), (p.p90, 90.0), (p.p99, 99.0)] {
            assert!((got - want).abs() / want < 0.02, "{got} vs {want}");
        }
        assert_eq!(percentiles(&[]), None);
    }
}
