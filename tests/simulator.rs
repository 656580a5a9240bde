//! Deterministic simulator: customer, hub and merchant cores on in-memory links with virtual
//! time. Links delay, drop, duplicate and reorder; any party may crash (losing every write not
//! yet durable) and restart from what it persisted. Property tests over random schedules prove:
//! the balance invariant; no party ever signs two states with one nonce; after healing both
//! ends of every channel hold the same state; every routed HTLC is settled on both channels or
//! failed on both, and refunds travel back in full.

mod common;

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::Arc;

use alloy_primitives::{Address, B256};
use common::{params, signer, T0};
use l2pay::channel::{Channel, ChannelSnapshot, Event, Output};
use l2pay::ledger::Payment;
use l2pay::op::{payment_hash, Op, Policy};
use l2pay::router::{Route, Router, RoutingPolicy};
use l2pay::signer::{LocalSigner, Signer};
use l2pay::state::Side;
use l2pay::wire::Message;
use proptest::prelude::*;

const CUSTOMER: usize = 0;
const HUB: usize = 1;
const MERCHANT: usize = 2;

/// A small deterministic PRNG (xorshift64*), seeded by proptest.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
    fn pct(&mut self, p: u8) -> bool {
        self.below(100) < u64::from(p)
    }
}

#[derive(Clone, Debug)]
enum Action {
    /// The customer pays the hub directly.
    Pay(u128),
    /// The customer pays the merchant through the hub.
    Route(u128),
    /// The merchant refunds part of the n-th routed payment it received.
    Refund(usize, u128),
    /// The hub pays the merchant directly, concurrently with whatever is in flight.
    HubPays(u128),
    Crash {
        node: usize,
        downtime: u64,
    },
    Wait(u64),
}

#[derive(Default)]
struct Store {
    snap: Option<ChannelSnapshot>,
    payments: BTreeMap<B256, Payment>,
}

struct Node {
    key: Arc<LocalSigner>,
    up: bool,
    restart_at: u64,
    channels: HashMap<B256, Channel>,
    disk: HashMap<B256, Store>,
    writes: VecDeque<(u64, B256, l2pay::channel::Persist)>,
    router: Option<Router>,
    /// The merchant's invoices: payment hash → preimage.
    invoices: HashMap<B256, B256>,
}

struct InFlight {
    at: u64,
    seq: u64,
    to: usize,
    msg: Message,
}

struct Sim {
    now: u64,
    nodes: Vec<Node>,
    links: Vec<InFlight>,
    seq: u64,
    rng: Rng,
    drop_pct: u8,
    dup_pct: u8,
    /// (signer, channel, nonce) → the one digest it ever signed there.
    signed: HashMap<(Address, B256, u64), B256>,
    ch1: B256,
    ch2: B256,
    routed: Vec<B256>,
    next_id: u8,
}

impl Sim {
    fn new(seed: u64, drop_pct: u8, dup_pct: u8) -> Sim {
        let keys = [signer(11), signer(12), signer(13)];
        let p1 = params(&keys[CUSTOMER], &keys[HUB]);
        let p2 = params(&keys[HUB], &keys[MERCHANT]);
        let (ch1, ch2) = (p1.channel_id(), p2.channel_id());
        let mut nodes: Vec<Node> = keys
            .iter()
            .map(|k| Node {
                key: k.clone(),
                up: true,
                restart_at: 0,
                channels: HashMap::new(),
                disk: HashMap::new(),
                writes: VecDeque::new(),
                router: None,
                invoices: HashMap::new(),
            })
            .collect();
        let policy = Policy::default();
        let open = |p: &l2pay::ChannelParams, side: Side, k: &Arc<LocalSigner>| {
            Channel::new(p.clone(), side, k.clone(), policy.clone())
        };
        nodes[CUSTOMER]
            .channels
            .insert(ch1, open(&p1, Side::A, &keys[CUSTOMER]));
        nodes[HUB]
            .channels
            .insert(ch1, open(&p1, Side::B, &keys[HUB]));
        nodes[HUB]
            .channels
            .insert(ch2, open(&p2, Side::A, &keys[HUB]));
        nodes[MERCHANT]
            .channels
            .insert(ch2, open(&p2, Side::B, &keys[MERCHANT]));
        nodes[HUB].router = Some(Router::new(RoutingPolicy::default()));
        let mut sim = Sim {
            now: T0,
            nodes,
            links: vec![],
            seq: 0,
            rng: Rng(seed | 1),
            drop_pct: 0,
            dup_pct: 0,
            signed: HashMap::new(),
            ch1,
            ch2,
            routed: vec![],
            next_id: 0,
        };
        for n in [CUSTOMER, HUB, MERCHANT] {
            for ch in sim.nodes[n].channels.values_mut() {
                ch.handle_connected(T0);
            }
        }
        for (cid, side, nodes) in [
            (ch1, Side::A, [CUSTOMER, HUB]),
            (ch2, Side::A, [HUB, MERCHANT]),
        ] {
            for n in nodes {
                let ch = sim.nodes[n].channels.get_mut(&cid).unwrap();
                ch.handle_chain_deposit(side, 10_000, T0);
            }
        }
        sim.settle_down(60_000);
        sim.drop_pct = drop_pct;
        sim.dup_pct = dup_pct;
        sim
    }

