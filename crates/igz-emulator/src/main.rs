//! `igz-emulator`: the Iguazio management API emulator. Command line only; the emulator itself
//! is the `igz_emulator` library.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, bail};
use clap::Parser;
use igz_emulator::{self as emulator, EmulatorConfig, Faults, Seed};

#[derive(Parser)]
#[command(
    name = "igz-emulator",
    version,
    about = "In-memory Iguazio management API for tests and demos"
)]
struct Cli {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:8470")]
    listen: SocketAddr,
    /// Allow listening on a non-loopback address.
    #[arg(long)]
    allow_remote: bool,
    /// Accepted access key (repeatable).
    #[arg(
        long = "access-key",
        env = "IGZ_EMULATOR_ACCESS_KEYS",
        value_delimiter = ',',
        hide_env_values = true
    )]
    access_keys: Vec<String>,
    /// Tenant id reported by session verification.
    #[arg(long)]
    tenant_id: Option<String>,
    /// YAML file with users, projects and groups to create at start-up.
    #[arg(long)]
    seed: Option<PathBuf>,
    /// Milliseconds a job stays in_progress before it completes.
    #[arg(long, default_value_t = 0)]
    job_delay: u64,
    /// Version reported by the version probe; empty: the version route answers 404.
    #[arg(long, default_value = emulator::DEFAULT_VERSION)]
    platform_version: String,
    /// Milliseconds a login session lasts (0: until the next reset).
    #[arg(long, default_value_t = 0)]
    session_ttl_ms: u64,
    /// Start-up fault: latency added to each /api request, in milliseconds.
    #[arg(long, default_value_t = 0)]
    latency_ms: u64,
    /// Start-up fault: share of /api requests answered 500/503.
    #[arg(long, default_value_t = 0.0)]
    error_rate: f64,
    /// Start-up fault: share of /api requests processed and then left unanswered.
    #[arg(long, default_value_t = 0.0)]
    drop_rate: f64,
    /// Once listening, write the base URL (`http://127.0.0.1:PORT`) to this file, so scripts
    /// that start the emulator on port 0 learn its address and readiness without parsing output.
    #[arg(long)]
    ready_file: Option<PathBuf>,
    /// Start-up fault: /api requests per second beyond which the answer is 429.
    #[arg(long, default_value_t = 0)]
    rate_limit_rps: u64,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    if !cli.listen.ip().is_loopback() && !cli.allow_remote {
        bail!(
            "refusing to listen on non-loopback address {} without --allow-remote",
            cli.listen
        );
    }
    let access_keys: Vec<String> = cli
        .access_keys
        .into_iter()
        .filter(|k| !k.is_empty())
        .collect();
    if access_keys.is_empty() {
        bail!("give at least one access key with --access-key or IGZ_EMULATOR_ACCESS_KEYS");
    }
    let seed = cli.seed.as_deref().map(Seed::from_file).transpose()?;
    let mut config = EmulatorConfig {
        access_keys,
        job_delay: Duration::from_millis(cli.job_delay),
        faults: Faults {
            latency_ms: cli.latency_ms,
            error_rate: cli.error_rate,
            drop_rate: cli.drop_rate,
            rate_limit_rps: cli.rate_limit_rps,
            ..Faults::default()
        },
        seed,
        version: cli.platform_version,
        session_ttl: (cli.session_ttl_ms > 0).then(|| Duration::from_millis(cli.session_ttl_ms)),
        ..EmulatorConfig::default()
    };
    if let Some(tenant) = cli.tenant_id {
        config.tenant_id = tenant;
    }
    let running = emulator::spawn(config, cli.listen)
        .await
        .context("starting the emulator")?;
    println!("igz-emulator listening on {}", running.base_url());
    if let Some(path) = &cli.ready_file {
        write_ready_file(path, &running.base_url())?;
    }
    tracing::info!(addr = %running.addr(), "igz-emulator listening");
    shutdown_signal().await?;
    tracing::info!("shutting down");
    running.shutdown().await;
    Ok(())
}

/// Written whole or not at all (a temporary file renamed into place), so a reader never sees a
/// partial URL.
fn write_ready_file(path: &std::path::Path, url: &str) -> anyhow::Result<()> {
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, format!("{url}\n"))
        .with_context(|| format!("writing --ready-file {}", tmp.display()))?;
    std::fs::rename(&tmp, path).with_context(|| format!("writing --ready-file {}", path.display()))
}

async fn shutdown_signal() -> anyhow::Result<()> {
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    tokio::select! {
        result = tokio::signal::ctrl_c() => result?,
        _ = term.recv() => {}
    }
    Ok(())
}
