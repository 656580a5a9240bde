//! The hub's network face: the WebSocket endpoint speaking the session protocol, the merchant
//! HTTP API, `/health` and `/metrics`.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use alloy::primitives::{keccak256, Address, B256};
use axum::extract::ws::{Message as WsMessage, WebSocket, WebSocketUpgrade};
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use futures_util::{SinkExt, StreamExt};
use l2pay::invoice::Invoice;
use l2pay::session::{verify_auth, Frame};
use l2pay::signer::Signature;
use l2pay::wire::{decode_frame, encode_frame, from_json, MAX_FRAME};
use serde::Deserialize;
use serde_json::json;
use tokio::sync::{mpsc, oneshot};

use crate::actor::{now_ms, Command, REPLACED};
use crate::metrics::Metrics;
use crate::store::InvoiceRecord;

/// Frames a client may send per second on average, and in a burst.
pub const RATE_PER_SEC: f64 = 2_000.0;
pub const RATE_BURST: f64 = 4_000.0;
/// Malformed frames tolerated on one connection before it is closed.
pub const MAX_BAD_FRAMES: u32 = 32;
const AUTH_TIMEOUT: Duration = Duration::from_secs(10);

#[derive(Clone)]
pub struct AppState {
    pub hub: Address,
    pub chain_id: u64,
    pub adjudicator: Address,
    pub actor: mpsc::Sender<Command>,
    pub metrics: Arc<Metrics>,
    pub next_conn: Arc<AtomicU64>,
}

pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/ws", get(ws_upgrade))
        .route("/health", get(health))
        .route("/metrics", get(metrics))
        .route("/api/info", get(info))
        .route("/api/invoices", post(create_invoice))
        .route("/api/payments", get(payments))
        .route("/api/channels", get(channels))
        .layer(tower_http::cors::CorsLayer::permissive())
        .with_state(state)
}

pub async fn serve(listener: tokio::net::TcpListener, state: AppState) -> std::io::Result<()> {
    use axum::serve::ListenerExt;
    // Small frames must not wait for the peer's delayed ACK.
    let listener = listener.tap_io(|tcp| {
        let _ = tcp.set_nodelay(true);
    });
    axum::serve(
        listener,
        router(state).into_make_service_with_connect_info::<SocketAddr>(),
    )
    .await
}

async fn health(State(s): State<AppState>) -> Json<serde_json::Value> {
    Json(json!({ "status": "ok", "hub": s.hub, "channels": s.metrics.channels.get() }))
}

async fn metrics(State(s): State<AppState>) -> String {
    s.metrics.render()
}

async fn info(State(s): State<AppState>) -> Json<serde_json::Value> {
    Json(json!({ "hub": s.hub, "chainId": s.chain_id, "adjudicator": s.adjudicator }))
}

/// Sends the actor a command built around a reply channel and waits for the answer; a stopped
/// actor becomes a 503.
async fn ask<T>(
    s: &AppState,
    command: impl FnOnce(oneshot::Sender<T>) -> Command,
) -> Result<T, Response> {
    let (reply, rx) = oneshot::channel();
    let stopping = || {
        api_error(
            StatusCode::SERVICE_UNAVAILABLE,
            "SHUTTING_DOWN",
            "hub is stopping",
        )
    };
    s.actor.send(command(reply)).await.map_err(|_| stopping())?;
    rx.await.map_err(|_| stopping())
}

fn api_error(status: StatusCode, code: &str, message: impl Into<String>) -> Response {
    (
        status,
        Json(json!({ "code": code, "message": message.into() })),
    )
        .into_response()
}

#[derive(Deserialize)]
struct InvoiceBody {
    invoice: String,
}

