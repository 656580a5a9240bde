//! Hostile and broken clients: every bad input gets a typed error frame or a closed
//! connection, nothing persisted changes, and the hub keeps serving everyone else.

mod common;

use std::time::Duration;

use alloy::primitives::B256;
use common::raw::{authed, connect, send, try_next as next};
use common::*;
use futures_util::SinkExt;
use l2pay::op::Op;
use l2pay::session::{answer_challenge, Frame};
use l2pay::signer::Signer;
use l2pay::wire::{Message, Propose, MAX_FRAME};
use tokio_tungstenite::tungstenite::Message as Ws;

fn code_of(f: Option<Frame>) -> String {
    match f {
        Some(Frame::Error { code, .. }) => code,
        other => panic!("expected an error frame, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn authentication_is_required_and_checked() {
    let net = Net::start(&[]).await;
    // Garbage instead of an answer.
    let (mut c, _) = connect(&net).await;
    c.send(Ws::Binary(vec![1, 2, 3].into())).await.unwrap();
    assert_eq!(code_of(next(&mut c).await), "MALFORMED");
    assert!(
        next(&mut c).await.is_none(),
        "closed after a failed handshake"
    );

    // A signature by another key than the one claimed.
    let (mut c, ch) = connect(&net).await;
    let Frame::Challenge {
        hub,
        chain_id,
        challenge,
        ..
    } = ch
    else {
        panic!()
    };
    let Frame::Auth { sig, .. } = answer_challenge(&signer(7), chain_id, hub, challenge) else {
        panic!()
    };
    send(
        &mut c,
        &Frame::Auth {
            client: net.devnet.address(2),
            sig,
        },
    )
    .await;
    assert_eq!(code_of(next(&mut c).await), "BAD_AUTH");

    // A channel message before authenticating.
    let (mut c, _) = connect(&net).await;
    send(
        &mut c,
        &Frame::Register {
            params: net.client(2, false).await.channel_params(
                Default::default(),
                3_600,
                B256::ZERO,
            ),
        },
    )
    .await;
    assert_eq!(code_of(next(&mut c).await), "AUTH_REQUIRED");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_unknown_and_foreign_frames_get_typed_errors() {
    let net = Net::start(&[]).await;
    let shopper = net.client(2, false).await;
    let params = net.open_channel(&shopper, 2, ETH, 0).await;
    let id = params.channel_id();
    let before = shopper.state(id).await.unwrap().0;

    let attacker = signer(9);
    let mut c = authed(&net, &attacker).await;
    // Malformed bytes: a typed error, the connection stays usable.
    c.send(Ws::Binary(b"L2\x01\xff\xff\xff".to_vec().into()))
        .await
        .unwrap();
    assert_eq!(code_of(next(&mut c).await), "MALFORMED");
    c.send(Ws::Binary(b"XX\x01".to_vec().into())).await.unwrap();
    assert_eq!(code_of(next(&mut c).await), "MALFORMED");
    c.send(Ws::Binary(b"L2\x09".to_vec().into())).await.unwrap();
    assert_eq!(code_of(next(&mut c).await), "UNSUPPORTED_VERSION");

    // A proposal on someone else's channel, and on a channel that does not exist.
    let forged = Frame::Channel(Message::Propose(Propose {
        channel_id: id,
        base_nonce: before.nonce,
        nonce: before.nonce + 1,
        op: Op::Pay {
            payment_id: B256::repeat_byte(1),
            amount: 1,
        },
        sig: attacker.sign_digest(&B256::ZERO),
        base_sig: None,
    }));
    send(&mut c, &forged).await;
    assert_eq!(code_of(next(&mut c).await), "UNKNOWN_CHANNEL");
    let Frame::Channel(Message::Propose(mut p)) = forged else {
        unreachable!()
    };
    p.channel_id = B256::repeat_byte(0xee);
    send(&mut c, &Frame::Channel(Message::Propose(p))).await;
    assert_eq!(code_of(next(&mut c).await), "UNKNOWN_CHANNEL");

    // Registering a channel the attacker is not party to.
    send(
        &mut c,
        &Frame::Register {
            params: params.clone(),
        },
    )
    .await;
    assert_eq!(code_of(next(&mut c).await), "BAD_CHANNEL");

    // Still connected and served: a valid registration of its own works.
    let own = l2pay::ChannelParams {
        participants: [attacker.address(), net.hub_address()],
        ..params.clone()
    };
    send(
        &mut c,
        &Frame::Register {
            params: own.clone(),
        },
    )
    .await;
    assert!(
        matches!(next(&mut c).await, Some(Frame::Registered { channel_id }) if channel_id == own.channel_id())
    );

    // The shopper's channel did not move.
    assert_eq!(shopper.state(id).await.unwrap().0, before);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_signature_from_the_owner_changes_nothing() {
    let net = Net::start(&[]).await;
    let shopper = net.client(2, true).await;
    let params = net.open_channel(&shopper, 2, ETH, 0).await;
    let before = shopper.state(params.channel_id()).await.unwrap().0;
    // The shopper's client steps aside: one key has one live connection, and its reconnection
    // would replace the raw connection below before the hub answers it.
    shopper.shutdown().await;
    // The owner's own connection, but a signature over the wrong state.
    let owner = net.devnet.signer(2);
    let mut c = authed(&net, &owner).await;
    let bad = Frame::Channel(Message::Propose(Propose {
        channel_id: params.channel_id(),
        base_nonce: before.nonce,
        nonce: before.nonce + 1,
        op: Op::Pay {
            payment_id: B256::repeat_byte(3),
            amount: 10,
        },
        sig: owner.sign_digest(&B256::repeat_byte(4)),
        base_sig: None,
    }));
    send(&mut c, &bad).await;
    let mut codes = vec![];
    while let Some(f) = tokio::time::timeout(Duration::from_secs(2), next(&mut c))
        .await
        .ok()
        .flatten()
    {
        if let Frame::Error { code, .. } = f {
            codes.push(code);
            break;
        }
    }
    assert_eq!(codes, ["BAD_SIGNATURE"]);
    // A real payment still goes through afterwards, from the owner's real client (resumed from
    // its store).
    drop(c);
    let shopper = net.client(2, true).await;
    shopper
        .propose(
            params.channel_id(),
            Op::Pay {
                payment_id: B256::repeat_byte(5),
                amount: 7,
            },
        )
        .await
        .unwrap();
    wait_for(&shopper, params.channel_id(), |s| {
        s.nonce == before.nonce + 1 || s.balances[1] == 7
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversized_frames_and_floods_close_only_that_connection() {
    let net = Net::start(&[]).await;
    let shopper = net.client(2, false).await;
    let params = net.open_channel(&shopper, 2, ETH, 0).await;

    let mut big = authed(&net, &signer(10)).await;
    let _ = big.send(Ws::Binary(vec![0u8; MAX_FRAME + 1].into())).await;
    assert!(
        next(&mut big).await.is_none(),
        "oversized frame closes the connection"
    );

    let mut flood = authed(&net, &signer(11)).await;
    let junk = Ws::Binary(b"L2\x01\xff".to_vec().into());
    let mut closed = false;
    for _ in 0..20_000 {
        if flood.send(junk.clone()).await.is_err() {
            closed = true;
            break;
        }
    }
    if !closed {
        let mut saw_limit = false;
        while let Some(f) = next(&mut flood).await {
            if matches!(&f, Frame::Error { code, .. } if code == "RATE_LIMITED" || code == "MALFORMED")
            {
                saw_limit = true;
            }
        }
        assert!(saw_limit);
    }

    // Everyone else is still served.
    shopper
        .propose(
            params.channel_id(),
            Op::Pay {
                payment_id: B256::repeat_byte(6),
                amount: 3,
            },
        )
        .await
        .unwrap();
    wait_for(&shopper, params.channel_id(), |s| s.balances[1] == 3).await;
    let (status, _) = l2pay_hub::client::http_post(
        &format!("{}/api/invoices", net.http_url()),
        "{\"invoice\":\"nope\"}",
    )
    .await
    .unwrap();
    assert_eq!(status, 400);
}
