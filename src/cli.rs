//! Command line of the `igz-operator` binary.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand, ValueEnum};

#[derive(Debug, Parser)]
#[command(
    name = "igz-operator",
    version,
    about = "Reconciles Iguazio platform user groups from Kubernetes Group resources"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the controller: watch Group resources and reconcile them against the management API.
    Run(Box<RunArgs>),
    /// Print the CustomResourceDefinitions (Group, GroupGrant, PlatformConnection) as YAML (what `make crds` writes
    /// to crds/).
    Crd,
    /// Read the platform's groups and print one Group resource per group (multi-document YAML,
    /// ready to commit): adoptExisting, managementPolicy ObserveOnly, deletionPolicy Orphan.
    /// Groups the platform itself owns (such as all_users) are left out and named on stderr.
    Import(Box<ImportArgs>),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

/// How to reach and authenticate to the management API (shared by `run` and `import`).
#[derive(Debug, Clone, Args)]
pub struct MgmtArgs {
    /// Base URL of the Iguazio management API (e.g. https://dashboard.default-tenant.example.com).
    /// When omitted inside a pod, defaults to https://datanode-dashboard.<pod namespace>.svc.cluster.local
    /// as the vendor SDK does.
    #[arg(long, env = "IGZ_MGMT_URL")]
    pub mgmt_url: Option<String>,

    /// File holding the access key (e.g. a mounted Secret). Takes precedence over IGZ_ACCESS_KEY.
    #[arg(long, env = "IGZ_ACCESS_KEY_FILE")]
    pub access_key_file: Option<PathBuf>,

    /// Username sent alongside the access key (Basic auth), or used to log in with --password-file.
    #[arg(long, env = "IGZ_USERNAME")]
    pub username: Option<String>,

    /// File holding the password for username/password login instead of an access key.
    #[arg(long, env = "IGZ_PASSWORD_FILE")]
    pub password_file: Option<PathBuf>,

    /// Extra CA bundle (PEM) trusted for the management API, in addition to the system roots.
    #[arg(long, env = "IGZ_CA_FILE")]
    pub ca_file: Option<PathBuf>,

    /// Skip TLS certificate verification of the management API. Unsafe; for test systems only.
    #[arg(long, env = "IGZ_INSECURE_SKIP_TLS_VERIFY", default_value_t = false)]
    pub insecure_skip_tls_verify: bool,

    /// Timeout for connecting to the management API.
    #[arg(long, env = "IGZ_MGMT_CONNECT_TIMEOUT", default_value = "10s", value_parser = humantime::parse_duration)]
    pub mgmt_connect_timeout: Duration,

    /// Timeout for one management API request (retried with backoff when safe).
    #[arg(long, env = "IGZ_MGMT_REQUEST_TIMEOUT", default_value = "60s", value_parser = humantime::parse_duration)]
    pub mgmt_request_timeout: Duration,

    /// Management API requests per second allowed, shared by all reconciles (about what one
    /// vendor-SDK script sends in a loop; see docs/architecture.md, "How it talks to the platform").
    #[arg(long, env = "IGZ_MGMT_QPS", default_value_t = 50)]
    pub mgmt_qps: u32,

    /// Management API requests allowed at once after a quiet period, above --mgmt-qps.
    #[arg(long, env = "IGZ_MGMT_BURST", default_value_t = 100)]
    pub mgmt_burst: u32,
}

#[derive(Debug, Args)]
pub struct RunArgs {
    #[command(flatten)]
    pub mgmt: MgmtArgs,

    /// How often every Group is re-checked against the platform to revert out-of-band changes
    /// (jittered by up to 10%).
    #[arg(long, env = "IGZ_RESYNC_INTERVAL", default_value = "5m", value_parser = humantime::parse_duration)]
    pub resync_interval: Duration,

    /// Maximum number of Group resources reconciled at the same time (per watched namespace when
    /// --watch-namespace is given). Reconciles mostly wait (for platform jobs, for the batch
    /// their role changes travel in); the platform's load is bounded by --mgmt-qps, not by this.
    #[arg(long, env = "IGZ_CONCURRENCY", default_value_t = 32)]
    pub concurrency: u16,

