//! The chain watcher and the watchtower under reorgs and lost transactions, on anvil with a
//! confirmation depth of 2: a deposit only an orphaned block showed is never credited (and is
//! once re-included and confirmed), a reorg deeper than the depth is read again from the fork,
//! a challenge a reorg drops is sent again and lands, and a settle dropped from the pool is
//! sent again with the same nonce and bumped fees.

mod common;

use std::time::Duration;

use alloy::primitives::{Address, Bytes, B256, U256};
use alloy::providers::Provider;
use common::*;
use l2pay::op::Op;
use l2pay::signer::Signer;
use l2pay::state::{ChannelParams, ChannelState, Side};
use l2pay::Signature;
use l2pay_chain::{fetch_events, AdjudicatorEvent, EventAt, Status};
use l2pay_hub::client::HubClient;
use l2pay_hub::store::Store;
use serde_json::Value;

const SHOPPER: usize = 2;
const CONFIRMATIONS: u64 = 2;
const DEPTH: [&str; 2] = ["--confirmations", "2"];
const TOP_UP: u128 = 250_000;

async fn mine(net: &Net, blocks: u64) {
    for _ in 0..blocks {
        net.devnet.mine().await.unwrap();
    }
}

/// Opens a channel from the shopper's wallet, lets the hub see it `CONFIRMATIONS` deep and
/// agrees the deposit.
async fn open_confirmed(net: &Net, c: &HubClient) -> ChannelParams {
    let mut salt = [0u8; 32];
    getrandom::fill(&mut salt).unwrap();
    let params = c.channel_params(Address::ZERO, 3_600, B256::from(salt));
    net.chain(SHOPPER).open(&params, ETH).await.unwrap();
    mine(net, CONFIRMATIONS).await;
    let id = c.register(params.clone()).await.expect("register");
    c.chain_deposit(id, Side::A, ETH).await.unwrap();
    wait_for(c, id, |s| s.deposits == [ETH, 0]).await;
    params
}

/// The deposits the shopper and the hub agreed, after giving the hub time to recognise more
/// (the shopper's proposal is sent again every second).
async fn agreed_after_a_while(c: &HubClient, id: B256) -> [u128; 2] {
    tokio::time::sleep(Duration::from_millis(1_500)).await;
    c.state(id).await.unwrap().0.deposits
}

/// A top-up of the shopper's side; the raw signed transaction (to include it again later).
async fn top_up(net: &Net, params: &ChannelParams, amount: u128) -> Bytes {
    let receipt = net.chain(SHOPPER).deposit(params, amount).await.unwrap();
    net.devnet
        .provider
        .get_raw_transaction_by_hash(receipt.transaction_hash)
        .await
        .unwrap()
        .expect("anvil keeps the raw transaction")
}

async fn chain_deposit_a(net: &Net, id: B256) -> u128 {
    let info = net.chain(SHOPPER).channel(id).await.unwrap();
    info.depositA.saturating_to()
}

/// A deposit mined in a block that a reorg replaces before it is `CONFIRMATIONS` deep never
/// reaches the hub; the same transaction, mined again and confirmed, does.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deposit_only_an_orphaned_block_showed_is_not_credited() {
    let net = Net::start(&DEPTH).await;
    let shopper = net.client(SHOPPER, false).await;
    let params = open_confirmed(&net, &shopper).await;
    let id = params.channel_id();

    let raw = top_up(&net, &params, TOP_UP).await;
    shopper
        .chain_deposit(id, Side::A, ETH + TOP_UP)
        .await
        .unwrap();
    mine(&net, CONFIRMATIONS - 1).await;
    assert_eq!(
        agreed_after_a_while(&shopper, id).await,
        [ETH, 0],
        "credited before it was deep enough"
    );

    // The deposit's block and the one on top of it are replaced by empty ones.
    net.devnet.reorg(CONFIRMATIONS, vec![]).await.unwrap();
    assert_eq!(chain_deposit_a(&net, id).await, ETH);
    mine(&net, CONFIRMATIONS + 1).await;
    assert_eq!(
        agreed_after_a_while(&shopper, id).await,
        [ETH, 0],
        "credited a deposit of an orphaned block"
    );

    // Mined again: credited once confirmed, not before.
    let _: B256 = net
        .devnet
        .provider
        .raw_request("eth_sendRawTransaction".into(), (raw,))
        .await
        .unwrap();
    assert_eq!(chain_deposit_a(&net, id).await, ETH + TOP_UP);
    assert_eq!(agreed_after_a_while(&shopper, id).await, [ETH, 0]);
    mine(&net, CONFIRMATIONS).await;
    wait_for(&shopper, id, |s| s.deposits == [ETH + TOP_UP, 0]).await;
}

