//! What the data costs at rest: the database files after a clean shutdown,
//! their split by table (through the `sqlite3` CLI's `dbstat` table, when
//! the CLI is installed), and the baseline to beat: the whole workload
//! compressed as one stream by `zstd -19 --long=27`, about the best a
//! general-purpose compressor does with no knowledge of the data; and the
//! same stream at `zstd -3`, what a cheap compressor gets at write speed.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use bytes::Bytes;
use serde::Serialize;

use crate::error::BenchError;

#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct DiskUsage {
    pub db_bytes: u64,
    pub wal_bytes: u64,
    pub shm_bytes: u64,
    pub total_bytes: u64,
}

/// Sizes of the database file and its `-wal` and `-shm` companions
/// (missing files count as zero).
pub fn disk_usage(db: &Path) -> DiskUsage {
    let db_bytes = file_len(db);
    let wal_bytes = file_len(&with_suffix(db, "-wal"));
    let shm_bytes = file_len(&with_suffix(db, "-shm"));
    DiskUsage {
        db_bytes,
        wal_bytes,
        shm_bytes,
        total_bytes: db_bytes + wal_bytes + shm_bytes,
    }
}

fn with_suffix(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(suffix);
    PathBuf::from(name)
}

fn file_len(path: &Path) -> u64 {
    std::fs::metadata(path).map(|m| m.len()).unwrap_or(0)
}

#[derive(Debug, Clone, Serialize)]
pub struct TableSize {
    /// A table or index name.
    pub name: String,
    pub bytes: u64,
}

/// Bytes per table and index, largest first; `None` when the `sqlite3` CLI
/// is missing or lacks `dbstat`. Opened read-only, after the server has
/// stopped, so it changes nothing.
pub fn table_sizes(db: &Path) -> Option<Vec<TableSize>> {
    let output = Command::new("sqlite3")
        .arg("-readonly")
        .arg("-separator")
        .arg("\t")
        .arg(db)
        .arg("SELECT name, SUM(pgsize) FROM dbstat GROUP BY name ORDER BY 2 DESC;")
        .output()
        .ok()?;
    if !output.status.success() {
        return None;
    }
    let text = String::from_utf8_lossy(&output.stdout);
    let mut tables = Vec::new();
    for line in text.lines() {
        let Some((name, bytes)) = line.split_once('\t') else {
            continue;
        };
        let Ok(bytes) = bytes.trim().parse() else {
            continue;
        };
        tables.push(TableSize {
            name: name.to_owned(),
            bytes,
        });
    }
    Some(tables)
}

/// The pages the database really uses, wherever they are: after a
/// checkpoint the file would be this size. Larger files mean a WAL left
/// behind (it holds each page once per commit that changed it) or free
/// pages.
pub fn logical_bytes(tables: &[TableSize]) -> u64 {
    tables.iter().map(|t| t.bytes).sum()
}

#[derive(Debug, Clone, Copy, Serialize)]
pub struct ZstdBaseline {
    pub input_bytes: u64,
    pub compressed_bytes: u64,
    #[serde(serialize_with = "crate::report::seconds")]
    pub duration: Duration,
}

/// Writes `bodies` back to back into `dir` and compresses the file with
/// `zstd -19 --long=27`, timing the compressor alone.
pub fn zstd_baseline(bodies: &[Bytes], dir: &Path) -> Result<ZstdBaseline, BenchError> {
    let input = dir.join("workload.pb");
    let output = dir.join("workload.pb.zst");
    let mut input_bytes = 0;
    {
        let file = std::fs::File::create(&input)
            .map_err(BenchError::io(format!("cannot create {}", input.display())))?;
        let mut writer = std::io::BufWriter::new(file);
        for body in bodies {
            writer
                .write_all(body)
                .map_err(BenchError::io(format!("cannot write {}", input.display())))?;
            input_bytes += body.len() as u64;
        }
        writer
            .flush()
            .map_err(BenchError::io(format!("cannot write {}", input.display())))?;
    }
    let started = Instant::now();
    let status = Command::new("zstd")
        .args(["-19", "--long=27", "-q", "-f", "-o"])
        .arg(&output)
        .arg(&input)
        .status()
        .map_err(|e| BenchError::Zstd(format!("cannot run it: {e}")))?;
    let duration = started.elapsed();
    if !status.success() {
        return Err(BenchError::Zstd(format!("it exited with {status}")));
    }
    let compressed_bytes = file_len(&output);
    let _ = std::fs::remove_file(&input);
    let _ = std::fs::remove_file(&output);
    Ok(ZstdBaseline {
        input_bytes,
        compressed_bytes,
        duration,
    })
}

/// The whole workload as one stream through the zstd library at `level`
/// (`zstd -3` at level 3), counted rather than stored; times the
/// compressor alone.
pub fn zstd_stream(bodies: &[Bytes], level: i32) -> Result<ZstdBaseline, BenchError> {
    let started = Instant::now();
    let mut encoder = zstd::stream::Encoder::new(CountingSink::default(), level)
        .map_err(BenchError::io("cannot start zstd"))?;
    let mut input_bytes = 0;
    for body in bodies {
        encoder
            .write_all(body)
            .map_err(BenchError::io("cannot compress the workload"))?;
        input_bytes += body.len() as u64;
    }
    let sink = encoder
        .finish()
        .map_err(BenchError::io("cannot compress the workload"))?;
    Ok(ZstdBaseline {
        input_bytes,
        compressed_bytes: sink.bytes,
        duration: started.elapsed(),
    })
}

/// A writer that keeps only the count of what it is given.
#[derive(Default)]
struct CountingSink {
    bytes: u64,
}

impl std::io::Write for CountingSink {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.bytes += buf.len() as u64;
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}
