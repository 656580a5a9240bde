//! Attacks on the adjudicator, each rejected with the channel and every balance unchanged.
//! The attacker (account 3) sends the transactions, so the participants' balances only move
//! if the contract pays them.

mod common;

use alloy::primitives::{Address, Bytes, B256, U256};
use alloy::providers::DynProvider;
use alloy::sol_types::{SolCall, SolError};
use common::*;
use l2pay::{eip712, ChannelParams, ChannelState, Signature, Signer};
use l2pay_chain::bindings::{Adjudicator, ReentrantToken};
use l2pay_chain::convert::{sig_bytes, state_of};
use l2pay_chain::{
    deploy_adjudicator, deploy_reentrant_token, receipt_events, send, AdjudicatorClient,
    AdjudicatorErrors, AdjudicatorEvent, ChannelInfo,
};

/// A native channel: Alice 10, Bob 5, challenge period 600 s.
async fn funded(w: &World, salt: u8) -> ChannelParams {
    let params = w.params(Address::ZERO, 600, salt);
    unwrap(w.a.open(&params, 10 * ETH).await);
    unwrap(w.b.deposit(&params, 5 * ETH).await);
    params
}

#[derive(Debug, PartialEq, Eq)]
struct Snapshot {
    channel: ChannelInfo,
    held: U256,
    alice: U256,
    bob: U256,
}

async fn snapshot(w: &World, params: &ChannelParams) -> Snapshot {
    Snapshot {
        channel: unwrap(w.a.channel(params.channel_id()).await),
        held: w.eth(w.adjudicator).await,
        alice: w.eth(w.alice.address()).await,
        bob: w.eth(w.bob.address()).await,
    }
}

fn high_s_twin(sig: &Signature) -> Signature {
    let n = U256::from_str_radix(
        "fffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141",
        16,
    )
    .unwrap();
    let s = U256::from_be_slice(&sig.0[32..64]);
    let mut twin = sig.0;
    twin[32..64].copy_from_slice(&(n - s).to_be_bytes::<32>());
    twin[64] = if sig.0[64] == 27 { 28 } else { 27 };
    Signature(twin)
}

#[tokio::test]
async fn forged_single_and_malformed_signatures_are_rejected() {
    let w = World::new().await;
    let params = funded(&w, 1).await;
    let s = state(1, [8 * ETH, 5 * ETH], [10 * ETH, 5 * ETH], [2 * ETH, 0]);
    let [sig_a, sig_b] = w.sign(&params, &s);
    let before = snapshot(&w, &params).await;

    // Bob's signature forged by the attacker's key.
    let forged = w.net.signer(3).sign_digest(&s.digest(&params));
    assert_revert!(
        w.eve.withdraw(&params, &s, &[sig_a, forged]).await,
        AdjudicatorErrors::WrongSigner(_)
    );
    // Only Alice signed (her signature twice).
    assert_revert!(
        w.eve.withdraw(&params, &s, &[sig_a, sig_a]).await,
        AdjudicatorErrors::WrongSigner(_)
    );
    assert_revert!(
        w.eve.close_unilateral(&params, &s, &[sig_a, sig_a]).await,
        AdjudicatorErrors::WrongSigner(_)
    );
    // Signatures swapped.
    assert_revert!(
        w.eve.withdraw(&params, &s, &[sig_b, sig_a]).await,
        AdjudicatorErrors::WrongSigner(_)
    );
    // The state changed after signing.
    let mut greedy = s.clone();
    greedy.withdrawn = [3 * ETH, 0];
    greedy.balances = [7 * ETH, 5 * ETH];
    assert_revert!(
        w.eve.withdraw(&params, &greedy, &[sig_a, sig_b]).await,
        AdjudicatorErrors::WrongSigner(_)
    );
    // Missing, short, bad-v and zero-r signatures.
    let sol = state_of(&params, &s);
    let c = w.eve.contract();
    for bad in [
        Bytes::new(),
        Bytes::copy_from_slice(&sig_b.0[..64]),
        Bytes::from([sig_b.0.as_slice(), &[0]].concat()),
    ] {
        assert_revert!(
            send(c.withdraw(sol.clone(), sig_bytes(&sig_a), bad)).await,
            AdjudicatorErrors::SignatureMalformed(_)
        );
    }
    let mut bad_v = sig_b;
    bad_v.0[64] = 29;
    let mut zero_r = sig_b;
    zero_r.0[..32].fill(0);
    for bad in [bad_v, zero_r] {
        assert_revert!(
            w.eve.withdraw(&params, &s, &[sig_a, bad]).await,
            AdjudicatorErrors::SignatureMalformed(_)
        );
    }
    assert_eq!(snapshot(&w, &params).await, before);
    // The genuine pair works.
    unwrap(w.eve.withdraw(&params, &s, &[sig_a, sig_b]).await);
}

