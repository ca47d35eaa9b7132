//! `igz-operator run`: turns flags into clients, checks what can be checked at start, and runs
//! the controller (under leader election when asked) until SIGTERM/SIGINT.

use std::num::NonZeroU32;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context as _, bail};
use futures::FutureExt as _;
use futures::future::{BoxFuture, Shared};
use kube::api::ListParams;
use kube::{Api, Client};
use prometheus_client::registry::Registry;
use secrecy::SecretString;

use crate::cli::{MgmtArgs, RunArgs};
use crate::connection::{self, ClientDefaults, ConnectionMetrics};
use crate::controller::{self, KubeRequestMetrics, ReconcileMetrics, Settings, Timing};
use crate::crd::Group;
use crate::http::{self, Health};
use crate::leader::{LeaseSettings, run_while_leader};
use igz_mgmt::{
    Credentials, MgmtClient, MgmtConfig, MgmtMetrics, Observer, RateLimit, resolve_endpoint,
};

/// Where the credentials came from, for the start-up line (never the secret itself).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CredentialSource(pub String);

/// Reads the credentials the flags point at. Errors say which flag or variable to set.
pub fn credentials(
    args: &MgmtArgs,
    env_key: Option<String>,
) -> anyhow::Result<(Credentials, CredentialSource)> {
    let username = args.username.clone().filter(|u| !u.trim().is_empty());
    if let Some(file) = &args.password_file {
        let Some(username) = username else {
            bail!("--password-file needs --username (or IGZ_USERNAME)");
        };
        let password = read_secret_file(file, "--password-file")?;
        let source = CredentialSource(format!("user {username}, password from {}", file.display()));
        return Ok((Credentials::Login { username, password }, source));
    }
    let (key, from) = match (
        &args.access_key_file,
        env_key.filter(|k| !k.trim().is_empty()),
    ) {
        (Some(file), _) => (
            read_secret_file(file, "--access-key-file")?,
            format!("access key from {}", file.display()),
        ),
        (None, Some(key)) => (
            SecretString::from(key.trim().to_owned()),
            "access key from IGZ_ACCESS_KEY".to_owned(),
        ),
        (None, None) => bail!(
            "no management API credentials: set --access-key-file (or IGZ_ACCESS_KEY), or --username with --password-file"
        ),
    };
    let source = match &username {
        Some(u) => CredentialSource(format!("user {u}, {from}")),
        None => CredentialSource(from),
    };
    Ok((Credentials::AccessKey { username, key }, source))
}

fn read_secret_file(path: &Path, flag: &str) -> anyhow::Result<SecretString> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read {flag} {}", path.display()))?;
    let text = text.trim();
    if text.is_empty() {
        bail!("{flag} {} is empty", path.display());
    }
    Ok(SecretString::from(text.to_owned()))
}

pub fn mgmt_config(
    args: &MgmtArgs,
    credentials: Credentials,
    metrics: MgmtMetrics,
) -> anyhow::Result<MgmtConfig> {
    let url = resolve_endpoint(args.mgmt_url.as_deref()).map_err(|e| {
        anyhow::anyhow!("{e}; set --mgmt-url (or IGZ_MGMT_URL) to the platform dashboard's URL")
    })?;
    let mut config = MgmtConfig::new(url, credentials);
    if let Some(ca) = &args.ca_file {
        config.ca_bundle_pem = Some(
            std::fs::read(ca).with_context(|| format!("cannot read --ca-file {}", ca.display()))?,
        );
    }
    config.insecure_skip_tls_verify = args.insecure_skip_tls_verify;
    config.connect_timeout = args.mgmt_connect_timeout;
    config.request_timeout = args.mgmt_request_timeout;
    config.rate_limit = RateLimit {
        qps: f64::from(args.mgmt_qps.max(1)),
        burst: NonZeroU32::new(args.mgmt_burst.max(1)).expect("at least 1"),
    };
    config.user_agent = concat!("igz-operator/", env!("CARGO_PKG_VERSION")).to_owned();
    config.observer = Observer::new(metrics);
    Ok(config)
}

