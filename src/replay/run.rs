//! The model of a replay run: what was asked (the [`RunSpec`], stored with
//! the run so a resumed run does what it was created to do), the states a
//! run and its items go through, and how they read back.
//!
//! An item is one original call × one target × one repetition. It starts
//! `pending`, becomes `running` when an executor claims it, and ends
//! `done` (the target answered), `failed` (the call could not be
//! translated, or the target kept failing after its retries) or
//! `cancelled` (the run was cancelled, or a budget guard stopped it before
//! the item was sent; `last_error` says which).

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value as Json};

use super::targets::TargetSpec;
use crate::model::CallId;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RunState {
    /// Items remain to be replayed (or are being replayed).
    Running,
    /// Every item ended.
    Done,
    Cancelled,
    /// A budget guard ended the run; `stop_reason` says which.
    Stopped,
    /// Every item ended, and every one of them failed: nothing was
    /// answered. The items' error classes say why.
    Failed,
}

impl RunState {
    pub fn as_str(self) -> &'static str {
        match self {
            RunState::Running => "running",
            RunState::Done => "done",
            RunState::Cancelled => "cancelled",
            RunState::Stopped => "stopped",
            RunState::Failed => "failed",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "running" => Some(RunState::Running),
            "done" => Some(RunState::Done),
            "cancelled" => Some(RunState::Cancelled),
            "stopped" => Some(RunState::Stopped),
            "failed" => Some(RunState::Failed),
            _ => None,
        }
    }

    pub fn is_finished(self) -> bool {
        self != RunState::Running
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ItemState {
    Pending,
    Running,
    Done,
    Failed,
    Cancelled,
}

impl ItemState {
    pub const ALL: [ItemState; 5] = [
        ItemState::Pending,
        ItemState::Running,
        ItemState::Done,
        ItemState::Failed,
        ItemState::Cancelled,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ItemState::Pending => "pending",
            ItemState::Running => "running",
            ItemState::Done => "done",
            ItemState::Failed => "failed",
            ItemState::Cancelled => "cancelled",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "pending" => Some(ItemState::Pending),
            "running" => Some(ItemState::Running),
            "done" => Some(ItemState::Done),
            "failed" => Some(ItemState::Failed),
            "cancelled" => Some(ItemState::Cancelled),
            _ => None,
        }
    }
}

/// Limits that stop a run before it spends more than the user allowed.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Budget {
    /// Most items (replayed calls) sent; retries of one item count once.
    #[serde(default)]
    pub max_calls: Option<u64>,
    /// Most money spent, in US dollars, counting each item at its
    /// estimated cost until its real cost is known.
    #[serde(default)]
    pub max_cost_usd: Option<f64>,
}

/// Which recorded calls a run replays, as the user asked for them.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Selection {
    /// The filters of `GET /api/v1/calls`, by parameter name.
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    pub filters: Map<String, Json>,
    /// Explicit call ids; when set, the filters are not used.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ids: Option<Vec<CallId>>,
    /// A uniform random sample of this many of the matching calls.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sample: Option<usize>,
}

/// Everything a run needs to be executed, stored with it as JSON.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RunSpec {
    pub targets: Vec<TargetSpec>,
    /// Replays per call and target.
    pub repeat: u32,
    /// Merged into every target's request body last (JSON merge patch).
    #[serde(default)]
    pub overrides: Map<String, Json>,
    #[serde(default)]
    pub budget: Budget,
    /// Ask for streamed answers (time to first token needs them).
    pub stream: bool,
    pub selection: Selection,
    /// Parameters every target may lose, on top of each target's own
    /// `allow_drop` (ad hoc targets have no config to say it in).
    #[serde(default, skip_serializing_if = "BTreeSet::is_empty")]
    pub allow_drop: BTreeSet<String>,
}

impl RunSpec {
    pub fn target(&self, name: &str) -> Option<&TargetSpec> {
        self.targets.iter().find(|target| target.name == name)
    }
}

/// A run as stored.
#[derive(Clone, Debug, PartialEq)]
pub struct Run {
    /// The store's row id (items point at it).
    pub row_id: i64,
    /// The public id.
    pub id: String,
    pub project_id: i64,
    pub name: Option<String>,
    pub created_at_unix_nano: u64,
    pub finished_at_unix_nano: Option<u64>,
    pub state: RunState,
    pub stop_reason: Option<String>,
    pub spec: RunSpec,
}

/// An item as stored.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Item {
    #[serde(skip)]
    pub row_id: i64,
    pub original_call_id: CallId,
    pub target: String,
    pub repetition: u32,
    pub state: ItemState,
    pub attempts: u32,
    pub error: Option<String>,
    /// What kind of failure `error` is, for grouping: `untranslatable`,
    /// `original_unavailable`, `connect`, `timeout`, the provider's error
    /// type or HTTP status, …
    pub error_class: Option<String>,
    pub result_call_id: Option<CallId>,
    pub latency_ms: Option<f64>,
    pub ttft_ms: Option<f64>,
    pub input_tokens: Option<i64>,
    pub output_tokens: Option<i64>,
    pub cost_usd: Option<f64>,
    pub estimated_cost_usd: Option<f64>,
    /// Sent without tools: the original answered with a tool call but its
    /// tool definitions were not recorded.
    pub tools_missing: bool,
}

/// A fresh public run id.
pub fn new_run_id() -> String {
    ulid::Ulid::new().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn states_read_back_from_their_names() {
        for state in ItemState::ALL {
            assert_eq!(ItemState::parse(state.as_str()), Some(state));
        }
        for state in [
            RunState::Running,
            RunState::Done,
            RunState::Cancelled,
            RunState::Stopped,
            RunState::Failed,
        ] {
            assert_eq!(RunState::parse(state.as_str()), Some(state));
        }
        assert_eq!(ItemState::parse("finished"), None);
    }

    #[test]
    fn budget_rejects_unknown_fields() {
        let error =
            serde_json::from_str::<Budget>(r#"{"max_cost": 1}"#).expect_err("unknown field");
        assert!(error.to_string().contains("max_cost"), "{error}");
    }
}
