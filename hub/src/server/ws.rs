//! One WebSocket session: handshake admission, the challenge and `Auth`, then binary frames
//! to and from the actor until one side ends it with a documented close code (see the
//! module documentation of [`crate::server`]).

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use alloy::primitives::{Address, B256};
use axum::extract::rejection::ExtensionRejection;
use axum::extract::ws::rejection::WebSocketUpgradeRejection;
use axum::extract::ws::{close_code, CloseFrame, Message, Utf8Bytes, WebSocket, WebSocketUpgrade};
use axum::extract::{ConnectInfo, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Extension;
use l2pay::session::{verify_auth, Frame};
use l2pay::wire::{decode_frame, encode_frame, MAX_FRAME};
use tokio::sync::{mpsc, watch};

use super::accept::ConnSlot;
use super::http::{api_error, bounded};
use super::limits::{Handshake, RateLimit};
use super::AppState;
use crate::actor::{closes_connection, Command, BANNED, REPLACED};

/// How long the hub waits for the peer's answer to its close frame.
const CLOSE_LINGER: Duration = Duration::from_secs(1);
/// Frames the actor may queue for one connection.
const OUTBOX: usize = 4_096;

/// How a session ends: with a close frame (code, reason), or without one when the
/// connection is already gone.
enum End {
    Close(u16, &'static str),
    Gone,
}

const SHUTTING_DOWN: End = End::Close(close_code::AWAY, "SHUTTING_DOWN");

/// `GET /ws`: admits the handshake (per-IP and global caps) and upgrades.
pub async fn upgrade(
    State(s): State<AppState>,
    peer: Result<Extension<ConnectInfo<SocketAddr>>, ExtensionRejection>,
    slot: Result<Extension<ConnSlot>, ExtensionRejection>,
    ws: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> Response {
    let ws = match ws {
        Ok(ws) => ws,
        Err(r) => return api_error(r.status(), "NOT_A_WEBSOCKET", &r.body_text()),
    };
    let ip = peer.map_or(
        IpAddr::V4(Ipv4Addr::UNSPECIFIED),
        |Extension(ConnectInfo(a))| a.ip(),
    );
    let Some(handshake) = s.front.handshakes.admit(ip) else {
        return api_error(
            StatusCode::TOO_MANY_REQUESTS,
            "TOO_MANY_HANDSHAKES",
            "too many WebSocket handshakes in progress; retry later",
        );
    };
    let slot = slot.ok().map(|Extension(slot)| slot);
    // Frames are small: a 4 KiB read buffer instead of the 128 KiB default keeps an idle
    // connection's memory low (see BENCHMARKS.md, Hub).
    ws.max_message_size(MAX_FRAME)
        .max_frame_size(MAX_FRAME)
        .read_buffer_size(4 * 1024)
        .write_buffer_size(0)
        .on_upgrade(move |socket| async move {
            let _slot = slot;
            Session::new(socket, s).run(handshake).await;
        })
        .into_response()
}

struct Session {
    ws: WebSocket,
    s: AppState,
    limit: RateLimit,
    stop: watch::Receiver<bool>,
}

impl Session {
    fn new(ws: WebSocket, s: AppState) -> Self {
        let limits = &s.front.limits;
        let limit = RateLimit::new(limits.ws_messages_per_sec, limits.ws_burst);
        let stop = s.front.stopping();
        Session { ws, s, limit, stop }
    }

    async fn run(mut self, handshake: Handshake) {
        let authenticated = self.authenticate().await;
        drop(handshake);
        let end = match authenticated {
            Ok(client) => self.serve(client).await,
            Err(end) => end,
        };
        if let End::Close(code, reason) = end {
            self.close(code, reason).await;
        }
    }

    /// Sends the challenge and waits (up to `handshake_timeout`) for a valid `Auth`.
    async fn authenticate(&mut self) -> Result<Address, End> {
        let mut challenge = [0u8; 32];
        if getrandom::fill(&mut challenge).is_err() {
            tracing::error!("no randomness for a session challenge");
            return Err(End::Close(close_code::ERROR, "INTERNAL"));
        }
        let challenge = B256::from(challenge);
        let hello = Frame::Challenge {
            hub: self.s.hub,
            chain_id: self.s.chain_id,
            adjudicator: self.s.adjudicator,
            challenge,
        };
        if !self.send(&hello).await {
            return Err(End::Gone);
        }
        let deadline = tokio::time::Instant::now()
            .checked_add(self.s.front.limits.handshake_timeout)
            .ok_or(End::Close(close_code::ERROR, "INTERNAL"))?;
        loop {
            let msg = tokio::select! {
                msg = tokio::time::timeout_at(deadline, self.ws.recv()) => match msg {
                    Ok(msg) => msg,
                    Err(_) => return Err(End::Close(close_code::POLICY, "AUTH_TIMEOUT")),
                },
                _ = stopped(&mut self.stop) => return Err(SHUTTING_DOWN),
            };
            let Some(bytes) = self.inbound(msg)? else {
                continue;
            };
            let (code, message) = match decode_frame::<Frame>(&bytes) {
                Ok(Frame::Auth { client, sig }) => {
                    match verify_auth(self.s.chain_id, self.s.hub, challenge, client, &sig) {
                        Ok(()) => return Ok(client),
                        Err(e) => ("BAD_AUTH", e.to_string()),
                    }
                }
                Ok(_) => ("AUTH_REQUIRED", "authenticate first".to_string()),
                Err(e) => (e.code(), e.to_string()),
            };
            if !self.send(&error(code, &message)).await {
                return Err(End::Gone);
            }
            return Err(End::Close(close_code::POLICY, code));
        }
    }

    /// The authenticated session: the peer's frames to the actor, the actor's to the peer.
    async fn serve(&mut self, client: Address) -> End {
        let conn = self.s.next_conn.fetch_add(1, Ordering::Relaxed);
        let (tx, mut rx) = mpsc::channel::<Frame>(OUTBOX);
        let connected = Command::Connected { client, conn, tx };
        if self.s.actor.send(connected).await.is_err() {
            return SHUTTING_DOWN;
        }
        let end = self.relay(client, &mut rx).await;
        let _ = self
            .s
            .actor
            .send(Command::Disconnected { client, conn })
            .await;
        end
    }

    async fn relay(&mut self, client: Address, rx: &mut mpsc::Receiver<Frame>) -> End {
        let max_bad = self.s.front.limits.max_bad_frames;
        let mut bad = 0u32;
        loop {
            tokio::select! {
                msg = self.ws.recv() => {
                    let bytes = match self.inbound(msg) {
                        Ok(Some(bytes)) => bytes,
                        Ok(None) => continue,
                        Err(end) => return end,
                    };
                    match decode_frame::<Frame>(&bytes) {
                        Ok(frame) => {
                            if self.s.actor.send(Command::Frame { client, frame }).await.is_err() {
                                return SHUTTING_DOWN;
                            }
                        }
                        Err(e) => {
                            self.s.metrics.frames_rejected.inc();
                            bad = bad.saturating_add(1);
                            if bad > max_bad {
                                return End::Close(close_code::POLICY, "TOO_MANY_BAD_FRAMES");
                            }
                            if !self.send(&error(e.code(), &e.to_string())).await {
                                return End::Gone;
                            }
                        }
                    }
                }
                out = rx.recv() => {
                    // The actor dropped this connection's queue: it is stopping.
                    let Some(frame) = out else { return SHUTTING_DOWN };
                    let closing = match &frame {
                        Frame::Error { code, .. } if closes_connection(code) => Some(close_for(code)),
                        _ => None,
                    };
                    if !self.send(&frame).await {
                        return End::Gone;
                    }
                    if let Some(end) = closing {
                        return end;
                    }
                }
                _ = stopped(&mut self.stop) => return SHUTTING_DOWN,
            }
        }
    }

    /// One inbound message, counted against the rate limit: the bytes of a binary message,
    /// `None` for a ping or pong, or how the session ends.
    fn inbound(
        &mut self,
        msg: Option<Result<Message, axum::Error>>,
    ) -> Result<Option<axum::body::Bytes>, End> {
        let msg = match msg {
            None => return Err(End::Gone),
            Some(Err(e)) => return Err(read_error(e)),
            Some(Ok(msg)) => msg,
        };
        if !self.limit.allow(Instant::now()) {
            self.s.metrics.rate_limited.inc();
            return Err(End::Close(close_code::POLICY, "RATE_LIMITED"));
        }
        match msg {
            Message::Binary(b) => Ok(Some(b)),
            Message::Text(_) => Err(End::Close(close_code::UNSUPPORTED, "TEXT_NOT_SUPPORTED")),
            Message::Ping(_) | Message::Pong(_) => Ok(None),
            Message::Close(_) => Err(End::Gone),
        }
    }

    /// Sends `frame` (an error's text bounded); false when the peer is gone or does not read
    /// within `idle_timeout`. A frame that cannot be encoded is replaced by an error frame
    /// saying so: the session goes on.
    async fn send(&mut self, frame: &Frame) -> bool {
        let bytes = match frame {
            Frame::Error { code, message } => encode_frame(&error(code, message)),
            other => encode_frame(other),
        };
        let bytes = match bytes {
            Ok(b) => b,
            Err(e) => {
                tracing::warn!(error = %e, "a frame to a peer did not encode");
                match encode_frame(&error(
                    "FRAME_TOO_LARGE",
                    "the hub's reply did not fit a frame",
                )) {
                    Ok(b) => b,
                    Err(_) => return true,
                }
            }
        };
        let write = self.ws.send(Message::Binary(bytes.into()));
        matches!(
            tokio::time::timeout(self.s.front.limits.idle_timeout, write).await,
            Ok(Ok(()))
        )
    }

    /// Sends a close frame and waits briefly for the peer's (reading and dropping whatever
    /// comes first, so that closing does not reset the frame away).
    async fn close(&mut self, code: u16, reason: &'static str) {
        let frame = Message::Close(Some(CloseFrame {
            code,
            reason: Utf8Bytes::from_static(reason),
        }));
        let _ = tokio::time::timeout(CLOSE_LINGER, async {
            if self.ws.send(frame).await.is_err() {
                return;
            }
            while let Some(Ok(msg)) = self.ws.recv().await {
                if matches!(msg, Message::Close(_)) {
                    break;
                }
            }
        })
        .await;
    }
}

/// Completes once the hub is stopping (or gone).
async fn stopped(stop: &mut watch::Receiver<bool>) {
    let _ = stop.wait_for(|s| *s).await;
}

/// How a read error ends the session.
fn read_error(e: axum::Error) -> End {
    let e = e.into_inner();
    match e.downcast_ref::<tungstenite::Error>() {
        Some(tungstenite::Error::Capacity(_)) => End::Close(close_code::SIZE, "MESSAGE_TOO_BIG"),
        Some(tungstenite::Error::Protocol(_)) => End::Close(close_code::PROTOCOL, "PROTOCOL_ERROR"),
        Some(tungstenite::Error::Utf8(_)) => End::Close(close_code::INVALID, "INVALID_UTF8"),
        _ => End::Gone,
    }
}

/// The close after an actor error that ends the connection.
fn close_for(code: &str) -> End {
    if code == REPLACED {
        End::Close(close_code::NORMAL, REPLACED)
    } else if code == BANNED {
        End::Close(close_code::POLICY, BANNED)
    } else {
        End::Close(close_code::POLICY, "CLOSED")
    }
}

/// An error frame with a bounded code and message.
fn error(code: &str, message: &str) -> Frame {
    Frame::Error {
        code: bounded(code),
        message: bounded(message),
    }
}
