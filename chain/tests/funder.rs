//! Funder ≠ signer: a funder account F opens and tops up a channel (`openFor`, `depositFor`)
//! whose participant A is a signing key S that holds no coin at all, as the browser SDK does
//! (channel key in the page, transactions paid by the shopper's EIP-1193 account). Every
//! payout of A goes to F; S's balances never move.

mod common;

use std::sync::Arc;

use alloy::primitives::{Address, B256, U256};
use common::*;
use l2pay::op::{payment_hash, Op};
use l2pay::{ChannelParams, ChannelState, Htlc, LocalSigner, Side, Signature, Signer};
use l2pay_chain::bindings::TestToken;
use l2pay_chain::{
    deploy_test_token, receipt_events, send, AdjudicatorClient, AdjudicatorErrors,
    AdjudicatorEvent, Status,
};

/// Anvil account of the funder (World uses 0–3).
const FUNDER: usize = 4;

struct Funded {
    w: World,
    /// Participant A's signing key: a fresh key with no coin.
    s: Arc<LocalSigner>,
    /// The funder's address and client.
    f: Address,
    fc: AdjudicatorClient,
    token: Address,
    unit: u128,
}

impl Funded {
    async fn new(erc20: bool) -> Funded {
        let w = World::new().await;
        let s = Arc::new(LocalSigner::from_bytes(&[0x5a; 32]).unwrap());
        let f = w.net.address(FUNDER);
        let fc = AdjudicatorClient::new(w.adjudicator, w.net.wallet(FUNDER));
        let (token, unit) = if erc20 {
            let token = unwrap(deploy_test_token(&w.net.wallet(0)).await);
            let t = TestToken::new(token, w.net.wallet(0));
            for who in [f, w.bob.address()] {
                unwrap(send(t.mint(who, wei(1_000_000_000_000))).await);
            }
            unwrap(fc.approve(token, u128::MAX).await);
            unwrap(w.b.approve(token, u128::MAX).await);
            (token, 1_000_000)
        } else {
            (Address::ZERO, ETH)
        };
        let x = Funded {
            w,
            s,
            f,
            fc,
            token,
            unit,
        };
        assert_eq!(x.w.eth(x.s.address()).await, U256::ZERO, "S has no ETH");
        x
    }

    /// A channel between S (A) and Bob (B).
    fn params(&self, challenge_period: u64, salt: u8) -> ChannelParams {
        ChannelParams {
            chain_id: self.w.net.chain_id(),
            adjudicator: self.w.adjudicator,
            participants: [self.s.address(), self.w.bob.address()],
            token: self.token,
            challenge_period,
            salt: B256::repeat_byte(salt),
        }
    }

    /// `[S, Bob]` signatures on `state`.
    fn sign(&self, params: &ChannelParams, state: &ChannelState) -> [Signature; 2] {
        let d = state.digest(params);
        [self.s.sign_digest(&d), self.w.bob.sign_digest(&d)]
    }

    /// Balance of `who` in the channel's asset.
    async fn asset(&self, who: Address) -> U256 {
        if self.token == Address::ZERO {
            self.w.eth(who).await
        } else {
            TestToken::new(self.token, self.w.net.provider.clone())
                .balanceOf(who)
                .call()
                .await
                .unwrap()
        }
    }

    /// What F paid in native coin for a transaction: gas, counted only when the asset is
    /// native (so that F's asset balance can be checked to the wei).
    fn fee(&self, r: &alloy::rpc::types::TransactionReceipt) -> U256 {
        if self.token == Address::ZERO {
            fee(r)
        } else {
            U256::ZERO
        }
    }

    /// S still holds nothing, in ETH or in the channel's asset.
    async fn assert_signer_untouched(&self) {
        assert_eq!(self.w.eth(self.s.address()).await, U256::ZERO);
        assert_eq!(self.asset(self.s.address()).await, U256::ZERO);
    }
}

fn pid(n: u8) -> B256 {
    B256::repeat_byte(n)
}

