//! The hub as its own watchtower, end to end on anvil: a shopper closes unilaterally with a
//! stale state; the hub challenges with its newer state inside the window and settles it after
//! the deadline, also across restarts of the hub.

mod common;

use std::time::Duration;

use alloy::primitives::{B256, U256};
use alloy::providers::Provider;
use common::*;
use l2pay::op::Op;
use l2pay::signer::Signer;
use l2pay::state::{ChannelParams, ChannelState};
use l2pay::Signature;
use l2pay_chain::{fetch_events, receipt_events, AdjudicatorEvent, EventAt, Status};
use l2pay_hub::client::HubClient;
use l2pay_hub::store::Store;

const SHOPPER: usize = 2;
const PAYMENTS: [u128; 3] = [100_000, 200_000, 300_000];
const PAID: u128 = 600_000;

/// Pays the hub `amount` directly and waits until the shopper holds the agreed state.
async fn pay(c: &HubClient, id: B256, amount: u128, expected_total: u128) -> ChannelState {
    let mut pid = [0u8; 32];
    getrandom::fill(&mut pid).unwrap();
    c.propose(
        id,
        Op::Pay {
            payment_id: B256::from(pid),
            amount,
        },
    )
    .await
    .expect("pay");
    wait_for(c, id, |s| {
        s.balances == [ETH - expected_total, expected_total]
    })
    .await
}

