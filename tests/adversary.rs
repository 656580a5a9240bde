//! The core against an authenticated adversary: a peer that holds its valid key and sends
//! correctly signed messages with arbitrary nonces, amounts, expiries, HTLC ids and op
//! sequences, to one honest channel and to a hub's router (customer → hub → merchant).
//! The adversary and the checks live in `common/adversary.rs` (shared with the `channel` fuzz
//! target); every input is followed by every check, and each case ends by requiring that an
//! honest peer can still get an op of the honest side agreed.
//!
//! `ADVERSARY_CASES` raises the number of cases (default: a run of a few seconds in debug).
//! The `finding_*` tests are minimal reproducers of defects these properties found; they fail
//! until the defect is fixed.

#[path = "common/adversary.rs"]
mod adversary;
mod common;

use std::collections::HashMap;

use adversary::{
    act, channel_params, hash, key, skip, Action, Adversary, Base, Duel, Expiry, HtlcRef, Nonce,
    Num, Observer, OpSpec, Sig, T0,
};
use alloy_primitives::{Address, B256};
use l2pay::channel::Channel;
use l2pay::op::{Op, Policy};
use l2pay::router::{Route, Router, RoutingPolicy};
use l2pay::signer::Signer;
use l2pay::state::{Htlc, Side};
use l2pay::Amount;
use proptest::prelude::*;
use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};

