//! Unilateral closes on anvil: a stale state overridden within the challenge window, settling
//! only after it, closing without any signed state, and HTLCs claimed against the on-chain
//! preimage registry.

mod common;

use alloy::primitives::{Address, B256, U256};
use common::*;
use l2pay::op::payment_hash;
use l2pay::{ChannelState, Htlc, Side, Signer};
use l2pay_chain::convert::{sig_bytes, state_of};
use l2pay_chain::{receipt_events, AdjudicatorErrors, AdjudicatorEvent, Status};

#[tokio::test]
async fn stale_state_is_overridden_then_settled_after_the_window() {
    let w = World::new().await;
    let params = w.params(Address::ZERO, 600, 2);
    let id = params.channel_id();
    let (alice, bob) = (w.alice.address(), w.bob.address());
    unwrap(w.a.open(&params, 10 * ETH).await);
    unwrap(w.b.deposit(&params, 5 * ETH).await);

    let s1 = state(1, [10 * ETH, 5 * ETH], [10 * ETH, 5 * ETH], [0, 0]);
    let s2 = state(2, [7 * ETH, 8 * ETH], [10 * ETH, 5 * ETH], [0, 0]);
    let s3 = state(3, [6 * ETH, 9 * ETH], [10 * ETH, 5 * ETH], [0, 0]);
    let (sig1, sig2, sig3) = (
        w.sign(&params, &s1),
        w.sign(&params, &s2),
        w.sign(&params, &s3),
    );

    // Alice registers the stale state that favours her.
    let r = unwrap(w.a.close_unilateral(&params, &s1, &sig1).await);
    let t_close = w.net.now().await.unwrap();
    let info = unwrap(w.a.channel(id).await);
    assert_eq!(Status::of(&info), Status::Closing);
    assert_eq!(info.registeredNonce, 1);
    assert_eq!(info.deadline, t_close + 600);
    assert!(matches!(
        receipt_events(w.adjudicator, &r)[..],
        [AdjudicatorEvent::CloseRegistered(ref e)] if e.nonce == U256::from(1) && e.deadline == t_close + 600
    ));
    // No more deposits or withdrawals once closing.
    assert_revert!(
        w.b.deposit(&params, ETH).await,
        AdjudicatorErrors::NotOpen(_)
    );
    assert_revert!(
        w.a.withdraw(&params, &s2, &sig2).await,
        AdjudicatorErrors::NotOpen(_)
    );
    assert_revert!(
        w.b.close_cooperative(&params, &s2, &sig2).await,
        AdjudicatorErrors::NotOpen(_)
    );

    // A watchtower acting for Bob answers with nonce 2, Bob later with nonce 3; the deadline stays.
    w.net.advance(100).await.unwrap();
    unwrap(w.eve.challenge(&params, &s2, &sig2).await);
    w.net.advance(100).await.unwrap();
    let bob_before = w.eth(bob).await;
    let r = unwrap(w.b.challenge(&params, &s3, &sig3).await);
    let bob_fee = fee(&r);
    let info = unwrap(w.a.channel(id).await);
    assert_eq!((info.registeredNonce, info.deadline), (3, t_close + 600));

    // Settling before the deadline fails; so does a challenge after it.
    assert_revert!(
        w.eve.settle(&params, &s3).await,
        AdjudicatorErrors::ChallengePeriodRunning(_)
    );
    w.net.set_next_timestamp(t_close + 601).await.unwrap();
    w.net.mine().await.unwrap();
    let alice_before = w.eth(alice).await;
    let s4 = state(4, [5 * ETH, 10 * ETH], [10 * ETH, 5 * ETH], [0, 0]);
    let sig4 = w.sign(&params, &s4);
    assert_revert!(
        w.b.challenge(&params, &s4, &sig4).await,
        AdjudicatorErrors::ChallengePeriodOver(_)
    );

    // Anyone settles; each side gets exactly the registered balances.
    let r = unwrap(w.eve.settle(&params, &s3).await);
    assert!(matches!(
        receipt_events(w.adjudicator, &r)[..],
        [AdjudicatorEvent::Settled(ref e)] if e.payoutA == U256::from(6 * ETH) && e.payoutB == U256::from(9 * ETH)
    ));
    assert_eq!(w.eth(alice).await, alice_before + wei(6 * ETH));
    assert_eq!(w.eth(bob).await, bob_before - bob_fee + wei(9 * ETH));
    assert_eq!(w.eth(w.adjudicator).await, U256::ZERO);
    assert_eq!(Status::of(&unwrap(w.a.channel(id).await)), Status::Closed);
    assert_revert!(
        w.eve.settle(&params, &s3).await,
        AdjudicatorErrors::NotClosing(_)
    );
}

