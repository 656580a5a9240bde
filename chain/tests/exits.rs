//! Exits a hostile counterparty cannot block: a payee that return-bombs (a contract funding
//! A's side through `openFor`, a token's transfer hook, an EIP-7702 delegated EOA) gets its
//! payouts kept in `owed` while the honest side is paid in full; challenge periods outside
//! 60 s ..= 30 days are refused at open; a registered state's locks must be the ones it
//! commits to and account, with its balances, for exactly what the channel holds.

mod common;

use alloy::eips::eip7702::Authorization;
use alloy::network::{TransactionBuilder, TransactionBuilder7702};
use alloy::primitives::{Address, B256, U256};
use alloy::providers::{DynProvider, Provider};
use alloy::rpc::types::{TransactionReceipt, TransactionRequest};
use alloy::signers::local::PrivateKeySigner;
use alloy::signers::SignerSync;
use alloy::sol_types::SolCall;
use common::*;
use l2pay::op::payment_hash;
use l2pay::state::{MAX_CHALLENGE_PERIOD, MIN_CHALLENGE_PERIOD};
use l2pay::{eip712, ChannelParams, ChannelState, Htlc, Side, Signer};
use l2pay_chain::bindings::HookToken;
use l2pay_chain::bindings::HostilePayee::{self, HostilePayeeInstance};
use l2pay_chain::{receipt_events, send, AdjudicatorErrors, AdjudicatorEvent};

/// Anvil account that deploys and drives the hostile payee contract.
const HOSTILE: usize = 4;
/// Anvil account that receives claimed payouts (starts with a known balance, sends nothing).
const CAROL: usize = 6;
/// A payout's gas is bounded: no exit transaction needs more than this.
const EXIT_GAS_CAP: u64 = 500_000;

fn htlc(id: u64, from: Side, amount: u128, preimage: B256, expiry: u64) -> Htlc {
    Htlc {
        id,
        from,
        amount,
        payment_hash: payment_hash(&preimage),
        expiry,
    }
}

fn bounded(r: TransactionReceipt) -> TransactionReceipt {
    assert!(r.gas_used < EXIT_GAS_CAP, "used {} gas", r.gas_used);
    r
}

fn deferred(w: &World, r: &TransactionReceipt, token: Address, to: Address, amount: u128) {
    assert!(
        receipt_events(w.adjudicator, r).iter().any(|e| matches!(e,
            AdjudicatorEvent::PaymentDeferred(d)
                if d.token == token && d.to == to && d.amount == wei(amount))),
        "no PaymentDeferred({to}, {amount})"
    );
}

/// A channel Alice–Bob that the hostile payee `p` opens and funds for Alice (`openFor`) with
/// `amount` of `token` (approved first): `p` is A's payee.
async fn funded_by(
    w: &World,
    p: &HostilePayeeInstance<DynProvider>,
    token: Address,
    amount: u128,
    salt: u8,
) -> ChannelParams {
    let params = w.params(token, 600, salt);
    let value = if token == Address::ZERO {
        wei(amount)
    } else {
        unwrap(send(p.approve(token, w.adjudicator, U256::MAX)).await);
        U256::ZERO
    };
    let call = p.openFor(
        w.adjudicator,
        w.alice.address(),
        w.bob.address(),
        token,
        wei(amount),
        params.challenge_period,
        params.salt,
    );
    unwrap(send(call.value(value)).await);
    let info = unwrap(w.a.channel(params.channel_id()).await);
    assert_eq!(info.payeeA, *p.address());
    params
}

async fn hostile(w: &World) -> HostilePayeeInstance<DynProvider> {
    HostilePayee::deploy(w.net.wallet(HOSTILE)).await.unwrap()
}

