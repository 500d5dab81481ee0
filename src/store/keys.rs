//! The `projects` and `api_keys` tables. Keys are written by the `reprise
//! keys` command through its own connection (SQLite lets it write beside a
//! running server's writer), and read by the server's [`Authorizer`]
//! refresh; neither goes through the ingest write queue, which is for
//! telemetry.
//!
//! [`Authorizer`]: crate::auth::Authorizer

use std::path::Path;

use sqlx::SqlitePool;

use crate::model::project::{KeyHash, Project, Scope};

#[derive(Debug, thiserror::Error)]
pub enum KeyStoreError {
    #[error("cannot open database {path}: {source}")]
    Open {
        path: std::path::PathBuf,
        source: sqlx::Error,
    },
    #[error("cannot migrate database {path} to the current schema: {source}")]
    Migrate {
        path: std::path::PathBuf,
        source: sqlx::migrate::MigrateError,
    },
    #[error(
        "a key named {0:?} already exists: choose another name (names stay taken after revocation)"
    )]
    NameTaken(String),
    #[error("no key has the id or name {0:?}: `reprise keys list` shows them")]
    NotFound(String),
    #[error("key {0:?} was already revoked")]
    AlreadyRevoked(String),
    #[error("the keys table holds an unreadable row (key {id}): {message}")]
    Corrupt { id: i64, message: String },
    #[error("database error on the keys table: {0}")]
    Database(#[from] sqlx::Error),
}

/// A key that may be used, as the authorizer needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActiveKey {
    pub id: i64,
    pub key_hash: KeyHash,
    pub project: Project,
    pub scopes: Vec<Scope>,
}

/// A key as `reprise keys list` shows it: never the key itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyInfo {
    pub id: i64,
    pub name: String,
    pub project: Project,
    pub key_prefix: String,
    pub scopes: Vec<Scope>,
    pub created_at_unix_nano: i64,
    pub revoked_at_unix_nano: Option<i64>,
}

/// What creating a key writes.
#[derive(Debug, Clone)]
pub struct NewKey<'a> {
    pub name: &'a str,
    pub project_name: &'a str,
    pub key_hash: KeyHash,
    pub key_prefix: String,
    pub scopes: &'a [Scope],
    pub now_unix_nano: i64,
}

/// The keys and projects of a database. The engine is a detail of the
/// store: callers (the key check, `reprise keys`) see this handle and the
/// domain types, never a connection pool.
#[derive(Clone, Debug)]
pub struct KeyStore {
    pool: SqlitePool,
}

/// A key not revoked, with its project: an `api_keys` row joined to
/// `projects`.
#[derive(sqlx::FromRow)]
struct ActiveKeyRow {
    id: i64,
    key_hash: Vec<u8>,
    scopes: String,
    #[sqlx(flatten)]
    project: ProjectRow,
}

/// Any key, revoked or not, with its project.
#[derive(sqlx::FromRow)]
struct KeyInfoRow {
    id: i64,
    name: String,
    key_prefix: String,
    scopes: String,
    created_at_unix_nano: i64,
    revoked_at_unix_nano: Option<i64>,
    #[sqlx(flatten)]
    project: ProjectRow,
}

/// A key's project, as the joins above name its columns.
#[derive(sqlx::FromRow)]
struct ProjectRow {
    project_id: i64,
    project_name: String,
}

impl From<ProjectRow> for Project {
    fn from(row: ProjectRow) -> Self {
        Project {
            id: row.project_id,
            name: row.project_name,
        }
    }
}

/// A stored hash or scope list that does not parse is reported with the
/// key's id, so `reprise keys` can name the row.
impl TryFrom<ActiveKeyRow> for ActiveKey {
    type Error = KeyStoreError;

    fn try_from(row: ActiveKeyRow) -> Result<Self, KeyStoreError> {
        let id = row.id;
        let key_hash: KeyHash = row
            .key_hash
            .try_into()
            .map_err(|_| KeyStoreError::Corrupt {
                id,
                message: "the key hash is not 32 bytes".into(),
            })?;
        Ok(ActiveKey {
            id,
            key_hash,
            project: row.project.into(),
            scopes: parse_scopes(id, &row.scopes)?,
        })
    }
}

impl TryFrom<KeyInfoRow> for KeyInfo {
    type Error = KeyStoreError;

