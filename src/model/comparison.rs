//! The states of a comparison scoring, shared by the store, which keeps
//! them, and compare, which moves a scoring through them.

#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ScoringState {
    Running,
    Done,
    Failed,
}

impl ScoringState {
    pub fn as_str(self) -> &'static str {
        match self {
            ScoringState::Running => "running",
            ScoringState::Done => "done",
            ScoringState::Failed => "failed",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "running" => Some(ScoringState::Running),
            "done" => Some(ScoringState::Done),
            "failed" => Some(ScoringState::Failed),
            _ => None,
        }
    }
}

super::replay::state_from_string!(ScoringState, "comparison scoring");