/// A reorg deeper than the confirmation depth (here a revert to a snapshot, then a different
/// branch of the same height): the watcher notices that a block it read is gone, reads the new
/// branch from the fork and recognises the deposit that only the new branch holds.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reorg_deeper_than_the_depth_is_read_again_from_the_fork() {
    let net = Net::start(&DEPTH).await;
    let shopper = net.client(SHOPPER, false).await;
    let params = open_confirmed(&net, &shopper).await;
    let id = params.channel_id();
    let fork = net.devnet.snapshot().await.unwrap();
    let fork_height = net.devnet.block_number().await.unwrap();

    top_up(&net, &params, TOP_UP).await;
    mine(&net, CONFIRMATIONS).await;
    shopper
        .chain_deposit(id, Side::A, ETH + TOP_UP)
        .await
        .unwrap();
    wait_for(&shopper, id, |s| s.deposits == [ETH + TOP_UP, 0]).await;

    net.devnet.revert(fork).await.unwrap();
    assert_eq!(net.devnet.block_number().await.unwrap(), fork_height);
    top_up(&net, &params, 2 * TOP_UP).await;
    mine(&net, CONFIRMATIONS).await;
    assert_eq!(chain_deposit_a(&net, id).await, ETH + 2 * TOP_UP);
    shopper
        .chain_deposit(id, Side::A, ETH + 2 * TOP_UP)
        .await
        .unwrap();
    wait_for(&shopper, id, |s| s.deposits == [ETH + 2 * TOP_UP, 0]).await;
}

// ----- the watchtower -----

/// Pays the hub `amount` directly and waits until the shopper holds the agreed state.
async fn pay(c: &HubClient, id: B256, amount: u128, expected_total: u128) -> ChannelState {
    let mut pid = [0u8; 32];
    getrandom::fill(&mut pid).unwrap();
    let op = Op::Pay {
        payment_id: B256::from(pid),
        amount,
    };
    c.propose(id, op).await.expect("pay");
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
            store.close().await;
            return [net.devnet.signer(SHOPPER).sign_digest(&digest), hub_sig];
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the shopper never stored nonce {}", state.nonce);
}

/// A channel with two payments to the hub: the stale (first) state doubly signed, and the
/// newest.
async fn paid_channel(net: &Net) -> (ChannelParams, ChannelState, [Signature; 2], ChannelState) {
    let shopper = net.client(SHOPPER, true).await;
    let params = open_confirmed(net, &shopper).await;
    let id = params.channel_id();
    let stale = pay(&shopper, id, 100_000, 100_000).await;
    let sigs = doubly_signed(net, &params, &stale).await;
    let newest = pay(&shopper, id, 200_000, 300_000).await;
    (params, stale, sigs, newest)
}

/// The events of channel `id` on the canonical chain that match `f`.
async fn chain_events(net: &Net, id: B256, f: impl Fn(&AdjudicatorEvent) -> bool) -> Vec<EventAt> {
    fetch_events(&net.devnet.provider, net.adjudicator, 0, None, Some(id))
        .await
        .unwrap()
        .into_iter()
        .filter(|e| f(&e.event))
        .collect()
}

