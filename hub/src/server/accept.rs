//! The accept loop: a connection cap with a clear refusal, hyper's HTTP/1 connection with a
//! header-read timer, an idle timer over the socket's traffic, and a graceful shutdown.

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::extract::ConnectInfo;
use axum::Router;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::task::JoinSet;
use tokio::time::Instant;
use tower::ServiceExt;

use super::{router, AppState};

/// Refusals (`503 OVERLOADED`) being written at once; beyond, a connection is just closed.
const MAX_REFUSALS: usize = 64;
/// How long a refusal, or the lingering close after it, may take.
const REFUSAL_TIME: Duration = Duration::from_secs(1);
/// How long open connections get to finish once the hub stops.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(2);
/// Pause after an accept error (e.g. out of file descriptors) before accepting again.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(50);

const OVERLOADED_BODY: &str =
    r#"{"error":{"code":"OVERLOADED","message":"too many connections; retry later"}}"#;

/// A place under the connection cap, held by the HTTP connection and, after an upgrade, by
/// its WebSocket session.
#[derive(Clone)]
pub struct ConnSlot {
    _permit: Arc<OwnedSemaphorePermit>,
}

/// Serves `state` on `listener` until `shutdown` completes; then stops accepting, tells
/// WebSocket sessions to close (1001), lets HTTP connections finish their request and waits
/// up to [`SHUTDOWN_GRACE`] for all of them.
pub async fn serve(listener: TcpListener, state: AppState, shutdown: impl Future<Output = ()>) {
    let limits = state.front.limits.clone();
    let slots = Arc::new(Semaphore::new(limits.max_connections));
    let refusals = Arc::new(Semaphore::new(MAX_REFUSALS));
    let app = router(state.clone());
    let mut conns = JoinSet::new();
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            _ = &mut shutdown => break,
            Some(_) = conns.join_next(), if !conns.is_empty() => {}
            accepted = listener.accept() => match accepted {
                Ok((tcp, peer)) => match slots.clone().try_acquire_owned() {
                    Ok(permit) => {
                        let _ = tcp.set_nodelay(true);
                        let slot = ConnSlot {
                            _permit: Arc::new(permit),
                        };
                        conns.spawn(connection(tcp, peer, app.clone(), state.clone(), slot));
                    }
                    Err(_) => refuse(tcp, &refusals),
                },
                Err(e) => {
                    tracing::debug!(error = %e, "accept failed");
                    tokio::time::sleep(ACCEPT_BACKOFF).await;
                }
            },
        }
    }
    drop(listener);
    state.front.stop();
    let drained = tokio::time::timeout(SHUTDOWN_GRACE, async {
        while conns.join_next().await.is_some() {}
    })
    .await;
    if drained.is_err() {
        conns.abort_all();
    }
    // Sessions hold their slot: wait (within the grace) for them to send their close frames.
    if let Ok(all) = u32::try_from(limits.max_connections) {
        let _ = tokio::time::timeout(SHUTDOWN_GRACE, slots.acquire_many(all)).await;
    }
}

/// Answers a connection over the cap with `503 OVERLOADED` and closes it, reading what the
/// peer sent meanwhile so that the close does not reset the answer away.
fn refuse(mut tcp: TcpStream, refusals: &Arc<Semaphore>) {
    let Ok(permit) = refusals.clone().try_acquire_owned() else {
        return;
    };
    tokio::spawn(async move {
        let _permit = permit;
        let answer = format!(
            "HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json\r\n\
             content-length: {}\r\nretry-after: 1\r\nconnection: close\r\n\r\n{OVERLOADED_BODY}",
            OVERLOADED_BODY.len()
        );
        let _ = tokio::time::timeout(REFUSAL_TIME, async {
            tcp.write_all(answer.as_bytes()).await?;
            tcp.shutdown().await?;
            let mut sink = [0u8; 1024];
            while tcp.read(&mut sink).await? > 0 {}
            Ok::<_, io::Error>(())
        })
        .await;
    });
}

/// One connection: HTTP/1 with upgrades, closed when idle for `idle_timeout`.
async fn connection(
    tcp: TcpStream,
    peer: SocketAddr,
    app: Router,
    state: AppState,
    slot: ConnSlot,
) {
    let limits = state.front.limits.clone();
    let io = Tracked::new(tcp);
    let activity = io.activity.clone();
    let service = hyper::service::service_fn(move |mut req: hyper::Request<Incoming>| {
        req.extensions_mut().insert(ConnectInfo(peer));
        req.extensions_mut().insert(slot.clone());
        app.clone().oneshot(req)
    });
    let mut builder = http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout)
        .max_buf_size(limits.max_header_bytes)
        .keep_alive(true);
    let conn = builder
        .serve_connection(TokioIo::new(io), service)
        .with_upgrades();
    tokio::pin!(conn);
    let mut stop = state.front.stopping();
    let mut stopping = *stop.borrow();
    if stopping {
        conn.as_mut().graceful_shutdown();
    }
    loop {
        let idle_until = activity.last().checked_add(limits.idle_timeout);
        tokio::select! {
            _ = conn.as_mut() => break,
            _ = sleep_until(idle_until) => {
                if activity.last().elapsed() >= limits.idle_timeout {
                    tracing::debug!(%peer, "idle connection closed");
                    break;
                }
            }
            _ = stop.changed(), if !stopping => {
                stopping = true;
                conn.as_mut().graceful_shutdown();
            }
        }
    }
}

/// Sleeps until `at`; forever when the deadline is past what the clock can hold.
async fn sleep_until(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

/// When a socket last carried a byte, either way.
#[derive(Clone)]
struct Activity {
    start: Instant,
    /// Milliseconds after `start`.
    last_ms: Arc<AtomicU64>,
}

impl Activity {
    fn touch(&self) {
        let ms = u64::try_from(self.start.elapsed().as_millis()).unwrap_or(u64::MAX);
        self.last_ms.store(ms, Ordering::Relaxed);
    }

    fn last(&self) -> Instant {
        let ms = self.last_ms.load(Ordering::Relaxed);
        self.start
            .checked_add(Duration::from_millis(ms))
            .unwrap_or(self.start)
    }
}

/// A TCP stream that records its traffic in an [`Activity`].
struct Tracked {
    tcp: TcpStream,
    activity: Activity,
}

impl Tracked {
    fn new(tcp: TcpStream) -> Self {
        Tracked {
            tcp,
            activity: Activity {
                start: Instant::now(),
                last_ms: Arc::new(AtomicU64::new(0)),
            },
        }
    }
}

impl AsyncRead for Tracked {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let r = Pin::new(&mut self.tcp).poll_read(cx, buf);
        if matches!(r, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            self.activity.touch();
        }
        r
    }
}

impl AsyncWrite for Tracked {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let r = Pin::new(&mut self.tcp).poll_write(cx, buf);
        if matches!(r, Poll::Ready(Ok(n)) if n > 0) {
            self.activity.touch();
        }
        r
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let r = Pin::new(&mut self.tcp).poll_write_vectored(cx, bufs);
        if matches!(r, Poll::Ready(Ok(n)) if n > 0) {
            self.activity.touch();
        }
        r
    }

    fn is_write_vectored(&self) -> bool {
        self.tcp.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.tcp).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.tcp).poll_shutdown(cx)
    }
}
