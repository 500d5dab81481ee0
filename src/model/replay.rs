//! The states of replay runs and their items, as the store keeps them and
//! the replay engine, the API and comparisons read them. What a run was
//! asked to do (its spec, with its targets) belongs to replay, which parses
//! it; storage keeps it as JSON.
//!
//! An item is one original call × one target × one repetition. It starts
//! `pending`, becomes `running` when an executor claims it, and ends
//! `done` (the target answered), `failed` (the call could not be
//! translated, or the target kept failing after its retries) or
//! `cancelled` (the run was cancelled, or a budget guard stopped it before
//! the item was sent; `last_error` says which).

use serde::{Deserialize, Serialize};

use super::CallId;

/// A stored state name that is none of the known ones: a newer reprise
/// wrote it, or the row is corrupt.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown {kind} state {name:?}")]
pub struct UnknownState {
    pub kind: &'static str,
    pub name: String,
}

/// `TryFrom<String>` by a state's `parse`, so the store's rows decode
/// state columns straight into the enum.
macro_rules! state_from_string {
    ($state:ty, $kind:literal) => {
        impl TryFrom<String> for $state {
            type Error = $crate::model::replay::UnknownState;

            fn try_from(name: String) -> Result<Self, $crate::model::replay::UnknownState> {
                Self::parse(&name).ok_or($crate::model::replay::UnknownState { kind: $kind, name })
            }
        }
    };
}
pub(crate) use state_from_string;

state_from_string!(RunState, "replay run");
state_from_string!(ItemState, "replay item");

/// A run's state: `running`, `done`, `cancelled`, `stopped` (a budget
/// guard or an error ended it; see `stop_reason`) or `failed` (every item
/// failed; each target's `errors` say why).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
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

/// An item's state.
#[derive(
    Clone,
    Copy,
    Debug,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    Serialize,
    Deserialize,
    utoipa::ToSchema,
)]
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

/// A run as the store keeps it; its spec is the JSON replay wrote (the
/// replay module parses it into its `Run`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredRun {
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
    pub spec: String,
}

/// An item as stored: one original call × one target × one repetition.
#[derive(Clone, Debug, PartialEq, Serialize, utoipa::ToSchema)]
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
