//! `kill -9` of the hub in the middle of routed payments, then a restart from the same
//! database: every HTLC ends settled on both channels or failed on both, no money appears or
//! disappears, and the clients reconnect and resynchronise by themselves.

mod common;

use common::*;

async fn kill_mid_payment(backend: Backend) {
    let mut net = Net::start_on(backend, &[]).await;
    let shopper = net.client(2, true).await;
    let merchant = net.client(3, true).await;
    let sid = net.open_channel(&shopper, 2, ETH, 0).await.channel_id();
    let mid = net.open_channel(&merchant, 3, 0, ETH).await.channel_id();

    let mut invoices = vec![];
    for i in 0..12u128 {
        invoices.push(
            merchant
                .create_invoice(1_000 + i, "item", 600)
                .await
                .unwrap(),
        );
    }
    let mut tasks = vec![];
    for inv in invoices {
        let s = shopper.clone();
        tasks.push(tokio::spawn(async move { s.pay_invoice(sid, &inv).await }));
    }
    tokio::time::sleep(std::time::Duration::from_millis(30)).await;
    net.kill_hub();
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    net.start_hub().await;

    let mut paid = 0u128;
    for t in tasks {
        if let Ok(p) = t.await.unwrap() {
            let (_, payments) = shopper.state(sid).await.unwrap();
            let hash = l2pay::op::payment_hash(&p);
            paid += payments
                .iter()
                .find(|(h, _)| *h == hash)
                .expect("settled payment recorded")
                .1
                .amount;
        }
    }
    let s = wait_for(&shopper, sid, |s| s.htlcs.is_empty()).await;
    let m = wait_for(&merchant, mid, |s| {
        s.htlcs.is_empty() && s.balances[0] == paid
    })
    .await;
    s.check_invariant().unwrap();
    m.check_invariant().unwrap();
    assert_eq!(
        s.balances,
        [ETH - paid, paid],
        "the shopper paid exactly what settled"
    );
    assert_eq!(
        m.balances,
        [paid, ETH - paid],
        "the merchant received exactly that"
    );
    // Every payment hash is settled on both channels or on neither.
    let (_, sp) = shopper.state(sid).await.unwrap();
    let (_, mp) = merchant.state(mid).await.unwrap();
    let mut a: Vec<_> = sp.iter().map(|(h, p)| (*h, p.amount)).collect();
    let mut b: Vec<_> = mp.iter().map(|(h, p)| (*h, p.amount)).collect();
    a.sort();
    b.sort();
    assert_eq!(a, b);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite() {
    kill_mid_payment(Backend::Sqlite).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres() {
    kill_mid_payment(Backend::Postgres).await
}