#[tokio::test]
async fn high_s_twin_signature_is_rejected() {
    let w = World::new().await;
    let params = funded(&w, 2).await;
    let s = state(1, [8 * ETH, 5 * ETH], [10 * ETH, 5 * ETH], [2 * ETH, 0]);
    let [sig_a, sig_b] = w.sign(&params, &s);
    let twin = high_s_twin(&sig_b);
    // The core refuses the twin too.
    assert_eq!(
        twin.recover(&s.digest(&params)),
        Err(l2pay::error::SignatureError::HighS)
    );
    // ... and the contract refuses it everywhere.
    let before = snapshot(&w, &params).await;
    assert_revert!(
        w.eve.withdraw(&params, &s, &[sig_a, twin]).await,
        AdjudicatorErrors::SignatureHighS(_)
    );
    assert_revert!(
        w.eve
            .close_unilateral(&params, &s, &[high_s_twin(&sig_a), sig_b])
            .await,
        AdjudicatorErrors::SignatureHighS(_)
    );
    assert_eq!(snapshot(&w, &params).await, before);
}

#[tokio::test]
async fn states_of_another_channel_contract_or_chain_are_rejected() {
    let w = World::new().await;
    let params = funded(&w, 3).await;
    let id = params.channel_id();
    let other = funded(&w, 4).await;
    let s = state(1, [4 * ETH, 11 * ETH], [10 * ETH, 5 * ETH], [0, 0]);
    let before = (snapshot(&w, &params).await, snapshot(&w, &other).await);

    // Signed for the other channel, relabelled as this one.
    let sigs = w.sign(&other, &s);
    let mut relabelled = s.to_sol(other.channel_id());
    relabelled.channelId = id;
    assert_revert!(
        w.eve.close_unilateral_raw(&relabelled, &sigs, &[]).await,
        AdjudicatorErrors::WrongSigner(_)
    );

    // Signed under another adjudicator's domain (same channel id, same chain).
    let adj2 = unwrap(deploy_adjudicator(&w.net.wallet(0)).await);
    let sol = s.to_sol(id);
    let sigs2 = w.sign_raw(&sol, w.net.chain_id(), adj2);
    assert_revert!(
        w.eve.close_unilateral_raw(&sol, &sigs2, &[]).await,
        AdjudicatorErrors::WrongSigner(_)
    );
    // A channel of the other adjudicator does not exist here.
    let mut params2 = params.clone();
    params2.adjudicator = adj2;
    assert_revert!(
        w.eve
            .close_unilateral(&params2, &s, &w.sign(&params2, &s))
            .await,
        AdjudicatorErrors::UnknownChannel(_)
    );
    // Signed for another chain id.
    let sigs3 = w.sign_raw(&sol, 1, w.adjudicator);
    assert_revert!(
        w.eve.close_unilateral_raw(&sol, &sigs3, &[]).await,
        AdjudicatorErrors::WrongSigner(_)
    );
    let mut params3 = params.clone();
    params3.chain_id = 1;
    assert_revert!(
        w.eve
            .close_unilateral(&params3, &s, &w.sign(&params3, &s))
            .await,
        AdjudicatorErrors::UnknownChannel(_)
    );
    assert_eq!(
        (snapshot(&w, &params).await, snapshot(&w, &other).await),
        before
    );
}

