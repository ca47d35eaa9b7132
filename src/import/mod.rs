//! `igz-operator import`: reads the platform's groups (three bulk reads: groups with members,
//! users, projects with roles) and prints one Group resource per group, ready to commit.
//! Rendering is pure (`render`); this module only reads and prints.

mod render;

pub use render::{Imported, Options, render};

use anyhow::Context as _;

use crate::cli::ImportArgs;
use crate::connection;
use crate::crd::{ManagementPolicy, PlatformConnection};
use crate::run::{credentials, mgmt_config};
use igz_mgmt::MgmtClient;

/// Reads the platform and prints the Groups on stdout; what was left out, and why, on stderr.
pub async fn run(args: ImportArgs) -> anyhow::Result<()> {
    let env_key = std::env::var("IGZ_ACCESS_KEY").ok();
    let mgmt = match &args.connection {
        Some(name) if !flags_given(&args, env_key.as_deref()) => {
            through_connection(name, &args.operator_namespace).await?
        }
        _ => {
            let (credentials, _) = credentials(&args.mgmt, env_key)?;
            let mut config = mgmt_config(&args.mgmt, credentials, Default::default())?;
            config.user_agent =
                concat!("igz-operator/", env!("CARGO_PKG_VERSION"), " (import)").to_owned();
            MgmtClient::new(config)
                .map_err(|e| anyhow::anyhow!("invalid management API settings: {e}"))?
        }
    };
    let (groups, users, projects) =
        tokio::try_join!(mgmt.list_groups(), mgmt.list_users(), mgmt.list_projects())
            .map_err(|e| anyhow::anyhow!("cannot read the platform at {}: {e}", mgmt.endpoint()))?;
    let options = Options {
        namespace: args.namespace.clone(),
        connection: args.connection.clone(),
        management_policy: match args.management_policy {
            crate::cli::ImportPolicy::ObserveOnly => ManagementPolicy::ObserveOnly,
            crate::cli::ImportPolicy::Full => ManagementPolicy::Full,
        },
        source: mgmt.endpoint().to_string(),
    };
    let imported = render(&groups, &users, &projects, &options);
    print!("{}", imported.yaml);
    for note in &imported.notes {
        eprintln!("igz-operator import: {note}");
    }
    eprintln!(
        "igz-operator import: {} Group(s) printed, {} platform group(s) left out",
        imported.groups, imported.left_out
    );
    Ok(())
}

/// Whether the flags (or IGZ_ACCESS_KEY) say how to reach the platform themselves.
fn flags_given(args: &ImportArgs, env_key: Option<&str>) -> bool {
    let m = &args.mgmt;
    m.mgmt_url.is_some()
        || m.access_key_file.is_some()
        || m.password_file.is_some()
        || env_key.is_some_and(|k| !k.trim().is_empty())
}

/// A client built as the operator builds it for PlatformConnection `name`: its spec, and its
/// Secret in `operator_namespace` (read with KUBECONFIG or the in-cluster configuration).
async fn through_connection(name: &str, operator_namespace: &str) -> anyhow::Result<MgmtClient> {
    use k8s_openapi::api::core::v1::Secret;
    use kube::Api;

    let kube = kube::Client::try_default()
        .await
        .context("--connection reads the PlatformConnection from the cluster: set KUBECONFIG")?;
    let connection = Api::<PlatformConnection>::all(kube.clone())
        .get(name)
        .await
        .with_context(|| format!("cannot read PlatformConnection {name}"))?;
    let secret_namespace = connection
        .spec
        .secret_ref
        .namespace
        .clone()
        .unwrap_or_else(|| operator_namespace.to_owned());
    let secret = Api::<Secret>::namespaced(kube, &secret_namespace)
        .get_opt(&connection.spec.secret_ref.name)
        .await
        .with_context(|| {
            format!(
                "cannot read Secret {secret_namespace}/{}",
                connection.spec.secret_ref.name
            )
        })?;
    connection::client_for(
        &connection,
        secret.as_ref(),
        &secret_namespace,
        &Default::default(),
    )
    .map_err(|e| anyhow::anyhow!("PlatformConnection {name} cannot be used: {e}"))
}
