//! The hub takes a channel to chain itself when its core says the off-chain protocol can no
//! longer protect the funds (`Event::GoToChain`): it closes unilaterally with its latest
//! doubly-signed state (or without a state when nothing was signed), and its watchtower settles
//! the close after the challenge period, end to end on anvil.

mod common;

use std::sync::Arc;
use std::time::Duration;

use alloy::primitives::{Address, B256, U256};
use alloy::providers::Provider;
use common::raw::{authed, next, send, Conn};
use common::*;
use futures_util::StreamExt;
use l2pay::op::Op;
use l2pay::session::Frame;
use l2pay::signer::{LocalSigner, Signer};
use l2pay::state::{ChannelParams, ChannelState};
use l2pay::wire::{decode_frame, Message, Reestablish};
use l2pay_chain::{fetch_events, AdjudicatorEvent, EventAt, Status};
use tokio_tungstenite::tungstenite::Message as Ws;

const SHOPPER: usize = 2;
const PAID: u128 = 300_000;

/// A dishonest shopper: it claims, on reconnection, an agreed state the hub never signed (a
/// nonce above the hub's, with a signature of its own). The hub's core refuses it with
/// `Desync`, fails the channel and emits `Event::GoToChain`.
async fn claim_an_impossible_state(c: &mut Conn, signer: &LocalSigner, id: B256, nonce: u64) {
    let forged = Reestablish {
        channel_id: id,
        latest_nonce: nonce,
        latest_sig: Some(signer.sign_digest(&B256::repeat_byte(0x66))),
        highest_signed: nonce,
    };
    send(c, &Frame::Channel(Message::Reestablish(forged))).await;
    loop {
        match next(c).await {
            Frame::Error { code, .. } if code == "DESYNC" => return,
            Frame::Channel(_) => continue,
            other => panic!("expected the hub to refuse with DESYNC, got {other:?}"),
        }
    }
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

/// The hub registers a close of `id` on `nonce` by itself, transaction sent by the hub.
async fn expect_close_by_hub(net: &Net, id: B256, nonce: u64, payouts: [u128; 2]) {
    let e = wait_chain_event(net, id, |e| {
        matches!(e, AdjudicatorEvent::CloseRegistered(_))
    })
    .await;
    let AdjudicatorEvent::CloseRegistered(c) = &e.event else {
        unreachable!()
    };
    assert_eq!(c.by, net.hub_address(), "the hub closed");
    assert_eq!(c.nonce, U256::from(nonce));
    let info = net.chain(SHOPPER).channel(id).await.unwrap();
    assert_eq!(Status::of(&info), Status::Closing);
    assert_eq!(info.registeredNonce, nonce);
    assert_eq!(info.payoutA, U256::from(payouts[0]));
    assert_eq!(info.payoutB, U256::from(payouts[1]));
}

/// After the challenge period the hub's watchtower settles the close, paying `payouts` to the
/// wei (the shopper sends no transaction; the hub pays the settlement's gas).
async fn expect_settlement(net: &Net, params: &ChannelParams, nonce: u64, payouts: [u128; 2]) {
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
    assert_eq!(s.nonce, U256::from(nonce));
    assert_eq!(s.payoutA, U256::from(payouts[0]));
    assert_eq!(s.payoutB, U256::from(payouts[1]));
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
        shopper_before + U256::from(payouts[0])
    );
    assert_eq!(
        net.devnet.balance(hub).await.unwrap(),
        hub_before + U256::from(payouts[1]) - fee
    );
    let info = net.chain(SHOPPER).channel(id).await.unwrap();
    assert_eq!(Status::of(&info), Status::Closed);
}

/// Pays the hub `PAID` directly and returns the state both ends agreed.
async fn pay_the_hub(net: &Net) -> (ChannelParams, ChannelState) {
    let shopper = net.client(SHOPPER, false).await;
    let params = net.open_channel(&shopper, SHOPPER, ETH, 0).await;
    let id = params.channel_id();
    shopper
        .propose(
            id,
            Op::Pay {
                payment_id: B256::repeat_byte(1),
                amount: PAID,
            },
        )
        .await
        .unwrap();
    let state = wait_for(&shopper, id, |s| s.balances == [ETH - PAID, PAID]).await;
    shopper.shutdown().await;
    (params, state)
}

/// The shopper proves itself dishonest after a payment: the hub closes on chain with its latest
/// doubly-signed state (the payment included) and settles it after the challenge period.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hub_closes_a_channel_whose_peer_cheats_and_settles_it() {
    let net = Net::start(&[]).await;
    let (params, agreed) = pay_the_hub(&net).await;
    let id = params.channel_id();
    let signer = net.devnet.signer(SHOPPER);
    let mut c = authed(&net, &signer).await;
    claim_an_impossible_state(&mut c, &signer, id, agreed.nonce + 5).await;

    expect_close_by_hub(&net, id, agreed.nonce, [ETH - PAID, PAID]).await;
    // The channel is frozen: the hub takes no more updates on it.
    send(
        &mut c,
        &Frame::Channel(Message::Reestablish(Reestablish {
            channel_id: id,
            latest_nonce: agreed.nonce,
            latest_sig: Some(signer.sign_digest(&agreed.digest(&params))),
            highest_signed: agreed.nonce,
        })),
    )
    .await;
    assert!(matches!(next(&mut c).await, Frame::Error { code, .. } if code == "CHANNEL_FAILED"));

    expect_settlement(&net, &params, agreed.nonce, [ETH - PAID, PAID]).await;
}