fn cases(default: u32) -> u32 {
    std::env::var("ADVERSARY_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

// ----- strategies -----

fn amount() -> impl Strategy<Value = Num> {
    prop_oneof![
        3 => (0u128..2_000).prop_map(Num::Exact),
        3 => any::<i8>().prop_map(Num::Mine),
        1 => any::<i8>().prop_map(Num::Theirs),
        1 => (0u8..3).prop_map(Num::FromTop),
        1 => any::<u128>().prop_map(Num::Exact),
    ]
}

fn nonce() -> impl Strategy<Value = Nonce> {
    let top = !skip("nonce_top");
    prop_oneof![
        3 => (0u8..3).prop_map(Nonce::Latest),
        2 => (0u8..3).prop_map(Nonce::AboveSigned),
        3 => Just(Nonce::Pending),
        1 => (0u8..3).prop_map(Nonce::FromTop),
        1 => any::<u64>().prop_map(Nonce::Exact),
    ]
    .prop_map(move |n| match n {
        Nonce::FromTop(_) if !top => Nonce::Latest(1),
        Nonce::Exact(v) if !top => Nonce::Exact(v % 1_000),
        n => n,
    })
}

/// Mostly the nonce an honest peer would use, so that long sequences get agreed.
fn proposal_nonce() -> impl Strategy<Value = Nonce> {
    prop_oneof![4 => Just(Nonce::AboveSigned(1)), 1 => nonce()]
}

fn htlc_ref() -> impl Strategy<Value = HtlcRef> {
    prop_oneof![
        3 => Just(HtlcRef::Next),
        2 => any::<u8>().prop_map(HtlcRef::Own),
        2 => any::<u8>().prop_map(HtlcRef::Theirs),
        1 => (0u8..3).prop_map(HtlcRef::FromTop),
        1 => any::<u64>().prop_map(HtlcRef::Exact),
    ]
}

fn expiry() -> impl Strategy<Value = Expiry> {
    prop_oneof![
        4 => (600i32..4_000).prop_map(Expiry::In),
        1 => (-4_000i32..100_000_000).prop_map(Expiry::In),
        1 => (0u8..3).prop_map(Expiry::FromTop),
        1 => prop_oneof![Just(0u64), any::<u64>()].prop_map(Expiry::Exact),
    ]
}

fn op() -> impl Strategy<Value = OpSpec> {
    prop_oneof![
        3 => (any::<u8>(), amount()).prop_map(|(id, amount)| OpSpec::Pay { id, amount }),
        2 => (any::<u8>(), amount()).prop_map(|(id, amount)| OpSpec::Refund { id, amount }),
        4 => (htlc_ref(), amount(), any::<u8>(), expiry()).prop_map(|(id, amount, hash, expiry)| {
            OpSpec::AddHtlc { id, amount, hash, expiry }
        }),
        2 => (htlc_ref(), any::<u8>()).prop_map(|(id, preimage)| OpSpec::Settle { id, preimage }),
        1 => htlc_ref().prop_map(|id| OpSpec::Fail { id }),
        1 => htlc_ref().prop_map(|id| OpSpec::Expire { id }),
        1 => (any::<bool>(), amount()).prop_map(|(mine, total)| OpSpec::Deposit { mine, total }),
        1 => amount().prop_map(|amount| OpSpec::Withdraw { amount }),
        1 => Just(OpSpec::Close),
    ]
}

fn sig() -> impl Strategy<Value = Sig> {
    prop_oneof![8 => Just(Sig::Valid), 1 => Just(Sig::Steal), 1 => Just(Sig::Absent)]
}

fn base() -> impl Strategy<Value = Base> {
    prop_oneof![
        6 => Just(Base::Latest),
        3 => Just(Base::Pending),
        1 => nonce().prop_map(Base::Exact),
    ]
}

fn action() -> impl Strategy<Value = Action> {
    prop_oneof![
        8 => (op(), proposal_nonce(), base(), sig(), sig()).prop_map(
            |(op, nonce, base, sig, base_sig)| Action::Propose { op, nonce, base, sig, base_sig }
        ),
        4 => (nonce(), sig()).prop_map(|(nonce, sig)| Action::Accept { nonce, sig }),
        1 => (nonce(), any::<u8>(), nonce()).prop_map(|(nonce, reason, highest_signed)| {
            Action::Reject { nonce, reason, highest_signed }
        }),
        1 => (nonce(), sig(), nonce()).prop_map(|(nonce, sig, highest_signed)| {
            Action::Reestablish { nonce, sig, highest_signed }
        }),
        1 => any::<u8>().prop_map(Action::Replay),
        3 => op().prop_map(Action::Honest),
        1 => prop_oneof![0u32..3_000, 0u32..4_000_000].prop_map(Action::Tick),
        1 => Just(Action::Reconnect),
        1 => (any::<bool>(), amount()).prop_map(|(adversary, add)| {
            Action::ChainDeposit { adversary, add }
        }),
    ]
}

fn deposit() -> impl Strategy<Value = Amount> {
    prop_oneof![
        Just(0),
        1u128..5_000,
        Just(1_000_000_000_000_000_000),
        Just(u128::MAX / 2 - 1),
    ]
}

fn side() -> impl Strategy<Value = Side> {
    prop_oneof![Just(Side::A), Just(Side::B)]
}

// ----- one channel -----

/// Runs one adversarial sequence against a fresh honest channel: every check after every
/// input, then liveness with an honest peer.
fn duel(honest: Side, deposits: [Amount; 2], actions: &[Action]) {
    let mut d = Duel::new(honest, deposits);
    for a in actions {
        d.step(a);
    }
    d.check_live();
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(48), failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn an_adversary_with_a_valid_key_cannot_break_an_honest_channel(
        honest in side(),
        deposits in (deposit(), deposit()),
        actions in prop::collection::vec(action(), 1..40),
    ) {
        duel(honest, [deposits.0, deposits.1], &actions);
    }
}

/// The fuzz target's driver on sequences from a fixed seed, so that CI runs it without
/// cargo-fuzz: the same `Duel`, the same checks.
#[test]
fn seeded_adversarial_sequences() {
    let config = Config {
        cases: cases(24),
        failure_persistence: None,
        ..Config::default()
    };
    let rng = TestRng::from_seed(RngAlgorithm::ChaCha, &[0x11; 32]);
    let mut runner = TestRunner::new_with_rng(config, rng);
    let input = (
        side(),
        (deposit(), deposit()),
        prop::collection::vec(action(), 40..80),
    );
    runner
        .run(&input, |(honest, (h, a), actions)| {
            duel(honest, [h, a], &actions);
            Ok(())
        })
        .unwrap();
}

// ----- a hub: customer → hub → merchant -----

/// One hub channel and the adversary at its other end.
struct Link {
    cid: B256,
    obs: Observer,
    adv: Adversary,
}

/// The hub's channels and router; both peers are adversaries. Link 0: customer (A) → hub (B);
/// link 1: hub (A) → merchant (B). Hashes 0 and 1 route to the merchant, hash 2 to the
/// customer's own channel, hash 3 nowhere.
struct Hub {
    channels: HashMap<B256, Channel>,
    router: Router,
    links: [Link; 2],
    now: u64,
}

const IN: usize = 0;
const OUT: usize = 1;

impl Hub {
    fn new(deposits: [Amount; 4]) -> Hub {
        Hub::with_out_token(deposits, Address::ZERO)
    }

    /// The merchant's channel holds `token` (the customer's holds the native coin).
    fn with_out_token(deposits: [Amount; 4], token: Address) -> Hub {
        let (hub, customer, merchant) = (key(1), key(3), key(4));
        let p_in = channel_params(customer.address(), hub.address(), Address::ZERO, 1);
        let p_out = channel_params(hub.address(), merchant.address(), token, 2);
        let ch_in = Channel::new(p_in.clone(), Side::B, hub.clone(), Policy::default());
        let ch_out = Channel::new(p_out.clone(), Side::A, hub, Policy::default());
        let links = [
            Link {
                cid: ch_in.id(),
                obs: Observer::new(&ch_in),
                adv: Adversary::new(customer, Side::A, p_in),
            },
            Link {
                cid: ch_out.id(),
                obs: Observer::new(&ch_out),
                adv: Adversary::new(merchant, Side::B, p_out),
            },
        ];
        let mut router = Router::new(RoutingPolicy {
            fee_base: 1,
            fee_ppm: 1_000,
            expiry_delta: 900,
        });
        for (h, link) in [(0, OUT), (1, OUT), (2, IN)] {
            let route = Route {
                channel: links[link].cid,
                amount: 1,
                expiry: u64::MAX,
            };
            assert_eq!(router.register(hash(h), route, 0), Ok(true));
        }
        let channels = [ch_in, ch_out].into_iter().map(|c| (c.id(), c)).collect();
        let mut hub = Hub {
            channels,
            router,
            links,
            now: T0,
        };
        // [customer, hub on IN, hub on OUT, merchant]
        for (link, honest, adv) in [
            (IN, deposits[1], deposits[0]),
            (OUT, deposits[2], deposits[3]),
        ] {
            hub.step(link, &Action::Reconnect);
            for (adversary, amount) in [(false, honest), (true, adv)] {
                if amount == 0 {
                    continue;
                }
                hub.step(
                    link,
                    &Action::ChainDeposit {
                        adversary,
                        add: Num::Exact(amount),
                    },
                );
                let a = if adversary {
                    Action::Propose {
                        op: OpSpec::Deposit {
                            mine: true,
                            total: Num::Exact(amount),
                        },
                        nonce: Nonce::Latest(1),
                        base: Base::Latest,
                        sig: Sig::Valid,
                        base_sig: Sig::Valid,
                    }
                } else {
                    Action::Accept {
                        nonce: Nonce::Pending,
                        sig: Sig::Valid,
                    }
                };
                hub.step(link, &a);
            }
        }
        hub
    }

    fn step(&mut self, link: usize, action: &Action) {
        if let Action::Honest(
            OpSpec::AddHtlc { .. } | OpSpec::Settle { .. } | OpSpec::Fail { .. },
        ) = action
        {
            // The hub adds, settles and fails HTLCs only as its router decides.
            return;
        }
        let mut work = vec![];
        if let Action::Tick(ms) = *action {
            self.now = self.now.saturating_add(u64::from(ms));
            for (i, l) in self.links.iter_mut().enumerate() {
                let ch = self.channels.get_mut(&l.cid).expect("hub channel");
                let from = l.obs.events.len();
                ch.handle_timeout(self.now);
                l.obs.drain(ch, &l.adv.signed_ops);
                work.push((i, from));
            }
        } else {
            let l = &mut self.links[link];
            let ch = self.channels.get_mut(&l.cid).expect("hub channel");
            let from = l.obs.events.len();
            act(ch, &mut l.obs, &mut l.adv, action, &mut self.now);
            work.push((link, from));
        }
        while let Some((i, from)) = work.pop() {
            let (cid, events) = {
                let l = &self.links[i];
                (l.cid, l.obs.events[from..].to_vec())
            };
            for e in &events {
                self.router.on_event(cid, e, &mut self.channels, self.now);
            }
            for t in self.router.take_touched() {
                let Some(j) = self.links.iter().position(|l| l.cid == t) else {
                    continue;
                };
                let l = &mut self.links[j];
                let from = l.obs.events.len();
                let ch = self.channels.get_mut(&t).expect("hub channel");
                l.obs.drain(ch, &l.adv.signed_ops);
                if l.obs.events.len() > from {
                    work.push((j, from));
                }
            }
        }
        self.check();
    }

    fn channel(&self, link: usize) -> &Channel {
        &self.channels[&self.links[link].cid]
    }

    /// What the hub risks: every HTLC it forwarded is covered by an incoming one it can claim
    /// later, every payment it made downstream is paid (or claimable) upstream, and it never
    /// forwards a hash that is already paid or already in flight downstream.
    fn check(&self) {
        let (up, down) = (self.channel(IN), self.channel(OUT));
        let delta = self.router.policy().expiry_delta;
        let mut outgoing: Vec<Htlc> = down
            .latest()
            .htlcs
            .iter()
            .filter(|h| h.from == Side::A)
            .cloned()
            .collect();
        if let Some(Op::AddHtlc {
            id,
            amount,
            payment_hash,
            expiry,
        }) = down.pending().map(|p| &p.op)
        {
            outgoing.push(Htlc {
                id: *id,
                from: Side::A,
                amount: *amount,
                payment_hash: *payment_hash,
                expiry: *expiry,
            });
        }
        for h in &outgoing {
            if self.now >= h.expiry.saturating_mul(1_000) {
                continue;
            }
            let covered = up.latest().htlcs.iter().any(|i| {
                i.from == Side::A
                    && i.payment_hash == h.payment_hash
                    && i.amount >= h.amount
                    && i.expiry >= h.expiry.saturating_add(delta)
            });
            assert!(covered, "forwarded {h:?} has no incoming HTLC covering it");
            if skip("duplicate_forward") {
                continue;
            }
            let twins = outgoing
                .iter()
                .filter(|o| o.payment_hash == h.payment_hash)
                .count();
            assert_eq!(
                twins, 1,
                "two HTLCs for {} in flight downstream",
                h.payment_hash
            );
            assert!(
                down.ledger().payment(&h.payment_hash).is_none(),
                "forwarded an HTLC for {}, already paid downstream",
                h.payment_hash
            );
        }
        for (h, p) in down.ledger().payments() {
            if p.payer != Side::A || p.preimage.is_none() {
                continue;
            }
            let paid_up = up.ledger().payment(h).is_some_and(|q| q.payer == Side::A);
            let claimable = up
                .latest()
                .htlcs
                .iter()
                .any(|i| i.from == Side::A && i.payment_hash == *h);
            assert!(
                paid_up || claimable || self.links[IN].obs.failed.is_some(),
                "paid {h} downstream, neither paid nor claimable upstream"
            );
        }
    }
}

fn link() -> impl Strategy<Value = usize> {
    prop_oneof![Just(IN), Just(OUT)]
}

/// The steps of a routed payment, so that random sequences forward, settle and fail often:
/// the customer adds an HTLC, either peer accepts what the hub proposed, the merchant settles
/// or fails, the customer expires or refunds.
fn flow() -> impl Strategy<Value = (usize, Action)> {
    let signed = |op| Action::Propose {
        op,
        nonce: Nonce::AboveSigned(1),
        base: Base::Latest,
        sig: Sig::Valid,
        base_sig: Sig::Valid,
    };
    let accept = Action::Accept {
        nonce: Nonce::Pending,
        sig: Sig::Valid,
    };
    prop_oneof![
        3 => (prop_oneof![1u128..500, Just(u128::MAX)], 0u8..4, 1_000i32..5_000).prop_map(
            move |(amount, hash, secs)| {
                let id = HtlcRef::Next;
                let (amount, expiry) = (Num::Exact(amount), Expiry::In(secs));
                (IN, signed(OpSpec::AddHtlc { id, amount, hash, expiry }))
            }
        ),
        4 => link().prop_map(move |l| (l, accept)),
        2 => (any::<u8>(), 0u8..4).prop_map(move |(k, preimage)| {
            (OUT, signed(OpSpec::Settle { id: HtlcRef::Theirs(k), preimage }))
        }),
        1 => any::<u8>().prop_map(move |k| (OUT, signed(OpSpec::Fail { id: HtlcRef::Theirs(k) }))),
        1 => (link(), any::<u8>(), amount()).prop_map(move |(l, id, amount)| {
            (l, signed(OpSpec::Refund { id, amount }))
        }),
        1 => (0u32..2_000_000).prop_map(|ms| (IN, Action::Tick(ms))),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(24), failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn adversaries_on_both_sides_cannot_make_the_hub_lose_or_panic(
        deposits in (deposit(), deposit(), deposit(), deposit()),
        actions in prop::collection::vec(prop_oneof![(link(), action()), flow()], 1..40),
    ) {
        let mut hub = Hub::new([deposits.0, deposits.1, deposits.2, deposits.3]);
        for (l, a) in &actions {
            hub.step(*l, a);
        }
    }

    /// The amount sent covers the fee, and one unit less would not: exact for every policy
    /// and amount, including the ones a hostile hub or merchant chooses.
    #[test]
    fn amount_to_send_is_the_least_amount_that_delivers_after_the_fee(
        fee_base in prop_oneof![0u128..1_000_000_000_000_000_000, Just(u128::MAX)],
        fee_ppm in prop_oneof![0u32..1_000_000, 1_000_000u32..=u32::MAX],
        deliver in prop_oneof![1u128..1_000_000_000_000_000_000_000_000, (u128::MAX - 1_000)..=u128::MAX],
    ) {
        let policy = RoutingPolicy { fee_base, fee_ppm, expiry_delta: 900 };
        let left = |send: u128| policy.fee(send).and_then(|f| send.checked_sub(f));
        match policy.amount_to_send(deliver) {
            Some(send) => {
                prop_assert!(left(send).is_some_and(|l| l >= deliver));
                prop_assert!(send == deliver || left(send - 1).is_none_or(|l| l < deliver));
            }
            None => prop_assert!(fee_ppm >= 1_000_000 || left(u128::MAX).is_none_or(|l| l < deliver)),
        }
    }
}

/// Runs `f` on a thread and requires it to return within 2 s (a loop that never ends must
/// fail the test, not hang it; the thread is left behind).
fn finishes<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(f());
    });
    rx.recv_timeout(std::time::Duration::from_secs(2))
        .expect("did not finish within 2 s (or panicked)")
}

