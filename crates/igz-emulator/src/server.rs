//! The accept loop. It serves each connection itself (rather than `axum::serve`) so that a
//! handler can ask for its connection to be closed without an answer: the lost-reply fault.

use std::net::SocketAddr;
use std::time::Duration;

use anyhow::Context;
use axum::extract::Request;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tower::ServiceExt;

use super::App;

/// How long open connections get to finish their requests at shutdown.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// Put in each request's extensions; cancelling it closes that request's connection at once.
#[derive(Clone)]
pub(crate) struct ConnectionKill(pub CancellationToken);

/// A running emulator; dropping it leaves the server running until the runtime stops.
pub struct RunningEmulator {
    addr: SocketAddr,
    shutdown: CancellationToken,
    task: JoinHandle<()>,
}

impl RunningEmulator {
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://127.0.0.1:PORT`
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Stops accepting, lets open requests finish (up to a grace period), then returns.
    pub async fn shutdown(self) {
        self.shutdown.cancel();
        let _ = self.task.await;
    }
}

pub(crate) async fn spawn(app: App, listen: SocketAddr) -> anyhow::Result<RunningEmulator> {
    let listener = TcpListener::bind(listen)
        .await
        .with_context(|| format!("binding {listen}"))?;
    let addr = listener.local_addr()?;
    let shutdown = CancellationToken::new();
    let router = super::routes::router(app);
    let task = tokio::spawn(accept_loop(listener, router, shutdown.clone()));
    Ok(RunningEmulator {
        addr,
        shutdown,
        task,
    })
}

async fn accept_loop(listener: TcpListener, router: axum::Router, shutdown: CancellationToken) {
    let connections = TaskTracker::new();
    loop {
        let stream = tokio::select! {
            _ = shutdown.cancelled() => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(error) => {
                    // Out of file descriptors and the like: back off instead of spinning.
                    tracing::warn!(%error, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        connections.spawn(serve_connection(stream, router.clone(), shutdown.clone()));
    }
    drop(listener);
    connections.close();
    let _ = tokio::time::timeout(SHUTDOWN_GRACE, connections.wait()).await;
}

async fn serve_connection(stream: TcpStream, router: axum::Router, shutdown: CancellationToken) {
    let _ = stream.set_nodelay(true);
    let kill = CancellationToken::new();
    let request_kill = ConnectionKill(kill.clone());
    let service = router.map_request(move |mut request: Request<hyper::body::Incoming>| {
        request.extensions_mut().insert(request_kill.clone());
        request
    });
    let connection = hyper::server::conn::http1::Builder::new()
        .timer(TokioTimer::new())
        .serve_connection(TokioIo::new(stream), TowerToHyperService::new(service));
    tokio::pin!(connection);
    tokio::select! {
        _ = connection.as_mut() => {}
        // Dropping the connection future closes the socket with no response written.
        _ = kill.cancelled() => {}
        _ = shutdown.cancelled() => {
            connection.as_mut().graceful_shutdown();
            tokio::select! {
                _ = connection.as_mut() => {}
                _ = kill.cancelled() => {}
            }
        }
    }
}