#[tokio::test]
async fn replayed_or_older_withdrawals_are_rejected() {
    let w = World::new().await;
    let params = funded(&w, 5).await;
    let s1 = state(1, [10 * ETH, 5 * ETH], [10 * ETH, 5 * ETH], [0, 0]);
    let s2 = state(2, [8 * ETH, 4 * ETH], [10 * ETH, 5 * ETH], [2 * ETH, ETH]);
    let s3 = state(3, [9 * ETH, 4 * ETH], [10 * ETH, 5 * ETH], [ETH, ETH]);
    let (sig1, sig2, sig3) = (
        w.sign(&params, &s1),
        w.sign(&params, &s2),
        w.sign(&params, &s3),
    );
    unwrap(w.eve.withdraw(&params, &s2, &sig2).await);
    let before = snapshot(&w, &params).await;
    assert_eq!(before.channel.withdrawnA, wei(2 * ETH));

    assert_revert!(
        w.eve.withdraw(&params, &s2, &sig2).await,
        AdjudicatorErrors::NonceTooLow(_)
    );
    assert_revert!(
        w.eve.withdraw(&params, &s1, &sig1).await,
        AdjudicatorErrors::NonceTooLow(_)
    );
    // A newer state that undoes an executed withdrawal is invalid everywhere.
    assert_revert!(
        w.eve.withdraw(&params, &s3, &sig3).await,
        AdjudicatorErrors::WithdrawalUndone(_)
    );
    assert_revert!(
        w.eve.close_unilateral(&params, &s3, &sig3).await,
        AdjudicatorErrors::WithdrawalUndone(_)
    );
    // So is a state older than the executed withdrawal.
    assert_revert!(
        w.eve.close_unilateral(&params, &s1, &sig1).await,
        AdjudicatorErrors::WithdrawalUndone(_)
    );
    assert_revert!(
        w.a.close_without_state(params.channel_id()).await,
        AdjudicatorErrors::HasWithdrawals(_)
    );
    // Once closing, even a valid new withdrawal is refused.
    unwrap(w.b.close_unilateral(&params, &s2, &sig2).await);
    let s4 = state(4, [7 * ETH, 4 * ETH], [10 * ETH, 5 * ETH], [3 * ETH, ETH]);
    assert_revert!(
        w.eve.withdraw(&params, &s4, &w.sign(&params, &s4)).await,
        AdjudicatorErrors::NotOpen(_)
    );
    let after = snapshot(&w, &params).await;
    assert_eq!((after.held, after.alice), (before.held, before.alice));
}

#[tokio::test]
async fn lower_nonce_challenge_and_settling_twice_are_rejected() {
    let w = World::new().await;
    let params = funded(&w, 6).await;
    let s2 = state(2, [9 * ETH, 6 * ETH], [10 * ETH, 5 * ETH], [0, 0]);
    let s3 = state(3, [8 * ETH, 7 * ETH], [10 * ETH, 5 * ETH], [0, 0]);
    let (sig2, sig3) = (w.sign(&params, &s2), w.sign(&params, &s3));
    unwrap(w.b.close_unilateral(&params, &s3, &sig3).await);
    let before = snapshot(&w, &params).await;
    assert_revert!(
        w.a.challenge(&params, &s2, &sig2).await,
        AdjudicatorErrors::NonceTooLow(_)
    );
    assert_revert!(
        w.a.challenge(&params, &s3, &sig3).await,
        AdjudicatorErrors::NonceTooLow(_)
    );
    assert_revert!(
        w.a.close_unilateral(&params, &s2, &sig2).await,
        AdjudicatorErrors::NotOpen(_)
    );
    let mut after = snapshot(&w, &params).await;
    after.alice = before.alice; // Alice's failed calls never reached the chain.
    assert_eq!(after, before);

    w.net.advance(601).await.unwrap();
    unwrap(w.eve.settle(&params, &s3).await);
    let settled = snapshot(&w, &params).await;
    assert_eq!(settled.held, U256::ZERO);
    assert_revert!(
        w.eve.settle(&params, &s3).await,
        AdjudicatorErrors::NotClosing(_)
    );
    assert_revert!(
        w.eve.challenge(&params, &s3, &sig3).await,
        AdjudicatorErrors::NotClosing(_)
    );
    assert_revert!(
        w.eve.claim_htlc(params.channel_id(), 0, None).await,
        AdjudicatorErrors::BadLockIndex(_)
    );
    assert_eq!(snapshot(&w, &params).await, settled);
}

