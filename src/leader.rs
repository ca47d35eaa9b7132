//! Leader election: reconcile only while holding a Lease (kube-lease-manager, kept current with
//! kube). Losing the Lease stops the work at once; shutting down releases it so another replica
//! takes over without waiting for it to expire.

use std::future::Future;

use anyhow::{Context as _, bail};
use kube::Client;
use tokio::sync::oneshot;

#[derive(Debug, Clone)]
pub struct LeaseSettings {
    pub namespace: String,
    pub name: String,
    /// This replica's identity (the pod name in a cluster).
    pub identity: String,
    /// How long a holder keeps the Lease without renewing it.
    pub duration_seconds: u64,
    /// Slack before the Lease is considered expired.
    pub grace_seconds: u64,
}

/// Runs `work` whenever this replica holds the Lease, until `shutdown` resolves. `work` receives a
/// stop signal for graceful shutdown; on a lost Lease its task is aborted without waiting.
pub async fn run_while_leader<W, F>(
    kube: Client,
    lease: LeaseSettings,
    shutdown: impl Future<Output = ()>,
    work: W,
) -> anyhow::Result<()>
where
    W: Fn(oneshot::Receiver<()>) -> F,
    F: Future<Output = ()> + Send + 'static,
{
    let manager = kube_lease_manager::LeaseManagerBuilder::new(kube, &lease.name)
        .with_namespace(&lease.namespace)
        .with_identity(&lease.identity)
        .with_duration(lease.duration_seconds)
        .with_grace(lease.grace_seconds)
        .build()
        .await
        .context("cannot set up leader election")?;
    let (mut leader, lease_task) = manager.watch().await;
    let mut shutdown = std::pin::pin!(shutdown);
    tracing::info!(namespace = %lease.namespace, lease = %lease.name, identity = %lease.identity, "waiting for the Lease");
    let outcome = loop {
        if !*leader.borrow_and_update() {
            tokio::select! {
                _ = &mut shutdown => break Ok(()),
                changed = leader.changed() => if changed.is_err() { break Err(anyhow::anyhow!("leader election stopped")) },
            }
            continue;
        }
        tracing::info!(identity = %lease.identity, "acquired the Lease; reconciling");
        let (stop, stopped) = oneshot::channel();
        let mut task = tokio::spawn(work(stopped));
        let lost = loop {
            tokio::select! {
                _ = &mut shutdown => {
                    let _ = stop.send(());
                    let _ = (&mut task).await;
                    break false;
                }
                changed = leader.changed() => {
                    if changed.is_err() || !*leader.borrow_and_update() {
                        break true;
                    }
                }
                _ = &mut task => break true,
            }
        };
        if !lost {
            break Ok(());
        }
        if task.is_finished() {
            break Err(anyhow::anyhow!("the controller stopped unexpectedly"));
        }
        tracing::warn!(identity = %lease.identity, "lost the Lease; stopping reconciles at once");
        task.abort();
    };
    // Closing the channel makes the Lease task release the Lease.
    drop(leader);
    match lease_task.await {
        Ok(Ok(_)) => {}
        Ok(Err(e)) => tracing::warn!(error = %e, "could not release the Lease"),
        Err(e) => tracing::warn!(error = %e, "the Lease task failed"),
    }
    if let Err(e) = outcome {
        bail!(e);
    }
    Ok(())
}
