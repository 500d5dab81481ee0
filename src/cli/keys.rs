//! `reprise keys create|list|revoke`: key management against the database
//! file, also while a server runs on it (the server re-reads the keys
//! table every two seconds, so a revoked key stops working within that).

use std::path::PathBuf;

use clap::{Args, Subcommand};

use crate::auth::REFRESH_INTERVAL;
use crate::auth::key::{generate_key, hash_key, shown_prefix};
use crate::model::project::{DEFAULT_PROJECT_NAME, Scope};
use crate::model::time::now_unix_nano_i64 as now_unix_nano;
use crate::store::keys::{self, KeyInfo, KeyStore, KeyStoreError, NewKey};

#[derive(Debug, Clone, Args)]
pub struct KeysArgs {
    /// The database the server uses.
    #[arg(long, env = "REPRISE_DB", default_value = "reprise.db", global = true)]
    pub db: PathBuf,
    #[command(subcommand)]
    pub command: KeysCommand,
}

#[derive(Debug, Clone, Subcommand)]
pub enum KeysCommand {
    /// Create a key and print it once: only its hash is kept.
    Create {
        /// A unique name for the key (who or what uses it).
        #[arg(long)]
        name: String,
        /// The project whose data the key reaches (created if missing).
        #[arg(long, default_value = DEFAULT_PROJECT_NAME)]
        project: String,
        /// What the key allows: ingest, read or admin; repeat for several.
        #[arg(long = "scope", required = true, value_parser = parse_scope)]
        scopes: Vec<Scope>,
    },
    /// List every key (never the keys themselves).
    List,
    /// Revoke a key by id or name; a running server refuses it within seconds.
    Revoke {
        /// The key's id or name, as `reprise keys list` shows them.
        key: String,
    },
}

#[derive(Debug, thiserror::Error)]
pub enum KeysCliError {
    #[error(transparent)]
    Store(#[from] KeyStoreError),
    #[error("a key name cannot be empty")]
    EmptyName,
    #[error("a project name cannot be empty")]
    EmptyProject,
}

fn parse_scope(text: &str) -> Result<Scope, String> {
    text.parse()
        .map_err(|e: crate::model::project::UnknownScope| e.to_string())
}

pub async fn run(args: &KeysArgs) -> Result<(), KeysCliError> {
    let store = keys::open(&args.db).await?;
    let result = match &args.command {
        KeysCommand::Create {
            name,
            project,
            scopes,
        } => create(&store, name, project, scopes).await,
        KeysCommand::List => list(&store).await,
        KeysCommand::Revoke { key } => revoke(&store, key).await,
    };
    store.close().await;
    result
}

async fn create(
    store: &KeyStore,
    name: &str,
    project: &str,
    scopes: &[Scope],
) -> Result<(), KeysCliError> {
    if name.trim().is_empty() {
        return Err(KeysCliError::EmptyName);
    }
    if project.trim().is_empty() {
        return Err(KeysCliError::EmptyProject);
    }
    let mut scopes = scopes.to_vec();
    scopes.sort();
    scopes.dedup();
    let key = generate_key();
    let info = store
        .create_key(&NewKey {
            name: name.trim(),
            project_name: project.trim(),
            key_hash: hash_key(&key),
            key_prefix: shown_prefix(&key),
            scopes: &scopes,
            now_unix_nano: now_unix_nano(),
        })
        .await?;
    println!(
        "created key {} ({}) for project {} with scopes {}",
        info.id,
        info.name,
        info.project.name,
        scope_list(&info.scopes)
    );
    println!("{key}");
    eprintln!("store it now: it is not shown again, and only its hash is kept");
    Ok(())
}

async fn list(store: &KeyStore) -> Result<(), KeysCliError> {
    let keys = store.list_keys().await?;
    println!(
        "{:>4}  {:<20} {:<16} {:<12} {:<20} {:<20} status",
        "id", "name", "project", "key", "scopes", "created"
    );
    for key in &keys {
        println!(
            "{:>4}  {:<20} {:<16} {:<12} {:<20} {:<20} {}",
            key.id,
            key.name,
            key.project.name,
            format!("{}…", key.key_prefix),
            scope_list(&key.scopes),
            time_text(key.created_at_unix_nano),
            status(key)
        );
    }
    Ok(())
}

async fn revoke(store: &KeyStore, id_or_name: &str) -> Result<(), KeysCliError> {
    let key = store.revoke_key(id_or_name, now_unix_nano()).await?;
    println!(
        "revoked key {} ({}); a running server refuses it within {} s",
        key.id,
        key.name,
        REFRESH_INTERVAL.as_secs()
    );
    Ok(())
}

fn scope_list(scopes: &[Scope]) -> String {
    let names: Vec<&str> = scopes.iter().map(|s| s.as_str()).collect();
    names.join(",")
}

fn status(key: &KeyInfo) -> String {
    match key.revoked_at_unix_nano {
        Some(at) => format!("revoked {}", time_text(at)),
        None => "active".to_owned(),
    }
}

fn time_text(unix_nano: i64) -> String {
    let time = std::time::UNIX_EPOCH + std::time::Duration::from_nanos(unix_nano.max(0) as u64);
    humantime::format_rfc3339_seconds(time).to_string()
}