/// Registers a merchant's invoice: the merchant's signature on it authenticates the request.
async fn create_invoice(State(s): State<AppState>, Json(body): Json<InvoiceBody>) -> Response {
    let inv = match Invoice::decode(&body.invoice) {
        Ok(inv) => inv,
        Err(e) => return api_error(StatusCode::BAD_REQUEST, "BAD_INVOICE", e.to_string()),
    };
    if let Err(e) = inv.check_expiry(now_ms()) {
        return api_error(StatusCode::BAD_REQUEST, "INVOICE_EXPIRED", e.to_string());
    }
    if inv.request.chain_id != s.chain_id {
        return api_error(
            StatusCode::BAD_REQUEST,
            "WRONG_CHAIN",
            "invoice is for another chain",
        );
    }
    let Some(channel_id) = merchant_channel(&s, inv.request.merchant).await else {
        return api_error(
            StatusCode::NOT_FOUND,
            "NO_CHANNEL",
            "the merchant has no channel with this hub",
        );
    };
    let record = InvoiceRecord {
        payment_hash: inv.request.payment_hash,
        merchant: inv.request.merchant,
        channel_id,
        amount: inv.request.amount,
        invoice: body.invoice,
        expiry: inv.request.expiry,
        created_at: now_ms() / 1_000,
    };
    match ask(&s, |reply| Command::Invoice { record, reply }).await {
        Ok(Ok(())) => (
            StatusCode::CREATED,
            Json(json!({ "channelId": channel_id })),
        )
            .into_response(),
        Ok(Err(m)) => api_error(StatusCode::BAD_REQUEST, "NO_CHANNEL", m),
        Err(r) => r,
    }
}

async fn merchant_channel(s: &AppState, merchant: Address) -> Option<B256> {
    ask(s, |reply| Command::Channels { reply })
        .await
        .ok()?
        .into_iter()
        .find(|c| c.client == merchant)
        .map(|c| c.channel_id)
}

#[derive(Deserialize)]
struct PaymentsQuery {
    client: Address,
}

/// The payments on a client's channels. Authenticated: header
/// `x-l2pay-auth: <unix seconds>:<0x signature>` over the session auth digest with the
/// challenge `keccak256("l2pay-api:" ‖ seconds)`, at most 5 minutes old.
async fn payments(
    State(s): State<AppState>,
    Query(q): Query<PaymentsQuery>,
    headers: HeaderMap,
) -> Response {
    if let Err(m) = check_api_auth(&s, q.client, &headers) {
        return api_error(StatusCode::UNAUTHORIZED, "UNAUTHORIZED", m);
    }
    let client = q.client;
    match ask(&s, |reply| Command::Payments { client, reply }).await {
        Ok(v) => Json(v).into_response(),
        Err(r) => r,
    }
}

/// The challenge an API request signs for time `secs`.
pub fn api_challenge(secs: u64) -> B256 {
    keccak256(format!("l2pay-api:{secs}"))
}

fn check_api_auth(s: &AppState, client: Address, headers: &HeaderMap) -> Result<(), String> {
    let h = headers
        .get("x-l2pay-auth")
        .and_then(|v| v.to_str().ok())
        .ok_or("missing x-l2pay-auth header")?;
    let (secs, sig) = h.split_once(':').ok_or("malformed x-l2pay-auth header")?;
    let secs: u64 = secs.parse().map_err(|_| "malformed timestamp")?;
    if now_ms() / 1_000 > secs + 300 || secs > now_ms() / 1_000 + 60 {
        return Err("stale or future timestamp".into());
    }
    let bytes = alloy::hex::decode(sig).map_err(|_| "malformed signature")?;
    let sig = Signature::from_slice(&bytes).map_err(|e| e.to_string())?;
    verify_auth(s.chain_id, s.hub, api_challenge(secs), client, &sig).map_err(|e| e.to_string())
}

async fn channels(State(s): State<AppState>) -> Response {
    match ask(&s, |reply| Command::Channels { reply }).await {
        Ok(v) => Json(v).into_response(),
        Err(r) => r,
    }
}

async fn ws_upgrade(ws: WebSocketUpgrade, State(s): State<AppState>) -> Response {
    // Frames are small: a 4 KiB read buffer instead of the 128 KiB default keeps an idle
    // connection's memory low (see BENCHMARKS.md, Hub).
    ws.max_message_size(MAX_FRAME)
        .max_frame_size(MAX_FRAME)
        .read_buffer_size(4 * 1024)
        .write_buffer_size(0)
        .on_upgrade(move |socket| session(socket, s))
}