    fn try_from(row: KeyInfoRow) -> Result<Self, KeyStoreError> {
        Ok(KeyInfo {
            id: row.id,
            name: row.name,
            project: row.project.into(),
            key_prefix: row.key_prefix,
            scopes: parse_scopes(row.id, &row.scopes)?,
            created_at_unix_nano: row.created_at_unix_nano,
            revoked_at_unix_nano: row.revoked_at_unix_nano,
        })
    }
}

/// Opens (creating and migrating if needed) a database for key management.
pub async fn open(path: &Path) -> Result<KeyStore, KeyStoreError> {
    let open_error = |source| KeyStoreError::Open {
        path: path.to_path_buf(),
        source,
    };
    let options = super::connect_options(path, true).map_err(open_error)?;
    let pool = sqlx::sqlite::SqlitePoolOptions::new()
        .max_connections(1)
        .connect_with(options)
        .await
        .map_err(open_error)?;
    super::MIGRATOR
        .run(&pool)
        .await
        .map_err(|source| KeyStoreError::Migrate {
            path: path.to_path_buf(),
            source,
        })?;
    Ok(KeyStore { pool })
}

impl KeyStore {
    pub(super) fn new(pool: SqlitePool) -> KeyStore {
        KeyStore { pool }
    }

    /// Every key not revoked, with its project.
    pub async fn active_keys(&self) -> Result<Vec<ActiveKey>, KeyStoreError> {
        active_keys(&self.pool).await
    }

    /// Stores a new key, creating its project if it does not exist yet.
    pub async fn create_key(&self, key: &NewKey<'_>) -> Result<KeyInfo, KeyStoreError> {
        create_key(&self.pool, key).await
    }

    /// Every key, revoked ones included, oldest first.
    pub async fn list_keys(&self) -> Result<Vec<KeyInfo>, KeyStoreError> {
        list_keys(&self.pool).await
    }

    /// Revokes the key with this id or, failing that, this name.
    pub async fn revoke_key(
        &self,
        id_or_name: &str,
        now_unix_nano: i64,
    ) -> Result<KeyInfo, KeyStoreError> {
        revoke_key(&self.pool, id_or_name, now_unix_nano).await
    }

    pub async fn close(&self) {
        self.pool.close().await;
    }
}

/// Every key not revoked, with its project.
async fn active_keys(pool: &SqlitePool) -> Result<Vec<ActiveKey>, KeyStoreError> {
    let rows: Vec<ActiveKeyRow> = sqlx::query_as(
        "SELECT k.id, k.key_hash, k.scopes, p.id AS project_id, p.name AS project_name \
         FROM api_keys k JOIN projects p ON p.id = k.project_id \
         WHERE k.revoked_at_unix_nano IS NULL",
    )
    .fetch_all(pool)
    .await?;
    rows.into_iter().map(ActiveKey::try_from).collect()
}

/// Stores a new key, creating its project if it does not exist yet.
async fn create_key(pool: &SqlitePool, key: &NewKey<'_>) -> Result<KeyInfo, KeyStoreError> {
    let mut tx = pool.begin().await?;
    sqlx::query(
        "INSERT INTO projects (name, created_at_unix_nano) VALUES (?, ?) ON CONFLICT (name) DO NOTHING",
    )
    .bind(key.project_name)
    .bind(key.now_unix_nano)
    .execute(&mut *tx)
    .await?;
    let project_id: i64 = sqlx::query_scalar("SELECT id FROM projects WHERE name = ?")
        .bind(key.project_name)
        .fetch_one(&mut *tx)
        .await?;
    let taken: Option<i64> = sqlx::query_scalar("SELECT id FROM api_keys WHERE name = ?")
        .bind(key.name)
        .fetch_optional(&mut *tx)
        .await?;
    if taken.is_some() {
        return Err(KeyStoreError::NameTaken(key.name.to_owned()));
    }
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO api_keys (name, project_id, key_hash, key_prefix, scopes, created_at_unix_nano) \
         VALUES (?, ?, ?, ?, ?, ?) RETURNING id",
    )
    .bind(key.name)
    .bind(project_id)
    .bind(key.key_hash.as_slice())
    .bind(&key.key_prefix)
    .bind(scopes_text(key.scopes))
    .bind(key.now_unix_nano)
    .fetch_one(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(KeyInfo {
        id,
        name: key.name.to_owned(),
        project: Project {
            id: project_id,
            name: key.project_name.to_owned(),
        },
        key_prefix: key.key_prefix.clone(),
        scopes: key.scopes.to_vec(),
        created_at_unix_nano: key.now_unix_nano,
        revoked_at_unix_nano: None,
    })
}

