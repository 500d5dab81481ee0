//! `reprise backup`, `reprise restore` and `reprise check`.

use std::path::PathBuf;

use crate::store::maintenance::{self, MaintenanceError};

#[derive(Debug, Clone, clap::Args)]
pub struct BackupArgs {
    /// Where to write the backup (a new SQLite file). It appears only once
    /// complete and checked; until then it is written beside it as
    /// `TARGET.partial-PID`.
    pub target: PathBuf,
    /// The database to back up; it may be in use by a running server.
    #[arg(long, env = "REPRISE_DB", default_value = "reprise.db")]
    pub db: PathBuf,
}

#[derive(Debug, Clone, clap::Args)]
pub struct RestoreArgs {
    /// A backup written by `reprise backup`.
    pub source: PathBuf,
    /// The database to replace. Stop the server first.
    #[arg(long, env = "REPRISE_DB", default_value = "reprise.db")]
    pub db: PathBuf,
    /// Replace an existing database (it is kept as `<db>.before-restore`,
    /// or `<db>.before-restore.N` when that exists).
    #[arg(long)]
    pub force: bool,
}

#[derive(Debug, Clone, clap::Args)]
pub struct CheckArgs {
    /// SQLite database file to check; may be the one a running server uses.
    #[arg(long, env = "REPRISE_DB", default_value = "reprise.db")]
    pub db: PathBuf,
    /// Instead of the integrity and size report, tell where this text is
    /// stored: in any column, any decompressed pack, or the raw bytes of
    /// the database and its write-ahead log. Fails when found. Repeatable.
    #[arg(long = "find", value_name = "TEXT")]
    pub find: Vec<String>,
}

pub async fn backup(args: &BackupArgs) -> Result<(), MaintenanceError> {
    let bytes = maintenance::backup(&args.db, &args.target).await?;
    println!(
        "backed up {} to {} ({:.1} MB, integrity ok)",
        args.db.display(),
        args.target.display(),
        bytes as f64 / 1e6
    );
    Ok(())
}

pub async fn restore(args: &RestoreArgs) -> Result<(), MaintenanceError> {
    maintenance::restore(&args.source, &args.db, args.force).await?;
    println!(
        "restored {} from {}",
        args.db.display(),
        args.source.display()
    );
    Ok(())
}

/// Prints the integrity check, the schema check and the size of every
/// table; false when the file is damaged or not a reprise database.
pub async fn check(args: &CheckArgs) -> Result<bool, MaintenanceError> {
    if !args.find.is_empty() {
        return find(args).await;
    }
    let integrity = maintenance::integrity_problems(&args.db).await?;
    if integrity.is_empty() {
        println!("integrity: ok");
    } else {
        println!("integrity: {} problems", integrity.len());
        for problem in &integrity {
            println!("  {problem}");
        }
        return Ok(false);
    }
    let schema = maintenance::schema_problems(&args.db).await?;
    if schema.is_empty() {
        println!("schema: ok");
    } else {
        println!("schema: {} problems", schema.len());
        for problem in &schema {
            println!("  {problem}");
        }
        return Ok(false);
    }
    let sizes = maintenance::table_sizes(&args.db).await?;
    let total: u64 = sizes.iter().map(|s| s.bytes).sum();
    println!(
        "{:<32} {:>12} {:>7} {:>12}",
        "table or index", "bytes", "share", "rows"
    );
    for size in &sizes {
        let rows = size.rows.map_or(String::new(), |r| r.to_string());
        let share = if total > 0 {
            100.0 * size.bytes as f64 / total as f64
        } else {
            0.0
        };
        println!(
            "{:<32} {:>12} {:>6.1}% {:>12}",
            size.name, size.bytes, share, rows
        );
    }
    println!("{:<32} {:>12}", "total", total);
    Ok(true)
}

/// `check --find`: true when none of the texts is stored anywhere.
async fn find(args: &CheckArgs) -> Result<bool, MaintenanceError> {
    let mut clean = true;
    for text in &args.find {
        let findings = crate::store::audit::find(&args.db, text.as_bytes()).await?;
        if findings.is_empty() {
            println!("{text:?}: not found");
            continue;
        }
        clean = false;
        println!("{text:?}: found");
        for finding in &findings {
            println!("  {finding}");
        }
    }
    Ok(clean)
}
