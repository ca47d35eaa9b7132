//! `igz-operator import`: reads the platform's groups (three bulk reads: groups with members,
//! users, projects with roles) and prints one Group resource per group, ready to commit.
//! Rendering is pure (`render`); this module only reads and prints.

mod render;

pub use render::{Imported, Options, render};

use crate::cli::ImportArgs;
use crate::crd::ManagementPolicy;
use crate::run::{credentials, mgmt_config};
use igz_mgmt::MgmtClient;

/// Reads the platform and prints the Groups on stdout; what was left out, and why, on stderr.
pub async fn run(args: ImportArgs) -> anyhow::Result<()> {
    let (credentials, _) = credentials(&args.mgmt, std::env::var("IGZ_ACCESS_KEY").ok())?;
    let mut config = mgmt_config(&args.mgmt, credentials, Default::default())?;
    config.user_agent = concat!("igz-operator/", env!("CARGO_PKG_VERSION"), " (import)").to_owned();
    let mgmt = MgmtClient::new(config)
        .map_err(|e| anyhow::anyhow!("invalid management API settings: {e}"))?;
    let (groups, users, projects) =
        tokio::try_join!(mgmt.list_groups(), mgmt.list_users(), mgmt.list_projects())
            .map_err(|e| anyhow::anyhow!("cannot read the platform at {}: {e}", mgmt.endpoint()))?;
    let options = Options {
        namespace: args.namespace.clone(),
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
