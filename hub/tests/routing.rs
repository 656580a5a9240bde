//! The hub end to end: anvil, the adjudicator, the hub binary on SQLite, shopper and merchant
//! clients on real WebSockets.

mod common;

use common::*;
use l2pay::op::{payment_hash, Op};

/// Runs a scenario once on SQLite and once on PostgreSQL.
macro_rules! on_both_databases {
    ($($name:ident),* $(,)?) => {$(
        mod $name {
            use super::*;
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                super::$name(Backend::Sqlite).await
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                super::$name(Backend::Postgres).await
            }
        }
    )*};
}

on_both_databases!(
    pay_an_invoice_then_refund_it,
    concurrent_payments_from_many_shoppers,
    unknown_invoice_fails_back_to_the_shopper,
);

async fn pay_an_invoice_then_refund_it(backend: Backend) {
    let net = Net::start_on(backend, &[]).await;
    let shopper = net.client(2, true).await;
    let merchant = net.client(3, false).await;
    let sp = net.open_channel(&shopper, 2, ETH, 0).await;
    let mp = net.open_channel(&merchant, 3, 0, ETH).await;
    let (sid, mid) = (sp.channel_id(), mp.channel_id());

    let invoice = merchant
        .create_invoice(250_000, "one coffee", 600)
        .await
        .unwrap();
    let preimage = shopper.pay_invoice(sid, &invoice).await.expect("paid");
    let hash = payment_hash(&preimage);

    let s = wait_for(&shopper, sid, |s| {
        s.htlcs.is_empty() && s.balances == [ETH - 250_000, 250_000]
    })
    .await;
    s.check_invariant().unwrap();
    let m = wait_for(&merchant, mid, |s| s.balances == [250_000, ETH - 250_000]).await;
    m.check_invariant().unwrap();

    // The merchant refunds part of it; the hub passes the refund back to the shopper.
    merchant
        .propose(
            mid,
            Op::Refund {
                payment_id: hash,
                amount: 100_000,
            },
        )
        .await
        .unwrap();
    wait_for(&merchant, mid, |s| s.balances == [150_000, ETH - 150_000]).await;
    wait_for(&shopper, sid, |s| s.balances == [ETH - 150_000, 150_000]).await;
    let (_, payments) = shopper.state(sid).await.unwrap();
    let p = payments.iter().find(|(id, _)| *id == hash).unwrap();
    assert_eq!((p.1.amount, p.1.refunded), (250_000, 100_000));

    // Refunding more than was paid is refused locally with a typed error.
    let err = merchant
        .propose(
            mid,
            Op::Refund {
                payment_id: hash,
                amount: 150_001,
            },
        )
        .await;
    assert!(err.is_err());
}

async fn concurrent_payments_from_many_shoppers(backend: Backend) {
    let net = Net::start_on(backend, &[]).await;
    let merchant = net.client(3, false).await;
    let mp = net.open_channel(&merchant, 3, 0, 10 * ETH).await;
    let mut shoppers = vec![];
    for key in 4..9 {
        let c = net.client(key, false).await;
        let p = net.open_channel(&c, key, ETH, 0).await;
        shoppers.push((c, p.channel_id()));
    }
    let mut tasks = vec![];
    for (c, sid) in shoppers.clone() {
        for _ in 0..10 {
            let inv = merchant
                .create_invoice(1_000, "sticker", 600)
                .await
                .unwrap();
            let c = c.clone();
            tasks.push(tokio::spawn(async move { c.pay_invoice(sid, &inv).await }));
        }
    }
    for t in tasks {
        t.await.unwrap().expect("every payment settles");
    }
    let m = wait_for(&merchant, mp.channel_id(), |s| {
        s.balances[0] == 50 * 1_000 && s.htlcs.is_empty()
    })
    .await;
    m.check_invariant().unwrap();
    for (c, sid) in &shoppers {
        wait_for(c, *sid, |s| s.balances == [ETH - 10_000, 10_000]).await;
    }
}

/// An invoice the hub has no route for: the hub fails the HTLC and every balance returns.
async fn unknown_invoice_fails_back_to_the_shopper(backend: Backend) {
    let net = Net::start_on(backend, &[]).await;
    let shopper = net.client(2, false).await;
    let sp = net.open_channel(&shopper, 2, ETH, 0).await;
    // An invoice the hub never heard of: no route, the hub fails the HTLC at once.
    let other = net.client(3, false).await;
    net.open_channel(&other, 3, 0, ETH).await;
    let inv = {
        use l2pay::invoice::InvoiceRequest;
        let s3 = net.devnet.signer(3);
        InvoiceRequest {
            chain_id: net.devnet.chain_id(),
            amount: 5,
            token: alloy::primitives::Address::ZERO,
            payment_hash: payment_hash(&alloy::primitives::B256::repeat_byte(9)),
            expiry: l2pay_hub::actor::now_ms() / 1_000 + 600,
            merchant: l2pay::Signer::address(&s3),
            hub_url: net.http_url(),
            description: "never registered".into(),
        }
        .sign(&s3)
        .unwrap()
        .encode()
        .unwrap()
    };
    let err = shopper
        .pay_invoice(sp.channel_id(), &inv)
        .await
        .unwrap_err();
    assert!(
        matches!(err, l2pay_hub::client::ClientError::PaymentFailed(_)),
        "{err:?}"
    );
    let s = wait_for(&shopper, sp.channel_id(), |s| s.htlcs.is_empty()).await;
    assert_eq!(s.balances, [ETH, 0]);
}

/// The merchant vanishes after the invoice was issued: the hub's forward is never agreed, the
/// shopper's HTLC expires, both sides fail it, and every balance returns to where it was.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn vanished_peer_payment_expires_on_both_sides() {
    let net = Net::start(&[
        "--min-htlc-expiry",
        "2",
        "--expiry-delta",
        "2",
        "--chain-margin",
        "1",
    ])
    .await;
    let shopper = net.client(2, true).await;
    let merchant = net.client(3, true).await;
    let sid = net.open_channel(&shopper, 2, ETH, 0).await.channel_id();
    net.open_channel(&merchant, 3, 0, ETH).await;
    let invoice = merchant
        .create_invoice(777, "never delivered", 600)
        .await
        .unwrap();
    merchant.shutdown().await;

    let err = shopper.pay_invoice(sid, &invoice).await.unwrap_err();
    assert!(
        matches!(err, l2pay_hub::client::ClientError::PaymentFailed(_)),
        "{err:?}"
    );
    let s = wait_for(&shopper, sid, |s| s.htlcs.is_empty()).await;
    assert_eq!(s.balances, [ETH, 0]);
    s.check_invariant().unwrap();
}
