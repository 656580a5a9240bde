//! The hub against authenticated adversaries: peers with valid keys and funded channels that
//! send correctly signed messages built to break it (nonces at the limits, cross-token
//! payments, stolen payment hashes, duplicate-hash HTLCs, signature floods, registration
//! floods, and a seeded stream of arbitrary signed proposals). After every attack: the hub did
//! not panic, honest payments between an honest shopper and merchant still settle, every
//! channel's balances + locked HTLCs equal its deposits, and its fds and memory stay bounded.

mod common;

use std::time::Duration;

use alloy::primitives::{Address, B256};
use common::evil::{fds_and_rss, metric, Answer, Evil};
use common::*;
use l2pay::invoice::InvoiceRequest;
use l2pay::op::{payment_hash, Op};
use l2pay::session::Frame;
use l2pay::signer::Signer;
use l2pay::state::{ChannelParams, MAX_NONCE, MAX_NONCE_STEP};
use l2pay_hub::client::{ClientError, HubClient};

const WAIT: Duration = Duration::from_secs(5);

/// An honest shopper (key 2) and merchant (key 3) with funded native channels.
struct Honest {
    shopper: HubClient,
    merchant: HubClient,
    sid: B256,
    mid: B256,
    paid: u128,
}

impl Honest {
    async fn new(net: &Net) -> Honest {
        let shopper = net.client(2, false).await;
        let merchant = net.client(3, false).await;
        let sid = net.open_channel(&shopper, 2, ETH, 0).await.channel_id();
        let mid = net.open_channel(&merchant, 3, 0, ETH).await.channel_id();
        Honest {
            shopper,
            merchant,
            sid,
            mid,
            paid: 0,
        }
    }

    /// One honest payment end to end; both channels then hold their invariant.
    async fn pays(&mut self, amount: u128) {
        let inv = self
            .merchant
            .create_invoice(amount, "honest", 600)
            .await
            .expect("honest invoice");
        self.shopper
            .pay_invoice(self.sid, &inv)
            .await
            .expect("honest payment settles");
        self.paid += amount;
        let paid = self.paid;
        let m = wait_for(&self.merchant, self.mid, |s| {
            s.balances[0] == paid && s.htlcs.is_empty()
        })
        .await;
        m.check_invariant().unwrap();
        let s = wait_for(&self.shopper, self.sid, |s| s.htlcs.is_empty()).await;
        s.check_invariant().unwrap();
    }
}

/// The hub survived: no panic was caught, `/health` is 200.
async fn hub_is_healthy(net: &Net) {
    assert_eq!(metric(net, "l2pay_hub_panics_total").await, 0.0, "a panic");
    let (status, body) = evil_get(net, "/health").await;
    assert_eq!(status, 200, "{body}");
}

async fn evil_get(net: &Net, path: &str) -> (u16, String) {
    common::evil::http_get_status(&format!("{}{path}", net.http_url())).await
}

/// An attacker (anvil key `key`) with a channel funded on both sides.
async fn funded_attacker(net: &Net, key: usize) -> (HubClient, ChannelParams) {
    let c = net.client(key, false).await;
    let p = net.open_channel(&c, key, ETH, ETH).await;
    (c, p)
}

