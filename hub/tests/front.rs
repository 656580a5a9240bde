//! The hub's HTTP/WebSocket front against hostile sockets: timeouts (silent, slow-loris, idle
//! keep-alive, handshake), the connection cap, handshake admission, the WebSocket rate limit
//! over every message kind, the binary-only protocol and its close codes, bounded errors, and
//! the one HTTP error shape. Timeouts are configured short; the waits are generous bounds.

mod common;

use std::time::Duration;

use alloy::primitives::{Address, B256};
use common::raw::{authed, connect, send, Conn};
use common::*;
use futures_util::{SinkExt, StreamExt};
use l2pay::op::Op;
use l2pay::session::{answer_challenge, Frame};
use l2pay::signer::Signer;
use l2pay::state::ChannelParams;
use l2pay::wire::{decode_frame, Message, Propose, MAX_FRAME};
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message as Ws;

/// Far longer than any timeout the tests configure.
const BOUND: Duration = Duration::from_secs(20);

fn host(net: &Net) -> String {
    format!("127.0.0.1:{}", net.port)
}

/// Reads until the hub closes the socket (true), or `BOUND` passes (false).
async fn closed_by_hub(s: &mut TcpStream) -> bool {
    let mut buf = [0u8; 4096];
    tokio::time::timeout(BOUND, async {
        loop {
            match s.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(_) => continue,
            }
        }
    })
    .await
    .is_ok()
}

/// One HTTP/1.1 request on a fresh connection (`Connection: close`) → (status, JSON body).
async fn request(net: &Net, method: &str, path: &str, headers: &str, body: &str) -> (u16, Value) {
    let mut s = TcpStream::connect(host(net)).await.unwrap();
    let req = format!(
        "{method} {path} HTTP/1.1\r\nHost: hub\r\nConnection: close\r\n{headers}\
         Content-Length: {}\r\n\r\n{body}",
        body.len()
    );
    s.write_all(req.as_bytes()).await.unwrap();
    let mut resp = Vec::new();
    tokio::time::timeout(BOUND, s.read_to_end(&mut resp))
        .await
        .expect("the hub answers")
        .unwrap();
    let resp = String::from_utf8_lossy(&resp);
    let status = resp
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let body = resp.split_once("\r\n\r\n").map_or("", |(_, b)| b);
    (status, serde_json::from_str(body).unwrap_or(Value::Null))
}

/// The `error.code` of a body in the one error shape (and checks the shape).
fn error_code(body: &Value) -> String {
    let e = &body["error"];
    assert!(e["message"].is_string(), "error shape: {body}");
    e["code"].as_str().expect("error.code").to_string()
}

/// Reads until the hub's close frame: its code, `None` when the connection ended without one.
async fn close_code(c: &mut Conn) -> Option<u16> {
    loop {
        match tokio::time::timeout(BOUND, c.next())
            .await
            .expect("the hub ends or answers")
        {
            Some(Ok(Ws::Close(Some(f)))) => return Some(f.code.into()),
            Some(Ok(Ws::Close(None))) | None | Some(Err(_)) => return None,
            Some(Ok(_)) => continue,
        }
    }
}