/// The shopper's durable copy of `state` with the hub's signature, signed again by the
/// shopper: a complete doubly-signed state, as a cheating shopper would keep it.
async fn doubly_signed(net: &Net, params: &ChannelParams, state: &ChannelState) -> [Signature; 2] {
    let path = net.data.path().join(format!("client-{SHOPPER}.sqlite"));
    let store = Store::open(&format!("sqlite://{}", path.display()))
        .await
        .unwrap();
    let digest = state.digest(params);
    for _ in 0..200 {
        let stored = store.load_channels().await.unwrap();
        let snap = stored
            .into_iter()
            .map(|c| c.snapshot)
            .find(|s| s.params.channel_id() == params.channel_id())
            .expect("the shopper stored the channel");
        if snap.latest == *state {
            let hub_sig = snap.latest_peer_sig.expect("the hub signed it");
            assert_eq!(hub_sig.recover(&digest).unwrap(), net.hub_address());
            store.close().await;
            return [net.devnet.signer(SHOPPER).sign_digest(&digest), hub_sig];
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the shopper never stored nonce {}", state.nonce);
}

/// Waits (up to 30 s) for an event of channel `id` matching `f`.
async fn wait_chain_event(net: &Net, id: B256, f: impl Fn(&AdjudicatorEvent) -> bool) -> EventAt {
    for _ in 0..300 {
        let events = fetch_events(&net.devnet.provider, net.adjudicator, 0, None, Some(id))
            .await
            .unwrap();
        if let Some(e) = events.into_iter().find(|e| f(&e.event)) {
            return e;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the expected event never came on chain");
}

async fn block_time(net: &Net, block: u64) -> u64 {
    net.devnet
        .provider
        .get_block_by_number(block.into())
        .await
        .unwrap()
        .unwrap()
        .header
        .timestamp
}

/// Opens a channel, makes three payments to the hub and returns the channel, the stale
/// (after the first payment) doubly-signed state and the newest state.
async fn setup(net: &Net) -> (ChannelParams, ChannelState, [Signature; 2], ChannelState) {
    let shopper = net.client(SHOPPER, true).await;
    let params = net.open_channel(&shopper, SHOPPER, ETH, 0).await;
    let id = params.channel_id();
    let stale = pay(&shopper, id, PAYMENTS[0], PAYMENTS[0]).await;
    let sigs = doubly_signed(net, &params, &stale).await;
    pay(&shopper, id, PAYMENTS[1], PAYMENTS[0] + PAYMENTS[1]).await;
    let newest = pay(&shopper, id, PAYMENTS[2], PAID).await;
    assert!(newest.nonce > stale.nonce);
    assert_eq!(newest.balances, [ETH - PAID, PAID]);
    (params, stale, sigs, newest)
}

/// The stale close from the shopper's wallet; returns the registered deadline.
async fn close_stale(
    net: &Net,
    params: &ChannelParams,
    stale: &ChannelState,
    sigs: &[Signature; 2],
) -> u64 {
    let receipt = net
        .chain(SHOPPER)
        .close_unilateral(params, stale, sigs)
        .await
        .expect("stale close accepted by the contract");
    let registered = receipt_events(net.adjudicator, &receipt)
        .into_iter()
        .find_map(|e| match e {
            AdjudicatorEvent::CloseRegistered(c) => Some(c),
            _ => None,
        })
        .expect("CloseRegistered");
    assert_eq!(registered.channelId, params.channel_id());
    assert_eq!(registered.by, net.devnet.address(SHOPPER));
    assert_eq!(registered.nonce, U256::from(stale.nonce));
    registered.deadline
}

/// The hub's challenge: by the hub, with the newest nonce, inside the window.
async fn expect_challenge(net: &Net, params: &ChannelParams, newest: &ChannelState, deadline: u64) {
    let id = params.channel_id();
    let e = wait_chain_event(net, id, |e| matches!(e, AdjudicatorEvent::Challenged(_))).await;
    let AdjudicatorEvent::Challenged(c) = &e.event else {
        unreachable!()
    };
    assert_eq!(c.by, net.hub_address());
    assert_eq!(c.nonce, U256::from(newest.nonce));
    assert!(block_time(net, e.block_number.unwrap()).await <= deadline);
    let info = net.chain(SHOPPER).channel(id).await.unwrap();
    assert_eq!(Status::of(&info), Status::Closing);
    assert_eq!(info.registeredNonce, newest.nonce);
    assert_eq!(info.deadline, deadline);
    assert_eq!(info.payoutA, U256::from(ETH - PAID));
    assert_eq!(info.payoutB, U256::from(PAID));
}

/// After the window: the hub settles on its own, paying the newest state to the wei.
async fn expect_settlement(net: &Net, params: &ChannelParams, newest: &ChannelState) {
    let id = params.channel_id();
    let (shopper, hub) = (net.devnet.address(SHOPPER), net.hub_address());
    let shopper_before = net.devnet.balance(shopper).await.unwrap();
    let hub_before = net.devnet.balance(hub).await.unwrap();
    net.devnet
        .advance(params.challenge_period + 1)
        .await
        .unwrap();

    let e = wait_chain_event(net, id, |e| matches!(e, AdjudicatorEvent::Settled(_))).await;
    let AdjudicatorEvent::Settled(s) = &e.event else {
        unreachable!()
    };
    assert_eq!(s.nonce, U256::from(newest.nonce));
    assert_eq!(s.payoutA, U256::from(ETH - PAID));
    assert_eq!(s.payoutB, U256::from(PAID));
    assert_eq!(s.lockCount, U256::ZERO);

    let receipt = net
        .devnet
        .provider
        .get_transaction_receipt(e.tx_hash.unwrap())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(receipt.from, hub, "the hub settled");
    let fee = U256::from(receipt.gas_used) * U256::from(receipt.effective_gas_price);
    assert_eq!(
        net.devnet.balance(shopper).await.unwrap(),
        shopper_before + U256::from(ETH - PAID)
    );
    assert_eq!(
        net.devnet.balance(hub).await.unwrap(),
        hub_before + U256::from(PAID) - fee
    );
    let info = net.chain(SHOPPER).channel(id).await.unwrap();
    assert_eq!(Status::of(&info), Status::Closed);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hub_challenges_a_stale_close_and_settles_the_newest_state() {
    let _ = tracing_subscriber::fmt()
        .with_env_filter("l2pay_hub=info")
        .with_test_writer()
        .try_init();
    let net = Net::start(&[]).await;
    let (params, stale, sigs, newest) = setup(&net).await;
    let deadline = close_stale(&net, &params, &stale, &sigs).await;
    expect_challenge(&net, &params, &newest, deadline).await;
    expect_settlement(&net, &params, &newest).await;
}

/// The close happens while the hub is down, and the hub is down again between its challenge
/// and the deadline: it finds the close from its stored cursor and settles from its stored
/// watch list.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hub_catches_a_stale_close_across_restarts() {
    let mut net = Net::start(&[]).await;
    let (params, stale, sigs, newest) = setup(&net).await;
    // Let the hub's watcher move its cursor past the opening before it goes down.
    tokio::time::sleep(Duration::from_millis(500)).await;
    net.kill_hub();
    let deadline = close_stale(&net, &params, &stale, &sigs).await;
    net.devnet.mine().await.unwrap();
    net.start_hub().await;
    expect_challenge(&net, &params, &newest, deadline).await;

    net.kill_hub();
    net.start_hub().await;
    expect_settlement(&net, &params, &newest).await;
}

/// A close on the newest state is not challenged; the hub still settles it after the window.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hub_settles_an_honest_close_without_challenging() {
    let net = Net::start(&[]).await;
    let (params, _, _, newest) = setup(&net).await;
    let sigs = doubly_signed(&net, &params, &newest).await;
    let receipt = net
        .chain(SHOPPER)
        .close_unilateral(&params, &newest, &sigs)
        .await
        .expect("close on the newest state");
    // Give the hub a few polls: it must not try to challenge (nothing newer to register).
    tokio::time::sleep(Duration::from_secs(1)).await;
    let id = params.channel_id();
    let events = fetch_events(&net.devnet.provider, net.adjudicator, 0, None, Some(id))
        .await
        .unwrap();
    assert!(!events
        .iter()
        .any(|e| matches!(e.event, AdjudicatorEvent::Challenged(_))));
    assert!(receipt.status());
    expect_settlement(&net, &params, &newest).await;
}

/// A TCP relay in front of the hub that can hold every byte in both directions (a peer that
/// stops answering without disconnecting).
struct Relay {
    port: u16,
    hold: tokio::sync::watch::Sender<bool>,
}

impl Relay {
    async fn start(hub_port: u16) -> Relay {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let (hold, _) = tokio::sync::watch::channel(false);
        let held = hold.subscribe();
        tokio::spawn(async move {
            while let Ok((inbound, _)) = listener.accept().await {
                let Ok(outbound) = tokio::net::TcpStream::connect(("127.0.0.1", hub_port)).await
                else {
                    continue;
                };
                let (ri, wi) = inbound.into_split();
                let (ro, wo) = outbound.into_split();
                tokio::spawn(pump(ri, wo, held.clone()));
                tokio::spawn(pump(ro, wi, held.clone()));
            }
        });
        Relay { port, hold }
    }

    fn url(&self) -> String {
        format!("ws://127.0.0.1:{}/ws", self.port)
    }

    fn set_hold(&self, on: bool) {
        self.hold.send_replace(on);
    }
}

async fn pump(
    mut from: tokio::net::tcp::OwnedReadHalf,
    mut to: tokio::net::tcp::OwnedWriteHalf,
    mut held: tokio::sync::watch::Receiver<bool>,
) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = match from.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        if held.wait_for(|h| !*h).await.is_err() || to.write_all(&buf[..n]).await.is_err() {
            return;
        }
    }
}

/// A routed payment whose incoming HTLC the shopper never lets the hub settle (it went away
/// after the merchant was paid), then a stale close: the hub challenges with the state holding
/// the HTLC, reveals the preimage before the lock expires, settles with the lock, and claims it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hub_claims_an_incoming_htlc_after_a_stale_close() {
    let net = Net::start(&[]).await;
    let shopper = net.client(SHOPPER, true).await;
    let relay = Relay::start(net.port).await;
    let merchant = HubClient::connect(
        &relay.url(),
        std::sync::Arc::new(net.devnet.signer(3)),
        None,
    )
    .await
    .expect("merchant connects through the relay");
    let sp = net.open_channel(&shopper, SHOPPER, ETH, 0).await;
    let mp = net.open_channel(&merchant, 3, 0, ETH).await;
    let (sid, mid) = (sp.channel_id(), mp.channel_id());

    let stale = pay(&shopper, sid, PAYMENTS[0], PAYMENTS[0]).await;
    let sigs = doubly_signed(&net, &sp, &stale).await;

    // The hub's forward to the merchant waits in the relay while the shopper locks the HTLC
    // and then goes away.
    let invoice = merchant.create_invoice(250_000, "held", 600).await.unwrap();
    relay.set_hold(true);
    let payer = shopper.clone();
    let paying = tokio::spawn(async move { payer.pay_invoice(sid, &invoice).await });
    let locked = wait_for(&shopper, sid, |s| s.htlcs.len() == 1).await;
    paying.abort();
    let _ = paying.await;
    drop(shopper);
    tokio::time::sleep(Duration::from_millis(300)).await;
    relay.set_hold(false);
    wait_for(&merchant, mid, |s| {
        s.balances[0] == 250_000 && s.htlcs.is_empty()
    })
    .await;
    let htlc = locked.htlcs[0].clone();

    let deadline = close_stale(&net, &sp, &stale, &sigs).await;
    let e = wait_chain_event(&net, sid, |e| matches!(e, AdjudicatorEvent::Challenged(_))).await;
    let AdjudicatorEvent::Challenged(c) = &e.event else {
        unreachable!()
    };
    assert_eq!(c.by, net.hub_address());
    assert_eq!(c.nonce, U256::from(locked.nonce));
    assert!(block_time(&net, e.block_number.unwrap()).await <= deadline);
    assert!(htlc.expiry < deadline, "the lock expires inside the window");

    // The hub reveals the preimage while the lock can still redeem.
    let chain = net.chain(SHOPPER);
    let mut revealed = 0;
    for _ in 0..300 {
        revealed = chain.revealed_at(htlc.payment_hash).await.unwrap();
        if revealed != 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        revealed != 0 && revealed <= htlc.expiry,
        "revealed at {revealed}"
    );

    net.devnet.advance(sp.challenge_period + 1).await.unwrap();
    let e = wait_chain_event(&net, sid, |e| matches!(e, AdjudicatorEvent::Settled(_))).await;
    let AdjudicatorEvent::Settled(s) = &e.event else {
        unreachable!()
    };
    assert_eq!(s.nonce, U256::from(locked.nonce));
    assert_eq!(s.payoutA, U256::from(locked.balances[0]));
    assert_eq!(s.payoutB, U256::from(locked.balances[1]));
    assert_eq!(s.lockCount, U256::from(1));
    let e = wait_chain_event(&net, sid, |e| matches!(e, AdjudicatorEvent::HtlcClaimed(_))).await;
    let AdjudicatorEvent::HtlcClaimed(claimed) = &e.event else {
        unreachable!()
    };
    assert_eq!(claimed.to, net.hub_address());
    assert_eq!(claimed.amount, U256::from(htlc.amount));
    assert!(claimed.redeemed);
}