// ----- findings: minimal reproducers (each fails until its defect is fixed) -----

fn propose(op: OpSpec) -> Action {
    Action::Propose {
        op,
        nonce: Nonce::AboveSigned(1),
        base: Base::Latest,
        sig: Sig::Valid,
        base_sig: Sig::Valid,
    }
}

const ACCEPT: Action = Action::Accept {
    nonce: Nonce::Pending,
    sig: Sig::Valid,
};

fn add_htlc(amount: u128, hash: u8, expiry: i32) -> OpSpec {
    OpSpec::AddHtlc {
        id: HtlcRef::Next,
        amount: Num::Exact(amount),
        hash,
        expiry: Expiry::In(expiry),
    }
}

/// The customer pays hash 0 through the hub; the merchant takes the HTLC and settles it; the
/// customer countersigns the hub's settlement.
fn routed_payment(hub: &mut Hub) {
    hub.step(IN, &propose(add_htlc(100, 0, 3_000)));
    assert!(hub.channel(OUT).pending().is_some(), "the hub forwards");
    hub.step(OUT, &ACCEPT);
    hub.step(
        OUT,
        &propose(OpSpec::Settle {
            id: HtlcRef::Theirs(0),
            preimage: 0,
        }),
    );
    hub.step(IN, &ACCEPT);
}

