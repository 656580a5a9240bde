//! A raw WebSocket to the hub, speaking session frames directly: for tests that play a client
//! the native `HubClient` would never be (hostile, scripted or frozen at a chosen moment).

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use l2pay::session::{answer_challenge, Frame};
use l2pay::signer::LocalSigner;
use l2pay::wire::{decode_frame, encode_frame};
use tokio_tungstenite::tungstenite::Message as Ws;

use super::Net;

pub type Conn =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// Connects; returns the connection and the hub's first frame (its challenge).
pub async fn connect(net: &Net) -> (Conn, Frame) {
    let (mut c, _) = tokio_tungstenite::connect_async(net.ws_url())
        .await
        .unwrap();
    let challenge = next(&mut c).await;
    (c, challenge)
}

/// The next frame, or `None` when the hub closed the connection (10 s at most).
pub async fn try_next(c: &mut Conn) -> Option<Frame> {
    loop {
        match tokio::time::timeout(Duration::from_secs(10), c.next())
            .await
            .expect("the hub answers")
        {
            Some(Ok(Ws::Binary(b))) => return Some(decode_frame(&b).expect("hub frames decode")),
            Some(Ok(Ws::Close(_))) | None | Some(Err(_)) => return None,
            Some(Ok(_)) => continue,
        }
    }
}

/// The next frame; the hub must not close the connection.
pub async fn next(c: &mut Conn) -> Frame {
    try_next(c).await.expect("the hub closed")
}

pub async fn send(c: &mut Conn, f: &Frame) {
    c.send(Ws::Binary(encode_frame(f).unwrap().into()))
        .await
        .unwrap();
}

/// Connects and authenticates as `signer`; returns the connection and the hub's `Welcome`.
pub async fn authed_welcome(net: &Net, signer: &LocalSigner) -> (Conn, Frame) {
    let (mut c, first) = connect(net).await;
    let Frame::Challenge {
        hub,
        chain_id,
        challenge,
        ..
    } = first
    else {
        panic!("expected a challenge, got {first:?}")
    };
    send(&mut c, &answer_challenge(signer, chain_id, hub, challenge)).await;
    let welcome = next(&mut c).await;
    assert!(matches!(welcome, Frame::Welcome { .. }), "{welcome:?}");
    (c, welcome)
}

/// Connects and authenticates as `signer`.
pub async fn authed(net: &Net, signer: &LocalSigner) -> Conn {
    authed_welcome(net, signer).await.0
}
