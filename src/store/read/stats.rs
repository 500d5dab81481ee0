//! Aggregate statistics over calls, grouped by model, provider, service or
//! time. Latency and time-to-first-token percentiles come from log-scale
//! buckets stored with each call, so one `GROUP BY` answers them within
//! about 1% of the exact value, however many calls there are.

use std::collections::BTreeMap;

use serde::Serialize;
use sqlx::sqlite::Sqlite;
use sqlx::{QueryBuilder, Row};

use super::calls::push_filter;
use super::{CallFilter, ReadError, Reader};
use crate::store::call_index::bucket_value;

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

    pub fn is_time(self) -> bool {
        matches!(self, GroupBy::Hour | GroupBy::Day)
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

#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize)]
pub struct Percentiles {
    pub p50: f64,
    pub p90: f64,
    pub p99: f64,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct GroupStats {
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

fn group_key(row: &sqlx::sqlite::SqliteRow, group_by: GroupBy) -> Result<GroupKey, ReadError> {
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

impl Reader {
    pub async fn call_stats(
        &self,
        project_id: i64,
        filter: &CallFilter,
        group_by: GroupBy,
    ) -> Result<Vec<GroupStats>, ReadError> {
        let key = group_by.expression();
        let mut query: QueryBuilder<Sqlite> = QueryBuilder::new(format!(
            "SELECT {key} AS k, COUNT(*) AS n, SUM(status) AS errors, \
             COALESCE(SUM(input_tokens), 0) AS input_tokens, \
             COALESCE(SUM(output_tokens), 0) AS output_tokens, \
             COALESCE(SUM(cost_usd), 0.0) AS cost_usd, COUNT(cost_usd) AS priced FROM calls"
        ));
        push_filter(&mut query, project_id, filter);
        query.push(" GROUP BY k");
        let mut groups = BTreeMap::new();
        for row in query.build().fetch_all(&self.pool).await? {
            let count: i64 = row.try_get("n")?;
            let errors: i64 = row.try_get("errors")?;
            let stats = GroupStats {
                key: group_key(&row, group_by)?,
                count,
                errors,
                error_rate: if count > 0 {
                    errors as f64 / count as f64
                } else {
                    0.0
                },
                input_tokens: row.try_get("input_tokens")?,
                output_tokens: row.try_get("output_tokens")?,
                cost_usd: row.try_get("cost_usd")?,
                priced_calls: row.try_get("priced")?,
                latency_ms: None,
                ttft_ms: None,
            };
            groups.insert(stats.key.clone(), stats);
        }
        for (column, is_ttft) in [("duration_bucket", false), ("ttft_bucket", true)] {
            let mut query: QueryBuilder<Sqlite> = QueryBuilder::new(format!(
                "SELECT {key} AS k, {column} AS b, COUNT(*) AS n FROM calls"
            ));
            push_filter(&mut query, project_id, filter);
            query.push(format!(
                " AND {column} IS NOT NULL GROUP BY k, b ORDER BY k, b"
            ));
            let mut buckets: BTreeMap<GroupKey, Vec<(i64, i64)>> = BTreeMap::new();
            for row in query.build().fetch_all(&self.pool).await? {
                buckets
                    .entry(group_key(&row, group_by)?)
                    .or_default()
                    .push((row.try_get("b")?, row.try_get("n")?));
            }
            for (group, counts) in buckets {
                if let Some(stats) = groups.get_mut(&group) {
                    let values = percentiles(&counts);
                    if is_ttft {
                        stats.ttft_ms = values;
                    } else {
                        stats.latency_ms = values;
                    }
                }
            }
        }
        Ok(groups.into_values().collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::call_index::bucket;

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
