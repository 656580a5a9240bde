//! The contract and the core agree on every hash: type hashes, domain separator, locks root,
//! channel id and state digest.

mod common;

use alloy::primitives::{keccak256, Address, B256, U256};
use alloy::sol_types::SolStruct;
use common::*;
use l2pay::op::payment_hash;
use l2pay::{eip712, ChannelState, Htlc, Side};
use l2pay_chain::bindings::Adjudicator;
use l2pay_chain::convert::{locks_of, state_of};
use l2pay_chain::receipt_events;
use l2pay_chain::AdjudicatorEvent;

#[tokio::test]
async fn contract_and_core_hash_alike() {
    let w = World::new().await;
    let c = w.a.contract();
    assert_eq!(
        c.STATE_TYPEHASH().call().await.unwrap(),
        keccak256(eip712::State::eip712_encode_type().as_bytes())
    );
    assert_eq!(
        c.LOCK_TYPEHASH().call().await.unwrap(),
        keccak256(eip712::Lock::eip712_encode_type().as_bytes())
    );
    let params = w.params(Address::ZERO, 3_600, 9);
    assert_eq!(
        unwrap(w.a.domain_separator().await),
        params.domain().separator()
    );

    let s = ChannelState {
        nonce: 42,
        balances: [5, 3],
        deposits: [10, 2],
        withdrawn: [1, 0],
        htlcs: vec![
            Htlc {
                id: 1,
                from: Side::A,
                amount: 2,
                payment_hash: payment_hash(&B256::repeat_byte(1)),
                expiry: 1_900_000_000,
            },
            Htlc {
                id: 4,
                from: Side::B,
                amount: 1,
                payment_hash: payment_hash(&B256::repeat_byte(2)),
                expiry: u64::MAX,
            },
        ],
        is_final: false,
    };
    s.check_invariant().unwrap();
    assert_eq!(
        c.locksRootOf(locks_of(&s)).call().await.unwrap(),
        eip712::locks_root(&s.locks())
    );
    assert_eq!(c.locksRootOf(vec![]).call().await.unwrap(), B256::ZERO);
    assert_eq!(
        unwrap(w.a.state_digest(&params, &s).await),
        s.digest(&params)
    );
    let sol: Adjudicator::State = state_of(&params, &s);
    assert_eq!(sol.nonce, U256::from(42));

    // `open` assigns the id the core computes.
    let r = unwrap(w.a.open(&params, 0).await);
    match &receipt_events(w.adjudicator, &r)[..] {
        [AdjudicatorEvent::Opened(e)] => assert_eq!(e.channelId, params.channel_id()),
        other => panic!("unexpected events {other:?}"),
    }
}
