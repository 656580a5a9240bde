//! Test fixtures shared by the channel tests and the simulator: keys, parameters and an
//! instant in-memory driver (every write durable at once, every message delivered in order).

#![allow(dead_code)]

use std::sync::Arc;

use alloy_primitives::{Address, B256};
use l2pay::channel::{Channel, Event, Output};
use l2pay::op::Policy;
use l2pay::signer::{LocalSigner, Signer};
use l2pay::state::{ChannelParams, Side};
use l2pay::wire::Message;

pub const T0: u64 = 1_700_000_000_000;

pub fn signer(seed: u8) -> Arc<LocalSigner> {
    Arc::new(LocalSigner::from_bytes(&[seed; 32]).unwrap())
}

pub fn params(a: &LocalSigner, b: &LocalSigner) -> ChannelParams {
    ChannelParams {
        chain_id: 31337,
        adjudicator: Address::repeat_byte(0xad),
        participants: [a.address(), b.address()],
        token: Address::ZERO,
        challenge_period: 3_600,
        salt: B256::repeat_byte(7),
    }
}

/// Two channel ends wired back to back.
pub struct Pair {
    pub a: Channel,
    pub b: Channel,
    pub events_a: Vec<Event>,
    pub events_b: Vec<Event>,
    pub now: u64,
}

impl Pair {
    /// A channel with `deposits` recognised for A and B.
    pub fn funded(deposits: [u128; 2]) -> Pair {
        let (ka, kb) = (signer(1), signer(2));
        let p = params(&ka, &kb);
        let a = Channel::new(p.clone(), Side::A, ka, Policy::default());
        let b = Channel::new(p, Side::B, kb, Policy::default());
        let mut pair = Pair {
            a,
            b,
            events_a: vec![],
            events_b: vec![],
            now: T0,
        };
        pair.a.handle_connected(pair.now);
        pair.b.handle_connected(pair.now);
        pair.run();
        for (side, amount) in [(Side::A, deposits[0]), (Side::B, deposits[1])] {
            if amount > 0 {
                pair.a.handle_chain_deposit(side, amount, pair.now);
                pair.b.handle_chain_deposit(side, amount, pair.now);
                pair.run();
            }
        }
        pair.events_a.clear();
        pair.events_b.clear();
        pair
    }

    /// Delivers until both ends are quiet. Returns the messages exchanged.
    pub fn run(&mut self) -> Vec<Message> {
        let mut log = vec![];
        loop {
            let to_b = drain(&mut self.a, &mut self.events_a);
            let to_a = drain(&mut self.b, &mut self.events_b);
            if to_a.is_empty() && to_b.is_empty() {
                return log;
            }
            for m in to_b {
                log.push(m.clone());
                let _ = self.b.handle_message(m, self.now);
            }
            for m in to_a {
                log.push(m.clone());
                let _ = self.a.handle_message(m, self.now);
            }
        }
    }

    pub fn side(&mut self, s: Side) -> &mut Channel {
        match s {
            Side::A => &mut self.a,
            Side::B => &mut self.b,
        }
    }
}

/// Makes every write durable at once and returns the messages the channel releases.
pub fn drain(ch: &mut Channel, events: &mut Vec<Event>) -> Vec<Message> {
    let mut msgs = vec![];
    while let Some(o) = ch.poll_output() {
        match o {
            Output::Persist(p) => ch.handle_persisted(p.seq),
            Output::Send(m) => msgs.push(m),
            Output::Event(e) => events.push(e),
        }
    }
    msgs
}