#[tokio::test]
async fn close_without_state_returns_every_deposit() {
    let w = World::new().await;
    let params = w.params(Address::ZERO, 60, 3);
    let id = params.channel_id();
    unwrap(w.a.open(&params, 3 * ETH).await);
    unwrap(w.b.deposit(&params, ETH).await);
    // Only participants may do this.
    assert_revert!(
        w.eve.close_without_state(id).await,
        AdjudicatorErrors::NotParticipant(_)
    );
    unwrap(w.b.close_without_state(id).await);
    let info = unwrap(w.a.channel(id).await);
    assert_eq!(
        (info.registeredNonce, info.payoutA, info.payoutB),
        (0, wei(3 * ETH), wei(ETH))
    );

    // A signed state (any nonce >= 1) still beats the implicit nonce-0 state.
    let s1 = state(1, [2 * ETH, 2 * ETH], [3 * ETH, ETH], [0, 0]);
    unwrap(w.a.challenge(&params, &s1, &w.sign(&params, &s1)).await);
    w.net.advance(61).await.unwrap();
    let (a0, b0) = (w.eth(w.alice.address()).await, w.eth(w.bob.address()).await);
    unwrap(w.eve.settle(&params, &s1).await);
    assert_eq!(w.eth(w.alice.address()).await, a0 + wei(2 * ETH));
    assert_eq!(w.eth(w.bob.address()).await, b0 + wei(2 * ETH));
}

#[tokio::test]
async fn unrecognised_deposits_and_unexecuted_withdrawals_are_paid_at_settle() {
    let w = World::new().await;
    let params = w.params(Address::ZERO, 60, 4);
    unwrap(w.a.open(&params, 4 * ETH).await);
    unwrap(w.b.deposit(&params, 2 * ETH).await);
    // The state knows only 3 of Alice's 4 and none of Bob's 2, and authorises Alice to withdraw
    // 1 that she never executed.
    let s = state(5, [ETH, ETH], [3 * ETH, 0], [ETH, 0]);
    unwrap(
        w.b.close_unilateral(&params, &s, &w.sign(&params, &s))
            .await,
    );
    w.net.advance(61).await.unwrap();
    let (a0, b0) = (w.eth(w.alice.address()).await, w.eth(w.bob.address()).await);
    unwrap(w.eve.settle(&params, &s).await);
    // Alice: balance 1 + unrecognised 1 + unexecuted withdrawal 1; Bob: balance 1 + his 2.
    assert_eq!(w.eth(w.alice.address()).await, a0 + wei(3 * ETH));
    assert_eq!(w.eth(w.bob.address()).await, b0 + wei(3 * ETH));
    assert_eq!(w.eth(w.adjudicator).await, U256::ZERO);
}

fn htlc(id: u64, from: Side, amount: u128, preimage: B256, expiry: u64) -> Htlc {
    Htlc {
        id,
        from,
        amount,
        payment_hash: payment_hash(&preimage),
        expiry,
    }
}