/// Issue 11 item 4: the hub forwards an HTLC for a hash it already holds the preimage of
/// (or one already in flight). The merchant cannot settle it off-chain (`DuplicatePayment`)
/// and so it locks hub liquidity and a slot of `max_htlcs` until it expires.
#[test]
fn finding_hub_forwards_an_htlc_for_a_hash_already_paid() {
    let mut hub = Hub::new([10_000, 0, 10_000, 0]);
    routed_payment(&mut hub);
    assert!(hub.channel(IN).ledger().payment(&hash(0)).is_some());
    hub.step(IN, &propose(add_htlc(100, 0, 3_000)));
}

/// Issue 11 item 2: `Router::forward` never compares tokens: an HTLC in the native coin is
/// forwarded as the same number of units of an ERC-20 on the merchant's channel.
#[test]
fn finding_hub_forwards_across_tokens() {
    let mut hub = Hub::with_out_token([10_000, 0, 10_000, 0], Address::repeat_byte(0x70));
    hub.step(IN, &propose(add_htlc(100, 0, 3_000)));
    assert_eq!(
        hub.channel(OUT).pending(),
        None,
        "forwarded onto another token"
    );
}

/// Issue 11 item 1 (known): a correctly signed proposal at nonce `u64::MAX` is accepted, and
/// the honest side's next proposal overflows `highest_signed.max(latest.nonce) + 1` in
/// `try_propose` (a panic in debug builds; release builds wrap to nonce 0).
#[test]
fn finding_signed_proposal_at_nonce_max_then_own_proposal_overflows() {
    let mut d = Duel::new(Side::B, [1_000, 1_000]);
    d.step(&Action::Propose {
        op: OpSpec::Pay {
            id: 0,
            amount: Num::Exact(1),
        },
        nonce: Nonce::FromTop(0),
        base: Base::Latest,
        sig: Sig::Valid,
        base_sig: Sig::Valid,
    });
    d.step(&Action::Honest(OpSpec::Pay {
        id: 1,
        amount: Num::Exact(1),
    }));
    d.check_live();
}

