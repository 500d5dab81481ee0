//! Who may do what: API keys, their scopes and their projects.
//!
//! A key (`rpk_…`, see [`key`]) belongs to one project and carries scopes
//! among `ingest`, `read` and `admin`. Only a hash of each key is stored.
//! Every request goes through [`Authorizer::authorize`], called by the HTTP
//! layer ([`http`]) and the gRPC interceptor ([`grpc`]) alike, so the two
//! transports cannot drift apart. It answers from an in-memory copy of the
//! keys table that a background task re-reads every two seconds, so a key
//! revoked with `reprise keys revoke` stops working within seconds without
//! any request ever waiting on the database.
//!
//! Authentication is on when at least one key is active or the server was
//! started with `--require-keys`; when it is off, every request acts as the
//! `default` project with every scope.

pub mod grpc;
pub mod http;
pub mod key;

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use crate::store::keys::{ActiveKey, KeyStore, KeyStoreError};

pub use key::hash_key;

use crate::error_code::ErrorCode;
use crate::model::project::{KeyHash, Project, Scope};

/// How often the keys table is re-read: the longest a revoked key keeps working.
pub const REFRESH_INTERVAL: Duration = Duration::from_secs(2);

/// Who is asking: the key's project and scopes. Put into request
/// extensions by the HTTP layer and the gRPC interceptor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    /// `None` while authentication is off.
    pub key_id: Option<i64>,
    pub project: Project,
    pub scopes: Vec<Scope>,
}

impl Principal {
    /// The principal of every request while authentication is off.
    pub fn unauthenticated() -> Principal {
        Principal {
            key_id: None,
            project: Project::default_project(),
            scopes: Scope::ALL.to_vec(),
        }
    }

    pub fn has(&self, scope: Scope) -> bool {
        self.scopes.contains(&scope)
    }
}

/// Why a request was refused. `Unauthenticated` is HTTP 401 / gRPC
/// UNAUTHENTICATED, `Forbidden` is HTTP 403 / gRPC PERMISSION_DENIED.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    #[error("an API key is required: send it as `Authorization: Bearer KEY` or `x-api-key: KEY`")]
    MissingKey,
    #[error("the API key is not valid (unknown, mistyped or revoked)")]
    InvalidKey,
    #[error("the API key does not have the {0} scope this request needs")]
    Forbidden(Scope),
}

impl AuthError {
    /// The refusal's row in the one error table.
    pub fn code(&self) -> ErrorCode {
        match self {
            AuthError::MissingKey | AuthError::InvalidKey => ErrorCode::Unauthenticated,
            AuthError::Forbidden(_) => ErrorCode::Forbidden,
        }
    }
}

/// The in-memory copy of the active keys.
#[derive(Debug, Default)]
struct KeySet {
    by_hash: HashMap<KeyHash, Principal>,
}

/// Checks keys. Cheap to clone; every clone sees the same refreshed keys.
#[derive(Clone)]
pub struct Authorizer {
    keys: Arc<RwLock<KeySet>>,
    /// Refuse every request without a valid key even when no key is
    /// active: set by `--require-keys`, and for good once any key was seen,
    /// so revoking the last key locks the server instead of opening it.
    require_keys: Arc<AtomicBool>,
}

impl Authorizer {
    pub fn new(keys: Vec<ActiveKey>, require_keys: bool) -> Authorizer {
        let authorizer = Authorizer {
            keys: Arc::new(RwLock::new(KeySet::default())),
            require_keys: Arc::new(AtomicBool::new(require_keys)),
        };
        authorizer.replace_keys(keys);
        authorizer
    }

    /// An authorizer with no keys that does not require them: everything
    /// is allowed, as the default project.
    pub fn disabled() -> Authorizer {
        Authorizer::new(Vec::new(), false)
    }

    /// Reads the active keys from the database.
    pub async fn load(keys: &KeyStore, require_keys: bool) -> Result<Self, KeyStoreError> {
        Ok(Authorizer::new(keys.active_keys().await?, require_keys))
    }

    /// Whether requests must carry a key.
    pub fn enabled(&self) -> bool {
        self.require_keys.load(Ordering::Relaxed) || self.key_count() > 0
    }

    pub fn key_count(&self) -> usize {
        match self.keys.read() {
            Ok(keys) => keys.by_hash.len(),
            Err(poisoned) => poisoned.into_inner().by_hash.len(),
        }
    }

    /// The one check every transport calls: `key` as sent (without the
    /// `Bearer ` prefix), `scope` what the request needs (`None` for open
    /// routes, which still learn who is asking when a valid key is sent).
    pub fn authorize(
        &self,
        key: Option<&str>,
        scope: Option<Scope>,
    ) -> Result<Principal, AuthError> {
        if !self.enabled() {
            return Ok(Principal::unauthenticated());
        }
        let principal = match key.map(str::trim).filter(|k| !k.is_empty()) {
            None => return Err(AuthError::MissingKey),
            Some(key) => self.lookup(key).ok_or(AuthError::InvalidKey)?,
        };
        if let Some(scope) = scope
            && !principal.has(scope)
        {
            return Err(AuthError::Forbidden(scope));
        }
        Ok(principal)
    }

