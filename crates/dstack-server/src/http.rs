//! Serving HTTP/1.1 with limits: every connection must send its request head within
//! [`HttpLimits::header_timeout`] (so idle, slow-header and idle keep-alive connections are
//! closed), at most [`HttpLimits::max_connections`] are served at once, and the open-files
//! limit is raised so that the bound, not the kernel, decides.

use std::sync::Arc;
use std::time::{Duration, Instant};

use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;

use crate::settings::HttpLimits;

/// File descriptors kept for everything but client connections: the database, logs,
/// catalogs, backends' own clients.
const RESERVED_FILES: u64 = 256;

/// How often "connection limit reached" may be logged.
const LIMIT_LOG_INTERVAL: Duration = Duration::from_secs(60);

/// How long shutting down waits for requests in flight.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

/// Raises the soft open-files limit to the hard limit, as servers do, and returns the limit
/// now in force (`None` where the platform has none to read).
pub fn raise_open_files_limit() -> Option<u64> {
    match rlimit::increase_nofile_limit(u64::MAX) {
        Ok(limit) => Some(limit),
        Err(err) => {
            tracing::warn!("cannot raise the open-files limit: {err}");
            rlimit::getrlimit(rlimit::Resource::NOFILE).ok().map(|(soft, _)| soft)
        }
    }
}

/// The number of connections to serve at once: the configured bound, lowered to what the
/// open-files limit allows.
pub fn connection_bound(configured: usize, open_files: Option<u64>) -> usize {
    match open_files {
        Some(limit) => {
            let allowed = limit.saturating_sub(RESERVED_FILES).max(16);
            configured.min(usize::try_from(allowed).unwrap_or(usize::MAX))
        }
        None => configured,
    }
}

/// Answers requests on `listener` with `router` until `shutdown` completes, then waits a
/// little for requests in flight.
pub async fn serve(
    listener: TcpListener,
    router: axum::Router,
    limits: &HttpLimits,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let open_files = raise_open_files_limit();
    let max_connections = connection_bound(limits.max_connections, open_files);
    tracing::info!(
        "Open-files limit {}; serving at most {max_connections} connections at once, each \
         sending its request head within {}s",
        open_files.map_or_else(|| "unknown".to_owned(), |n| n.to_string()),
        limits.header_timeout.as_secs_f32()
    );
    let permits = Arc::new(Semaphore::new(max_connections));
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder.timer(TokioTimer::new()).header_read_timeout(limits.header_timeout).keep_alive(true);
    let graceful = GracefulShutdown::new();
    let mut last_limit_log: Option<Instant> = None;
    tokio::pin!(shutdown);
    loop {
        let permit = match permits.clone().try_acquire_owned() {
            Ok(permit) => permit,
            Err(_) => {
                if last_limit_log.is_none_or(|at| at.elapsed() > LIMIT_LOG_INTERVAL) {
                    tracing::warn!(
                        "{max_connections} connections are open, the limit: new connections \
                         wait until one closes"
                    );
                    last_limit_log = Some(Instant::now());
                }
                tokio::select! {
                    permit = permits.clone().acquire_owned() => {
                        permit.expect("the semaphore is never closed")
                    }
                    () = &mut shutdown => break,
                }
            }
        };
        let stream = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(err) => {
                    // Out of descriptors despite the bound, or a connection reset before it
                    // was accepted: wait a moment rather than spin.
                    tracing::warn!("accepting a connection failed: {err}");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let _ = stream.set_nodelay(true);
        let service = TowerToHyperService::new(router.clone());
        let connection = graceful.watch(builder.serve_connection(TokioIo::new(stream), service));
        tokio::spawn(async move {
            // A client that goes away or times out ends its connection; nothing to report.
            let _ = connection.await;
            drop(permit);
        });
    }
    drop(listener);
    if tokio::time::timeout(SHUTDOWN_GRACE, graceful.shutdown()).await.is_err() {
        tracing::warn!("requests still in flight after {}s; stopping", SHUTDOWN_GRACE.as_secs());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bound_fits_the_open_files_limit() {
        assert_eq!(connection_bound(10_000, Some(1024)), 768);
        assert_eq!(connection_bound(10_000, Some(1_048_576)), 10_000);
        assert_eq!(connection_bound(10_000, Some(100)), 16);
        assert_eq!(connection_bound(500, None), 500);
    }
}