#[tokio::test]
async fn inconsistent_states_and_bad_calls_are_rejected() {
    let w = World::new().await;
    let params = funded(&w, 7).await;
    let before = snapshot(&w, &params).await;
    // Claims a deposit the chain never saw.
    let s = state(1, [11 * ETH, 5 * ETH], [11 * ETH, 5 * ETH], [0, 0]);
    assert_revert!(
        w.eve
            .close_unilateral(&params, &s, &w.sign(&params, &s))
            .await,
        AdjudicatorErrors::DepositNotOnChain(_)
    );
    // Pays out more than the channel holds (signed by both, but unbalanced).
    let s = ChannelState {
        nonce: 1,
        balances: [10 * ETH, 6 * ETH],
        deposits: [10 * ETH, 5 * ETH],
        withdrawn: [0, 0],
        htlcs: vec![],
        is_final: true,
    };
    assert_revert!(
        w.eve
            .close_cooperative(&params, &s, &w.sign(&params, &s))
            .await,
        AdjudicatorErrors::Unbalanced(_)
    );
    assert_revert!(
        w.eve.withdraw(&params, &s, &w.sign(&params, &s)).await,
        AdjudicatorErrors::Unbalanced(_)
    );
    // Cooperative close needs a final state without locks.
    let s = state(1, [10 * ETH, 5 * ETH], [10 * ETH, 5 * ETH], [0, 0]);
    assert_revert!(
        w.eve
            .close_cooperative(&params, &s, &w.sign(&params, &s))
            .await,
        AdjudicatorErrors::NotFinal(_)
    );
    let mut locked: eip712::State = s.to_sol(params.channel_id());
    locked.isFinal = true;
    locked.locksRoot = B256::repeat_byte(1);
    assert_revert!(
        w.eve
            .close_cooperative_raw(
                &locked,
                &w.sign_raw(&locked, params.chain_id, w.adjudicator)
            )
            .await,
        AdjudicatorErrors::LocksPending(_)
    );
    // Deposits only by participants, opens only once, never with oneself, exact value.
    assert_revert!(
        w.eve.deposit(&params, ETH).await,
        AdjudicatorErrors::NotParticipant(_)
    );
    assert_revert!(
        w.a.open(&params, ETH).await,
        AdjudicatorErrors::ChannelExists(_)
    );
    let c = w.a.contract();
    assert_revert!(
        send(
            c.open(w.alice.address(), Address::ZERO, wei(1), 600, B256::ZERO)
                .value(wei(1))
        )
        .await,
        AdjudicatorErrors::SameParticipants(_)
    );
    assert_revert!(
        send(
            c.open(w.bob.address(), Address::ZERO, wei(2), 600, B256::ZERO)
                .value(wei(1))
        )
        .await,
        AdjudicatorErrors::WrongValue(_)
    );
    assert_revert!(
        send(c.deposit(params.channel_id(), wei(2)).value(wei(1))).await,
        AdjudicatorErrors::WrongValue(_)
    );
    let mut after = snapshot(&w, &params).await;
    after.alice = before.alice;
    assert_eq!(after, before);
}

/// Token balances of the adjudicator, Alice and Bob.
async fn token_balances(
    w: &World,
    t: &ReentrantToken::ReentrantTokenInstance<DynProvider>,
) -> Vec<U256> {
    let mut v = vec![];
    for who in [w.adjudicator, w.alice.address(), w.bob.address()] {
        v.push(t.balanceOf(who).call().await.unwrap());
    }
    v
}

