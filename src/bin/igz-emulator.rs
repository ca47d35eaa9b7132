//! `igz-emulator`: the Iguazio management API emulator. Command line only; the emulator itself
//! is `igz_operator::emulator`.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, bail};
use clap::Parser;
use igz_operator::emulator::{self, EmulatorConfig, Faults, Seed};

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
    /// Version reported by the version probe.
    #[arg(long, default_value = emulator::DEFAULT_VERSION)]
    platform_version: String,
    /// Start-up fault: latency added to each /api request, in milliseconds.
    #[arg(long, default_value_t = 0)]
    latency_ms: u64,
    /// Start-up fault: share of /api requests answered 500/503.
    #[arg(long, default_value_t = 0.0)]
    error_rate: f64,
    /// Start-up fault: share of /api requests processed and then left unanswered.
    #[arg(long, default_value_t = 0.0)]
    drop_rate: f64,
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
        },
        seed,
        version: cli.platform_version,
        ..EmulatorConfig::default()
    };
    if let Some(tenant) = cli.tenant_id {
        config.tenant_id = tenant;
    }
    let running = emulator::spawn(config, cli.listen)
        .await
        .context("starting the emulator")?;
    println!("igz-emulator listening on {}", running.base_url());
    tracing::info!(addr = %running.addr(), "igz-emulator listening");
    shutdown_signal().await?;
    tracing::info!("shutting down");
    running.shutdown().await;
    Ok(())
}

async fn shutdown_signal() -> anyhow::Result<()> {
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    tokio::select! {
        result = tokio::signal::ctrl_c() => result?,
        _ = term.recv() => {}
    }
    Ok(())
}
