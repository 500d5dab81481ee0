//! The policy of a store: `reprise serve` records the text of its
//! `--redaction` file (empty for the built-in policy) in the database at
//! start, and the commands that write content into the file without it —
//! `reprise replay`, `compare` and `import` — apply that same policy, so
//! no path stores in clear what the server would have redacted.

use std::path::Path;

use super::Redactor;
use super::config::{self, RedactionConfigError};
use crate::store::{Store, settings};

#[derive(Debug, thiserror::Error)]
pub enum StoredPolicyError {
    #[error(transparent)]
    Config(#[from] RedactionConfigError),
    #[error("cannot read the store's redaction policy: {0}")]
    Read(#[from] sqlx::Error),
    #[error(
        "the redaction policy this store was served with no longer compiles ({0}); refusing to write unredacted content: pass --redaction FILE"
    )]
    Unusable(RedactionConfigError),
}

/// Records the policy `serve` starts with: the text of `file`, or empty for
/// the built-in policy.
pub async fn record(db: &Path, file: Option<&Path>) -> Result<(), StoredPolicyError> {
    let text = match file {
        Some(path) => {
            std::fs::read_to_string(path).map_err(|source| RedactionConfigError::Read {
                path: path.to_path_buf(),
                source,
            })?
        }
        None => String::new(),
    };
    settings::set(db, settings::REDACTION_POLICY, &text).await?;
    Ok(())
}

/// The policy a command writing into the store applies: `file` when given,
/// else the one the server last recorded, else the built-in one (which is
/// what a server started without `--redaction` applies).
pub async fn for_store(store: &Store, file: Option<&Path>) -> Result<Redactor, StoredPolicyError> {
    if file.is_some() {
        return Ok(config::load(file)?);
    }
    match store.setting(settings::REDACTION_POLICY).await? {
        None => Ok(Redactor::built_in()),
        Some(text) => config::parse(&text).map_err(StoredPolicyError::Unusable),
    }
}
