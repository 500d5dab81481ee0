//! The `reprise` command: parse, set up telemetry, run, exit with a status.

use std::io::Write as _;
use std::process::ExitCode;

use clap::Parser as _;
use reprise::config::{Cli, Command, DevCommand, FakeProviderArgs};

/// Ingest and replay allocate many small, short-lived buffers (decoded
/// attributes, JSON trees, SQL arguments); mimalloc serves them with far
/// less CPU than glibc malloc, which profiles put at a quarter of the total.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("error: cannot start the async runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    // The server's log is its output; the other commands print for people
    // and log only what goes wrong.
    let default_level = match cli.command {
        Command::Serve(_) | Command::Dev(_) => "info",
        _ => "warn",
    };
    let result = runtime.block_on(async {
        let _telemetry = reprise::telemetry::init(default_level);
        run(cli).await
    });
    match result {
        Ok(code) => code,
        Err(error) => {
            eprintln!("error: {}", error_chain(&error));
            ExitCode::FAILURE
        }
    }
}

/// The error and its causes, each said once: many messages already end with
/// their cause's text, which anyhow's `{:#}` would repeat.
fn error_chain(error: &anyhow::Error) -> String {
    let mut text = error.to_string();
    for cause in error.chain().skip(1) {
        let cause = cause.to_string();
        if !text.contains(&cause) {
            text.push_str(": ");
            text.push_str(&cause);
        }
    }
    text
}

async fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Serve(args) => {
            reprise::server::serve(&args, reprise::server::shutdown_signal(), |bound| {
                let mut stdout = std::io::stdout().lock();
                let _ = writeln!(stdout, "listening http={} grpc={}", bound.http, bound.grpc);
                let _ = stdout.flush();
            })
            .await?;
        }
        Command::Keys(args) => reprise::cli::keys::run(&args).await?,
        Command::Replay(args) => {
            reprise::replay::cli::run(&args, reprise::server::shutdown_signal()).await?;
        }
        Command::Compare(args) => reprise::compare::cli::run(&args).await?,
        Command::Dev(DevCommand::FakeProvider(args)) => fake_provider(&args).await?,
        Command::Backup(args) => reprise::cli::backup::backup(&args).await?,
        Command::Restore(args) => reprise::cli::backup::restore(&args).await?,
        Command::Check(args) => {
            if !reprise::cli::backup::check(&args).await? {
                return Ok(ExitCode::FAILURE);
            }
        }
        Command::Import(args) => {
            let summary = reprise::cli::import::run(&args).await?;
            summary.print();
            if !summary.rejected.is_empty() {
                return Ok(ExitCode::FAILURE);
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// `reprise dev fake-provider`: serves until SIGINT or SIGTERM.
#[cfg(feature = "fake-provider")]
async fn fake_provider(args: &FakeProviderArgs) -> anyhow::Result<()> {
    use anyhow::Context as _;
    use fake_provider::FakeConfig;

    let config = match &args.config {
        Some(path) => FakeConfig::from_file(path)?,
        None => FakeConfig::default(),
    };
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .with_context(|| format!("cannot listen on {}", args.listen))?;
    let addr = listener.local_addr()?;
    {
        let mut stdout = std::io::stdout().lock();
        let _ = writeln!(
            stdout,
            "fake provider listening on http://{addr} (OpenAI and Anthropic at http://{addr}/v1)"
        );
        let _ = stdout.flush();
    }
    fake_provider::serve(listener, config, reprise::server::shutdown_signal()).await;
    Ok(())
}

/// Without the feature the command still parses, so its help stays
/// discoverable, and says how to get it.
#[cfg(not(feature = "fake-provider"))]
async fn fake_provider(_: &FakeProviderArgs) -> anyhow::Result<()> {
    anyhow::bail!(
        "this build of reprise has no fake provider; build it with `cargo build --features fake-provider`"
    )
}