    fn peer_of(&self, node: usize, cid: B256) -> usize {
        match (node, cid == self.ch1) {
            (CUSTOMER, _) => HUB,
            (MERCHANT, _) => HUB,
            (_, true) => CUSTOMER,
            (_, false) => MERCHANT,
        }
    }

    fn act(&mut self, action: &Action) {
        let now = self.now;
        match *action {
            Action::Pay(amount) => {
                let id = self.fresh_id();
                self.propose(
                    CUSTOMER,
                    self.ch1,
                    Op::Pay {
                        payment_id: id,
                        amount,
                    },
                );
            }
            Action::HubPays(amount) => {
                let id = self.fresh_id();
                self.propose(
                    HUB,
                    self.ch2,
                    Op::Pay {
                        payment_id: id,
                        amount,
                    },
                );
            }
            Action::Route(amount) => {
                let preimage = self.fresh_id();
                let hash = payment_hash(&preimage);
                self.nodes[MERCHANT].invoices.insert(hash, preimage);
                if let Some(r) = self.nodes[HUB].router.as_mut() {
                    let route = Route {
                        channel: self.ch2,
                        amount,
                        expiry: u64::MAX,
                    };
                    assert_eq!(r.register(hash, route, now / 1_000), Ok(true));
                }
                self.routed.push(hash);
                let id = self.nodes[CUSTOMER].channels.get(&self.ch1).map_or(0, |c| {
                    c.ledger().last_htlc_id(Side::A).max(c.queued_htlc_id())
                }) + 1;
                let expiry = now / 1_000 + 7_200;
                self.propose(
                    CUSTOMER,
                    self.ch1,
                    Op::AddHtlc {
                        id,
                        amount,
                        payment_hash: hash,
                        expiry,
                    },
                );
            }
            Action::Refund(n, amount) => {
                if let Some(&hash) = self.routed.get(n % self.routed.len().max(1)) {
                    self.propose(
                        MERCHANT,
                        self.ch2,
                        Op::Refund {
                            payment_id: hash,
                            amount,
                        },
                    );
                }
            }
            Action::Crash { node, downtime } => {
                if self.nodes[node].up {
                    self.crash(node, downtime);
                }
            }
            Action::Wait(ms) => self.run_until(now + ms),
        }
    }

    fn fresh_id(&mut self) -> B256 {
        self.next_id += 1;
        let mut b = B256::repeat_byte(self.next_id);
        b.0[0..8].copy_from_slice(&self.rng.next().to_be_bytes());
        b
    }

    fn propose(&mut self, node: usize, cid: B256, op: Op) {
        let now = self.now;
        if let Some(ch) = self.nodes[node].channels.get_mut(&cid) {
            // Invalid ops (overspend, nothing to refund) are refused with state unchanged.
            let _ = ch.propose(op, now);
        }
        self.pump();
    }

    fn crash(&mut self, node: usize, downtime: u64) {
        let n = &mut self.nodes[node];
        n.up = false;
        n.restart_at = self.now + downtime;
        let cids: Vec<B256> = n.channels.drain().map(|(cid, _)| cid).collect();
        n.writes.clear();
        for cid in cids {
            let peer = self.peer_of(node, cid);
            if let Some(ch) = self.nodes[peer].channels.get_mut(&cid) {
                ch.handle_disconnected();
            }
        }
    }