pub async fn run(args: RunArgs) -> anyhow::Result<()> {
    let (credentials, source) = credentials(&args.mgmt, std::env::var("IGZ_ACCESS_KEY").ok())?;
    let mut registry = Registry::default();
    let mgmt_metrics = MgmtMetrics::default();
    mgmt_metrics.register(&mut registry);
    let reconcile_metrics = ReconcileMetrics::default();
    reconcile_metrics.register(&mut registry);
    let kube_metrics = KubeRequestMetrics::default();
    kube_metrics.register(&mut registry);
    let connection_metrics = ConnectionMetrics::default();
    connection_metrics.register(&mut registry);

    let mgmt = MgmtClient::new(mgmt_config(&args.mgmt, credentials, mgmt_metrics.clone())?)
        .map_err(|e| anyhow::anyhow!("invalid management API settings: {e}"))?;
    tracing::info!(
        version = env!("CARGO_PKG_VERSION"),
        mgmt_url = %mgmt.endpoint(),
        credentials = %source.0,
        "igz-operator starting"
    );
    match mgmt.verify().await {
        Ok(session) => {
            tracing::info!(user = %session.username, tenant = %session.tenant_id, "management API session verified")
        }
        // Not fatal: the platform may be down now and up later; Groups report it in their status.
        Err(e) => {
            tracing::warn!(error = %e, "cannot verify the management API session yet; Groups will report it")
        }
    }

    let kube = kube_client(kube_metrics)
        .await
        .context("cannot build a Kubernetes client (set KUBECONFIG or run in a pod)")?;
    check_crd_installed(&kube, args.watch_namespaces.first()).await?;

    let health = Arc::new(Health::default());
    let (bound, _server) =
        http::serve(args.metrics_addr, Arc::new(registry), health.clone()).await?;
    tracing::info!(addr = %bound, "serving /metrics, /healthz and /readyz");

    let settings = Settings {
        namespaces: args.watch_namespaces.clone(),
        concurrency: args.concurrency.max(1),
        timing: Timing::new(args.resync_interval),
        // Short enough that users and projects created on the platform are seen within ~30 s.
        fresh_picture_age: args.resync_interval.min(Duration::from_secs(15)),
        namespace: args.namespace.clone(),
        recoveries: Default::default(),
        instance: std::env::var("POD_NAME").ok(),
        admission_policy: true,
    };
    // The platforms: a client and a picture per PlatformConnection, the flags' client serving as
    // the connection `default` while no PlatformConnection has that name. Their controller runs
    // beside the Group controller (see `with_connections`).
    let connections = Arc::new(
        connection::Registry::new(settings.picture_factory(), Observer::new(mgmt_metrics))
            .with_builtin_default(mgmt),
    );
    let connection_settings = connection_settings(&args);
    let with_connections = {
        let (kube, connections, metrics) = (kube.clone(), connections.clone(), connection_metrics);
        move |group_controller: BoxFuture<'static, ()>, stop: Stop| {
            let connection_controller = connection::run(
                kube.clone(),
                connections.clone(),
                connection_settings.clone(),
                metrics.clone(),
                stop,
            );
            async move {
                futures::join!(group_controller, connection_controller);
            }
        }
    };

    let ready = health.clone();
    let on_ready = move || ready.set_ready(true);
    if args.leader_elect {
        // A standby is ready too: it is healthy and takes over when the Lease frees up, and
        // rolling updates must not wait for a pod that cannot hold the Lease yet.
        health.set_ready(true);
    }
    if !args.leader_elect {
        let stop = shared(shutdown_signal());
        let groups = controller::run(
            kube,
            connections.clone(),
            settings,
            reconcile_metrics,
            stop.clone(),
            on_ready,
        );
        with_connections(groups.boxed(), stop).await;
        return Ok(());
    }
    let lease = LeaseSettings {
        namespace: args
            .leader_elect_namespace
            .clone()
            .or_else(|| std::env::var("POD_NAMESPACE").ok())
            .unwrap_or_else(|| "default".to_owned()),
        name: "igz-operator".to_owned(),
        identity: std::env::var("POD_NAME")
            .unwrap_or_else(|_| format!("igz-operator-{}", uuid::Uuid::new_v4())),
        duration_seconds: 15,
        grace_seconds: 5,
    };
    run_while_leader(kube.clone(), lease, shutdown_signal(), move |stop| {
        let stop = shared(async move {
            let _ = stop.await;
        });
        let groups = controller::run(
            kube.clone(),
            connections.clone(),
            settings.clone(),
            reconcile_metrics.clone(),
            stop.clone(),
            on_ready.clone(),
        );
        with_connections(groups.boxed(), stop)
    })
    .await
}

/// One stop signal for both controllers.
type Stop = Shared<BoxFuture<'static, ()>>;

fn shared(stop: impl std::future::Future<Output = ()> + Send + 'static) -> Stop {
    stop.boxed().shared()
}

/// The connection controller's settings from the flags.
fn connection_settings(args: &RunArgs) -> connection::Settings {
    let mut settings = connection::Settings::new(args.namespace.clone());
    settings.group_namespaces = args.watch_namespaces.clone();
    settings.defaults = ClientDefaults {
        qps: args.mgmt.mgmt_qps.max(1),
        burst: args.mgmt.mgmt_burst.max(1),
        connect_timeout: args.mgmt.mgmt_connect_timeout,
        request_timeout: args.mgmt.mgmt_request_timeout,
    };
    settings.instance = std::env::var("POD_NAME").ok();
    settings
}

