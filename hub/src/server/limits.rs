//! The front's limits: timeouts, the connection cap, body sizes, the per-connection message
//! rate, and the admission of unauthenticated WebSocket handshakes per IP.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

/// Default values of [`FrontLimits`] (and of the matching `l2pay-hub` flags).
pub mod defaults {
    /// Below the usual `ulimit -n` of 1,024, leaving room for the database, the chain RPC and
    /// the listener.
    pub const MAX_CONNECTIONS: usize = 900;
    pub const HEADER_TIMEOUT_MS: u64 = 10_000;
    pub const IDLE_TIMEOUT_MS: u64 = 60_000;
    pub const REQUEST_TIMEOUT_MS: u64 = 10_000;
    pub const HANDSHAKE_TIMEOUT_MS: u64 = 10_000;
    pub const MAX_BODY_BYTES: usize = 16 * 1024;
    pub const MAX_HEADER_BYTES: usize = 16 * 1024;
    pub const MAX_HANDSHAKES: usize = 256;
    pub const MAX_HANDSHAKES_PER_IP: usize = 16;
    pub const WS_MESSAGES_PER_SEC: u32 = 2_000;
    pub const WS_BURST: u32 = 4_000;
    pub const MAX_BAD_FRAMES: u32 = 32;
}

/// Smallest header buffer hyper accepts.
const MIN_HEADER_BYTES: usize = 8 * 1024;

/// What the HTTP/WebSocket front tolerates from a peer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FrontLimits {
    /// Open connections (HTTP and WebSocket); beyond it a new one gets `503 OVERLOADED`.
    pub max_connections: usize,
    /// A request's head must have arrived this long after the hub started waiting for it
    /// (on a new connection, and between requests of a keep-alive connection).
    pub header_timeout: Duration,
    /// An HTTP connection with no byte read or written for this long is closed (idle
    /// keep-alive, a stalled body, a peer that does not read); also the longest a WebSocket
    /// write may wait for the peer.
    pub idle_timeout: Duration,
    /// The longest an HTTP request may take, reading its body included (`408 TIMEOUT`).
    pub request_timeout: Duration,
    /// From the WebSocket upgrade to a verified `Auth` frame.
    pub handshake_timeout: Duration,
    /// Largest HTTP request body (`413 BODY_TOO_LARGE`).
    pub max_body_bytes: usize,
    /// Largest HTTP request head (at least 8 KiB).
    pub max_header_bytes: usize,
    /// WebSocket handshakes not yet authenticated, over all peers and per IP address.
    pub max_handshakes: usize,
    pub max_handshakes_per_ip: usize,
    /// Inbound WebSocket messages (any kind: binary, text, ping, pong) per second on average
    /// and in a burst, per connection.
    pub ws_messages_per_sec: u32,
    pub ws_burst: u32,
    /// Malformed frames tolerated on one connection before it is closed.
    pub max_bad_frames: u32,
}

impl Default for FrontLimits {
    fn default() -> Self {
        use defaults::*;
        FrontLimits {
            max_connections: MAX_CONNECTIONS,
            header_timeout: Duration::from_millis(HEADER_TIMEOUT_MS),
            idle_timeout: Duration::from_millis(IDLE_TIMEOUT_MS),
            request_timeout: Duration::from_millis(REQUEST_TIMEOUT_MS),
            handshake_timeout: Duration::from_millis(HANDSHAKE_TIMEOUT_MS),
            max_body_bytes: MAX_BODY_BYTES,
            max_header_bytes: MAX_HEADER_BYTES,
            max_handshakes: MAX_HANDSHAKES,
            max_handshakes_per_ip: MAX_HANDSHAKES_PER_IP,
            ws_messages_per_sec: WS_MESSAGES_PER_SEC,
            ws_burst: WS_BURST,
            max_bad_frames: MAX_BAD_FRAMES,
        }
    }
}

impl FrontLimits {
    /// Why these limits cannot work, if they cannot.
    pub fn check(&self) -> Result<(), String> {
        let zero = [
            ("max-connections", self.max_connections == 0),
            ("header-timeout-ms", self.header_timeout.is_zero()),
            ("idle-timeout-ms", self.idle_timeout.is_zero()),
            ("request-timeout-ms", self.request_timeout.is_zero()),
            ("handshake-timeout-ms", self.handshake_timeout.is_zero()),
            ("max-handshakes", self.max_handshakes == 0),
            ("max-handshakes-per-ip", self.max_handshakes_per_ip == 0),
            ("ws-messages-per-sec", self.ws_messages_per_sec == 0),
            ("ws-burst", self.ws_burst == 0),
        ];
        if let Some((name, _)) = zero.iter().find(|(_, z)| *z) {
            return Err(format!("--{name} must be positive"));
        }
        if u32::try_from(self.max_connections).is_err() {
            return Err("--max-connections is too large".into());
        }
        if self.max_header_bytes < MIN_HEADER_BYTES {
            return Err(format!(
                "--max-header-bytes must be at least {MIN_HEADER_BYTES}"
            ));
        }
        Ok(())
    }
}