/// New: while A has a proposal pending, a *conflicting* proposal makes A re-propose above
/// the proposal's nonce (`repropose_above(p.nonce)`) before the op or its signature is
/// checked. At nonce `u64::MAX` that overflows `highest_signed.max(floor) + 1` (panic in debug);
/// just below it A's nonces jump to the top. No valid signature is needed.
#[test]
fn finding_unsigned_conflicting_proposal_at_nonce_max_overflows_repropose_above() {
    let mut d = Duel::new(Side::A, [1_000, 1_000]);
    d.step(&Action::Honest(OpSpec::Pay {
        id: 1,
        amount: Num::Exact(1),
    }));
    d.step(&Action::Propose {
        op: OpSpec::Pay {
            id: 0,
            amount: Num::Exact(1),
        },
        nonce: Nonce::FromTop(0),
        base: Base::Latest,
        sig: Sig::Absent,
        base_sig: Sig::Absent,
    });
    d.check_live();
}

#[test]
fn finding_unsigned_conflicting_proposal_pushes_a_nonces_to_the_top() {
    let mut d = Duel::new(Side::A, [1_000, 1_000]);
    d.step(&Action::Honest(OpSpec::Pay {
        id: 1,
        amount: Num::Exact(1),
    }));
    d.step(&Action::Propose {
        op: OpSpec::Pay {
            id: 0,
            amount: Num::Exact(1),
        },
        nonce: Nonce::FromTop(10),
        base: Base::Latest,
        sig: Sig::Absent,
        base_sig: Sig::Absent,
    });
    let hs = d.ch.snapshot().highest_signed;
    assert!(
        hs < 1_000,
        "a proposal with no valid signature moved A to nonce {hs}"
    );
}

