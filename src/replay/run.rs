//! The model of a replay run: what was asked (the [`RunSpec`], stored with
//! the run as JSON so a resumed run does what it was created to do), and
//! the run as replay reads it back. The states a run and its items go
//! through are domain types (`model::replay`), re-exported here.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value as Json};

use crate::model::CallId;
use crate::model::replay::StoredRun;
pub use crate::model::replay::{Item, ItemState, RunState};
use crate::store::{ReadError, Reader};
use crate::targets::{Budget, TargetSpec};

/// Which recorded calls a run replays, as the user asked for them.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
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

impl Run {
    /// The run a store read back, its spec parsed.
    pub fn from_stored(stored: StoredRun) -> Result<Run, ReadError> {
        let spec = serde_json::from_str(&stored.spec)
            .map_err(|e| ReadError::Corrupt(format!("replay run {} spec: {e}", stored.id)))?;
        Ok(Run {
            row_id: stored.row_id,
            id: stored.id,
            project_id: stored.project_id,
            name: stored.name,
            created_at_unix_nano: stored.created_at_unix_nano,
            finished_at_unix_nano: stored.finished_at_unix_nano,
            state: stored.state,
            stop_reason: stored.stop_reason,
            spec,
        })
    }

    /// Runs as a store read them back.
    pub fn all_from_stored(stored: Vec<StoredRun>) -> Result<Vec<Run>, ReadError> {
        stored.into_iter().map(Run::from_stored).collect()
    }
}

/// The project's run `run_id`, if there is one.
pub async fn read_run(
    reader: &Reader,
    project_id: i64,
    run_id: &str,
) -> Result<Option<Run>, ReadError> {
    reader
        .replay_run(project_id, run_id)
        .await?
        .map(Run::from_stored)
        .transpose()
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
}