    fn restart(&mut self, node: usize) {
        let now = self.now;
        let n = &mut self.nodes[node];
        n.up = true;
        for (cid, store) in &n.disk {
            let snap = store.snap.clone().expect("written at creation");
            let payments = store.payments.clone().into_iter().collect();
            n.channels
                .insert(*cid, Channel::restore(snap, payments, n.key.clone()));
        }
        if let Some(router) = n.router.as_mut() {
            router.reconcile(&mut n.channels, now);
        }
        self.merchant_settles(node);
        let cids: Vec<B256> = self.nodes[node].channels.keys().copied().collect();
        for cid in cids {
            let peer = self.peer_of(node, cid);
            if !self.nodes[peer].up {
                continue;
            }
            self.nodes[node]
                .channels
                .get_mut(&cid)
                .unwrap()
                .handle_connected(now);
            let p = self.nodes[peer].channels.get_mut(&cid).unwrap();
            p.handle_disconnected();
            p.handle_connected(now);
        }
        self.pump();
    }

    /// The merchant settles every HTLC it holds an invoice for.
    fn merchant_settles(&mut self, node: usize) {
        if node != MERCHANT {
            return;
        }
        let now = self.now;
        let n = &mut self.nodes[MERCHANT];
        for ch in n.channels.values_mut() {
            let due: Vec<(u64, B256)> = ch
                .latest()
                .htlcs
                .iter()
                .filter(|h| h.from == Side::A)
                .filter_map(|h| n.invoices.get(&h.payment_hash).map(|p| (h.id, *p)))
                .collect();
            for (id, preimage) in due {
                let _ = ch.propose(Op::SettleHtlc { id, preimage }, now);
            }
        }
    }

    /// Drains every output of every live channel until nothing new appears.
    fn pump(&mut self) {
        loop {
            let mut progressed = false;
            for node in 0..self.nodes.len() {
                if !self.nodes[node].up {
                    continue;
                }
                let cids: Vec<B256> = self.nodes[node].channels.keys().copied().collect();
                for cid in cids {
                    while let Some(out) = self.nodes[node]
                        .channels
                        .get_mut(&cid)
                        .unwrap()
                        .poll_output()
                    {
                        progressed = true;
                        self.output(node, cid, out);
                    }
                }
            }
            if !progressed {
                return;
            }
        }
    }

    fn output(&mut self, node: usize, cid: B256, out: Output) {
        let now = self.now;
        match out {
            Output::Persist(p) => {
                let at = now + self.rng.below(4);
                self.nodes[node].writes.push_back((at, cid, *p));
            }
            Output::Send(msg) => {
                self.record_signatures(node, cid, &msg);
                let to = self.peer_of(node, cid);
                let copies = if self.rng.pct(self.dup_pct) { 2 } else { 1 };
                for _ in 0..copies {
                    if self.rng.pct(self.drop_pct) {
                        continue;
                    }
                    self.seq += 1;
                    let at = now + 1 + self.rng.below(40);
                    self.links.push(InFlight {
                        at,
                        seq: self.seq,
                        to,
                        msg: msg.clone(),
                    });
                }
            }
            Output::Event(e) => {
                if let Event::GoToChain { reason } = &e {
                    panic!("honest parties never need the chain here: {reason}");
                }
                let n = &mut self.nodes[node];
                if let Some(router) = n.router.as_mut() {
                    router.on_event(cid, &e, &mut n.channels, now);
                }
                if node == MERCHANT {
                    if let Event::Updated {
                        op:
                            Op::AddHtlc {
                                id, payment_hash, ..
                            },
                        by: Side::A,
                        ..
                    } = e
                    {
                        if let Some(preimage) = n.invoices.get(&payment_hash).copied() {
                            let ch = n.channels.get_mut(&cid).unwrap();
                            let _ = ch.propose(Op::SettleHtlc { id, preimage }, now);
                        }
                    }
                }
            }
        }
    }

