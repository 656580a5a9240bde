//! What the actor holds against misbehaving keys: strike points that add up to a ban, and a
//! limiter for log lines a peer can provoke. Both are bounded maps, so an adversary with many
//! keys cannot grow them without end.

use std::collections::HashMap;

use alloy::primitives::Address;

/// Strikes and bans, with their limits.
#[derive(Clone, Debug)]
pub struct AdmissionLimits {
    /// Strike points a key may collect within `strike_window_ms` before it is banned.
    pub max_strikes: u32,
    pub strike_window_ms: u64,
    /// How long a ban lasts.
    pub ban_ms: u64,
    /// Most keys tracked (strikes or bans); the oldest entries make room.
    pub max_tracked: usize,
}

impl Default for AdmissionLimits {
    fn default() -> Self {
        AdmissionLimits {
            max_strikes: 64,
            strike_window_ms: 60_000,
            ban_ms: 600_000,
            max_tracked: 100_000,
        }
    }
}

/// Strike points per kind of misbehaviour.
pub mod points {
    /// A signature that does not verify (the expensive check an adversary wants us to repeat).
    pub const BAD_SIGNATURE: u32 = 16;
    /// An update or frame refused for any other reason (stale, invalid, unknown channel).
    pub const REFUSED: u32 = 1;
    /// Anything on a channel the chain does not show funded.
    pub const UNFUNDED: u32 = 4;
}

#[derive(Debug, Default)]
pub struct Admission {
    limits: AdmissionLimits,
    /// Key → (points, start of the window).
    strikes: HashMap<Address, (u32, u64)>,
    /// Key → banned until.
    banned: HashMap<Address, u64>,
}

impl Admission {
    pub fn new(limits: AdmissionLimits) -> Self {
        Admission {
            limits,
            ..Admission::default()
        }
    }

    /// Whether `key` is banned at `now`.
    pub fn is_banned(&self, key: &Address, now: u64) -> bool {
        self.banned.get(key).is_some_and(|until| *until > now)
    }

    /// Adds `points` against `key`; true when that got it banned (now, not before).
    pub fn strike(&mut self, key: Address, points: u32, now: u64) -> bool {
        if self.is_banned(&key, now) {
            return false;
        }
        if self.strikes.len() >= self.limits.max_tracked && !self.strikes.contains_key(&key) {
            self.prune(now);
            if self.strikes.len() >= self.limits.max_tracked {
                // Full of keys striking within their window: forget the oldest window.
                if let Some(oldest) = self
                    .strikes
                    .iter()
                    .min_by_key(|(_, v)| v.1)
                    .map(|(k, _)| *k)
                {
                    self.strikes.remove(&oldest);
                }
            }
        }
        let window = self.limits.strike_window_ms;
        let e = self.strikes.entry(key).or_insert((0, now));
        if now.saturating_sub(e.1) > window {
            *e = (0, now);
        }
        e.0 = e.0.saturating_add(points);
        if e.0 <= self.limits.max_strikes {
            return false;
        }
        self.strikes.remove(&key);
        if self.banned.len() >= self.limits.max_tracked {
            self.banned.retain(|_, until| *until > now);
            if self.banned.len() >= self.limits.max_tracked {
                if let Some(first) = self.banned.iter().min_by_key(|(_, u)| **u).map(|(k, _)| *k) {
                    self.banned.remove(&first);
                }
            }
        }
        self.banned
            .insert(key, now.saturating_add(self.limits.ban_ms));
        true
    }

    /// Forgets windows and bans that are over.
    pub fn prune(&mut self, now: u64) {
        let window = self.limits.strike_window_ms;
        self.strikes
            .retain(|_, (_, start)| now.saturating_sub(*start) <= window);
        self.banned.retain(|_, until| *until > now);
    }

    pub fn banned(&self) -> usize {
        self.banned.len()
    }
}

/// Rate limit for log lines a peer can provoke: at most `per_minute` lines of one kind a
/// minute; the rest are counted and reported in the next line that gets through.
#[derive(Debug)]
pub struct LogLimiter {
    per_minute: u32,
    /// Kind → (window start, lines logged, lines suppressed).
    kinds: HashMap<&'static str, (u64, u32, u64)>,
}

impl LogLimiter {
    pub fn new(per_minute: u32) -> Self {
        LogLimiter {
            per_minute,
            kinds: HashMap::new(),
        }
    }

    /// `Some(suppressed since the last line)` if a line of `kind` may be logged at `now`.
    pub fn allow(&mut self, kind: &'static str, now: u64) -> Option<u64> {
        let e = self.kinds.entry(kind).or_insert((now, 0, 0));
        if now.saturating_sub(e.0) >= 60_000 {
            e.0 = now;
            e.1 = 0;
        }
        if e.1 < self.per_minute {
            e.1 += 1;
            let suppressed = e.2;
            e.2 = 0;
            Some(suppressed)
        } else {
            e.2 = e.2.saturating_add(1);
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strikes_add_up_to_a_ban_that_ends() {
        let mut a = Admission::new(AdmissionLimits {
            max_strikes: 10,
            strike_window_ms: 1_000,
            ban_ms: 5_000,
            max_tracked: 4,
        });
        let k = Address::repeat_byte(1);
        assert!(!a.strike(k, 10, 0));
        assert!(a.strike(k, 1, 10));
        assert!(a.is_banned(&k, 4_999));
        assert!(!a.is_banned(&k, 5_010));
        // Points outside the window are forgotten.
        assert!(!a.strike(k, 10, 6_000));
        assert!(!a.strike(k, 10, 7_500));
    }

    #[test]
    fn tracked_keys_are_bounded() {
        let mut a = Admission::new(AdmissionLimits {
            max_strikes: 1,
            strike_window_ms: 1_000_000,
            ban_ms: 1_000_000,
            max_tracked: 3,
        });
        for i in 0..100u8 {
            a.strike(Address::repeat_byte(i), 1, u64::from(i));
            a.strike(Address::repeat_byte(i.wrapping_add(128)), 5, u64::from(i));
        }
        assert!(a.strikes.len() <= 3);
        assert!(a.banned() <= 3);
    }

    #[test]
    fn log_lines_are_rate_limited_and_counted() {
        let mut l = LogLimiter::new(2);
        assert_eq!(l.allow("x", 0), Some(0));
        assert_eq!(l.allow("x", 1), Some(0));
        assert_eq!(l.allow("x", 2), None);
        assert_eq!(l.allow("x", 3), None);
        assert_eq!(l.allow("y", 3), Some(0));
        assert_eq!(l.allow("x", 60_000), Some(2));
    }
}