/// A token bucket over one connection's inbound messages.
pub struct RateLimit {
    per_sec: f64,
    burst: f64,
    tokens: f64,
    at: Instant,
}

impl RateLimit {
    pub fn new(per_sec: u32, burst: u32) -> Self {
        RateLimit {
            per_sec: f64::from(per_sec),
            burst: f64::from(burst),
            tokens: f64::from(burst),
            at: Instant::now(),
        }
    }

    /// Takes one token at `now`; false when the bucket is empty.
    pub fn allow(&mut self, now: Instant) -> bool {
        let refill = now.saturating_duration_since(self.at).as_secs_f64() * self.per_sec;
        self.tokens = (self.tokens + refill).min(self.burst);
        self.at = now;
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

/// Admission of unauthenticated WebSocket handshakes: at most `max` at once over all peers
/// and `per_ip` from one IP address. A [`Handshake`] holds a place until it is dropped
/// (authenticated, refused or timed out).
#[derive(Clone, Debug)]
pub struct HandshakeAdmission {
    inner: Arc<Mutex<Counts>>,
}

#[derive(Debug)]
struct Counts {
    max: usize,
    per_ip: usize,
    total: usize,
    by_ip: HashMap<IpAddr, usize>,
}

impl HandshakeAdmission {
    pub fn new(max: usize, per_ip: usize) -> Self {
        HandshakeAdmission {
            inner: Arc::new(Mutex::new(Counts {
                max,
                per_ip,
                total: 0,
                by_ip: HashMap::new(),
            })),
        }
    }

    /// A place for a handshake from `ip`, or `None` when either cap is reached.
    pub fn admit(&self, ip: IpAddr) -> Option<Handshake> {
        let mut c = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        let mine = c.by_ip.get(&ip).copied().unwrap_or(0);
        if c.total >= c.max || mine >= c.per_ip {
            return None;
        }
        c.total = c.total.saturating_add(1);
        c.by_ip.insert(ip, mine.saturating_add(1));
        Some(Handshake {
            admission: self.clone(),
            ip,
        })
    }

    /// Handshakes in progress (all peers).
    pub fn in_progress(&self) -> usize {
        self.inner
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .total
    }

    fn release(&self, ip: IpAddr) {
        let mut c = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        c.total = c.total.saturating_sub(1);
        if let Some(n) = c.by_ip.get_mut(&ip) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                c.by_ip.remove(&ip);
            }
        }
    }
}

/// One admitted handshake; its place is given back on drop.
#[derive(Debug)]
pub struct Handshake {
    admission: HandshakeAdmission,
    ip: IpAddr,
}

impl Drop for Handshake {
    fn drop(&mut self) {
        self.admission.release(self.ip);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn handshakes_are_capped_per_ip_and_overall() {
        let a = HandshakeAdmission::new(3, 2);
        let (x, y) = (IpAddr::from([10, 0, 0, 1]), IpAddr::from([10, 0, 0, 2]));
        let x1 = a.admit(x).unwrap();
        let _x2 = a.admit(x).unwrap();
        assert!(a.admit(x).is_none(), "per-IP cap");
        let _y1 = a.admit(y).unwrap();
        assert!(a.admit(y).is_none(), "global cap");
        drop(x1);
        let y2 = a.admit(y);
        assert!(y2.is_some(), "a place given back");
        assert_eq!(a.in_progress(), 3);
    }

    #[test]
    fn the_bucket_refills_up_to_its_burst() {
        let t0 = Instant::now();
        let mut r = RateLimit::new(10, 3);
        assert!((0..3).all(|_| r.allow(t0)));
        assert!(!r.allow(t0));
        assert!(r.allow(t0 + Duration::from_millis(100)));
        let later = t0 + Duration::from_secs(60);
        assert_eq!((0..10).filter(|_| r.allow(later)).count(), 3);
    }

    #[test]
    fn zero_limits_are_refused() {
        assert!(FrontLimits::default().check().is_ok());
        let zero = FrontLimits {
            ws_messages_per_sec: 0,
            ..FrontLimits::default()
        };
        assert!(zero.check().unwrap_err().contains("ws-messages-per-sec"));
    }
}