    /// Attributes every signature leaving `node` to the state it covers and checks that no
    /// nonce is ever signed for two different states.
    fn record_signatures(&mut self, node: usize, cid: B256, msg: &Message) {
        let ch = &self.nodes[node].channels[&cid];
        let me = self.nodes[node].key.address();
        let latest = ch.latest();
        let mut claims = vec![];
        match msg {
            Message::Propose(p) => {
                let Some(pending) = ch.pending() else {
                    panic!(
                        "node {node} released {p:?} with no pending; latest {:?}",
                        ch.latest().nonce
                    )
                };
                claims.push((p.nonce, pending.state.digest(ch.params()), p.sig));
                if let Some(s) = p.base_sig {
                    claims.push((p.base_nonce, latest.digest(ch.params()), s));
                }
            }
            Message::Accept(a) => claims.push((a.nonce, latest.digest(ch.params()), a.sig)),
            Message::Reestablish(r) => {
                if let Some(s) = r.latest_sig {
                    claims.push((r.latest_nonce, latest.digest(ch.params()), s));
                }
            }
            Message::Reject(_) => {}
        }
        for (nonce, digest, sig) in claims {
            assert_eq!(sig.recover(&digest).unwrap(), me, "signature attributed to the wrong state: node {node} {msg:?} latest {} pending {:?}", latest.nonce, ch.pending().map(|p| p.state.nonce));
            let prev = self.signed.insert((me, cid, nonce), digest);
            assert!(
                prev.is_none() || prev == Some(digest),
                "node {node} signed two different states at nonce {nonce}"
            );
        }
    }

    fn next_event_time(&self) -> Option<u64> {
        let writes = self
            .nodes
            .iter()
            .filter(|n| n.up)
            .filter_map(|n| n.writes.front().map(|w| w.0));
        let links = self.links.iter().map(|m| m.at);
        let restarts = self.nodes.iter().filter(|n| !n.up).map(|n| n.restart_at);
        let timers = self
            .nodes
            .iter()
            .filter(|n| n.up)
            .flat_map(|n| n.channels.values().filter_map(Channel::poll_timeout));
        writes.chain(links).chain(restarts).chain(timers).min()
    }

    fn run_until(&mut self, until: u64) {
        while let Some(t) = self.next_event_time().filter(|t| *t <= until) {
            self.now = self.now.max(t);
            self.tick();
        }
        self.now = self.now.max(until);
    }

    /// Processes everything due at `now`.
    fn tick(&mut self) {
        let now = self.now;
        for node in 0..self.nodes.len() {
            if !self.nodes[node].up && self.nodes[node].restart_at <= now {
                self.restart(node);
            }
        }
        for node in 0..self.nodes.len() {
            let n = &mut self.nodes[node];
            while n.up && n.writes.front().is_some_and(|w| w.0 <= now) {
                let (_, cid, p) = n.writes.pop_front().unwrap();
                let store = n.disk.entry(cid).or_default();
                store.snap = Some(p.snapshot);
                if let Some((id, pay)) = p.payment {
                    store.payments.insert(id, pay);
                }
                if let Some(ch) = n.channels.get_mut(&cid) {
                    ch.handle_persisted(p.seq);
                }
            }
            // A driver drains a channel's outputs after every input it gives it.
            self.pump();
        }
        self.links.sort_by_key(|m| (m.at, m.seq));
        let due: Vec<InFlight> = {
            let split = self.links.partition_point(|m| m.at <= now);
            self.links.drain(..split).collect()
        };
        for m in due {
            if !self.nodes[m.to].up {
                continue;
            }
            let cid = m.msg.channel_id();
            if let Some(ch) = self.nodes[m.to].channels.get_mut(&cid) {
                if let Err(e) = ch.handle_message(m.msg, now) {
                    assert!(!e.requires_chain(), "honest peers never force a close: {e}");
                }
            }
            self.pump();
        }
        for node in 0..self.nodes.len() {
            if !self.nodes[node].up {
                continue;
            }
            let cids: Vec<B256> = self.nodes[node].channels.keys().copied().collect();
            for cid in cids {
                let ch = self.nodes[node].channels.get_mut(&cid).unwrap();
                if ch.poll_timeout().is_some_and(|t| t <= now) {
                    ch.handle_timeout(now);
                    self.pump();
                }
            }
        }
    }

