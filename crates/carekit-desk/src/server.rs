//! Serving: limits every request must respect, and a shutdown that lets
//! in-flight ingests finish and leaves the outbox consistent.

use crate::config::ServerConfig;
use crate::metrics::Metrics;
use crate::{DeskServer, DeskServerError};
use axum::Router;
use axum::extract::{MatchedPath, Request, State};
use axum::http::StatusCode;
use axum::middleware::{self, Next};
use axum::response::Response;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use std::future::Future;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tower_http::timeout::TimeoutLayer;

/// A stop signal shared by the server's background loops.
#[derive(Clone, Debug)]
pub struct Shutdown {
    rx: watch::Receiver<bool>,
}

impl Shutdown {
    /// Completes when the server is stopping.
    pub async fn wait(mut self) {
        let _ = self.rx.wait_for(|stop| *stop).await;
    }
}

/// Timeout and request counting around every route (body limits are set
/// per route when the routes are mounted).
pub(crate) fn wrap(router: Router, config: &ServerConfig, metrics: Metrics) -> Router {
    router
        .layer(TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            Duration::from_millis(config.request_timeout_ms.max(1)),
        ))
        .layer(middleware::from_fn_with_state(metrics, count_requests))
}

async fn count_requests(State(metrics): State<Metrics>, request: Request, next: Next) -> Response {
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_owned())
        .unwrap_or_else(|| "unmatched".into());
    let response = next.run(request).await;
    metrics.inc(
        "carekit_http_requests_total",
        vec![
            ("route", route),
            ("status", response.status().as_u16().to_string()),
        ],
    );
    response
}

impl DeskServer {
    /// Binds `[server] listen` and serves until Ctrl-C or SIGTERM.
    ///
    /// # Errors
    /// The address cannot be bound.
    pub async fn run(self) -> Result<(), DeskServerError> {
        let listener = TcpListener::bind(self.config.server.listen).await?;
        tracing::info!(listen = %self.config.server.listen, "carekit desk listening");
        self.serve(listener, shutdown_signal()).await
    }

    /// Serves on `listener` until `shutdown` completes: the webhook routes,
    /// the API, the outbox and SLA worker, and any pollers.
    ///
    /// On shutdown it stops accepting connections, lets in-flight requests
    /// finish (an accepted webhook is stored before its 2xx), then lets the
    /// outbox finish the round it is in; anything not sent stays queued
    /// with its lease and goes out after a restart.
    ///
    /// # Errors
    /// Accepting connections failed for good.
    pub async fn serve(
        self,
        listener: TcpListener,
        shutdown: impl Future<Output = ()> + Send,
    ) -> Result<(), DeskServerError> {
        let DeskServer {
            config,
            desk,
            router,
            background,
            live,
            ..
        } = self;
        let grace = Duration::from_millis(config.server.shutdown_grace_ms);
        let (stop_tx, stop_rx) = watch::channel(false);
        let stop = Shutdown { rx: stop_rx };
        let mut tasks = tokio::task::JoinSet::new();
        {
            let desk = desk.clone();
            let every = Duration::from_millis(config.desk.tick_ms.max(1));
            let stop = stop.clone();
            tasks.spawn(async move { desk.run(every, stop.wait()).await });
        }
        for run in background {
            tasks.spawn(run(stop.clone()));
        }

        let mut http = hyper::server::conn::http1::Builder::new();
        http.timer(TokioTimer::new())
            .header_read_timeout(Duration::from_millis(
                config.server.header_read_timeout_ms.max(1),
            ))
            .keep_alive(true);
        let graceful = GracefulShutdown::new();
        tokio::pin!(shutdown);
        loop {
            let (stream, peer) = tokio::select! {
                () = &mut shutdown => break,
                accepted = listener.accept() => match accepted {
                    Ok(conn) => conn,
                    Err(e) => {
                        // Out of file descriptors and the like: wait, don't spin.
                        tracing::warn!(error = %e, "accept failed");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                },
            };
            let _ = stream.set_nodelay(true);
            // The client's address, for login throttling.
            let client = crate::people::ClientAddr(peer.ip());
            let service = TowerToHyperService::new(tower::ServiceExt::map_request(
                router.clone(),
                move |mut request: hyper::Request<hyper::body::Incoming>| {
                    request.extensions_mut().insert(client);
                    request
                },
            ));
            let connection = graceful.watch(http.serve_connection(TokioIo::new(stream), service));
            tokio::spawn(async move {
                // A client hanging up mid-request is not the server's error.
                let _ = connection.await;
            });
        }
        drop(listener);
        // Event streams never finish on their own: end them first.
        live.close();
        tracing::info!("stopping: finishing in-flight requests");
        if tokio::time::timeout(grace, graceful.shutdown())
            .await
            .is_err()
        {
            tracing::warn!(
                ?grace,
                "in-flight requests still running after the grace period"
            );
        }
        let _ = stop_tx.send(true);
        let drained =
            tokio::time::timeout(grace, async { while tasks.join_next().await.is_some() {} }).await;
        if drained.is_err() {
            tracing::warn!(
                "background work still running after the grace period; leases will expire"
            );
        }
        tracing::info!("stopped");
        Ok(())
    }
}

/// Ctrl-C, or SIGTERM on Unix (what orchestrators send).
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
}

/// A background loop (a poller) started with the server and stopped with
/// it: given the stop signal, it returns the loop to run.
pub type Background =
    Box<dyn FnOnce(Shutdown) -> std::pin::Pin<Box<dyn Future<Output = ()> + Send>> + Send>;