/// The next session frame; `None` when the hub closed.
async fn next_frame(c: &mut Conn) -> Option<Frame> {
    loop {
        match tokio::time::timeout(BOUND, c.next())
            .await
            .expect("the hub answers")
        {
            Some(Ok(Ws::Binary(b))) => return Some(decode_frame(&b).expect("hub frames decode")),
            Some(Ok(Ws::Close(_))) | None | Some(Err(_)) => return None,
            Some(Ok(_)) => continue,
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn silent_and_slow_header_sockets_and_lingering_handshakes_are_closed() {
    let net = Net::start(&[
        "--header-timeout-ms",
        "300",
        "--idle-timeout-ms",
        "600000",
        "--handshake-timeout-ms",
        "300",
    ])
    .await;
    // Connected, never a byte.
    let mut silent = TcpStream::connect(host(&net)).await.unwrap();
    assert!(
        closed_by_hub(&mut silent).await,
        "a silent socket is closed"
    );

    // A request head dribbled a byte at a time, never finished.
    let mut loris = TcpStream::connect(host(&net)).await.unwrap();
    loris.write_all(b"GET /health HTTP/1.1\r\n").await.unwrap();
    let (mut rd, mut wr) = loris.into_split();
    let dribble = tokio::spawn(async move {
        for _ in 0..400 {
            if wr.write_all(b"x").await.is_err() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    });
    let mut buf = [0u8; 1024];
    let ended = tokio::time::timeout(BOUND, async {
        while matches!(rd.read(&mut buf).await, Ok(n) if n > 0) {}
    })
    .await;
    assert!(ended.is_ok(), "a slow-loris head is cut off");
    dribble.abort();

    // A WebSocket that never authenticates: closed with 1008.
    let (mut c, _) = connect(&net).await;
    assert_eq!(close_code(&mut c).await, Some(1008));
    // The hub still serves.
    let (status, body) = request(&net, "GET", "/health", "", "").await;
    assert_eq!(status, 200, "{body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_keep_alive_connections_are_closed_and_handshakes_are_capped_per_ip() {
    let net = Net::start(&[
        "--header-timeout-ms",
        "600000",
        "--idle-timeout-ms",
        "300",
        "--max-handshakes-per-ip",
        "2",
    ])
    .await;
    let mut s = TcpStream::connect(host(&net)).await.unwrap();
    s.write_all(b"GET /api/info HTTP/1.1\r\nHost: hub\r\n\r\n")
        .await
        .unwrap();
    let mut buf = [0u8; 4096];
    let n = s.read(&mut buf).await.unwrap();
    assert!(
        buf[..n].starts_with(b"HTTP/1.1 200"),
        "answered, kept alive"
    );
    assert!(closed_by_hub(&mut s).await, "an idle keep-alive is closed");

    // Two handshakes in progress from this address are the cap; a third is refused.
    let (a, _) = connect(&net).await;
    let (_b, _) = connect(&net).await;
    match tokio_tungstenite::connect_async(net.ws_url()).await {
        Err(tokio_tungstenite::tungstenite::Error::Http(r)) => {
            assert_eq!(r.status().as_u16(), 429);
            let body: Value = serde_json::from_slice(r.body().as_deref().unwrap_or(b"")).unwrap();
            assert_eq!(error_code(&body), "TOO_MANY_HANDSHAKES");
        }
        other => panic!("a third handshake from one IP got {:?}", other.map(|_| ())),
    }
    // A handshake that ended gives its place back.
    drop(a);
    let mut in_place = None;
    for _ in 0..100 {
        if let Ok((c, _)) = tokio_tungstenite::connect_async(net.ws_url()).await {
            in_place = Some(c);
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(in_place.is_some(), "a handshake place is given back");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn beyond_the_connection_cap_a_clear_503_then_service_again() {
    let net = Net::start(&["--max-connections", "8", "--header-timeout-ms", "600000"]).await;
    let mut held = vec![];
    for _ in 0..8 {
        held.push(TcpStream::connect(host(&net)).await.unwrap());
    }
    // Until the hub has taken all eight, a probe may itself hold a place: probe until refused.
    let mut refused = None;
    for _ in 0..100 {
        let (status, body) = request(&net, "GET", "/health", "", "").await;
        if status == 503 && body["error"]["code"] == "OVERLOADED" {
            refused = Some(body);
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let body = refused.expect("a connection over the cap is refused with 503 OVERLOADED");
    assert_eq!(error_code(&body), "OVERLOADED");
    drop(held);
    let mut healthy = false;
    for _ in 0..100 {
        let (status, body) = request(&net, "GET", "/health", "", "").await;
        if status == 200 && body["status"] == "ok" {
            healthy = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(healthy, "/health answers once the sockets are gone");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_message_counts_against_the_rate_limit_and_the_protocol_is_binary() {
    let net = Net::start(&["--ws-messages-per-sec", "50", "--ws-burst", "100"]).await;
    // A ping flood: closed with 1008 (policy), pings are no way around the limit.
    let mut flood = authed(&net, &signer(20)).await;
    for i in 0..2_000u32 {
        if flood
            .send(Ws::Ping(i.to_be_bytes().to_vec().into()))
            .await
            .is_err()
        {
            break;
        }
    }
    assert_eq!(close_code(&mut flood).await, Some(1008));

    // Text frames are not the protocol: 1003, before and after authentication.
    let (mut before, _) = connect(&net).await;
    before
        .send(Ws::Text(r#"{"auth":{}}"#.into()))
        .await
        .unwrap();
    assert_eq!(close_code(&mut before).await, Some(1003));
    let mut after = authed(&net, &signer(21)).await;
    after
        .send(Ws::Text(r#"{"sync":{"channelId":"0x00"}}"#.into()))
        .await
        .unwrap();
    assert_eq!(close_code(&mut after).await, Some(1003));

    // A message over 64 KiB: 1009.
    let mut big = authed(&net, &signer(22)).await;
    let _ = big.send(Ws::Binary(vec![7u8; MAX_FRAME + 1].into())).await;
    assert_eq!(close_code(&mut big).await, Some(1009));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_64_kib_garbage_frame_gets_a_short_error_and_the_session_goes_on() {
    let net = Net::start(&[]).await;
    let mut c = authed(&net, &signer(23)).await;
    let mut garbage = b"L2\x01".to_vec();
    garbage.resize(MAX_FRAME, 0xff);
    c.send(Ws::Binary(garbage.into())).await.unwrap();
    match next_frame(&mut c).await {
        Some(Frame::Error { code, message }) => {
            assert_eq!(code, "MALFORMED");
            assert!(message.len() <= 256, "{} bytes of error", message.len());
        }
        other => panic!("expected an error frame, got {other:?}"),
    }
    // Still answering.
    send(
        &mut c,
        &Frame::Sync {
            channel_id: B256::repeat_byte(0x42),
        },
    )
    .await;
    assert!(
        matches!(next_frame(&mut c).await, Some(Frame::Error { code, .. }) if code == "UNKNOWN_CHANNEL"),
        "the session still answers"
    );
    // 64 KiB of JSON-looking text that a JSON parser would quote back: a clean close.
    let text = format!("{{\"{}\":1}}", "A".repeat(MAX_FRAME - 8));
    c.send(Ws::Text(text.into())).await.unwrap();
    assert_eq!(close_code(&mut c).await, Some(1003));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_banned_key_gets_its_error_then_a_policy_close() {
    let net = Net::start(&[]).await;
    let me = signer(24);
    let (mut c, first) = connect(&net).await;
    let Frame::Challenge {
        hub,
        chain_id,
        adjudicator,
        challenge,
    } = first
    else {
        panic!("{first:?}")
    };
    send(&mut c, &answer_challenge(&me, chain_id, hub, challenge)).await;
    assert!(matches!(
        next_frame(&mut c).await,
        Some(Frame::Welcome { .. })
    ));
    let params = ChannelParams {
        chain_id,
        adjudicator,
        participants: [me.address(), hub],
        token: Address::ZERO,
        challenge_period: 3_600,
        salt: B256::repeat_byte(24),
    };
    let id = params.channel_id();
    send(&mut c, &Frame::Register { params }).await;
    assert!(matches!(
        next_frame(&mut c).await,
        Some(Frame::Registered { .. })
    ));
    // Proposals on a channel the chain does not show funded: strikes until a ban.
    let mut banned = false;
    for i in 0..40u8 {
        let p = Frame::Channel(Message::Propose(Propose {
            channel_id: id,
            base_nonce: 0,
            nonce: 1,
            op: Op::Pay {
                payment_id: B256::repeat_byte(i),
                amount: 1,
            },
            sig: me.sign_digest(&B256::repeat_byte(i)),
            base_sig: None,
        }));
        send(&mut c, &p).await;
        match next_frame(&mut c).await {
            Some(Frame::Error { code, .. }) if code == "BANNED" => {
                banned = true;
                break;
            }
            Some(_) => continue,
            None => panic!("closed without the BANNED error"),
        }
    }
    assert!(banned, "strikes add up to a ban");
    assert_eq!(close_code(&mut c).await, Some(1008));

    // Coming back with the same key: the error, then the close.
    let (mut c, first) = connect(&net).await;
    let Frame::Challenge { challenge, .. } = first else {
        panic!("{first:?}")
    };
    send(&mut c, &answer_challenge(&me, chain_id, hub, challenge)).await;
    assert!(
        matches!(next_frame(&mut c).await, Some(Frame::Error { code, .. }) if code == "BANNED")
    );
    assert_eq!(close_code(&mut c).await, Some(1008));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_errors_have_one_shape_and_auth_timestamps_cannot_overflow() {
    let net = Net::start(&["--max-body-bytes", "1024"]).await;
    let client = Address::repeat_byte(5);
    // A timestamp at u64::MAX: refused, no panic, the hub still answers.
    let auth = format!("x-l2pay-auth: {}:0x{}\r\n", u64::MAX, "11".repeat(65));
    let (status, body) = request(
        &net,
        "GET",
        &format!("/api/payments?client={client}"),
        &auth,
        "",
    )
    .await;
    assert_eq!((status, error_code(&body).as_str()), (401, "UNAUTHORIZED"));

    let json = "Content-Type: application/json\r\n";
    let cases: Vec<(&str, &str, &str, String, u16, &str)> = vec![
        ("GET", "/nope", "", String::new(), 404, "NOT_FOUND"),
        (
            "DELETE",
            "/api/invoices",
            "",
            String::new(),
            405,
            "METHOD_NOT_ALLOWED",
        ),
        (
            "GET",
            "/api/payments?client=nope",
            "",
            String::new(),
            400,
            "BAD_REQUEST",
        ),
        (
            "GET",
            "/api/channels",
            "",
            String::new(),
            401,
            "UNAUTHORIZED",
        ),
        (
            "POST",
            "/api/invoices",
            json,
            "{not json".into(),
            400,
            "BAD_REQUEST",
        ),
        (
            "POST",
            "/api/invoices",
            "",
            r#"{"invoice":"x"}"#.into(),
            415,
            "UNSUPPORTED_MEDIA_TYPE",
        ),
        (
            "POST",
            "/api/invoices",
            json,
            r#"{"invoice":"nope"}"#.into(),
            400,
            "BAD_INVOICE",
        ),
        (
            "POST",
            "/api/invoices",
            json,
            format!(r#"{{"invoice":"{}"}}"#, "a".repeat(4_096)),
            413,
            "BODY_TOO_LARGE",
        ),
        ("GET", "/ws", "", String::new(), 400, "NOT_A_WEBSOCKET"),
    ];
    for (method, path, headers, body, want_status, want_code) in cases {
        let (status, got) = request(&net, method, path, headers, &body).await;
        assert_eq!(status, want_status, "{method} {path}: {got}");
        assert_eq!(error_code(&got), want_code, "{method} {path}");
        let message = got["error"]["message"].as_str().unwrap_or_default();
        assert!(message.len() <= 256, "{method} {path}: a bounded message");
    }
    let (status, body) = request(&net, "GET", "/health", "", "").await;
    assert_eq!(status, 200, "{body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sessions_are_told_the_hub_is_going_away() {
    let net = Net::start(&[]).await;
    let mut c = authed(&net, &signer(25)).await;
    let pid = net.hub.as_ref().expect("a running hub").id();
    let status = std::process::Command::new("kill")
        .args(["-INT", &pid.to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    assert_eq!(close_code(&mut c).await, Some(1001));
}