#[tokio::test]
async fn htlcs_pay_the_receiver_with_a_timely_preimage_else_the_sender() {
    let w = World::new().await;
    let params = w.params(Address::ZERO, 100, 5);
    let id = params.channel_id();
    let (alice, bob) = (w.alice.address(), w.bob.address());
    unwrap(w.a.open(&params, 10 * ETH).await);
    unwrap(w.b.deposit(&params, 5 * ETH).await);

    let now = w.net.now().await.unwrap();
    let expiry = now + 1_000;
    let (p1, p2, p3) = (
        B256::repeat_byte(1),
        B256::repeat_byte(2),
        B256::repeat_byte(3),
    );
    let s = ChannelState {
        nonce: 7,
        balances: [7 * ETH, 4 * ETH],
        deposits: [10 * ETH, 5 * ETH],
        withdrawn: [0, 0],
        htlcs: vec![
            htlc(1, Side::A, ETH, p1, expiry),
            htlc(2, Side::A, 2 * ETH, p2, expiry),
            htlc(1, Side::B, ETH, p3, expiry),
        ],
        is_final: false,
    };
    s.check_invariant().unwrap();
    let sigs = w.sign(&params, &s);
    assert_eq!(
        unwrap(w.a.state_digest(&params, &s).await),
        s.digest(&params)
    );
    unwrap(w.b.close_unilateral(&params, &s, &sigs).await);
    w.net.advance(101).await.unwrap();

    // The locks must be exactly those the state committed to.
    let mut wrong = s.clone();
    wrong.htlcs[1].amount += 1;
    assert_revert!(
        w.eve.settle(&params, &wrong).await,
        AdjudicatorErrors::LocksMismatch(_)
    );
    assert_revert!(
        w.eve.settle_raw(id, &[]).await,
        AdjudicatorErrors::LocksMismatch(_)
    );
    let (a0, b0) = (w.eth(alice).await, w.eth(bob).await);
    let r = unwrap(w.eve.settle(&params, &s).await);
    let registered = receipt_events(w.adjudicator, &r)
        .into_iter()
        .filter(|e| matches!(e, AdjudicatorEvent::HtlcRegistered(_)))
        .count();
    assert_eq!(registered, 3);
    assert_eq!(w.eth(alice).await, a0 + wei(7 * ETH));
    assert_eq!(w.eth(bob).await, b0 + wei(4 * ETH));
    assert_eq!(w.eth(w.adjudicator).await, wei(4 * ETH));
    assert_eq!(unwrap(w.a.channel(id).await).lockCount, U256::from(3));

    // Lock 0 (A -> B): a wrong preimage decides nothing before expiry; the right one pays Bob.
    assert_revert!(
        w.eve.claim_htlc(id, 0, Some(B256::repeat_byte(9))).await,
        AdjudicatorErrors::Undetermined(_)
    );
    let b1 = w.eth(bob).await;
    let r = unwrap(w.eve.claim_htlc(id, 0, Some(p1)).await);
    assert!(matches!(
        receipt_events(w.adjudicator, &r)[..],
        [AdjudicatorEvent::PreimageRevealed(_), AdjudicatorEvent::HtlcClaimed(ref e)]
            if e.to == bob && e.redeemed && e.amount == U256::from(ETH)
    ));
    assert_eq!(w.eth(bob).await, b1 + wei(ETH));
    assert_revert!(
        w.eve.claim_htlc(id, 0, None).await,
        AdjudicatorErrors::AlreadyClaimed(_)
    );
    assert!(unwrap(w.a.lock(id, 0).await).claimed);

    // Lock 2 (B -> A): Alice reveals in time with the registry, anyone claims later.
    unwrap(w.a.reveal_preimage(p3).await);
    let revealed = unwrap(w.a.revealed_at(payment_hash(&p3)).await);
    assert!(revealed > 0 && revealed <= expiry);

    // Lock 1 (A -> B) undetermined until expiry.
    assert_revert!(
        w.eve.claim_htlc(id, 1, None).await,
        AdjudicatorErrors::Undetermined(_)
    );
    w.net.set_next_timestamp(expiry + 1).await.unwrap();
    // After expiry: revealing p2 now does not count, the lock returns to Alice.
    let a1 = w.eth(alice).await;
    let r = unwrap(w.eve.claim_htlc(id, 1, Some(p2)).await);
    assert!(unwrap(w.a.revealed_at(payment_hash(&p2)).await) > expiry);
    assert!(matches!(
        receipt_events(w.adjudicator, &r)[..],
        [AdjudicatorEvent::PreimageRevealed(_), AdjudicatorEvent::HtlcClaimed(ref e)]
            if e.to == alice && !e.redeemed
    ));
    assert_eq!(w.eth(alice).await, a1 + wei(2 * ETH));

    // Lock 2 claimed after expiry still pays the receiver: the reveal was timely.
    let a2 = w.eth(alice).await;
    unwrap(w.eve.claim_htlc(id, 2, None).await);
    assert_eq!(w.eth(alice).await, a2 + wei(ETH));
    assert_revert!(
        w.eve.claim_htlc(id, 3, None).await,
        AdjudicatorErrors::BadLockIndex(_)
    );
    assert_eq!(w.eth(w.adjudicator).await, U256::ZERO);
}

