//! The server under test: a real `reprise serve` process on ephemeral
//! loopback ports, started the way a user would start it, stopped with
//! SIGTERM so shutdown is the clean, draining one; and its memory, read
//! from `/proc/PID/status`.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

use crate::error::BenchError;

const START_TIMEOUT: Duration = Duration::from_secs(60);
/// Shutdown drains the write queue, which can hold tens of megabytes.
const STOP_TIMEOUT: Duration = Duration::from_secs(300);
const MEMORY_SAMPLE_INTERVAL: Duration = Duration::from_millis(200);

pub struct ServerProcess {
    child: Child,
    pub pid: u32,
    /// `http://127.0.0.1:PORT`
    pub http_url: String,
    /// `http://127.0.0.1:PORT` of the gRPC listener (the ingest bench
    /// drives both transports through HTTP's port only).
    #[allow(dead_code)]
    pub grpc_url: String,
    pub log: PathBuf,
}

/// Starts `bin serve` on `db` and waits for its `listening` line.
pub async fn start(
    bin: &Path,
    db: &Path,
    extra_args: &[String],
    log: &Path,
) -> Result<ServerProcess, BenchError> {
    let log_file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)
        .map_err(BenchError::io(format!(
            "cannot open the server log {}",
            log.display()
        )))?;
    let mut child = Command::new(bin)
        .arg("serve")
        .arg("--db")
        .arg(db)
        .args(["--http", "127.0.0.1:0", "--grpc", "127.0.0.1:0"])
        .args(extra_args)
        .stdout(Stdio::piped())
        .stderr(log_file)
        .kill_on_drop(true)
        .spawn()
        .map_err(|source| BenchError::Spawn {
            path: bin.to_path_buf(),
            source,
        })?;
    let Some(pid) = child.id() else {
        return Err(BenchError::ServerExited {
            log: log.to_path_buf(),
        });
    };
    let Some(stdout) = child.stdout.take() else {
        return Err(BenchError::ServerExited {
            log: log.to_path_buf(),
        });
    };
    let mut lines = BufReader::new(stdout).lines();
    let line = match tokio::time::timeout(START_TIMEOUT, lines.next_line()).await {
        Err(_) => {
            return Err(BenchError::ServerSilent {
                seconds: START_TIMEOUT.as_secs(),
                log: log.to_path_buf(),
            });
        }
        Ok(Err(source)) => {
            return Err(BenchError::Io {
                context: "cannot read the server's output".into(),
                source,
            });
        }
        Ok(Ok(None)) => {
            return Err(BenchError::ServerExited {
                log: log.to_path_buf(),
            });
        }
        Ok(Ok(Some(line))) => line,
    };
    let (http, grpc) = parse_listening(&line)?;
    Ok(ServerProcess {
        child,
        pid,
        http_url: format!("http://{http}"),
        grpc_url: format!("http://{grpc}"),
        log: log.to_path_buf(),
    })
}

/// The HTTP and gRPC addresses from `listening http=ADDR grpc=ADDR`.
fn parse_listening(line: &str) -> Result<(String, String), BenchError> {
    if !line.starts_with("listening ") {
        return Err(BenchError::BadListeningLine(line.to_owned()));
    }
    let address = |prefix: &str| {
        line.split_whitespace()
            .find_map(|word| word.strip_prefix(prefix))
            .map(str::to_owned)
    };
    match (address("http="), address("grpc=")) {
        (Some(http), Some(grpc)) => Ok((http, grpc)),
        _ => Err(BenchError::BadListeningLine(line.to_owned())),
    }
}

impl ServerProcess {
    /// Sends SIGTERM and waits for a clean exit.
    pub async fn stop(mut self) -> Result<(), BenchError> {
        // The `kill` command keeps `unsafe` (libc::kill) out of the bench.
        let status = std::process::Command::new("kill")
            .args(["-TERM", &self.pid.to_string()])
            .status()
            .map_err(BenchError::io("cannot run `kill -TERM`"))?;
        if !status.success() {
            return Err(BenchError::StopFailed {
                status: format!("`kill -TERM {}` {status}", self.pid),
                log: self.log.clone(),
            });
        }
        let waited = tokio::time::timeout(STOP_TIMEOUT, self.child.wait()).await;
        let exit = match waited {
            Err(_) => {
                return Err(BenchError::StopTimeout {
                    seconds: STOP_TIMEOUT.as_secs(),
                    log: self.log.clone(),
                });
            }
            Ok(result) => result.map_err(BenchError::io("cannot wait for the server"))?,
        };
        if !exit.success() {
            return Err(BenchError::StopFailed {
                status: exit.to_string(),
                log: self.log.clone(),
            });
        }
        Ok(())
    }
}