/// New: `Reject` is unsigned, and A answers `Conflict` with `repropose_above(r.highest_signed
/// .max(r.nonce))`: `highest_signed = u64::MAX` overflows (panic in debug), a value just below
/// it moves A's nonces to the top. Anyone on the connection can send it.
#[test]
fn finding_unsigned_reject_at_nonce_max_overflows_repropose_above() {
    let mut d = Duel::new(Side::A, [1_000, 1_000]);
    d.step(&Action::Honest(OpSpec::Pay {
        id: 1,
        amount: Num::Exact(1),
    }));
    d.step(&Action::Reject {
        nonce: Nonce::Pending,
        reason: 0,
        highest_signed: Nonce::FromTop(0),
    });
    d.check_live();
}

#[test]
fn finding_unsigned_reject_pushes_a_nonces_to_the_top() {
    let mut d = Duel::new(Side::A, [1_000, 1_000]);
    d.step(&Action::Honest(OpSpec::Pay {
        id: 1,
        amount: Num::Exact(1),
    }));
    d.step(&Action::Reject {
        nonce: Nonce::Pending,
        reason: 0,
        highest_signed: Nonce::FromTop(10),
    });
    let hs = d.ch.snapshot().highest_signed;
    assert!(hs < 1_000, "an unsigned Reject moved A to nonce {hs}");
}