/// openFor, depositFor, a co-signed partial withdrawal and a cooperative close, with the states
/// signed by the core's channel running on S's key.
async fn cooperative(x: &Funded) {
    let (w, u) = (&x.w, x.unit);
    let (s, f, bob) = (x.s.address(), x.f, w.bob.address());
    let params = x.params(3_600, 1);
    let id = params.channel_id();
    let held = x.asset(w.adjudicator).await;
    let f0 = x.asset(f).await;
    let bob0 = x.asset(bob).await;
    let mut f_fees = U256::ZERO;
    let mut bob_fees = U256::ZERO;

    // F opens for S with 5 units: participant A is S, the money comes from F.
    let r = unwrap(x.fc.open_for(&params, 5 * u).await);
    f_fees += x.fee(&r);
    match &receipt_events(w.adjudicator, &r)[..] {
        [AdjudicatorEvent::Opened(e)] => {
            assert_eq!((e.channelId, e.a, e.b), (id, s, bob));
            assert_eq!((e.token, e.amount), (x.token, wei(5 * u)));
        }
        other => panic!("unexpected events {other:?}"),
    }
    let info = unwrap(x.fc.channel(id).await);
    assert_eq!(Status::of(&info), Status::Open);
    assert_eq!((info.a, info.b, info.payeeA), (s, bob, f));
    assert_eq!(info.depositA, wei(5 * u));
    assert_eq!(x.asset(f).await, f0 - wei(5 * u) - f_fees);
    // The same channel cannot be opened again, by anyone.
    assert_revert!(
        x.fc.open_for(&params, u).await,
        AdjudicatorErrors::ChannelExists(_)
    );

    // Bob tops up his side; F tops up S's side.
    let r = unwrap(w.b.deposit(&params, 2 * u).await);
    bob_fees += x.fee(&r);
    let r = unwrap(x.fc.deposit_for(&params, s, u).await);
    f_fees += x.fee(&r);
    match &receipt_events(w.adjudicator, &r)[..] {
        [AdjudicatorEvent::Deposited(e)] => {
            assert_eq!(
                (e.channelId, e.by),
                (id, s),
                "`by` is the credited participant"
            );
            assert_eq!((e.amount, e.totalDeposit), (wei(u), wei(6 * u)));
        }
        other => panic!("unexpected events {other:?}"),
    }
    let info = unwrap(x.fc.channel(id).await);
    assert_eq!((info.depositA, info.depositB), (wei(6 * u), wei(2 * u)));
    // F is not a participant: a plain deposit (crediting the caller's side) is refused.
    assert_revert!(
        x.fc.deposit(&params, u).await,
        AdjudicatorErrors::NotParticipant(_)
    );

    // The core, signing with S, agrees payments and a withdrawal of S's side with Bob.
    let mut pair = Pair::new(&params, x.s.clone(), w.bob.clone());
    pair.chain_deposit(Side::A, 6 * u);
    pair.chain_deposit(Side::B, 2 * u);
    pair.agree(
        Side::A,
        Op::Pay {
            payment_id: pid(1),
            amount: 2 * u,
        },
    );
    pair.agree(Side::A, Op::Withdraw { amount: u });
    let (st, sigs) = pair.signed();
    assert_eq!(sigs[0].recover(&st.digest(&params)).unwrap(), s);

    // Bob submits it: S's withdrawal is paid to F.
    let f1 = x.asset(f).await;
    let r = unwrap(w.b.withdraw(&params, &st, &sigs).await);
    bob_fees += x.fee(&r);
    assert_eq!(x.asset(f).await, f1 + wei(u));
    x.assert_signer_untouched().await;
    assert_eq!(unwrap(x.fc.channel(id).await).withdrawnA, wei(u));

    // Cooperative close: A's share to F, B's to Bob.
    pair.agree(Side::B, Op::Close);
    let (fin, sigs) = pair.signed();
    assert!(fin.is_final);
    assert_eq!(fin.balances, [3 * u, 4 * u]);
    let f2 = x.asset(f).await;
    let r = unwrap(w.b.close_cooperative(&params, &fin, &sigs).await);
    bob_fees += x.fee(&r);
    match &receipt_events(w.adjudicator, &r)[..] {
        [AdjudicatorEvent::Closed(e)] => {
            assert_eq!((e.payoutA, e.payoutB), (wei(3 * u), wei(4 * u)));
        }
        other => panic!("unexpected events {other:?}"),
    }
    assert_eq!(x.asset(f).await, f2 + wei(3 * u));
    assert_eq!(Status::of(&unwrap(x.fc.channel(id).await)), Status::Closed);

    // To the wei: F put in 6 and got back 1 + 3; Bob put in 2 and got 4.
    assert_eq!(x.asset(f).await, f0 - wei(2 * u) - f_fees);
    assert_eq!(x.asset(bob).await, bob0 + wei(2 * u) - bob_fees);
    assert_eq!(
        x.asset(w.adjudicator).await,
        held,
        "the adjudicator keeps nothing"
    );
    x.assert_signer_untouched().await;
}