/// Memory figures of a live process, in kibibytes as the kernel reports them.
#[derive(Debug, Clone, Copy, Default)]
pub struct Memory {
    /// `VmHWM`: the peak resident set size since the process started.
    pub peak_rss_kib: u64,
    pub rss_kib: u64,
    /// `RssAnon`: resident memory not backed by a file (the heap, stacks).
    /// `VmRSS` also counts pages of the database file the readers map.
    pub anon_kib: u64,
}

pub fn read_memory(pid: u32) -> Option<Memory> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let mut memory = Memory::default();
    for line in status.lines() {
        if let Some(value) = line.strip_prefix("VmHWM:") {
            memory.peak_rss_kib = parse_kib(value)?;
        } else if let Some(value) = line.strip_prefix("VmRSS:") {
            memory.rss_kib = parse_kib(value)?;
        } else if let Some(value) = line.strip_prefix("RssAnon:") {
            memory.anon_kib = parse_kib(value)?;
        }
    }
    Some(memory)
}

fn parse_kib(value: &str) -> Option<u64> {
    value.trim().trim_end_matches("kB").trim().parse().ok()
}

/// Samples a process's resident set size in the background, so a peak is
/// known even if `/proc` cannot be read at the end.
pub struct MemorySampler {
    peak_kib: Arc<AtomicU64>,
    /// The highest `RssAnon` sampled: the heap without the mapped file.
    peak_anon_kib: Arc<AtomicU64>,
    task: tokio::task::JoinHandle<()>,
}

/// Peaks of a run, in kibibytes.
#[derive(Debug, Clone, Copy, Default)]
pub struct MemoryPeaks {
    pub rss_kib: u64,
    pub anon_kib: u64,
}

impl MemorySampler {
    pub fn start(pid: u32) -> MemorySampler {
        let peak_kib = Arc::new(AtomicU64::new(0));
        let peak_anon_kib = Arc::new(AtomicU64::new(0));
        let shared = Arc::clone(&peak_kib);
        let shared_anon = Arc::clone(&peak_anon_kib);
        let task = tokio::spawn(async move {
            let mut interval = tokio::time::interval(MEMORY_SAMPLE_INTERVAL);
            loop {
                interval.tick().await;
                let Some(memory) = read_memory(pid) else {
                    return;
                };
                let peak = memory.peak_rss_kib.max(memory.rss_kib);
                shared.fetch_max(peak, Ordering::Relaxed);
                shared_anon.fetch_max(memory.anon_kib, Ordering::Relaxed);
            }
        });
        MemorySampler {
            peak_kib,
            peak_anon_kib,
            task,
        }
    }

    /// The highest peaks seen, after one last reading.
    pub fn finish(self, pid: u32) -> MemoryPeaks {
        if let Some(memory) = read_memory(pid) {
            self.peak_kib
                .fetch_max(memory.peak_rss_kib, Ordering::Relaxed);
            self.peak_anon_kib
                .fetch_max(memory.anon_kib, Ordering::Relaxed);
        }
        self.task.abort();
        MemoryPeaks {
            rss_kib: self.peak_kib.load(Ordering::Relaxed),
            anon_kib: self.peak_anon_kib.load(Ordering::Relaxed),
        }
    }
}

/// CPU time a process has used so far (user and system), from
/// `/proc/PID/stat`; clock ticks are taken as the usual 100 per second.
pub fn cpu_seconds(pid: u32) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name may hold spaces; the fields after it do not.
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    // utime and stime are fields 14 and 15 of the line, 12 and 13 after `)`.
    let ticks: u64 = fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
    Some(ticks as f64 / 100.0)
}

/// The 1-minute load average of the machine, from `/proc/loadavg`.
pub fn load_average() -> Option<f64> {
    let text = std::fs::read_to_string("/proc/loadavg").ok()?;
    text.split_whitespace().next()?.parse().ok()
}