/// New: B withdraws its pending proposal as soon as a proposal on the same base arrives,
/// before that proposal's op and signature are checked; when it is then refused the channel
/// has changed anyway (`handle_message` documents that an error changes nothing). A peer, or
/// anyone on the connection (no valid signature needed), that answers each of B's proposals
/// with junk keeps B from ever getting an op agreed.
#[test]
fn finding_refused_proposal_withdraws_b_pending_proposal() {
    let mut d = Duel::new(Side::B, [1_000, 1_000]);
    d.step(&Action::Honest(OpSpec::Pay {
        id: 1,
        amount: Num::Exact(1),
    }));
    assert!(d.ch.pending().is_some());
    d.step(&Action::Propose {
        op: OpSpec::Pay {
            id: 0,
            amount: Num::Exact(1),
        },
        nonce: Nonce::AboveSigned(1),
        base: Base::Latest,
        sig: Sig::Absent,
        base_sig: Sig::Absent,
    });
}

/// Issue 11 item 4 (known): no maximum HTLC expiry; a correctly signed HTLC expiring at
/// `u64::MAX` (or in 68 years) is accepted and locks a `max_htlcs` slot for ever.
#[test]
fn finding_htlc_expiring_at_u64_max_is_accepted() {
    for expiry in [Expiry::FromTop(0), Expiry::In(i32::MAX)] {
        let mut d = Duel::new(Side::B, [1_000, 1_000]);
        d.step(&propose(OpSpec::AddHtlc {
            id: HtlcRef::Next,
            amount: Num::Exact(1),
            hash: 0,
            expiry,
        }));
        assert_eq!(
            d.ch.latest().htlcs,
            vec![],
            "accepted an HTLC with expiry {expiry:?}"
        );
    }
}

/// Known: `RoutingPolicy::amount_to_send` loops one unit at a time from a saturated guess:
/// for amounts above `u128::MAX / 10^6` (~3.4e32) it never ends. The SDK calls it with the
/// hub's routing policy and the merchant's invoice amount (`ClientCore::pay`).
#[test]
fn finding_amount_to_send_never_ends_above_3e32() {
    let policy = RoutingPolicy::default();
    finishes(move || policy.amount_to_send(10u128.pow(33)));
}

/// New: with `fee_ppm >= 1_000_000` (a value the hub announces) the fee is never covered and
/// `amount_to_send` never ends, for any amount.
#[test]
fn finding_amount_to_send_never_ends_for_fee_ppm_of_a_million() {
    let policy = RoutingPolicy {
        fee_base: 0,
        fee_ppm: 1_000_000,
        expiry_delta: 900,
    };
    finishes(move || policy.amount_to_send(1));
}