/// Unilateral close submitted by F with a state S co-signed, settled by a third party; then an
/// HTLC of each direction claimed: both land with F.
async fn unilateral(x: &Funded) {
    let (w, u) = (&x.w, x.unit);
    let (f, bob) = (x.f, w.bob.address());
    let params = x.params(600, 2);
    let id = params.channel_id();
    let held = x.asset(w.adjudicator).await;
    unwrap(x.fc.open_for(&params, 4 * u).await);
    unwrap(x.fc.deposit_for(&params, bob, u).await); // F may fund Bob's side too
    let f0 = x.asset(f).await;
    let bob0 = x.asset(bob).await;

    let expiry = w.net.now().await.unwrap() + 10_000;
    let (p_from_a, p_from_b) = (B256::repeat_byte(7), B256::repeat_byte(8));
    let st = ChannelState {
        nonce: 5,
        balances: [2 * u, u / 2],
        deposits: [4 * u, u],
        withdrawn: [0, 0],
        htlcs: vec![
            // A -> B, never redeemed: back to A's funder after expiry.
            Htlc {
                id: 1,
                from: Side::A,
                amount: 2 * u,
                payment_hash: payment_hash(&p_from_a),
                expiry,
            },
            // B -> A, redeemed in time: to A's funder.
            Htlc {
                id: 1,
                from: Side::B,
                amount: u / 2,
                payment_hash: payment_hash(&p_from_b),
                expiry,
            },
        ],
        is_final: false,
    };
    st.check_invariant().unwrap();
    let sigs = x.sign(&params, &st);

    // F (not S, which has no gas money) registers the state; Eve settles after the window.
    let r = unwrap(x.fc.close_unilateral(&params, &st, &sigs).await);
    let f_fee = x.fee(&r);
    w.net.advance(601).await.unwrap();
    let r = unwrap(w.eve.settle(&params, &st).await);
    match &receipt_events(w.adjudicator, &r)[..] {
        [AdjudicatorEvent::HtlcRegistered(_), AdjudicatorEvent::HtlcRegistered(_), AdjudicatorEvent::Settled(e)] =>
        {
            assert_eq!((e.payoutA, e.payoutB), (wei(2 * u), wei(u / 2)));
        }
        other => panic!("unexpected events {other:?}"),
    }
    assert_eq!(x.asset(f).await, f0 + wei(2 * u) - f_fee);
    assert_eq!(x.asset(bob).await, bob0 + wei(u / 2));

    // B -> A lock redeemed with its preimage: paid to F.
    let f1 = x.asset(f).await;
    let r = unwrap(w.eve.claim_htlc(id, 1, Some(p_from_b)).await);
    assert!(matches!(
        receipt_events(w.adjudicator, &r)[..],
        [AdjudicatorEvent::PreimageRevealed(_), AdjudicatorEvent::HtlcClaimed(ref e)]
            if e.to == f && e.redeemed && e.amount == wei(u / 2)
    ));
    assert_eq!(x.asset(f).await, f1 + wei(u / 2));

    // A -> B lock expired unrevealed: back to F.
    w.net.set_next_timestamp(expiry + 1).await.unwrap();
    let r = unwrap(w.eve.claim_htlc(id, 0, None).await);
    assert!(matches!(
        receipt_events(w.adjudicator, &r)[..],
        [AdjudicatorEvent::HtlcClaimed(ref e)] if e.to == f && !e.redeemed
    ));
    assert_eq!(x.asset(f).await, f1 + wei(u / 2) + wei(2 * u));
    assert_eq!(
        x.asset(w.adjudicator).await,
        held,
        "the adjudicator keeps nothing"
    );
    x.assert_signer_untouched().await;
}

/// The refusals: depositFor a non-participant (the funder itself included), openFor with
/// a = 0, and the usual open checks.
async fn refusals(x: &Funded) {
    let (w, u) = (&x.w, x.unit);
    let params = x.params(600, 3);
    unwrap(x.fc.open_for(&params, u).await);
    let before = unwrap(x.fc.channel(params.channel_id()).await);
    for who in [x.f, w.net.address(3), Address::ZERO] {
        assert_revert!(
            x.fc.deposit_for(&params, who, u).await,
            AdjudicatorErrors::NotParticipant(_)
        );
    }
    assert_eq!(unwrap(x.fc.channel(params.channel_id()).await), before);

    let mut zero = x.params(600, 4);
    zero.participants[0] = Address::ZERO;
    assert_revert!(
        x.fc.open_for(&zero, u).await,
        AdjudicatorErrors::ZeroParticipant(_)
    );
    let mut same = x.params(600, 4);
    same.participants[0] = same.participants[1];
    assert_revert!(
        x.fc.open_for(&same, u).await,
        AdjudicatorErrors::SameParticipants(_)
    );
    let mut no_b = x.params(600, 4);
    no_b.participants[1] = Address::ZERO;
    assert_revert!(
        x.fc.open_for(&no_b, u).await,
        AdjudicatorErrors::ZeroCounterparty(_)
    );
    // Unknown channel.
    assert_revert!(
        x.fc.deposit_for(&x.params(600, 5), x.s.address(), u).await,
        AdjudicatorErrors::UnknownChannel(_)
    );
}