#[tokio::test]
async fn return_bombing_funder_cannot_block_the_other_side_native() {
    let w = World::new().await;
    let bob = w.bob.address();
    let carol = w.net.address(CAROL);

    // Withdrawal, then unilateral close with two HTLCs, then their claims.
    let p = hostile(&w).await;
    let params = funded_by(&w, &p, Address::ZERO, 4 * ETH, 1).await;
    let payee = *p.address();
    let id = params.channel_id();
    unwrap(w.b.deposit(&params, 2 * ETH).await);
    let s1 = state(1, [3 * ETH, ETH], [4 * ETH, 2 * ETH], [ETH, ETH]);
    let b0 = w.eth(bob).await;
    let r = bounded(unwrap(
        w.eve.withdraw(&params, &s1, &w.sign(&params, &s1)).await,
    ));
    deferred(&w, &r, Address::ZERO, payee, ETH);
    assert_eq!(w.eth(bob).await, b0 + wei(ETH));
    assert_eq!(unwrap(w.b.owed(Address::ZERO, payee).await), wei(ETH));

    let expiry = w.net.now().await.unwrap() + 3_600;
    let (pre_b, pre_a) = (B256::repeat_byte(0xb0), B256::repeat_byte(0xa0));
    let s2 = ChannelState {
        nonce: 2,
        balances: [5 * ETH / 2, ETH / 2],
        deposits: [4 * ETH, 2 * ETH],
        withdrawn: [ETH, ETH],
        htlcs: vec![
            htlc(1, Side::A, ETH / 2, pre_b, expiry),
            htlc(1, Side::B, ETH / 2, pre_a, expiry),
        ],
        is_final: false,
    };
    s2.check_invariant().unwrap();
    unwrap(
        w.eve
            .close_unilateral(&params, &s2, &w.sign(&params, &s2))
            .await,
    );
    w.net.advance(601).await.unwrap();
    let b1 = w.eth(bob).await;
    let r = bounded(unwrap(w.eve.settle(&params, &s2).await));
    deferred(&w, &r, Address::ZERO, payee, 5 * ETH / 2);
    assert_eq!(w.eth(bob).await, b1 + wei(ETH / 2));
    // Lock 0 (A → B) pays Bob; lock 1 (B → A) pays the hostile payee, so it is kept too.
    bounded(unwrap(w.eve.claim_htlc(id, 0, Some(pre_b)).await));
    assert_eq!(w.eth(bob).await, b1 + wei(ETH));
    let r = bounded(unwrap(w.eve.claim_htlc(id, 1, Some(pre_a)).await));
    deferred(&w, &r, Address::ZERO, payee, ETH / 2);

    // Cooperative close of a second channel it funds.
    let coop = funded_by(&w, &p, Address::ZERO, ETH, 2).await;
    unwrap(w.b.deposit(&coop, ETH).await);
    let mut fin = state(1, [ETH / 4, 7 * ETH / 4], [ETH, ETH], [0, 0]);
    fin.is_final = true;
    let b2 = w.eth(bob).await;
    bounded(unwrap(
        w.eve
            .close_cooperative(&coop, &fin, &w.sign(&coop, &fin))
            .await,
    ));
    assert_eq!(w.eth(bob).await, b2 + wei(7 * ETH / 4));

    // Everything it refused waits for it, and only it can move it.
    let owed = ETH + 5 * ETH / 2 + ETH / 2 + ETH / 4;
    assert_eq!(unwrap(w.b.owed(Address::ZERO, payee).await), wei(owed));
    assert_eq!(w.eth(w.adjudicator).await, wei(owed));
    assert_revert!(
        w.eve.claim_owed(Address::ZERO, carol).await,
        AdjudicatorErrors::NothingOwed(_)
    );
    // Its own bounded payout still fails (nothing moves); to another address it succeeds.
    assert_revert!(
        send(p.claimOwed(w.adjudicator, Address::ZERO, payee)).await,
        AdjudicatorErrors::TransferFailed(_)
    );
    let c0 = w.eth(carol).await;
    bounded(unwrap(
        send(p.claimOwed(w.adjudicator, Address::ZERO, carol)).await,
    ));
    assert_eq!(w.eth(carol).await, c0 + wei(owed));
    assert_eq!(unwrap(w.b.owed(Address::ZERO, payee).await), U256::ZERO);
    assert_eq!(w.eth(w.adjudicator).await, U256::ZERO);
}

