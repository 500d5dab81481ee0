//! Projects and what a key may do in one: the domain of API keys, below
//! both the auth layer that checks keys and the store that keeps them.

use std::fmt;

/// The project every request belongs to while authentication is off, and
/// the project of everything stored before keys existed.
pub const DEFAULT_PROJECT_ID: i64 = 1;
pub const DEFAULT_PROJECT_NAME: &str = "default";

/// BLAKE3 of a key's text: what the keys table stores.
pub type KeyHash = [u8; 32];

/// What a key allows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Scope {
    /// Send telemetry and raw records.
    Ingest,
    /// Query calls, traces, sessions, stats and exports.
    Read,
    /// Replays, cost recomputation, deletes and key management.
    Admin,
    /// `GET /metrics`: server-wide counters of every project (model names,
    /// tokens, costs), for a Prometheus scrape job.
    Metrics,
}

impl Scope {
    pub const ALL: [Scope; 4] = [Scope::Ingest, Scope::Read, Scope::Admin, Scope::Metrics];

    pub fn as_str(self) -> &'static str {
        match self {
            Scope::Ingest => "ingest",
            Scope::Read => "read",
            Scope::Admin => "admin",
            Scope::Metrics => "metrics",
        }
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown scope {0:?}: use ingest, read, admin or metrics")]
pub struct UnknownScope(pub String);

impl std::str::FromStr for Scope {
    type Err = UnknownScope;

    fn from_str(text: &str) -> Result<Scope, UnknownScope> {
        match text.trim().to_ascii_lowercase().as_str() {
            "ingest" => Ok(Scope::Ingest),
            "read" => Ok(Scope::Read),
            "admin" => Ok(Scope::Admin),
            "metrics" => Ok(Scope::Metrics),
            _ => Err(UnknownScope(text.to_owned())),
        }
    }
}

/// A project: the unit of data isolation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Project {
    pub id: i64,
    pub name: String,
}

impl Project {
    pub fn default_project() -> Project {
        Project {
            id: DEFAULT_PROJECT_ID,
            name: DEFAULT_PROJECT_NAME.to_owned(),
        }
    }
}
