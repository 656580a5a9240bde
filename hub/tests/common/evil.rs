//! An authenticated adversary on a raw WebSocket: it holds a valid key and a funded channel,
//! keeps its own copy of the agreed state (from the hub's `SyncState`), and signs what it
//! proposes exactly as the hub will recompute it, so every proposal passes the signature check
//! and reaches the hub's deepest rules.

use std::time::Duration;

use futures_util::StreamExt;
use l2pay::ledger::Ledger;
use l2pay::op::{apply, Context, Op, Policy};
use l2pay::session::Frame;
use l2pay::signer::{LocalSigner, Signer};
use l2pay::state::{ChannelParams, ChannelState, Side};
use l2pay::wire::{decode_frame, Message, Propose};
use l2pay::Amount;
use tokio_tungstenite::tungstenite::Message as Ws;

use super::raw::{authed_welcome, send, Conn};
use super::Net;

/// What the hub answered to one proposal.
#[derive(Debug)]
pub enum Answer {
    Accepted,
    Rejected(String),
    /// A `Frame::Error` with this code (the hub may also have sent a `Reject`).
    Error(String),
    /// The hub closed the connection.
    Closed,
    /// Nothing within the wait (the hub may have held the proposal).
    Silent,
}

pub struct Evil {
    pub conn: Conn,
    pub signer: LocalSigner,
    pub params: ChannelParams,
    pub latest: ChannelState,
    pub policy: Policy,
    pub chain_deposits: [Amount; 2],
    /// The hub's payment records and HTLC ids for the channel, as of the last sync.
    pub ledger: Ledger,
    /// Frames the hub sent that were not answers (its own proposals, for instance).
    pub other: Vec<Frame>,
}

impl Evil {
    /// Authenticates as anvil account `key` and syncs the agreed state of `params`.
    pub async fn connect(net: &Net, key: usize, params: ChannelParams) -> Evil {
        let signer = net.devnet.signer(key);
        let (conn, welcome) = authed_welcome(net, &signer).await;
        let Frame::Welcome { policy, .. } = welcome else {
            unreachable!("authed_welcome checks the frame")
        };
        let mut e = Evil {
            conn,
            signer,
            latest: ChannelState::initial(),
            params,
            policy,
            chain_deposits: [0, 0],
            ledger: Ledger::default(),
            other: vec![],
        };
        e.sync().await;
        e
    }

    /// Replaces the local copy with the hub's latest agreed state.
    pub async fn sync(&mut self) {
        let channel_id = self.params.channel_id();
        send(&mut self.conn, &Frame::Sync { channel_id }).await;
        loop {
            match self.next(Duration::from_secs(10)).await {
                Some(Frame::SyncState(s)) => {
                    self.latest = s.state;
                    self.chain_deposits = s.chain_deposits;
                    self.ledger = Ledger::new(s.last_htlc_id, s.payments);
                    return;
                }
                Some(_) => continue,
                None => panic!("no SyncState"),
            }
        }
    }

    /// A proposal of `op` at `nonce` on the agreed state, correctly signed when `apply` accepts
    /// the op (otherwise signed over a state the hub will not compute: a bad signature).
    pub fn propose(&self, op: Op, nonce: u64) -> Frame {
        let ctx = Context {
            now_ms: l2pay_hub::actor::now_ms(),
            chain_deposits: self.chain_deposits,
            ledger: &self.ledger,
            policy: &self.policy,
        };
        let digest = match apply(&op, Side::A, &self.latest, &ctx) {
            Ok((mut next, _)) => {
                next.nonce = nonce;
                next.digest(&self.params)
            }
            Err(_) => l2pay::B256::repeat_byte(0x77),
        };
        self.signed(op, nonce, self.signer.sign_digest(&digest))
    }

    /// A proposal carrying `sig` as is.
    pub fn signed(&self, op: Op, nonce: u64, sig: l2pay::signer::Signature) -> Frame {
        Frame::Channel(Message::Propose(Propose {
            channel_id: self.params.channel_id(),
            base_nonce: self.latest.nonce,
            nonce,
            op,
            sig,
            base_sig: None,
        }))
    }