#[tokio::test]
async fn token_hook_of_a_hostile_payee_cannot_block_the_other_side() {
    let w = World::new().await;
    let bob = w.bob.address();
    let token = *HookToken::deploy(w.net.wallet(0)).await.unwrap().address();
    let t = HookToken::new(token, w.net.wallet(0));
    let p = hostile(&w).await;
    unwrap(send(t.mint(*p.address(), wei(10 * ETH))).await);
    unwrap(send(t.mint(bob, wei(10 * ETH))).await);
    unwrap(w.b.approve(token, u128::MAX).await);
    let params = funded_by(&w, &p, token, 4 * ETH, 3).await;
    let payee = *p.address();
    unwrap(w.b.deposit(&params, 2 * ETH).await);

    let mut fin = state(1, [3 * ETH, 3 * ETH], [4 * ETH, 2 * ETH], [0, 0]);
    fin.is_final = true;
    let b0 = t.balanceOf(bob).call().await.unwrap();
    let r = bounded(unwrap(
        w.eve
            .close_cooperative(&params, &fin, &w.sign(&params, &fin))
            .await,
    ));
    deferred(&w, &r, token, payee, 3 * ETH);
    assert_eq!(t.balanceOf(bob).call().await.unwrap(), b0 + wei(3 * ETH));
    assert_eq!(unwrap(w.b.owed(token, payee).await), wei(3 * ETH));
    assert_eq!(
        t.balanceOf(w.adjudicator).call().await.unwrap(),
        wei(3 * ETH)
    );

    assert_revert!(
        send(p.claimOwed(w.adjudicator, token, payee)).await,
        AdjudicatorErrors::TransferFailed(_)
    );
    unwrap(send(p.setTame(true)).await);
    let before = t.balanceOf(payee).call().await.unwrap();
    bounded(unwrap(send(p.claimOwed(w.adjudicator, token, payee)).await));
    assert_eq!(
        t.balanceOf(payee).call().await.unwrap(),
        before + wei(3 * ETH)
    );
    assert_eq!(t.balanceOf(w.adjudicator).call().await.unwrap(), U256::ZERO);
    assert_eq!(unwrap(w.b.owed(token, payee).await), U256::ZERO);
}

/// Bob's EOA delegates (EIP-7702) to the return-bombing code after the channel is funded.
#[tokio::test]
async fn eip7702_delegated_participant_cannot_block_the_other_side() {
    let w = World::with_args(&["--hardfork", "prague"]).await;
    let (alice, bob, carol) = (w.alice.address(), w.bob.address(), w.net.address(CAROL));
    let delegate = *HostilePayee::deploy(w.net.wallet(HOSTILE))
        .await
        .unwrap()
        .address();
    let params = w.params(Address::ZERO, 600, 4);
    unwrap(w.a.open(&params, 3 * ETH).await);
    unwrap(w.b.deposit(&params, ETH).await);

    // Bob signs the authorization; another account sends it (as a relayer would), calling
    // the new code once.
    let bob_key = PrivateKeySigner::from_bytes(&w.net.key(2)).unwrap();
    let auth = Authorization {
        chain_id: U256::from(w.net.chain_id()),
        address: delegate,
        nonce: w.net.provider.get_transaction_count(bob).await.unwrap(),
    };
    let sig = bob_key.sign_hash_sync(&auth.signature_hash()).unwrap();
    let tx = TransactionRequest::default()
        .with_to(bob)
        .with_input(HostilePayee::setTameCall { tame_: false }.abi_encode())
        .with_authorization_list(vec![auth.into_signed(sig)]);
    let r = w
        .net
        .wallet(5)
        .send_transaction(tx)
        .await
        .unwrap()
        .get_receipt()
        .await
        .unwrap();
    assert!(r.status());
    let code = w.net.provider.get_code_at(bob).await.unwrap();
    assert_eq!(code[..3], [0xef, 0x01, 0x00]);
    assert_eq!(&code[3..], delegate.as_slice());

    let mut s = state(1, [2 * ETH, 2 * ETH], [3 * ETH, ETH], [0, 0]);
    s.is_final = true;
    let a0 = w.eth(alice).await;
    let r = bounded(unwrap(
        w.eve
            .close_cooperative(&params, &s, &w.sign(&params, &s))
            .await,
    ));
    deferred(&w, &r, Address::ZERO, bob, 2 * ETH);
    assert_eq!(w.eth(alice).await, a0 + wei(2 * ETH));
    assert_eq!(unwrap(w.a.owed(Address::ZERO, bob).await), wei(2 * ETH));

    // Bob's key still sends transactions: he pulls his coin to an address that accepts it.
    assert_revert!(
        w.b.claim_owed(Address::ZERO, bob).await,
        AdjudicatorErrors::TransferFailed(_)
    );
    let c0 = w.eth(carol).await;
    bounded(unwrap(w.b.claim_owed(Address::ZERO, carol).await));
    assert_eq!(w.eth(carol).await, c0 + wei(2 * ETH));
    assert_eq!(w.eth(w.adjudicator).await, U256::ZERO);
}