/// The Kubernetes client (KUBECONFIG or the in-cluster configuration), counting its requests.
async fn kube_client(metrics: KubeRequestMetrics) -> anyhow::Result<Client> {
    let config = kube::Config::infer().await?;
    let count =
        tower::util::MapRequestLayer::new(move |req: ::http::Request<kube::client::Body>| {
            metrics.count(req.method(), req.uri());
            req
        });
    Ok(kube::client::ClientBuilder::try_from(config)?
        .with_layer(&count)
        .build())
}

async fn check_crd_installed(kube: &Client, namespace: Option<&String>) -> anyhow::Result<()> {
    let api: Api<Group> = match namespace {
        Some(ns) => Api::namespaced(kube.clone(), ns),
        None => Api::all(kube.clone()),
    };
    match api.list_metadata(&ListParams::default().limit(1)).await {
        Ok(_) => Ok(()),
        Err(kube::Error::Api(status)) if status.code == 404 => bail!(
            "the Group CRD (groups.igz-operator.io) is not installed: kubectl apply -f crds/groups.igz-operator.io.yaml"
        ),
        // Anything else may pass (API server restarting, RBAC still propagating): the watches
        // retry with backoff, so starting is better than a crash loop.
        Err(e) => {
            tracing::warn!(error = %e, "cannot list Group resources yet; the watches will retry");
            Ok(())
        }
    }
}

async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .expect("SIGTERM handler");
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = ctrl_c.await;
    }
    tracing::info!("shutting down");
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;
    use secrecy::ExposeSecret;

    fn args(extra: &[&str]) -> MgmtArgs {
        let mut argv = vec!["igz-operator", "run"];
        argv.extend_from_slice(extra);
        match crate::cli::Cli::try_parse_from(argv).unwrap().command {
            crate::cli::Command::Run(a) => a.mgmt,
            _ => unreachable!(),
        }
    }

    #[test]
    fn missing_credentials_say_what_to_set() {
        let err = credentials(&args(&[]), None).unwrap_err().to_string();
        assert!(
            err.contains("--access-key-file") && err.contains("IGZ_ACCESS_KEY"),
            "{err}"
        );
        let err = credentials(&args(&[]), Some("  ".into()))
            .unwrap_err()
            .to_string();
        assert!(err.contains("no management API credentials"), "{err}");
    }

    #[test]
    fn key_file_wins_and_is_trimmed_and_never_in_the_source_line() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("key");
        std::fs::write(&file, "file-secret\n").unwrap();
        let (creds, source) = credentials(
            &args(&[
                "--access-key-file",
                file.to_str().unwrap(),
                "--username",
                "admin",
            ]),
            Some("env-secret".into()),
        )
        .unwrap();
        let Credentials::AccessKey { username, key } = creds else {
            panic!("expected an access key")
        };
        assert_eq!(username.as_deref(), Some("admin"));
        assert_eq!(key.expose_secret(), "file-secret");
        assert!(!source.0.contains("secret"), "{}", source.0);
    }

    #[test]
    fn password_login_needs_a_username() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("pw");
        std::fs::write(&file, "pw").unwrap();
        let err =
            credentials(&args(&["--password-file", file.to_str().unwrap()]), None).unwrap_err();
        assert!(err.to_string().contains("--username"), "{err}");
        let (creds, _) = credentials(
            &args(&["--password-file", file.to_str().unwrap(), "--username", "u"]),
            None,
        )
        .unwrap();
        assert!(matches!(creds, Credentials::Login { .. }));
    }

    #[test]
    fn empty_key_file_is_rejected() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("key");
        std::fs::write(&file, "\n").unwrap();
        let err =
            credentials(&args(&["--access-key-file", file.to_str().unwrap()]), None).unwrap_err();
        assert!(err.to_string().contains("is empty"), "{err}");
    }

    #[test]
    fn bad_or_missing_url_fails_with_the_flag_to_set() {
        let creds = Credentials::AccessKey {
            username: None,
            key: SecretString::from("k".to_owned()),
        };
        let err = mgmt_config(
            &args(&["--mgmt-url", "http://exa mple"]),
            creds.clone(),
            MgmtMetrics::default(),
        )
        .unwrap_err();
        assert!(err.to_string().contains("--mgmt-url"), "{err}");
        let ok = mgmt_config(
            &args(&["--mgmt-url", "http://127.0.0.1:8470"]),
            creds,
            MgmtMetrics::default(),
        )
        .unwrap();
        assert_eq!(ok.base_url.as_str(), "http://127.0.0.1:8470/");
    }
}