#[tokio::test]
async fn reentrant_token_cannot_reenter() {
    let w = World::new().await;
    let token = unwrap(deploy_reentrant_token(&w.net.wallet(0)).await);
    let t = ReentrantToken::new(token, w.net.wallet(0));
    for (who, client) in [(w.alice.address(), &w.a), (w.bob.address(), &w.b)] {
        unwrap(send(t.mint(who, wei(100 * ETH))).await);
        unwrap(client.approve(token, u128::MAX).await);
    }
    let params = w.params(token, 600, 8);
    unwrap(w.a.open(&params, 10 * ETH).await);
    unwrap(w.b.deposit(&params, 5 * ETH).await);
    let s = state(1, [8 * ETH, 5 * ETH], [10 * ETH, 5 * ETH], [2 * ETH, 0]);
    let sigs = w.sign(&params, &s);
    let sol = state_of(&params, &s);
    let replay = Adjudicator::withdrawCall {
        s: sol.clone(),
        sigA: sig_bytes(&sigs[0]),
        sigB: sig_bytes(&sigs[1]),
    }
    .abi_encode();
    let (bal0, ch0) = (
        token_balances(&w, &t).await,
        unwrap(w.a.channel(params.channel_id()).await),
    );

    // The payout re-enters `withdraw` with the same state; the guard trips, the token's
    // transfer fails (undoing its own bookkeeping too), and Alice's payout is kept for her in
    // `owed`: the withdrawal is recorded once, nothing is paid twice.
    unwrap(send(t.arm(w.adjudicator, replay.clone().into(), false)).await);
    let r = unwrap(w.eve.withdraw(&params, &s, &sigs).await);
    assert!(receipt_events(w.adjudicator, &r)
        .iter()
        .any(|e| matches!(e, AdjudicatorEvent::PaymentDeferred(d) if d.to == w.alice.address())));
    assert_eq!(t.attacks().call().await.unwrap(), U256::ZERO);
    assert_eq!(token_balances(&w, &t).await, bal0);
    let ch1 = unwrap(w.a.channel(params.channel_id()).await);
    assert_eq!((ch1.withdrawnA, ch1.withdrawNonce), (wei(2 * ETH), 1));
    assert_eq!(ch1.depositA, ch0.depositA);
    assert_eq!(
        unwrap(w.a.owed(token, w.alice.address()).await),
        wei(2 * ETH)
    );
    assert_revert!(
        w.eve.withdraw(&params, &s, &sigs).await,
        AdjudicatorErrors::NonceTooLow(_)
    );
    // Claiming re-enters the same way while the token is armed, and fails the same way.
    assert_revert!(
        w.a.claim_owed(token, w.alice.address()).await,
        AdjudicatorErrors::TransferFailed(_)
    );

    // With the token swallowing the failure, the re-entry fails and the withdrawal is paid once.
    let s2 = state(2, [7 * ETH, 5 * ETH], [10 * ETH, 5 * ETH], [3 * ETH, 0]);
    let sigs2 = w.sign(&params, &s2);
    unwrap(send(t.arm(w.adjudicator, replay.into(), true)).await);
    unwrap(w.eve.withdraw(&params, &s2, &sigs2).await);
    assert_eq!(t.attacks().call().await.unwrap(), U256::from(1));
    assert!(!t.lastAttackSucceeded().call().await.unwrap());
    assert_eq!(
        t.lastAttackError().call().await.unwrap(),
        Bytes::from(Adjudicator::Reentrancy {}.abi_encode())
    );
    let bal1 = token_balances(&w, &t).await;
    assert_eq!(bal1[0], bal0[0] - wei(ETH));
    assert_eq!(bal1[1], bal0[1] + wei(ETH));
    assert_eq!(
        unwrap(w.a.channel(params.channel_id()).await).withdrawnA,
        wei(3 * ETH)
    );
    // Disarmed now, the kept payout is claimed.
    unwrap(w.a.claim_owed(token, w.alice.address()).await);
    assert_eq!(unwrap(w.a.owed(token, w.alice.address()).await), U256::ZERO);
    let bal1 = token_balances(&w, &t).await;
    assert_eq!(bal1[0], bal0[0] - wei(3 * ETH));
    assert_eq!(bal1[1], bal0[1] + wei(3 * ETH));

    // The same token (no return value, like USDT) closes normally.
    let fin = ChannelState {
        is_final: true,
        nonce: 3,
        ..s2.clone()
    };
    let client = AdjudicatorClient::new(w.adjudicator, w.net.wallet(3));
    unwrap(
        client
            .close_cooperative(&params, &fin, &w.sign(&params, &fin))
            .await,
    );
    let bal2 = token_balances(&w, &t).await;
    assert_eq!(bal2[0], bal0[0] - wei(15 * ETH));
    assert_eq!(bal2[1], bal0[1] + wei(10 * ETH));
    assert_eq!(bal2[2], bal0[2] + wei(5 * ETH));
}
