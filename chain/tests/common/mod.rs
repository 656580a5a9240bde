//! Shared fixtures: an anvil with a deployed adjudicator, the two participants' clients and
//! signers, state signing, fee accounting, and a back-to-back driver for two core channels.

#![allow(dead_code)]

use std::sync::Arc;

use alloy::primitives::{Address, B256, U256};
use alloy::rpc::types::TransactionReceipt;
use l2pay::channel::{Channel, Event, Output};
use l2pay::eip712;
use l2pay::op::{Op, Policy};
use l2pay::{ChannelParams, ChannelState, LocalSigner, Side, Signature, Signer};
use l2pay_chain::{deploy_adjudicator, AdjudicatorClient, ChainError, Devnet};

pub const ETH: u128 = 1_000_000_000_000_000_000;

/// Asserts that `$res` failed with the adjudicator error matching `$pat`.
#[macro_export]
macro_rules! assert_revert {
    ($res:expr, $pat:pat) => {
        match $res {
            Err(l2pay_chain::ChainError::Revert(e)) => assert!(
                matches!(e, $pat),
                "expected {}, got {:?}",
                stringify!($pat),
                e
            ),
            Err(other) => panic!("expected {}, got error {other}", stringify!($pat)),
            Ok(_) => panic!("expected {}, call succeeded", stringify!($pat)),
        }
    };
}

/// A fresh anvil with the adjudicator deployed by account 0. Account 1 is Alice (participant
/// A), account 2 Bob (B), account 3 a third party (watchtower or attacker).
pub struct World {
    pub net: Devnet,
    pub adjudicator: Address,
    pub alice: Arc<LocalSigner>,
    pub bob: Arc<LocalSigner>,
    /// Clients sending from Alice's, Bob's and the third party's accounts.
    pub a: AdjudicatorClient,
    pub b: AdjudicatorClient,
    pub eve: AdjudicatorClient,
}

impl World {
    pub async fn new() -> World {
        World::with_args(&[]).await
    }

    /// The same on an anvil started with extra arguments (e.g. `["--hardfork", "prague"]`).
    pub async fn with_args(args: &[&str]) -> World {
        let net = Devnet::spawn_with_args(args).await.expect("anvil starts");
        let adjudicator = deploy_adjudicator(&net.wallet(0)).await.expect("deploys");
        World {
            alice: Arc::new(net.signer(1)),
            bob: Arc::new(net.signer(2)),
            a: AdjudicatorClient::new(adjudicator, net.wallet(1)),
            b: AdjudicatorClient::new(adjudicator, net.wallet(2)),
            eve: AdjudicatorClient::new(adjudicator, net.wallet(3)),
            adjudicator,
            net,
        }
    }

    pub fn params(&self, token: Address, challenge_period: u64, salt: u8) -> ChannelParams {
        ChannelParams {
            chain_id: self.net.chain_id(),
            adjudicator: self.adjudicator,
            participants: [self.alice.address(), self.bob.address()],
            token,
            challenge_period,
            salt: B256::repeat_byte(salt),
        }
    }

    /// Both participants' signatures `[A, B]` on `state`.
    pub fn sign(&self, params: &ChannelParams, state: &ChannelState) -> [Signature; 2] {
        let d = state.digest(params);
        [self.alice.sign_digest(&d), self.bob.sign_digest(&d)]
    }

    /// Both signatures on an arbitrary EIP-712 state under an arbitrary domain.
    pub fn sign_raw(&self, s: &eip712::State, chain_id: u64, contract: Address) -> [Signature; 2] {
        let d = eip712::signing_hash(s, &eip712::domain(chain_id, contract));
        [self.alice.sign_digest(&d), self.bob.sign_digest(&d)]
    }

    pub async fn eth(&self, who: Address) -> U256 {
        self.net.balance(who).await.unwrap()
    }
}

/// What a transaction cost its sender in native coin.
pub fn fee(r: &TransactionReceipt) -> U256 {
    U256::from(r.gas_used) * U256::from(r.effective_gas_price)
}

pub fn wei(a: u128) -> U256 {
    U256::from(a)
}

/// A state with the given fields and no HTLCs (invariant checked).
pub fn state(
    nonce: u64,
    balances: [u128; 2],
    deposits: [u128; 2],
    withdrawn: [u128; 2],
) -> ChannelState {
    let s = ChannelState {
        nonce,
        balances,
        deposits,
        withdrawn,
        htlcs: vec![],
        is_final: false,
    };
    s.check_invariant().expect("test state is balanced");
    s
}

pub fn unwrap<T>(r: Result<T, ChainError>) -> T {
    match r {
        Ok(v) => v,
        Err(e) => panic!("chain call failed: {e}"),
    }
}

/// Two core channel ends wired back to back (every write durable at once, every message
/// delivered in order), as a wallet and a merchant would run them.
pub struct Pair {
    pub a: Channel,
    pub b: Channel,
    pub events: Vec<Event>,
    pub now_ms: u64,
}

impl Pair {
    pub fn new(params: &ChannelParams, alice: Arc<LocalSigner>, bob: Arc<LocalSigner>) -> Pair {
        let mut p = Pair {
            a: Channel::new(params.clone(), Side::A, alice, Policy::default()),
            b: Channel::new(params.clone(), Side::B, bob, Policy::default()),
            events: vec![],
            now_ms: 1_700_000_000_000,
        };
        p.a.handle_connected(p.now_ms);
        p.b.handle_connected(p.now_ms);
        p.run();
        p
    }

    /// Both ends learn from the chain that `side` has deposited `total` so far.
    pub fn chain_deposit(&mut self, side: Side, total: u128) {
        self.a.handle_chain_deposit(side, total, self.now_ms);
        self.b.handle_chain_deposit(side, total, self.now_ms);
        self.run();
        assert_eq!(
            self.a.latest().deposits[side.idx()],
            total,
            "deposit recognised"
        );
    }

    /// `by` proposes `op`; both ends must agree on it.
    pub fn agree(&mut self, by: Side, op: Op) {
        let before = self.a.latest().nonce;
        let ch = match by {
            Side::A => &mut self.a,
            Side::B => &mut self.b,
        };
        ch.propose(op.clone(), self.now_ms).expect("op valid");
        self.run();
        assert_eq!(self.a.latest(), self.b.latest(), "both ends agree");
        assert_eq!(self.a.latest().nonce, before + 1, "{op:?} agreed");
    }

    /// The latest state with both signatures, checked against each other.
    pub fn signed(&mut self) -> (ChannelState, [Signature; 2]) {
        let (sa, sigs_a) = self.a.signed_latest().expect("countersigned");
        let (sb, sigs_b) = self.b.signed_latest().expect("countersigned");
        assert_eq!((&sa, sigs_a), (&sb, sigs_b));
        (sa, sigs_a)
    }

    pub fn run(&mut self) {
        loop {
            let to_b = drain(&mut self.a, &mut self.events);
            let to_a = drain(&mut self.b, &mut self.events);
            if to_a.is_empty() && to_b.is_empty() {
                return;
            }
            for m in to_b {
                self.b.handle_message(m, self.now_ms).expect("b accepts");
            }
            for m in to_a {
                self.a.handle_message(m, self.now_ms).expect("a accepts");
            }
        }
    }
}

fn drain(ch: &mut Channel, events: &mut Vec<Event>) -> Vec<l2pay::wire::Message> {
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