#[tokio::test]
async fn expired_htlc_without_preimage_returns_to_sender() {
    let w = World::new().await;
    let params = w.params(Address::ZERO, 60, 6);
    let id = params.channel_id();
    unwrap(w.a.open(&params, 2 * ETH).await);
    let expiry = w.net.now().await.unwrap() + 200;
    let s = ChannelState {
        nonce: 2,
        balances: [ETH, 0],
        deposits: [2 * ETH, 0],
        withdrawn: [0, 0],
        htlcs: vec![htlc(1, Side::A, ETH, B256::repeat_byte(4), expiry)],
        is_final: false,
    };
    unwrap(
        w.a.close_unilateral(&params, &s, &w.sign(&params, &s))
            .await,
    );
    w.net.advance(61).await.unwrap();
    unwrap(w.eve.settle(&params, &s).await);
    assert_revert!(
        w.eve.claim_htlc(id, 0, None).await,
        AdjudicatorErrors::Undetermined(_)
    );
    w.net.advance(200).await.unwrap();
    let a0 = w.eth(w.alice.address()).await;
    unwrap(w.eve.claim_htlc(id, 0, None).await);
    assert_eq!(w.eth(w.alice.address()).await, a0 + wei(ETH));
}

#[tokio::test]
async fn refused_native_payout_is_kept_for_the_recipient() {
    use alloy::primitives::Bytes;
    use alloy::providers::ext::AnvilApi;

    let w = World::new().await;
    let params = w.params(Address::ZERO, 60, 7);
    let (alice, bob) = (w.alice.address(), w.bob.address());
    unwrap(w.a.open(&params, 3 * ETH).await);
    unwrap(w.b.deposit(&params, ETH).await);
    let mut fin = state(1, [2 * ETH, 2 * ETH], [3 * ETH, ETH], [0, 0]);
    fin.is_final = true;

    // Bob's address now rejects the native coin (code that always reverts, as an EIP-7702
    // delegation could); his refusal must not block Alice's payout.
    let reject = Bytes::from(vec![0x5f, 0x5f, 0xfd]);
    w.net.provider.anvil_set_code(bob, reject).await.unwrap();
    let (a0, b0) = (w.eth(alice).await, w.eth(bob).await);
    let r = unwrap(
        w.eve
            .close_cooperative(&params, &fin, &w.sign(&params, &fin))
            .await,
    );
    assert!(receipt_events(w.adjudicator, &r)
        .iter()
        .any(|e| matches!(e, AdjudicatorEvent::PaymentDeferred(d) if d.token == Address::ZERO && d.to == bob && d.amount == U256::from(2 * ETH))));
    assert_eq!(w.eth(alice).await, a0 + wei(2 * ETH));
    assert_eq!(w.eth(bob).await, b0);
    let c = w.b.contract();
    assert_eq!(
        c.owed(Address::ZERO, bob).call().await.unwrap(),
        wei(2 * ETH)
    );

    // Bob claims it later, to an address of his choice.
    w.net
        .provider
        .anvil_set_code(bob, Bytes::new())
        .await
        .unwrap();
    let r = unwrap(l2pay_chain::send(c.claimOwed(Address::ZERO, bob)).await);
    assert_eq!(w.eth(bob).await, b0 + wei(2 * ETH) - fee(&r));
    assert_eq!(c.owed(Address::ZERO, bob).call().await.unwrap(), U256::ZERO);
    assert_revert!(
        l2pay_chain::send(c.claimOwed(Address::ZERO, bob)).await,
        AdjudicatorErrors::NothingOwed(_)
    );
    assert_eq!(w.eth(w.adjudicator).await, U256::ZERO);
}