fn refused(a: &Answer) -> bool {
    matches!(a, Answer::Rejected(_) | Answer::Error(_))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signed_nonces_at_the_limits_are_refused_and_the_hub_keeps_routing() {
    let net = Net::start(&[]).await;
    let mut honest = Honest::new(&net).await;
    let (client, params) = funded_attacker(&net, 4).await;
    client.shutdown().await;
    let mut evil = Evil::connect(&net, 4, params.clone()).await;
    let base = evil.latest.nonce;
    let pay = |i: u8| Op::Pay {
        payment_id: B256::repeat_byte(i),
        amount: 1,
    };
    // Correctly signed proposals whose nonce leaves no room to continue, or jumps further
    // than any honest peer does. Before the fix, u64::MAX was agreed and the hub's next
    // proposal on this channel overflowed and panicked its actor.
    for (i, nonce) in [u64::MAX, u64::MAX - 1, MAX_NONCE, base + MAX_NONCE_STEP + 1]
        .into_iter()
        .enumerate()
    {
        let f = evil.propose(pay(i as u8), nonce);
        let a = evil.ask(&f, WAIT).await;
        assert!(refused(&a), "nonce {nonce}: {a:?}");
    }
    // The channel itself still works for its owner at the next nonce...
    let f = evil.propose(pay(9), base + 1);
    let a = evil.ask(&f, WAIT).await;
    assert!(matches!(a, Answer::Accepted), "{a:?}");
    evil.sync().await;
    assert_eq!(evil.latest.nonce, base + 1);
    evil.latest.check_invariant().unwrap();
    // ...and the hub's own next proposal on it (its top-up, seen on chain) uses a sane nonce.
    net.chain(HUB_KEY).deposit(&params, 5).await.unwrap();
    let mut proposed = None;
    for _ in 0..100 {
        if let Some(n) = evil.other.iter().find_map(|f| match f {
            Frame::Channel(l2pay::wire::Message::Propose(p)) => Some(p.nonce),
            _ => None,
        }) {
            proposed = Some(n);
            break;
        }
        let _ = evil
            .ask(
                &Frame::Sync {
                    channel_id: params.channel_id(),
                },
                Duration::from_millis(100),
            )
            .await;
    }
    assert_eq!(
        proposed,
        Some(base + 2),
        "the hub proposes the deposit next"
    );
    honest.pays(1_000).await;
    hub_is_healthy(&net).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn value_never_crosses_tokens() {
    let net = Net::start(&[]).await;
    let mut honest = Honest::new(&net).await;
    // The merchant also takes the test token; the hub deposited 1e18 units of it.
    let tmid = net
        .open_channel_in(net.token, &honest.merchant, 3, 0, ETH)
        .await
        .channel_id();
    // An attacker with a native-coin channel pays a token invoice: refused, nothing moves.
    let (attacker, ap) = funded_attacker(&net, 4).await;
    let inv = honest
        .merchant
        .create_invoice_in(net.token, 1_000_000, "1 tUSD", 600)
        .await
        .unwrap();
    let err = attacker
        .pay_invoice(ap.channel_id(), &inv)
        .await
        .unwrap_err();
    assert!(matches!(err, ClientError::PaymentFailed(_)), "{err:?}");
    let a = wait_for(&attacker, ap.channel_id(), |s| s.htlcs.is_empty()).await;
    assert_eq!(a.balances, [ETH, ETH], "the attacker's HTLC came back");
    let m = honest.merchant.state(tmid).await.unwrap().0;
    assert_eq!(
        m.balances,
        [0, ETH],
        "the merchant's token channel was not paid"
    );

    // A token the hub does not list is refused at registration.
    let other = Address::repeat_byte(0x42);
    let p = attacker.channel_params(other, 3_600, B256::repeat_byte(1));
    let err = attacker.register(p).await.unwrap_err();
    assert!(format!("{err:?}").contains("BAD_CHANNEL"), "{err:?}");

    // A shopper in the token pays the same invoice and the merchant is paid in the token.
    let tshopper = net.client(5, false).await;
    let tsid = net
        .open_channel_in(net.token, &tshopper, 5, ETH, 0)
        .await
        .channel_id();
    tshopper
        .pay_invoice(tsid, &inv)
        .await
        .expect("token payment");
    wait_for(&honest.merchant, tmid, |s| s.balances[0] == 1_000_000).await;
    honest.pays(1_000).await;
    hub_is_healthy(&net).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_payment_hash_belongs_to_its_first_merchant() {
    let mut net = Net::start(&[]).await;
    let mut honest = Honest::new(&net).await;
    let inv = honest
        .merchant
        .create_invoice(2_000, "victim's order", 600)
        .await
        .unwrap();
    let hash = l2pay::invoice::Invoice::decode(&inv)
        .unwrap()
        .request
        .payment_hash;
    // Attackers re-register the victim's hash under their own key: one with a funded channel,
    // one whose channel exists only in the hub's memory (never opened on chain).
    let (funded, _) = funded_attacker(&net, 4).await;
    let unfunded = net.client(5, false).await;
    unfunded
        .register(unfunded.channel_params(Address::ZERO, 3_600, B256::repeat_byte(3)))
        .await
        .unwrap();
    for key in [4usize, 5] {
        let s = net.devnet.signer(key);
        let stolen = InvoiceRequest {
            chain_id: net.devnet.chain_id(),
            amount: 2_000,
            token: Address::ZERO,
            payment_hash: hash,
            expiry: l2pay_hub::actor::now_ms() / 1_000 + 600,
            merchant: s.address(),
            hub_url: net.http_url(),
            description: "stolen".into(),
        }
        .sign(&s)
        .unwrap()
        .encode()
        .unwrap();
        let body = serde_json::json!({ "invoice": stolen }).to_string();
        let (status, text) =
            l2pay_hub::client::http_post(&format!("{}/api/invoices", net.http_url()), &body)
                .await
                .unwrap();
        assert!(
            (400..500).contains(&status),
            "key {key}: re-registering a taken hash gave {status} {text}"
        );
    }
    drop(funded);
    // The route did not flip, in memory or after a restart.
    net.kill_hub();
    net.start_hub().await;
    // The honest clients reconnect by themselves and resynchronise.
    wait_for(&honest.merchant, honest.mid, |_| true).await;
    honest
        .shopper
        .pay_invoice(honest.sid, &inv)
        .await
        .expect("the victim's invoice pays the victim");
    wait_for(&honest.merchant, honest.mid, |s| s.balances[0] == 2_000).await;
    honest.paid = 2_000;
    honest.pays(1_000).await;
    hub_is_healthy(&net).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn duplicate_hash_htlcs_cannot_block_a_merchant() {
    let net = Net::start(&[]).await;
    let mut honest = Honest::new(&net).await;
    let inv = honest
        .merchant
        .create_invoice(3_000, "paid once", 600)
        .await
        .unwrap();
    honest.shopper.pay_invoice(honest.sid, &inv).await.unwrap();
    honest.paid = 3_000;
    // 80 more HTLCs on the paid hash (more than the merchant channel's HTLC slots): each is
    // failed at once, none reaches the merchant.
    let (attacker, ap) = funded_attacker(&net, 4).await;
    for _ in 0..80 {
        let err = attacker
            .pay_invoice(ap.channel_id(), &inv)
            .await
            .unwrap_err();
        assert!(matches!(err, ClientError::PaymentFailed(_)), "{err:?}");
    }
    let m = honest.merchant.state(honest.mid).await.unwrap().0;
    assert!(m.htlcs.is_empty(), "no duplicate reached the merchant");
    let a = wait_for(&attacker, ap.channel_id(), |s| s.htlcs.is_empty()).await;
    assert_eq!(a.balances, [ETH, ETH]);

    // An HTLC expiring a year out is refused by the channel rules themselves.
    attacker.shutdown().await;
    let mut evil = Evil::connect(&net, 4, ap.clone()).await;
    let year = l2pay_hub::actor::now_ms() / 1_000 + 365 * 86_400;
    let f = evil.propose(
        Op::AddHtlc {
            id: evil.latest.htlcs.len() as u64 + 1_000,
            amount: 10,
            payment_hash: payment_hash(&B256::repeat_byte(5)),
            expiry: year,
        },
        evil.latest.nonce + 1,
    );
    let a = evil.ask(&f, WAIT).await;
    assert!(refused(&a), "{a:?}");
    honest.pays(1_000).await;
    hub_is_healthy(&net).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_signatures_get_a_key_banned_not_the_hub_stalled() {
    let net = Net::start(&[]).await;
    let mut honest = Honest::new(&net).await;
    let (client, params) = funded_attacker(&net, 4).await;
    client.shutdown().await;
    let mut evil = Evil::connect(&net, 4, params).await;
    let nonce = evil.latest.nonce + 1;
    let mut closed = false;
    for i in 0..64u8 {
        let f = evil.signed(
            Op::Pay {
                payment_id: B256::repeat_byte(i),
                amount: 1,
            },
            nonce,
            net.devnet.signer(9).sign_digest(&B256::repeat_byte(i)),
        );
        match evil.ask(&f, WAIT).await {
            Answer::Closed => {
                closed = true;
                break;
            }
            a => assert!(refused(&a), "{a:?}"),
        }
    }
    assert!(
        closed,
        "the hub disconnects a key that keeps sending bad signatures"
    );
    assert!(metric(&net, "l2pay_hub_banned_keys").await >= 1.0);
    // The key is barred for a while: a new session is refused at once.
    let (mut c, first) = common::raw::connect(&net).await;
    let Frame::Challenge {
        hub,
        chain_id,
        challenge,
        ..
    } = first
    else {
        panic!("{first:?}")
    };
    let s = net.devnet.signer(4);
    common::raw::send(
        &mut c,
        &l2pay::session::answer_challenge(&s, chain_id, hub, challenge),
    )
    .await;
    match common::raw::try_next(&mut c).await {
        Some(Frame::Error { code, .. }) => assert_eq!(code, "BANNED"),
        None => {}
        other => panic!("a banned key got {other:?}"),
    }
    honest.pays(1_000).await;
    hub_is_healthy(&net).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unfunded_registrations_are_capped_and_never_persisted() {
    let mut net = Net::start(&[
        "--max-unfunded-channels",
        "5",
        "--max-channels-per-client",
        "100",
    ])
    .await;
    let mut honest = Honest::new(&net).await;
    let attacker = net.client(4, false).await;
    let mut ok = 0;
    let mut refusals = 0;
    for i in 0..8u8 {
        let p = attacker.channel_params(Address::ZERO, 3_600, B256::repeat_byte(i));
        match attacker.register(p).await {
            Ok(_) => ok += 1,
            Err(_) => refusals += 1,
        }
    }
    assert_eq!((ok, refusals), (5, 3), "the global unfunded cap holds");
    assert_eq!(metric(&net, "l2pay_hub_unfunded_channels").await, 5.0);
    // A Close on an unfunded channel costs no signature check and moves nothing.
    let p = attacker.channel_params(Address::ZERO, 3_600, B256::repeat_byte(0));
    let mut events = attacker.events();
    attacker.propose(p.channel_id(), Op::Close).await.unwrap();
    let code = tokio::time::timeout(WAIT, async {
        loop {
            match events.recv().await {
                Ok(l2pay_hub::client::ClientEvent::HubError { code, .. }) => break code,
                Ok(_) => continue,
                Err(e) => panic!("events: {e}"),
            }
        }
    })
    .await
    .expect("the hub answers the close");
    assert_eq!(code, "NOT_FUNDED");
    // Only a connected key holds unfunded registrations: they go with its connection.
    attacker.shutdown().await;
    let mut left = 5.0;
    for _ in 0..50 {
        left = metric(&net, "l2pay_hub_unfunded_channels").await;
        if left == 0.0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(
        left, 0.0,
        "a disconnected key's unfunded registrations are forgotten"
    );
    // Nothing of it was written: after a restart the hub holds only the funded channels.
    net.kill_hub();
    net.start_hub().await;
    assert_eq!(metric(&net, "l2pay_hub_unfunded_channels").await, 0.0);
    let mut channels = 0.0;
    for _ in 0..50 {
        channels = metric(&net, "l2pay_hub_channels").await;
        if channels == 2.0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(channels, 2.0, "only the funded channels were kept");
    honest.pays(1_000).await;
    hub_is_healthy(&net).await;
}

/// A deterministic stream of correctly signed proposals with arbitrary values: nonces around
/// the agreed one and the limits, amounts near the balances and `u128::MAX`, HTLC ids and
/// expiries at the edges, duplicate hashes, withdrawals and closes. The hub answers each one
/// (accepted or refused), never panics, the attacker's channel keeps its invariant, honest
/// payments keep settling, and the hub's fds and memory stay bounded.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn arbitrary_signed_proposals_never_break_the_hub() {
    let net = Net::start(&[]).await;
    let mut honest = Honest::new(&net).await;
    let pid = net.hub.as_ref().unwrap().id();
    let (client, params) = funded_attacker(&net, 4).await;
    client.shutdown().await;
    let mut evil = Evil::connect(&net, 4, params).await;
    let (fds0, rss0) = fds_and_rss(pid);
    let mut rng = 0x9e37_79b9_7f4a_7c15u64;
    let mut next = move || {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        rng
    };
    let now = l2pay_hub::actor::now_ms() / 1_000;
    let mut accepted = 0;
    for round in 0..240u32 {
        let r = next();
        let amount = match r % 6 {
            0 => 1,
            1 => evil.latest.balances[0],
            2 => evil.latest.balances[0].saturating_add(1),
            3 => u128::MAX,
            4 => (next() % 1_000_000) as u128,
            _ => 0,
        };
        let hash = payment_hash(&B256::repeat_byte((next() % 4) as u8));
        let id = match next() % 4 {
            0 => 0,
            1 => u64::MAX,
            2 => next() % 8,
            _ => evil.latest.htlcs.len() as u64 + round as u64 + 1,
        };
        let expiry = match next() % 5 {
            0 => 0,
            1 => u64::MAX,
            2 => now + 3_600,
            3 => now + 10 * 86_400,
            _ => now + (next() % 7_200),
        };
        let op = match next() % 8 {
            0 => Op::Pay {
                payment_id: B256::repeat_byte((next() % 8) as u8),
                amount,
            },
            1 => Op::Refund {
                payment_id: B256::repeat_byte((next() % 8) as u8),
                amount,
            },
            2 | 3 => Op::AddHtlc {
                id,
                amount,
                payment_hash: hash,
                expiry,
            },
            4 => Op::SettleHtlc {
                id,
                preimage: B256::repeat_byte((next() % 4) as u8),
            },
            5 => Op::FailHtlc { id },
            6 => Op::ExpireHtlc { id },
            _ => Op::Withdraw { amount },
        };
        let base = evil.latest.nonce;
        let nonce = match next() % 6 {
            0 => base,
            1 => base + 2,
            2 => u64::MAX,
            3 => base + MAX_NONCE_STEP,
            _ => base + 1,
        };
        let f = evil.propose(op, nonce);
        match evil.ask(&f, Duration::from_secs(3)).await {
            Answer::Accepted => {
                accepted += 1;
                evil.sync().await;
            }
            Answer::Closed => {
                panic!("round {round}: an owner sending signed proposals was cut off")
            }
            Answer::Rejected(_) | Answer::Error(_) | Answer::Silent => {}
        }
        if round % 20 == 0 {
            evil.sync().await;
            evil.latest.check_invariant().unwrap();
        }
    }
    assert!(accepted > 0, "some proposals were valid and agreed");
    honest.pays(1_000).await;
    hub_is_healthy(&net).await;
    let (fds1, rss1) = fds_and_rss(pid);
    assert!(fds1 <= fds0 + 16, "fds {fds0} → {fds1}");
    assert!(rss1 <= rss0 + 64 * 1024, "RSS {rss0} KiB → {rss1} KiB");
}