#[tokio::test]
async fn challenge_period_is_bounded_at_open() {
    let w = World::new().await;
    for (salt, period) in [
        0,
        MIN_CHALLENGE_PERIOD - 1,
        MAX_CHALLENGE_PERIOD + 1,
        u64::MAX,
    ]
    .into_iter()
    .enumerate()
    {
        let params = w.params(Address::ZERO, period, salt as u8);
        match w.a.open(&params, ETH).await {
            Err(l2pay_chain::ChainError::Revert(AdjudicatorErrors::ChallengePeriodOutOfRange(
                e,
            ))) => {
                assert_eq!(e.challengePeriod, period)
            }
            other => panic!("period {period}: expected ChallengePeriodOutOfRange, got {other:?}"),
        }
        assert_revert!(
            w.eve.open_for(&params, ETH).await,
            AdjudicatorErrors::ChallengePeriodOutOfRange(_)
        );
    }

    // Both bounds are accepted, and a close under each settles right after its deadline.
    for (salt, period) in [(10, MIN_CHALLENGE_PERIOD), (11, MAX_CHALLENGE_PERIOD)] {
        let params = w.params(Address::ZERO, period, salt);
        unwrap(w.a.open(&params, ETH).await);
        let s = state(1, [ETH / 2, ETH / 2], [ETH, 0], [0, 0]);
        unwrap(
            w.a.close_unilateral(&params, &s, &w.sign(&params, &s))
                .await,
        );
        let info = unwrap(w.a.channel(params.channel_id()).await);
        assert_eq!(info.deadline, w.net.now().await.unwrap() + period);
        w.net.advance(period - 10).await.unwrap();
        assert_revert!(
            w.eve.settle(&params, &s).await,
            AdjudicatorErrors::ChallengePeriodRunning(_)
        );
        w.net.advance(11).await.unwrap();
        unwrap(w.eve.settle(&params, &s).await);
    }
    // The contract's bounds are the core's.
    let c = w.a.contract();
    assert_eq!(
        c.MIN_CHALLENGE_PERIOD().call().await.unwrap(),
        MIN_CHALLENGE_PERIOD
    );
    assert_eq!(
        c.MAX_CHALLENGE_PERIOD().call().await.unwrap(),
        MAX_CHALLENGE_PERIOD
    );
}

/// A state both signed whose locks do not account for the channel's holdings exactly.
fn locked_state(nonce: u64, balances: [u128; 2], locks: &[u128]) -> ChannelState {
    let expiry = 1_900_000_000;
    ChannelState {
        nonce,
        balances,
        deposits: [2 * ETH, ETH],
        withdrawn: [0, 0],
        htlcs: locks
            .iter()
            .enumerate()
            .map(|(i, a)| {
                htlc(
                    i as u64,
                    Side::A,
                    *a,
                    B256::repeat_byte(i as u8 + 1),
                    expiry,
                )
            })
            .collect(),
        is_final: false,
    }
}

