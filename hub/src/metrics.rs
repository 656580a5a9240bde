//! Prometheus metrics, rendered in the text exposition format at `/metrics`.

use std::fmt::Write;
use std::sync::atomic::{AtomicI64, Ordering};

#[derive(Debug, Default)]
pub struct Counter(AtomicI64);

impl Counter {
    pub fn inc(&self) {
        self.0.fetch_add(1, Ordering::Relaxed);
    }
    pub fn dec(&self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
    pub fn set(&self, v: i64) {
        self.0.store(v, Ordering::Relaxed);
    }
    pub fn get(&self) -> i64 {
        self.0.load(Ordering::Relaxed)
    }
}

#[derive(Debug, Default)]
pub struct Metrics {
    pub connections: Counter,
    pub channels: Counter,
    pub frames_in: Counter,
    pub frames_rejected: Counter,
    pub frames_dropped: Counter,
    pub updates: Counter,
    pub htlcs_settled: Counter,
    pub rate_limited: Counter,
    pub banned: Counter,
    pub unfunded_channels: Counter,
    /// Panics the actor caught (each failed one channel, not the hub).
    pub panics: Counter,
    /// Wall-clock milliseconds of the actor's and the watcher's last turn (`/health`).
    pub actor_heartbeat: Counter,
    pub watcher_heartbeat: Counter,
}

impl Metrics {
    pub fn render(&self) -> String {
        let rows: [(&str, &str, &str, &Counter); 11] = [
            (
                "l2pay_hub_connections",
                "gauge",
                "Authenticated WebSocket connections",
                &self.connections,
            ),
            (
                "l2pay_hub_channels",
                "gauge",
                "Channels the hub holds",
                &self.channels,
            ),
            (
                "l2pay_hub_frames_total",
                "counter",
                "Frames received from clients",
                &self.frames_in,
            ),
            (
                "l2pay_hub_frames_rejected_total",
                "counter",
                "Frames refused with an error",
                &self.frames_rejected,
            ),
            (
                "l2pay_hub_frames_dropped_total",
                "counter",
                "Frames not delivered to a slow client",
                &self.frames_dropped,
            ),
            (
                "l2pay_hub_updates_total",
                "counter",
                "Agreed channel updates",
                &self.updates,
            ),
            (
                "l2pay_hub_htlcs_settled_total",
                "counter",
                "HTLCs the hub settled with a preimage",
                &self.htlcs_settled,
            ),
            (
                "l2pay_hub_rate_limited_total",
                "counter",
                "Connections closed for flooding",
                &self.rate_limited,
            ),
            (
                "l2pay_hub_banned_keys",
                "gauge",
                "Keys barred for misbehaviour",
                &self.banned,
            ),
            (
                "l2pay_hub_unfunded_channels",
                "gauge",
                "Registered channels the chain does not show funded (memory only)",
                &self.unfunded_channels,
            ),
            (
                "l2pay_hub_panics_total",
                "counter",
                "Panics caught in the actor (the channel concerned was failed)",
                &self.panics,
            ),
        ];
        let mut out = String::new();
        for (name, kind, help, c) in rows {
            let _ = writeln!(
                out,
                "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {}",
                c.get()
            );
        }
        out
    }
}
