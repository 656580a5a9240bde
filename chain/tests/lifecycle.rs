//! Full channel lifecycles on anvil, driven by two core `Channel`s: open, top-ups by both,
//! payments and refunds, partial withdrawals, cooperative close, checked to the wei.

mod common;

use alloy::primitives::{Address, B256, U256};
use common::*;
use l2pay::op::Op;
use l2pay::{Side, Signer};
use l2pay_chain::bindings::TestToken;
use l2pay_chain::{
    deploy_test_token, fetch_events, receipt_events, AdjudicatorEvent, EventCursor, Status,
};

/// Balance of `who` in the channel's asset.
async fn asset(w: &World, token: Address, who: Address) -> U256 {
    if token == Address::ZERO {
        w.eth(who).await
    } else {
        TestToken::new(token, w.net.provider.clone())
            .balanceOf(who)
            .call()
            .await
            .unwrap()
    }
}

fn pid(n: u8) -> B256 {
    B256::repeat_byte(n)
}

async fn lifecycle(w: &World, token: Address, unit: u128) {
    let native = token == Address::ZERO;
    let params = w.params(token, 3_600, 1);
    let id = params.channel_id();
    let who = [w.alice.address(), w.bob.address()];
    let clients = [&w.a, &w.b];
    let mut fees = [U256::ZERO; 2];
    let mut start = [U256::ZERO; 2];
    let mut start_eth = [U256::ZERO; 2];
    for i in 0..2 {
        start[i] = asset(w, token, who[i]).await;
        start_eth[i] = w.eth(who[i]).await;
        if !native {
            let r = unwrap(clients[i].approve(token, u128::MAX).await);
            fees[i] += fee(&r);
        }
    }
    let held = asset(w, token, w.adjudicator).await;

    // Alice opens with 5, Bob tops up 2, Alice tops up 1 more.
    let r = unwrap(w.a.open(&params, 5 * unit).await);
    fees[0] += fee(&r);
    assert!(matches!(
        receipt_events(w.adjudicator, &r)[..],
        [AdjudicatorEvent::Opened(ref e)] if e.channelId == id && e.b == who[1] && e.token == token
    ));
    let info = unwrap(w.a.channel(id).await);
    assert_eq!(Status::of(&info), Status::Open);
    assert_eq!((info.a, info.b, info.token), (who[0], who[1], token));
    assert_eq!(info.depositA, wei(5 * unit));

    let mut pair = Pair::new(&params, w.alice.clone(), w.bob.clone());
    pair.chain_deposit(Side::A, 5 * unit);
    let r = unwrap(w.b.deposit(&params, 2 * unit).await);
    fees[1] += fee(&r);
    pair.chain_deposit(Side::B, 2 * unit);
    let r = unwrap(w.a.deposit(&params, unit).await);
    fees[0] += fee(&r);
    pair.chain_deposit(Side::A, 6 * unit);

    // The contract computes the very digest the core signs.
    let (s, _) = pair.signed();
    assert_eq!(
        unwrap(w.a.state_digest(&params, &s).await),
        s.digest(&params)
    );

    // Payments and a refund.
    pair.agree(
        Side::A,
        Op::Pay {
            payment_id: pid(1),
            amount: unit,
        },
    );
    pair.agree(
        Side::A,
        Op::Pay {
            payment_id: pid(2),
            amount: unit / 2,
        },
    );
    pair.agree(
        Side::B,
        Op::Refund {
            payment_id: pid(1),
            amount: unit / 5,
        },
    );
    pair.agree(
        Side::B,
        Op::Pay {
            payment_id: pid(3),
            amount: unit / 10,
        },
    );

    // Partial withdrawals by both, executed in one transaction by Alice.
    pair.agree(Side::A, Op::Withdraw { amount: unit });
    pair.agree(Side::B, Op::Withdraw { amount: unit / 2 });
    let (s, sigs) = pair.signed();
    let r = unwrap(w.a.withdraw(&params, &s, &sigs).await);
    fees[0] += fee(&r);
    match &receipt_events(w.adjudicator, &r)[..] {
        [AdjudicatorEvent::Withdrawn(e)] => {
            assert_eq!((e.amountA, e.amountB), (wei(unit), wei(unit / 2)));
        }
        other => panic!("unexpected events {other:?}"),
    }
    let info = unwrap(w.a.channel(id).await);
    assert_eq!(
        (info.withdrawnA, info.withdrawnB),
        (wei(unit), wei(unit / 2))
    );
    assert_eq!(info.withdrawNonce, s.nonce);

    // More payments; a second withdrawal by Bob pays only the new part of his cumulative total.
    pair.agree(
        Side::A,
        Op::Pay {
            payment_id: pid(4),
            amount: unit / 4,
        },
    );
    pair.agree(Side::B, Op::Withdraw { amount: unit / 4 });
    pair.agree(
        Side::A,
        Op::Pay {
            payment_id: pid(5),
            amount: 3,
        },
    );
    let (s, sigs) = pair.signed();
    let r = unwrap(w.b.withdraw(&params, &s, &sigs).await);
    fees[1] += fee(&r);
    match &receipt_events(w.adjudicator, &r)[..] {
        [AdjudicatorEvent::Withdrawn(e)] => {
            assert_eq!((e.amountA, e.amountB), (U256::ZERO, wei(unit / 4)));
        }
        other => panic!("unexpected events {other:?}"),
    }

    // Cooperative close.
    pair.agree(Side::B, Op::Close);
    let (fin, sigs) = pair.signed();
    assert!(fin.is_final);
    let r = unwrap(w.b.close_cooperative(&params, &fin, &sigs).await);
    fees[1] += fee(&r);
    let info = unwrap(w.a.channel(id).await);
    assert_eq!(Status::of(&info), Status::Closed);
    assert_eq!(
        fin.balances[0] + fin.balances[1] + fin.withdrawn[0] + fin.withdrawn[1],
        8 * unit
    );

    // On-chain balances equal the final state to the wei.
    for i in 0..2 {
        let end = asset(w, token, who[i]).await;
        let mut expected =
            start[i] + wei(fin.balances[i]) + wei(fin.withdrawn[i]) - wei(fin.deposits[i]);
        if native {
            expected -= fees[i];
        } else {
            assert_eq!(
                w.eth(who[i]).await,
                start_eth[i] - fees[i],
                "only gas was paid in ETH"
            );
        }
        assert_eq!(end, expected, "participant {i}");
    }
    assert_eq!(
        asset(w, token, w.adjudicator).await,
        held,
        "the adjudicator keeps nothing"
    );
    assert_eq!(
        fin.balances,
        [
            6 * unit - unit - unit / 2 + unit / 5 + unit / 10 - unit - unit / 4 - 3,
            2 * unit + unit + unit / 2 - unit / 5 - unit / 10 - unit / 2 + unit / 4 - unit / 4 + 3
        ]
    );

    // A watcher sees the whole story in the logs.
    let events = unwrap(fetch_events(&w.net.provider, w.adjudicator, 0, None, Some(id)).await);
    let names: Vec<&str> = events
        .iter()
        .map(|e| match e.event {
            AdjudicatorEvent::Opened(_) => "Opened",
            AdjudicatorEvent::Deposited(_) => "Deposited",
            AdjudicatorEvent::Withdrawn(_) => "Withdrawn",
            AdjudicatorEvent::Closed(_) => "Closed",
            _ => "other",
        })
        .collect();
    assert_eq!(
        names,
        [
            "Opened",
            "Deposited",
            "Deposited",
            "Withdrawn",
            "Withdrawn",
            "Closed"
        ]
    );
    assert!(events
        .iter()
        .all(|e| e.block_number.is_some() && e.tx_hash.is_some()));
    // A cursor sees the same events once.
    let mut cursor = EventCursor::new(w.adjudicator, 0).channel(id);
    let polled = unwrap(cursor.poll(&w.net.provider).await);
    assert_eq!(polled, events);
    assert!(unwrap(cursor.poll(&w.net.provider).await).is_empty());
}

#[tokio::test]
async fn native_coin_lifecycle_settles_to_the_wei() {
    let w = World::new().await;
    lifecycle(&w, Address::ZERO, ETH).await;
}

#[tokio::test]
async fn erc20_lifecycle_settles_to_the_unit() {
    let w = World::new().await;
    let token = unwrap(deploy_test_token(&w.net.wallet(0)).await);
    let t = TestToken::new(token, w.net.wallet(0));
    for who in [w.alice.address(), w.bob.address()] {
        t.mint(who, wei(1_000_000_000))
            .send()
            .await
            .unwrap()
            .get_receipt()
            .await
            .unwrap();
    }
    assert_eq!(t.decimals().call().await.unwrap(), 6);
    lifecycle(&w, token, 1_000_000).await;
}