#[tokio::test]
async fn native_funder_pays_and_is_paid_for_a_coinless_signer() {
    let x = Funded::new(false).await;
    cooperative(&x).await;
    unilateral(&x).await;
    refusals(&x).await;
}

#[tokio::test]
async fn erc20_funder_pays_and_is_paid_for_a_coinless_signer() {
    let x = Funded::new(true).await;
    cooperative(&x).await;
    unilateral(&x).await;
    refusals(&x).await;
    // No ETH moved to or from the adjudicator in an ERC-20 channel.
    assert_eq!(x.w.eth(x.w.adjudicator).await, U256::ZERO);
}

#[tokio::test]
async fn funder_may_close_without_state_and_gets_the_deposit_back() {
    let x = Funded::new(false).await;
    let w = &x.w;
    let params = x.params(600, 1);
    let id = params.channel_id();
    unwrap(x.fc.open_for(&params, 3 * ETH).await);
    unwrap(w.b.deposit(&params, ETH).await);
    // A third party may not; the funder of A's side may (S has no coin for gas).
    assert_revert!(
        w.eve.close_without_state(id).await,
        AdjudicatorErrors::NotParticipant(_)
    );
    let r = unwrap(x.fc.close_without_state(id).await);
    assert!(matches!(
        receipt_events(w.adjudicator, &r)[..],
        [AdjudicatorEvent::CloseRegistered(ref e)] if e.by == x.f && e.nonce == U256::ZERO
    ));
    let f0 = w.eth(x.f).await;
    let bob0 = w.eth(w.bob.address()).await;
    w.net.advance(601).await.unwrap();
    unwrap(w.eve.settle(&params, &ChannelState::initial()).await);
    assert_eq!(w.eth(x.f).await, f0 + wei(3 * ETH));
    assert_eq!(w.eth(w.bob.address()).await, bob0 + wei(ETH));
    x.assert_signer_untouched().await;
}

#[tokio::test]
async fn open_keeps_the_caller_as_payee_and_open_for_oneself_is_open() {
    let w = World::new().await;
    // open(): payee is A.
    let p1 = w.params(Address::ZERO, 600, 1);
    unwrap(w.a.open(&p1, ETH).await);
    let info = unwrap(w.a.channel(p1.channel_id()).await);
    assert_eq!(info.payeeA, w.alice.address());
    // openFor(a = caller): the same channel id and payee as open().
    let p2 = w.params(Address::ZERO, 600, 2);
    unwrap(w.a.open_for(&p2, ETH).await);
    let info = unwrap(w.a.channel(p2.channel_id()).await);
    assert_eq!(
        (info.a, info.payeeA),
        (w.alice.address(), w.alice.address())
    );
    assert_revert!(
        w.a.open(&p2, ETH).await,
        AdjudicatorErrors::ChannelExists(_)
    );
    // A channel opened for Alice by someone else has the id Alice's own open() would give it,
    // and Alice's signature still controls the state.
    let p3 = w.params(Address::ZERO, 600, 3);
    let r = unwrap(w.eve.open_for(&p3, 2 * ETH).await);
    assert!(matches!(
        receipt_events(w.adjudicator, &r)[..],
        [AdjudicatorEvent::Opened(ref e)] if e.channelId == p3.channel_id() && e.a == w.alice.address()
    ));
    let mut fin = state(1, [ETH, ETH], [2 * ETH, 0], [0, 0]);
    fin.is_final = true;
    let eve_addr = w.net.address(3);
    let eve0 = w.eth(eve_addr).await;
    let alice0 = w.eth(w.alice.address()).await;
    unwrap(w.b.close_cooperative(&p3, &fin, &w.sign(&p3, &fin)).await);
    assert_eq!(
        w.eth(eve_addr).await,
        eve0 + wei(ETH),
        "A's share to the funder"
    );
    assert_eq!(w.eth(w.alice.address()).await, alice0);
}