    /// Namespace to watch for Group resources; repeat the flag for several. Default: all namespaces.
    #[arg(
        long = "watch-namespace",
        env = "IGZ_WATCH_NAMESPACES",
        value_delimiter = ','
    )]
    pub watch_namespaces: Vec<String>,

    /// Address of the HTTP server for /metrics, /healthz and /readyz.
    #[arg(long, env = "IGZ_METRICS_ADDR", default_value = "0.0.0.0:8080")]
    pub metrics_addr: SocketAddr,

    /// Log format.
    #[arg(long, env = "IGZ_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,

    /// Take a Lease so that only one replica reconciles at a time.
    #[arg(long, env = "IGZ_LEADER_ELECT", default_value_t = false)]
    pub leader_elect: bool,

    /// Namespace of the leader-election Lease (default: the pod's namespace, else "default").
    #[arg(long, env = "IGZ_LEADER_ELECT_NAMESPACE")]
    pub leader_elect_namespace: Option<String>,

    /// The operator's own namespace (in a Pod: the Pod's). The Secrets PlatformConnections name
    /// must be here: the operator reads Secrets in this namespace and nowhere else. It also keeps
    /// its record key here (the Secret igz-operator-record-key, which seals its create records).
    #[arg(long, env = "POD_NAMESPACE", default_value = "igz-system")]
    pub namespace: String,
}

/// Which management policy imported Groups get.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ImportPolicy {
    /// Read-only until you switch a Group to Full: applying the output writes nothing.
    #[value(name = "ObserveOnly")]
    ObserveOnly,
    /// Managed at once (the output equals the platform, so applying it changes nothing either).
    #[value(name = "Full")]
    Full,
}

#[derive(Debug, Args)]
pub struct ImportArgs {
    #[command(flatten)]
    pub mgmt: MgmtArgs,

    /// Namespace written into every Group's metadata (omitted: none, so `kubectl apply -n NS`
    /// decides).
    #[arg(long, short = 'n')]
    pub namespace: Option<String>,

    /// managementPolicy of every Group printed.
    #[arg(long, value_enum, default_value_t = ImportPolicy::ObserveOnly)]
    pub management_policy: ImportPolicy,

    /// PlatformConnection the Groups live on: written into every Group's spec.connection.
    /// Without --mgmt-url and credential flags, the platform is also reached through it (its URL,
    /// TLS settings and the Secret it names, read with KUBECONFIG or the in-cluster
    /// configuration).
    #[arg(long)]
    pub connection: Option<String>,

    /// The operator's namespace, where a connection's Secret lives (see `run --namespace`).
    #[arg(long, env = "POD_NAMESPACE", default_value = "igz-system")]
    pub operator_namespace: String,
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn cli_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn run_defaults_match_the_documented_ones() {
        let cli = Cli::try_parse_from(["igz-operator", "run"]).unwrap();
        let Command::Run(args) = cli.command else {
            panic!("expected run")
        };
        assert_eq!(args.resync_interval, Duration::from_secs(300));
        assert_eq!(args.concurrency, 32);
        assert_eq!((args.mgmt.mgmt_qps, args.mgmt.mgmt_burst), (50, 100));
        assert!(args.watch_namespaces.is_empty());
        assert!(!args.mgmt.insecure_skip_tls_verify);
        if std::env::var_os("POD_NAMESPACE").is_none() {
            assert_eq!(args.namespace, "igz-system");
        }
    }

    #[test]
    fn watch_namespace_is_repeatable() {
        let cli = Cli::try_parse_from([
            "igz-operator",
            "run",
            "--watch-namespace",
            "a",
            "--watch-namespace",
            "b",
        ])
        .unwrap();
        let Command::Run(args) = cli.command else {
            panic!("expected run")
        };
        assert_eq!(args.watch_namespaces, ["a", "b"]);
    }

    #[test]
    fn bad_duration_is_rejected_with_a_message() {
        let err =
            Cli::try_parse_from(["igz-operator", "run", "--resync-interval", "soon"]).unwrap_err();
        assert!(err.to_string().contains("--resync-interval"), "{err}");
    }
}