/// A transaction as the node reports it (`eth_getTransactionByHash`).
#[derive(Debug)]
struct Tx {
    hash: B256,
    from: Address,
    nonce: u64,
    max_fee: u128,
    priority_fee: u128,
}

fn hex_u128(v: &Value) -> u128 {
    let s = v.as_str().expect("a hex quantity");
    u128::from_str_radix(s.trim_start_matches("0x"), 16).unwrap()
}

fn tx_of(v: &Value) -> Tx {
    Tx {
        hash: v["hash"].as_str().unwrap().parse().unwrap(),
        from: v["from"].as_str().unwrap().parse().unwrap(),
        nonce: hex_u128(&v["nonce"]) as u64,
        max_fee: hex_u128(&v["maxFeePerGas"]),
        priority_fee: hex_u128(&v["maxPriorityFeePerGas"]),
    }
}

async fn transaction(net: &Net, hash: B256) -> Tx {
    let v: Value = net
        .devnet
        .provider
        .raw_request("eth_getTransactionByHash".into(), (hash,))
        .await
        .unwrap();
    tx_of(&v)
}

/// The hub's transactions waiting in anvil's pool.
async fn hub_pool(net: &Net) -> Vec<Tx> {
    let v: Value = net
        .devnet
        .provider
        .raw_request("txpool_content".into(), ())
        .await
        .unwrap();
    let Some(by_sender) = v["pending"].as_object() else {
        return vec![];
    };
    by_sender
        .values()
        .filter_map(Value::as_object)
        .flat_map(|by_nonce| by_nonce.values().map(tx_of))
        .filter(|t| t.from == net.hub_address())
        .collect()
}