/// Every key, revoked ones included, oldest first.
async fn list_keys(pool: &SqlitePool) -> Result<Vec<KeyInfo>, KeyStoreError> {
    let rows: Vec<KeyInfoRow> = sqlx::query_as(
        "SELECT k.id, k.name, k.key_prefix, k.scopes, k.created_at_unix_nano, k.revoked_at_unix_nano, \
                p.id AS project_id, p.name AS project_name \
         FROM api_keys k JOIN projects p ON p.id = k.project_id ORDER BY k.id",
    )
    .fetch_all(pool)
    .await?;
    rows.into_iter().map(KeyInfo::try_from).collect()
}

/// Revokes the key with this id or, failing that, this name.
async fn revoke_key(
    pool: &SqlitePool,
    id_or_name: &str,
    now_unix_nano: i64,
) -> Result<KeyInfo, KeyStoreError> {
    let keys = list_keys(pool).await?;
    let by_id = id_or_name.parse::<i64>().ok();
    let found = keys
        .iter()
        .find(|k| Some(k.id) == by_id)
        .or_else(|| keys.iter().find(|k| k.name == id_or_name));
    let Some(key) = found else {
        return Err(KeyStoreError::NotFound(id_or_name.to_owned()));
    };
    if key.revoked_at_unix_nano.is_some() {
        return Err(KeyStoreError::AlreadyRevoked(key.name.clone()));
    }
    sqlx::query("UPDATE api_keys SET revoked_at_unix_nano = ? WHERE id = ?")
        .bind(now_unix_nano)
        .bind(key.id)
        .execute(pool)
        .await?;
    let mut revoked = key.clone();
    revoked.revoked_at_unix_nano = Some(now_unix_nano);
    Ok(revoked)
}

fn scopes_text(scopes: &[Scope]) -> String {
    let names: Vec<&str> = scopes.iter().map(|s| s.as_str()).collect();
    names.join(" ")
}

fn parse_scopes(id: i64, text: &str) -> Result<Vec<Scope>, KeyStoreError> {
    let mut scopes = Vec::new();
    for word in text.split_whitespace() {
        let scope = word
            .parse()
            .map_err(
                |e: crate::model::project::UnknownScope| KeyStoreError::Corrupt {
                    id,
                    message: e.to_string(),
                },
            )?;
        scopes.push(scope);
    }
    Ok(scopes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::hash_key;

    fn new_key<'a>(name: &'a str, project: &'a str, scopes: &'a [Scope]) -> NewKey<'a> {
        NewKey {
            name,
            project_name: project,
            key_hash: hash_key(name),
            key_prefix: "rpk_test".into(),
            scopes,
            now_unix_nano: 5,
        }
    }

    #[tokio::test]
    async fn keys_are_created_in_their_project_listed_and_revoked() {
        let dir = tempfile::tempdir().expect("dir");
        let store = open(&dir.path().join("k.db")).await.expect("open");
        let a = store
            .create_key(&new_key("a", "default", &[Scope::Read]))
            .await
            .expect("a");
        assert_eq!(
            a.project.id, 1,
            "the default project exists from the migration"
        );
        let b = store
            .create_key(&new_key("b", "team-b", &[Scope::Ingest, Scope::Admin]))
            .await
            .expect("b");
        assert_ne!(b.project.id, 1);
        assert!(matches!(
            store
                .create_key(&new_key("a", "default", &[Scope::Read]))
                .await,
            Err(KeyStoreError::NameTaken(_))
        ));

        let active = store.active_keys().await.expect("active");
        assert_eq!(active.len(), 2);
        assert_eq!(active[1].scopes, vec![Scope::Ingest, Scope::Admin]);
        assert_eq!(active[1].project.name, "team-b");

        store.revoke_key("a", 9).await.expect("revoke by name");
        store
            .revoke_key(&b.id.to_string(), 9)
            .await
            .expect("revoke by id");
        assert!(store.active_keys().await.expect("active").is_empty());
        assert!(matches!(
            store.revoke_key("a", 10).await,
            Err(KeyStoreError::AlreadyRevoked(_))
        ));
        assert!(matches!(
            store.revoke_key("nobody", 10).await,
            Err(KeyStoreError::NotFound(_))
        ));
        let listed = store.list_keys().await.expect("list");
        assert_eq!(listed[0].revoked_at_unix_nano, Some(9));
    }
}