/// Nothing was signed on the channel yet (the deposit is on chain, not agreed): the hub closes
/// without a state and every deposit goes back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hub_closes_without_a_state_when_nothing_was_signed() {
    let net = Net::start(&[]).await;
    let signer = Arc::new(net.devnet.signer(SHOPPER));
    let mut c = authed(&net, &signer).await;
    let mut salt = [0u8; 32];
    getrandom::fill(&mut salt).unwrap();
    let params = ChannelParams {
        chain_id: net.devnet.chain_id(),
        adjudicator: net.adjudicator,
        participants: [signer.address(), net.hub_address()],
        token: Address::ZERO,
        challenge_period: 3_600,
        salt: B256::from(salt),
    };
    let id = params.channel_id();
    net.chain(SHOPPER).open(&params, ETH).await.expect("open");
    send(
        &mut c,
        &Frame::Register {
            params: params.clone(),
        },
    )
    .await;
    loop {
        match next(&mut c).await {
            Frame::Registered { channel_id } if channel_id == id => break,
            Frame::Channel(_) => continue,
            other => panic!("expected Registered, got {other:?}"),
        }
    }
    // Until its watcher sees the deposit the hub refuses everything on the channel unchecked
    // (NOT_FUNDED); the forged claim must reach the funded channel.
    let mut funded = false;
    for _ in 0..300 {
        if common::evil::metric(&net, "l2pay_hub_unfunded_channels").await == 0.0 {
            funded = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(funded, "the hub never saw the deposit");
    claim_an_impossible_state(&mut c, &signer, id, 3).await;

    expect_close_by_hub(&net, id, 0, [ETH, 0]).await;
    expect_settlement(&net, &params, 0, [ETH, 0]).await;
}

/// The hub cannot pay for the close (no gas), keeps trying, and is restarted: the decision to
/// close is durable, so the restarted hub closes and settles the channel.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_decision_to_close_survives_a_restart() {
    let mut net = Net::start(&[]).await;
    let (params, agreed) = pay_the_hub(&net).await;
    let id = params.channel_id();
    let hub = net.hub_address();
    let hub_funds = net.devnet.balance(hub).await.unwrap();
    let provider = net.devnet.provider.clone();
    let set_balance = |wei: U256| {
        let provider = provider.clone();
        async move {
            let _: serde_json::Value = provider
                .raw_request("anvil_setBalance".into(), (hub, wei))
                .await
                .unwrap();
        }
    };
    set_balance(U256::ZERO).await;
    let signer = net.devnet.signer(SHOPPER);
    let mut c = authed(&net, &signer).await;
    claim_an_impossible_state(&mut c, &signer, id, agreed.nonce + 5).await;

    // A few watcher polls: every close attempt fails for want of gas.
    tokio::time::sleep(Duration::from_millis(800)).await;
    let info = net.chain(SHOPPER).channel(id).await.unwrap();
    assert_eq!(Status::of(&info), Status::Open);

    net.kill_hub();
    set_balance(hub_funds).await;
    net.start_hub().await;
    expect_close_by_hub(&net, id, agreed.nonce, [ETH - PAID, PAID]).await;
    expect_settlement(&net, &params, agreed.nonce, [ETH - PAID, PAID]).await;
}

/// A cooperative close on chain ends the channel at the hub, and it stays ended across a hub
/// restart: the hub refuses to resume it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cooperatively_closed_channel_stays_closed_across_a_restart() {
    let mut net = Net::start(&[]).await;
    let shopper = net.client(SHOPPER, false).await;
    let params = net.open_channel(&shopper, SHOPPER, ETH, 0).await;
    let id = params.channel_id();
    shopper.propose(id, Op::Close).await.unwrap();
    let state = wait_for(&shopper, id, |s| s.is_final).await;
    shopper.shutdown().await;
    // Signatures are deterministic (RFC 6979): these are the ones both ends exchanged.
    let signer = net.devnet.signer(SHOPPER);
    let digest = state.digest(&params);
    let sigs = [
        signer.sign_digest(&digest),
        net.devnet.signer(HUB_KEY).sign_digest(&digest),
    ];
    net.chain(SHOPPER)
        .close_cooperative(&params, &state, &sigs)
        .await
        .expect("cooperative close");

    // Whether the hub answers `frame` with CHANNEL_FAILED (other frames, e.g. its own
    // Reestablish on connecting, are skipped).
    async fn refused(c: &mut Conn, frame: &Frame) -> bool {
        send(c, &frame.clone()).await;
        while let Ok(Some(Ok(Ws::Binary(b)))) =
            tokio::time::timeout(Duration::from_secs(1), c.next()).await
        {
            if let Ok(Frame::Error { code, .. }) = decode_frame::<Frame>(&b) {
                return code == "CHANNEL_FAILED";
            }
        }
        false
    }
    let resume = Frame::Channel(Message::Reestablish(Reestablish {
        channel_id: id,
        latest_nonce: state.nonce,
        latest_sig: Some(sigs[0]),
        highest_signed: state.nonce,
    }));
    // The watcher sees the close within a few polls.
    let mut frozen = false;
    for _ in 0..100 {
        let mut c = authed(&net, &signer).await;
        if refused(&mut c, &resume).await {
            frozen = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(frozen, "the hub never saw the cooperative close");

    net.kill_hub();
    net.start_hub().await;
    let mut c = authed(&net, &signer).await;
    assert!(refused(&mut c, &resume).await, "resumed after a restart");
}