/// Waits (up to 30 s) for a transaction of the hub in the pool, mining a block every
/// `mine_every` polls when given (the hub sends again only after blocks went by).
async fn wait_hub_pool(net: &Net, mine_every: Option<u32>) -> Tx {
    for i in 0..300u32 {
        if let Some(t) = hub_pool(net).await.into_iter().next() {
            return t;
        }
        if mine_every.is_some_and(|n| i % n == n - 1) {
            net.devnet.mine().await.unwrap();
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the hub sent nothing");
}

/// A replacement: same nonce, both fees at least 12.5 % higher.
fn assert_replaces(new: &Tx, old: &Tx) {
    assert_ne!(new.hash, old.hash);
    assert_eq!(new.nonce, old.nonce, "a replacement keeps the nonce");
    assert!(
        new.max_fee >= old.max_fee + old.max_fee / 8,
        "max fee {} not bumped from {}",
        new.max_fee,
        old.max_fee
    );
    assert!(
        new.priority_fee >= old.priority_fee + old.priority_fee / 8,
        "priority fee {} not bumped from {}",
        new.priority_fee,
        old.priority_fee
    );
}

/// The hub challenges a stale close; a reorg drops the block with the challenge. The hub
/// sends the challenge again (replacing it: same nonce, bumped fees), it lands, and the hub
/// settles the newest state after the window.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_challenge_a_reorg_drops_is_sent_again_and_lands() {
    let net = Net::start(&DEPTH).await;
    let (params, stale, sigs, newest) = paid_channel(&net).await;
    let id = params.channel_id();
    net.chain(SHOPPER)
        .close_unilateral(&params, &stale, &sigs)
        .await
        .expect("stale close");
    // The hub acts on the close once it is deep enough.
    mine(&net, CONFIRMATIONS).await;
    let is_challenge = |e: &AdjudicatorEvent| matches!(e, AdjudicatorEvent::Challenged(_));
    let mut first = None;
    for _ in 0..300 {
        if let Some(e) = chain_events(&net, id, is_challenge).await.pop() {
            first = Some(e);
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let first = first.expect("the hub challenged");
    let first_tx = transaction(&net, first.tx_hash.unwrap()).await;
    assert_eq!(first_tx.from, net.hub_address());

    let head = net.devnet.block_number().await.unwrap();
    let depth = head - first.block_number.unwrap() + 1;
    assert!(depth < CONFIRMATIONS, "the challenge is not final yet");
    net.devnet.reorg(depth, vec![]).await.unwrap();
    assert!(chain_events(&net, id, is_challenge).await.is_empty());
    let info = net.chain(SHOPPER).channel(id).await.unwrap();
    assert_eq!(info.registeredNonce, stale.nonce);

    // Blocks go by without the challenge: the hub sends it again.
    let mut landed = None;
    for _ in 0..100 {
        mine(&net, 1).await;
        tokio::time::sleep(Duration::from_millis(300)).await;
        if let Some(e) = chain_events(&net, id, is_challenge).await.pop() {
            landed = Some(e);
            break;
        }
    }
    let landed = landed.expect("the challenge was sent again");
    let AdjudicatorEvent::Challenged(c) = &landed.event else {
        unreachable!()
    };
    assert_eq!(c.by, net.hub_address());
    assert_eq!(c.nonce, U256::from(newest.nonce));
    assert_replaces(&transaction(&net, landed.tx_hash.unwrap()).await, &first_tx);
    let info = net.chain(SHOPPER).channel(id).await.unwrap();
    assert_eq!(info.registeredNonce, newest.nonce);

    net.devnet
        .advance(params.challenge_period + 1)
        .await
        .unwrap();
    let is_settle = |e: &AdjudicatorEvent| matches!(e, AdjudicatorEvent::Settled(_));
    for _ in 0..300 {
        if let Some(e) = chain_events(&net, id, is_settle).await.pop() {
            let AdjudicatorEvent::Settled(s) = &e.event else {
                unreachable!()
            };
            assert_eq!(s.nonce, U256::from(newest.nonce));
            assert_eq!(s.payoutB, U256::from(300_000u128));
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the hub never settled");
}

/// The hub's settle waits in the pool (no automatic mining) and the pool drops it. Once blocks
/// go by without it, the hub sends it again with the same nonce and bumped fees; that one is
/// mined, and the hub sends nothing more.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_settle_dropped_from_the_pool_is_sent_again_with_bumped_fees() {
    let net = Net::start(&DEPTH).await;
    let (params, _, _, newest) = paid_channel(&net).await;
    let id = params.channel_id();
    let sigs = doubly_signed(&net, &params, &newest).await;
    net.chain(SHOPPER)
        .close_unilateral(&params, &newest, &sigs)
        .await
        .expect("honest close");
    mine(&net, CONFIRMATIONS).await;
    // Let the hub see the close before blocks stop coming on their own.
    tokio::time::sleep(Duration::from_millis(500)).await;

    net.devnet.set_automine(false).await.unwrap();
    net.devnet
        .advance(params.challenge_period + 1)
        .await
        .unwrap();
    let dropped = wait_hub_pool(&net, None).await;
    net.devnet.drop_transaction(dropped.hash).await.unwrap();
    assert!(hub_pool(&net).await.is_empty());

    let again = wait_hub_pool(&net, Some(3)).await;
    assert_replaces(&again, &dropped);

    mine(&net, 1 + CONFIRMATIONS).await;
    let info = net.chain(SHOPPER).channel(id).await.unwrap();
    assert_eq!(Status::of(&info), Status::Closed);
    let settled = chain_events(&net, id, |e| matches!(e, AdjudicatorEvent::Settled(_))).await;
    assert_eq!(settled.len(), 1);
    assert_eq!(settled[0].tx_hash, Some(again.hash));
    // Final: nothing is sent again.
    for _ in 0..(3 * CONFIRMATIONS) {
        mine(&net, 1).await;
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    assert!(hub_pool(&net).await.is_empty());
    net.devnet.set_automine(true).await.unwrap();
}