    /// Perfect links, everyone up: run until every channel is idle and nothing is in flight.
    fn settle_down(&mut self, budget_ms: u64) {
        self.drop_pct = 0;
        self.dup_pct = 0;
        let deadline = self.now + budget_ms;
        loop {
            let quiet = self.links.is_empty()
                && self.nodes.iter().all(|n| {
                    n.up && n.writes.is_empty() && n.channels.values().all(Channel::is_idle)
                });
            if quiet || self.now >= deadline {
                return;
            }
            let next = self
                .next_event_time()
                .unwrap_or(self.now + 100)
                .min(deadline);
            self.now = self.now.max(next);
            self.tick();
        }
    }

    fn check_healed(&self) {
        for cid in [self.ch1, self.ch2] {
            let ends: Vec<&Channel> = self
                .nodes
                .iter()
                .filter_map(|n| n.channels.get(&cid))
                .collect();
            assert_eq!(ends.len(), 2);
            assert!(
                ends[0].is_idle() && ends[1].is_idle(),
                "channel still busy after healing"
            );
            assert_eq!(
                ends[0].latest(),
                ends[1].latest(),
                "ends disagree after healing"
            );
            ends[0].latest().check_invariant().unwrap();
            assert_eq!(
                ends[0].latest().locked(),
                0,
                "an HTLC is still pending after healing"
            );
        }
        let c1 = &self.nodes[HUB].channels[&self.ch1];
        let c2 = &self.nodes[HUB].channels[&self.ch2];
        for hash in &self.routed {
            let (up, down) = (c1.ledger().payment(hash), c2.ledger().payment(hash));
            assert_eq!(
                up.is_some(),
                down.is_some(),
                "HTLC settled on one channel only"
            );
            if let (Some(up), Some(down)) = (up, down) {
                assert_eq!(up.amount, down.amount);
                assert_eq!(up.refunded, down.refunded, "a refund did not travel back");
            }
        }
        let hub_total = c1.latest().balances[Side::B.idx()] + c2.latest().balances[Side::A.idx()];
        let direct: u128 = c1
            .ledger()
            .payments()
            .filter(|(h, _)| !self.routed.contains(h))
            .map(|(_, p)| p.amount)
            .sum::<u128>();
        let paid_out: u128 = c2
            .ledger()
            .payments()
            .filter(|(h, _)| !self.routed.contains(h))
            .map(|(_, p)| p.amount)
            .sum::<u128>();
        assert_eq!(
            hub_total,
            10_000 + direct - paid_out,
            "the hub gained or lost routing money"
        );
    }
}

fn action() -> impl Strategy<Value = Action> {
    prop_oneof![
        3 => (1u128..400).prop_map(Action::Pay),
        4 => (1u128..600).prop_map(Action::Route),
        2 => (0usize..8, 1u128..300).prop_map(|(n, a)| Action::Refund(n, a)),
        2 => (1u128..300).prop_map(Action::HubPays),
        1 => (0usize..3, 1u64..3_000).prop_map(|(node, downtime)| Action::Crash { node, downtime }),
        3 => (0u64..200).prop_map(Action::Wait),
    ]
}

fn cases() -> u32 {
    std::env::var("SIM_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(), failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn random_schedules_heal_to_agreement(
        seed in any::<u64>(),
        actions in prop::collection::vec(action(), 1..25),
        drop_pct in 0u8..30,
        dup_pct in 0u8..20,
    ) {
        let mut sim = Sim::new(seed, drop_pct, dup_pct);
        for a in &actions {
            sim.act(a);
            let wait = sim.rng.below(30);
            sim.run_until(sim.now + wait);
        }
        sim.settle_down(120_000);
        sim.check_healed();
    }
}

/// Both ends propose at the very same virtual instant over a lossy link, many times over.
#[test]
fn concurrent_proposals_under_loss_never_diverge() {
    for seed in 0..200 {
        let mut sim = Sim::new(seed, 20, 10);
        for i in 0..5 {
            sim.act(&Action::Route(10 + i));
            sim.act(&Action::HubPays(5));
            sim.act(&Action::Refund(i as usize, 3));
        }
        sim.settle_down(120_000);
        sim.check_healed();
    }
}
