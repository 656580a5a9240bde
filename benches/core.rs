//! Native benchmarks of the channel core: signing, verification (by recovery, and against a
//! cached public key), the EIP-712 state digest, a
//! full payment round between two channel ends, and the wire frame codec.
//!
//! Run with `cargo bench --bench core`; results are recorded in `BENCHMARKS.md`.

use std::hint::black_box;
use std::sync::Arc;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use l2pay::channel::{Channel, Output};
use l2pay::op::{Op, Policy};
use l2pay::signer::{KeyCache, LocalSigner, Signer};
use l2pay::state::{ChannelParams, ChannelState, Htlc, Side};
use l2pay::wire::{decode_frame, encode_frame, Message, Propose};
use l2pay::{Address, B256};

const T0: u64 = 1_700_000_000_000;

fn signer(seed: u8) -> Arc<LocalSigner> {
    Arc::new(LocalSigner::from_bytes(&[seed; 32]).expect("valid key"))
}

fn params(a: &LocalSigner, b: &LocalSigner) -> ChannelParams {
    ChannelParams {
        chain_id: 31337,
        adjudicator: Address::repeat_byte(0xad),
        participants: [a.address(), b.address()],
        token: Address::ZERO,
        challenge_period: 3_600,
        salt: B256::repeat_byte(7),
    }
}

/// A mid-life state: both sides funded, two HTLCs pending.
fn state_with_two_htlcs() -> ChannelState {
    let expiry = T0 / 1_000 + 3_600;
    ChannelState {
        nonce: 42,
        balances: [600_000, 300_000],
        deposits: [1_000_000, 500_000],
        withdrawn: [0, 0],
        htlcs: vec![
            Htlc {
                id: 1,
                from: Side::A,
                amount: 400_000,
                payment_hash: B256::repeat_byte(0x11),
                expiry,
            },
            Htlc {
                id: 1,
                from: Side::B,
                amount: 200_000,
                payment_hash: B256::repeat_byte(0x22),
                expiry,
            },
        ],
        is_final: false,
    }
}

/// Makes every write durable at once; returns the messages the channel releases.
fn drain(ch: &mut Channel, msgs: &mut Vec<Message>) {
    while let Some(o) = ch.poll_output() {
        match o {
            Output::Persist(p) => ch.handle_persisted(p.seq),
            Output::Send(m) => msgs.push(m),
            Output::Event(_) => {}
        }
    }
}

/// Two channel ends wired back to back with instant persistence (as the test `Pair`).
struct Pair {
    a: Channel,
    b: Channel,
    to_a: Vec<Message>,
    to_b: Vec<Message>,
}

impl Pair {
    fn funded(deposit_a: u128) -> Pair {
        let (ka, kb) = (signer(1), signer(2));
        let p = params(&ka, &kb);
        let mut pair = Pair {
            a: Channel::new(p.clone(), Side::A, ka, Policy::default()),
            b: Channel::new(p, Side::B, kb, Policy::default()),
            to_a: Vec::new(),
            to_b: Vec::new(),
        };
        pair.a.handle_connected(T0);
        pair.b.handle_connected(T0);
        pair.run();
        pair.a.handle_chain_deposit(Side::A, deposit_a, T0);
        pair.b.handle_chain_deposit(Side::A, deposit_a, T0);
        pair.run();
        assert_eq!(pair.a.latest().balances, [deposit_a, 0]);
        pair
    }

    /// Delivers until both ends are quiet.
    fn run(&mut self) {
        loop {
            drain(&mut self.a, &mut self.to_b);
            drain(&mut self.b, &mut self.to_a);
            if self.to_a.is_empty() && self.to_b.is_empty() {
                return;
            }
            for m in self.to_b.drain(..) {
                self.b.handle_message(m, T0).expect("b accepts");
            }
            for m in self.to_a.drain(..) {
                self.a.handle_message(m, T0).expect("a accepts");
            }
        }
    }
}

fn payment_id(n: u64) -> B256 {
    let mut id = [0u8; 32];
    id[24..].copy_from_slice(&n.to_be_bytes());
    B256::from(id)
}

fn bench_crypto(c: &mut Criterion) {
    let (ka, kb) = (signer(1), signer(2));
    let p = params(&ka, &kb);
    let state = state_with_two_htlcs();
    let digest = state.digest(&p);
    let sig = ka.sign_digest(&digest);
    assert!(sig.verify(&digest, ka.address()).is_ok());

    c.bench_function("sign", |b| {
        b.iter(|| black_box(&*ka).sign_digest(black_box(&digest)))
    });
    c.bench_function("verify", |b| {
        b.iter(|| black_box(&sig).verify(black_box(&digest), ka.address()))
    });
    // What a channel does once it knows its peer's key (cached after the first signature).
    let cache = KeyCache::default();
    sig.verify_cached(&digest, ka.address(), &cache)
        .expect("warms the cache");
    c.bench_function("verify_cached", |b| {
        b.iter(|| black_box(&sig).verify_cached(black_box(&digest), ka.address(), &cache))
    });
    c.bench_function("state_digest", |b| {
        b.iter(|| black_box(&state).digest(black_box(&p)))
    });
}

fn bench_pay_round(c: &mut Criterion) {
    let mut group = c.benchmark_group("pay_round");
    group.throughput(Throughput::Elements(1));
    // One round = A proposes (persist, sign) -> B verifies, persists, countersigns -> A verifies
    // the acceptance and persists. Every iteration is a fresh payment id on the same channel.
    let mut pair = Pair::funded(u128::MAX / 2);
    let mut n = 0u64;
    group.bench_function("propose_countersign_accept", |b| {
        b.iter(|| {
            n += 1;
            pair.a
                .propose(
                    Op::Pay {
                        payment_id: payment_id(n),
                        amount: 1,
                    },
                    T0,
                )
                .expect("valid pay");
            pair.run();
        })
    });
    group.finish();
    assert_eq!(pair.b.latest().balances[1], u128::from(n));
    assert_eq!(pair.a.latest(), pair.b.latest());
}

fn bench_wire(c: &mut Criterion) {
    let (ka, kb) = (signer(1), signer(2));
    let p = params(&ka, &kb);
    let state = state_with_two_htlcs();
    let digest = state.digest(&p);
    let msg = Message::Propose(Propose {
        channel_id: p.channel_id(),
        base_nonce: 41,
        nonce: 42,
        op: Op::Pay {
            payment_id: B256::repeat_byte(0x33),
            amount: 123_456_789_000_000_000,
        },
        sig: ka.sign_digest(&digest),
        base_sig: Some(kb.sign_digest(&digest)),
    });
    let frame = encode_frame(&msg).expect("encodes");
    assert_eq!(decode_frame::<Message>(&frame).expect("decodes"), msg);

    let mut group = c.benchmark_group("wire");
    group.throughput(Throughput::Bytes(frame.len() as u64));
    group.bench_function("encode_frame_propose", |b| {
        b.iter(|| encode_frame(black_box(&msg)))
    });
    group.bench_function("decode_frame_propose", |b| {
        b.iter(|| decode_frame::<Message>(black_box(&frame)))
    });
    group.finish();
}

criterion_group!(benches, bench_crypto, bench_pay_round, bench_wire);
criterion_main!(benches);