fn binary(frame: &Frame) -> WsMessage {
    WsMessage::Binary(encode_frame(frame).expect("hub frames fit a frame").into())
}

fn decode(msg: WsMessage) -> Option<Result<Frame, l2pay::Error>> {
    match msg {
        WsMessage::Binary(b) => Some(decode_frame(&b)),
        WsMessage::Text(t) => Some(from_json(t.as_str())),
        _ => None,
    }
}

/// A token bucket: `RATE_PER_SEC` frames per second, bursts of `RATE_BURST`.
struct RateLimit {
    tokens: f64,
    at: Instant,
}

impl RateLimit {
    fn allow(&mut self) -> bool {
        let now = Instant::now();
        let refill = now.duration_since(self.at).as_secs_f64() * RATE_PER_SEC;
        self.tokens = (self.tokens + refill).min(RATE_BURST);
        self.at = now;
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

async fn session(socket: WebSocket, s: AppState) {
    let (mut sink, mut stream) = socket.split();
    let mut challenge = [0u8; 32];
    if getrandom::fill(&mut challenge).is_err() {
        return;
    }
    let challenge = B256::from(challenge);
    let hello = Frame::Challenge {
        hub: s.hub,
        chain_id: s.chain_id,
        adjudicator: s.adjudicator,
        challenge,
    };
    if sink.send(binary(&hello)).await.is_err() {
        return;
    }
    let client = match tokio::time::timeout(AUTH_TIMEOUT, stream.next()).await {
        Ok(Some(Ok(msg))) => match decode(msg) {
            Some(Ok(Frame::Auth { client, sig })) => {
                match verify_auth(s.chain_id, s.hub, challenge, client, &sig) {
                    Ok(()) => client,
                    Err(e) => {
                        let _ = sink.send(binary(&error("BAD_AUTH", e.to_string()))).await;
                        return;
                    }
                }
            }
            Some(Err(e)) => {
                let _ = sink.send(binary(&error(e.code(), e.to_string()))).await;
                return;
            }
            _ => {
                let _ = sink
                    .send(binary(&error("AUTH_REQUIRED", "authenticate first".into())))
                    .await;
                return;
            }
        },
        _ => return,
    };
    let conn = s.next_conn.fetch_add(1, Ordering::Relaxed);
    let (tx, mut rx) = mpsc::channel::<Frame>(4_096);
    if s.actor
        .send(Command::Connected {
            client,
            conn,
            tx: tx.clone(),
        })
        .await
        .is_err()
    {
        return;
    }
    let writer = tokio::spawn(async move {
        while let Some(frame) = rx.recv().await {
            let replaced = matches!(&frame, Frame::Error { code, .. } if code == REPLACED);
            if sink.send(binary(&frame)).await.is_err() || replaced {
                break;
            }
        }
        let _ = sink.close().await;
    });
    let mut limit = RateLimit {
        tokens: RATE_BURST,
        at: Instant::now(),
    };
    let mut bad = 0u32;
    while let Some(Ok(msg)) = stream.next().await {
        if matches!(msg, WsMessage::Close(_)) {
            break;
        }
        let Some(decoded) = decode(msg) else { continue };
        if !limit.allow() {
            s.metrics.rate_limited.inc();
            let _ = tx
                .send(error("RATE_LIMITED", "too many frames; slow down".into()))
                .await;
            break;
        }
        match decoded {
            Ok(frame) => {
                if s.actor
                    .send(Command::Frame { client, frame })
                    .await
                    .is_err()
                {
                    break;
                }
            }
            Err(e) => {
                s.metrics.frames_rejected.inc();
                bad += 1;
                let _ = tx.try_send(error(e.code(), e.to_string()));
                if bad > MAX_BAD_FRAMES {
                    break;
                }
            }
        }
    }
    drop(tx);
    let _ = s.actor.send(Command::Disconnected { client, conn }).await;
    let _ = tokio::time::timeout(Duration::from_secs(1), writer).await;
}

fn error(code: &str, message: String) -> Frame {
    Frame::Error {
        code: code.into(),
        message,
    }
}