    fn lookup(&self, key: &str) -> Option<Principal> {
        let hash = hash_key(key);
        let keys = match self.keys.read() {
            Ok(keys) => keys,
            Err(poisoned) => poisoned.into_inner(),
        };
        keys.by_hash.get(&hash).cloned()
    }

    fn replace_keys(&self, keys: Vec<ActiveKey>) {
        if !keys.is_empty() {
            self.require_keys.store(true, Ordering::Relaxed);
        }
        let mut by_hash = HashMap::with_capacity(keys.len());
        for key in keys {
            by_hash.insert(
                key.key_hash,
                Principal {
                    key_id: Some(key.id),
                    project: key.project,
                    scopes: key.scopes,
                },
            );
        }
        let mut guard = match self.keys.write() {
            Ok(guard) => guard,
            Err(poisoned) => poisoned.into_inner(),
        };
        guard.by_hash = by_hash;
    }

    /// Re-reads the keys table every [`REFRESH_INTERVAL`] until `stop`
    /// turns true. A failed read keeps the previous keys: refusing every
    /// request because of a busy database would be worse than a revocation
    /// taking one more interval.
    pub fn spawn_refresh(
        &self,
        keys: KeyStore,
        mut stop: tokio::sync::watch::Receiver<bool>,
    ) -> tokio::task::JoinHandle<()> {
        let authorizer = self.clone();
        tokio::spawn(async move {
            let mut interval = tokio::time::interval(REFRESH_INTERVAL);
            interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tokio::select! {
                    _ = interval.tick() => {}
                    changed = stop.changed() => {
                        if changed.is_err() || *stop.borrow() {
                            return;
                        }
                    }
                }
                match keys.active_keys().await {
                    Ok(keys) => authorizer.replace_keys(keys),
                    Err(error) => {
                        tracing::warn!(%error, "cannot re-read the API keys; keeping the previous ones")
                    }
                }
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn active(key: &str, project: i64, scopes: &[Scope]) -> ActiveKey {
        ActiveKey {
            id: project * 10,
            key_hash: hash_key(key),
            project: Project {
                id: project,
                name: format!("p{project}"),
            },
            scopes: scopes.to_vec(),
        }
    }

    #[test]
    fn without_keys_every_request_is_the_default_project_with_every_scope() {
        let authorizer = Authorizer::disabled();
        let principal = authorizer
            .authorize(None, Some(Scope::Admin))
            .expect("allowed");
        assert_eq!(principal, Principal::unauthenticated());
    }

    #[test]
    fn require_keys_refuses_a_missing_key_even_with_no_key_created() {
        let authorizer = Authorizer::new(Vec::new(), true);
        assert_eq!(
            authorizer.authorize(None, Some(Scope::Read)),
            Err(AuthError::MissingKey)
        );
    }

    #[test]
    fn a_key_is_allowed_its_scopes_and_refused_the_others() {
        let authorizer = Authorizer::new(vec![active("rpk_a", 2, &[Scope::Read])], false);
        let principal = authorizer
            .authorize(Some("rpk_a"), Some(Scope::Read))
            .expect("read allowed");
        assert_eq!(principal.project.id, 2);
        assert_eq!(
            authorizer.authorize(Some("rpk_a"), Some(Scope::Ingest)),
            Err(AuthError::Forbidden(Scope::Ingest))
        );
        assert_eq!(
            authorizer.authorize(Some("rpk_b"), Some(Scope::Read)),
            Err(AuthError::InvalidKey)
        );
        assert_eq!(
            authorizer.authorize(Some("  "), Some(Scope::Read)),
            Err(AuthError::MissingKey)
        );
    }

    #[test]
    fn replacing_the_keys_drops_a_revoked_key() {
        let authorizer = Authorizer::new(
            vec![
                active("rpk_a", 1, &[Scope::Read]),
                active("rpk_b", 1, &[Scope::Read]),
            ],
            false,
        );
        authorizer.replace_keys(vec![active("rpk_b", 1, &[Scope::Read])]);
        assert_eq!(
            authorizer.authorize(Some("rpk_a"), None),
            Err(AuthError::InvalidKey)
        );
        assert!(authorizer.authorize(Some("rpk_b"), None).is_ok());
    }

    #[test]
    fn revoking_the_last_key_keeps_authentication_on() {
        let authorizer = Authorizer::new(vec![active("rpk_a", 1, &[Scope::Read])], false);
        authorizer.replace_keys(Vec::new());
        assert!(authorizer.enabled());
        assert_eq!(
            authorizer.authorize(None, Some(Scope::Read)),
            Err(AuthError::MissingKey)
        );
    }

    #[test]
    fn scopes_parse_case_insensitively_and_refuse_unknown_names() {
        assert_eq!("Admin".parse::<Scope>(), Ok(Scope::Admin));
        assert!("write".parse::<Scope>().is_err());
    }
}