#[tokio::test]
async fn erc20_unilateral_settle_and_htlc_claim_pay_exact_units() {
    use l2pay_chain::bindings::TestToken;

    let w = World::new().await;
    let token = unwrap(l2pay_chain::deploy_test_token(&w.net.wallet(0)).await);
    let t = TestToken::new(token, w.net.wallet(0));
    let (alice, bob) = (w.alice.address(), w.bob.address());
    for (who, client) in [(alice, &w.a), (bob, &w.b)] {
        unwrap(l2pay_chain::send(t.mint(who, wei(100_000_000))).await);
        unwrap(client.approve(token, u128::MAX).await);
    }
    let params = w.params(token, 60, 8);
    let id = params.channel_id();
    unwrap(w.a.open(&params, 20_000_000).await);
    unwrap(w.b.deposit(&params, 1_000_000).await);
    let preimage = B256::repeat_byte(0x42);
    let expiry = w.net.now().await.unwrap() + 3_600;
    let s = ChannelState {
        nonce: 9,
        balances: [15_000_000, 2_500_000],
        deposits: [20_000_000, 1_000_000],
        withdrawn: [0, 0],
        htlcs: vec![htlc(3, Side::A, 3_500_000, preimage, expiry)],
        is_final: false,
    };
    s.check_invariant().unwrap();
    unwrap(
        w.b.close_unilateral(&params, &s, &w.sign(&params, &s))
            .await,
    );
    w.net.advance(61).await.unwrap();
    let a0 = t.balanceOf(alice).call().await.unwrap();
    let b0 = t.balanceOf(bob).call().await.unwrap();
    unwrap(w.eve.settle(&params, &s).await);
    assert_eq!(
        t.balanceOf(alice).call().await.unwrap(),
        a0 + wei(15_000_000)
    );
    assert_eq!(t.balanceOf(bob).call().await.unwrap(), b0 + wei(2_500_000));
    assert_eq!(
        t.balanceOf(w.adjudicator).call().await.unwrap(),
        wei(3_500_000)
    );
    unwrap(w.eve.claim_htlc(id, 0, Some(preimage)).await);
    assert_eq!(
        t.balanceOf(bob).call().await.unwrap(),
        b0 + wei(2_500_000 + 3_500_000)
    );
    assert_eq!(t.balanceOf(w.adjudicator).call().await.unwrap(), U256::ZERO);
    assert_revert!(
        w.eve.claim_htlc(id, 0, Some(preimage)).await,
        AdjudicatorErrors::AlreadyClaimed(_)
    );
}

/// The deadline is inclusive for challenges and exclusive for settling. Transactions carry an
/// explicit gas limit so that they are mined (at the chosen timestamp) instead of failing in
/// gas estimation.
#[tokio::test]
async fn deadline_is_the_last_second_to_challenge_and_settle_needs_the_next() {
    use l2pay_chain::{send, ChainError};

    let w = World::new().await;
    let y = w.params(Address::ZERO, 100, 10);
    let x = w.params(Address::ZERO, 1_000, 11);
    for p in [&y, &x] {
        unwrap(w.a.open(p, ETH).await);
    }
    let s1 = state(1, [ETH, 0], [ETH, 0], [0, 0]);
    let s2 = state(2, [ETH / 2, ETH / 2], [ETH, 0], [0, 0]);
    let s3 = state(3, [ETH / 4, 3 * ETH / 4], [ETH, 0], [0, 0]);
    unwrap(w.a.close_unilateral(&y, &s1, &w.sign(&y, &s1)).await);
    unwrap(w.a.close_unilateral(&x, &s1, &w.sign(&x, &s1)).await);
    let dy = unwrap(w.a.channel(y.channel_id()).await).deadline;
    let dx = unwrap(w.a.channel(x.channel_id()).await).deadline;
    let c = w.eve.contract();
    let gas = 500_000;

    w.net.set_next_timestamp(dy).await.unwrap();
    let r = send(c.settle(y.channel_id(), vec![]).gas(gas)).await;
    assert!(matches!(r, Err(ChainError::Reverted(_))), "{r:?}");
    w.net.set_next_timestamp(dy + 1).await.unwrap();
    unwrap(send(c.settle(y.channel_id(), vec![]).gas(gas)).await);

    let sig2 = w.sign(&x, &s2);
    let st2 = state_of(&x, &s2);
    w.net.set_next_timestamp(dx).await.unwrap();
    unwrap(
        send(
            c.challenge(st2, sig_bytes(&sig2[0]), sig_bytes(&sig2[1]), vec![])
                .gas(gas),
        )
        .await,
    );
    let sig3 = w.sign(&x, &s3);
    let st3 = state_of(&x, &s3);
    w.net.set_next_timestamp(dx + 1).await.unwrap();
    let r = send(
        c.challenge(st3, sig_bytes(&sig3[0]), sig_bytes(&sig3[1]), vec![])
            .gas(gas),
    )
    .await;
    assert!(matches!(r, Err(ChainError::Reverted(_))), "{r:?}");
    assert_eq!(unwrap(w.a.channel(x.channel_id()).await).registeredNonce, 2);
}