    /// Sends `f` and waits (up to `wait`) for the hub's answer to it. For a proposal that is
    /// the `Accept` or `Reject` of its nonce (an error frame sent with it, before or after,
    /// gives the code); for any other frame, the first error frame.
    pub async fn ask(&mut self, f: &Frame, wait: Duration) -> Answer {
        let nonce = match f {
            Frame::Channel(Message::Propose(p)) => Some(p.nonce),
            _ => None,
        };
        send(&mut self.conn, f).await;
        let deadline = tokio::time::Instant::now() + wait;
        let mut code = None;
        loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            if left.is_zero() {
                return code.map_or(Answer::Silent, Answer::Error);
            }
            match self.next_raw(left).await {
                Ok(Frame::Channel(Message::Accept(a))) if Some(a.nonce) == nonce => {
                    return Answer::Accepted
                }
                Ok(Frame::Channel(Message::Reject(r))) if Some(r.nonce) == nonce => {
                    if code.is_none() {
                        // The error frame usually follows the reject; prefer its code.
                        if let Ok(Frame::Error { code, .. }) =
                            self.next_raw(Duration::from_millis(500)).await
                        {
                            return Answer::Error(code);
                        }
                    }
                    return code.map_or(Answer::Rejected(format!("{:?}", r.reason)), Answer::Error);
                }
                Ok(Frame::Error { code: c, .. }) if nonce.is_none() => return Answer::Error(c),
                Ok(Frame::Error { code: c, .. }) => code = Some(c),
                Ok(other) => self.other.push(other),
                Err(Gone::Closed) => return Answer::Closed,
                Err(Gone::Timeout) => return code.map_or(Answer::Silent, Answer::Error),
            }
        }
    }

    async fn next(&mut self, wait: Duration) -> Option<Frame> {
        self.next_raw(wait).await.ok()
    }

    async fn next_raw(&mut self, wait: Duration) -> Result<Frame, Gone> {
        loop {
            match tokio::time::timeout(wait, self.conn.next()).await {
                Err(_) => return Err(Gone::Timeout),
                Ok(Some(Ok(Ws::Binary(b)))) => match decode_frame(&b) {
                    Ok(f) => return Ok(f),
                    Err(e) => panic!("hub frames decode: {e}"),
                },
                Ok(Some(Ok(Ws::Close(_))) | None | Some(Err(_))) => return Err(Gone::Closed),
                Ok(Some(Ok(_))) => continue,
            }
        }
    }
}

/// Why no frame came.
enum Gone {
    Closed,
    Timeout,
}

/// The hub's `/metrics` value of `name` (0 when absent).
pub async fn metric(net: &Net, name: &str) -> f64 {
    let url = format!("{}/metrics", net.http_url());
    let body = http_get(&url).await;
    body.lines()
        .filter(|l| !l.starts_with('#'))
        .find_map(|l| {
            let (k, v) = l.split_once(' ')?;
            (k == name).then(|| v.trim().parse().ok()).flatten()
        })
        .unwrap_or(0.0)
}

/// `GET url` → (status, body), over a plain TCP stream.
pub async fn http_get_status(url: &str) -> (u16, String) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let rest = url.strip_prefix("http://").unwrap();
    let (host, path) = rest.split_once('/').unwrap();
    let mut s = tokio::net::TcpStream::connect(host).await.unwrap();
    let req = format!("GET /{path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n");
    s.write_all(req.as_bytes()).await.unwrap();
    let mut resp = String::new();
    s.read_to_string(&mut resp).await.unwrap();
    let status = resp
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let body = resp.split_once("\r\n\r\n").map_or("", |(_, b)| b);
    (status, body.to_string())
}

async fn http_get(url: &str) -> String {
    http_get_status(url).await.1
}

/// Open file descriptors and resident memory (KiB) of process `pid`.
pub fn fds_and_rss(pid: u32) -> (usize, u64) {
    let fds = std::fs::read_dir(format!("/proc/{pid}/fd")).map_or(0, |d| d.count());
    let rss = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse().ok())
        })
        .unwrap_or(0);
    (fds, rss)
}