#[tokio::test]
async fn locks_must_match_and_balance_when_a_state_is_registered() {
    let w = World::new().await;
    let (alice, bob) = (w.alice.address(), w.bob.address());
    let params = w.params(Address::ZERO, 600, 5);
    let id = params.channel_id();
    unwrap(w.a.open(&params, 2 * ETH).await);
    unwrap(w.b.deposit(&params, ETH).await);
    let above = locked_state(1, [ETH, ETH], &[ETH / 2, 3 * ETH / 2]);
    let below = locked_state(1, [ETH, ETH], &[ETH / 2]);
    let good = locked_state(1, [ETH, ETH], &[ETH]);

    // Refused by closeUnilateral: locks above or below the holdings, a list the root does
    // not commit to, an amount that would overflow the sum.
    for s in [&above, &below] {
        assert_revert!(
            w.eve
                .close_unilateral(&params, s, &w.sign(&params, s))
                .await,
            AdjudicatorErrors::LocksUnbalanced(_)
        );
    }
    let sol = good.to_sol(id);
    let sigs = w.sign(&params, &good);
    assert_revert!(
        w.eve.close_unilateral_raw(&sol, &sigs, &[]).await,
        AdjudicatorErrors::LocksMismatch(_)
    );
    assert_revert!(
        w.eve
            .close_unilateral_raw(&sol, &sigs, &above.locks())
            .await,
        AdjudicatorErrors::LocksMismatch(_)
    );
    let huge = vec![eip712::Lock {
        amount: U256::MAX,
        ..good.locks()[0].clone()
    }];
    let mut overflow = sol.clone();
    overflow.locksRoot = eip712::locks_root(&huge);
    let sigs_overflow = w.sign_raw(&overflow, params.chain_id, w.adjudicator);
    assert_revert!(
        w.eve
            .close_unilateral_raw(&overflow, &sigs_overflow, &huge)
            .await,
        AdjudicatorErrors::LocksUnbalanced(_)
    );
    assert_eq!(
        l2pay_chain::Status::of(&unwrap(w.a.channel(id).await)),
        l2pay_chain::Status::Open
    );

    // The honest close registers; the same bad states are refused as challenges.
    let s1 = state(1, [2 * ETH, ETH], [2 * ETH, ETH], [0, 0]);
    unwrap(
        w.a.close_unilateral(&params, &s1, &w.sign(&params, &s1))
            .await,
    );
    for s in [&above, &below] {
        let s = ChannelState {
            nonce: 2,
            ..s.clone()
        };
        assert_revert!(
            w.eve.challenge(&params, &s, &w.sign(&params, &s)).await,
            AdjudicatorErrors::LocksUnbalanced(_)
        );
    }
    let s2 = ChannelState {
        nonce: 2,
        ..good.clone()
    };
    let sol2 = s2.to_sol(id);
    let sigs2 = w.sign(&params, &s2);
    assert_revert!(
        w.eve.challenge_raw(&sol2, &sigs2, &[]).await,
        AdjudicatorErrors::LocksMismatch(_)
    );
    assert_eq!(unwrap(w.a.channel(id).await).registeredNonce, 1);

    // A balanced state with locks challenges, settles and pays every lock.
    unwrap(w.b.challenge(&params, &s2, &sigs2).await);
    w.net.advance(601).await.unwrap();
    let (a0, b0) = (w.eth(alice).await, w.eth(bob).await);
    unwrap(w.eve.settle(&params, &s2).await);
    assert_eq!(w.eth(alice).await, a0 + wei(ETH));
    assert_eq!(w.eth(bob).await, b0 + wei(ETH));
    unwrap(w.eve.claim_htlc(id, 0, Some(B256::repeat_byte(1))).await);
    assert_eq!(w.eth(bob).await, b0 + wei(2 * ETH));
    assert_eq!(w.eth(w.adjudicator).await, U256::ZERO);
}
