//! Raw WebSocket and HTTP clients for the idle and attack benchmarks: one TCP socket from a
//! chosen source address, the hub's frame format, nothing else running on them.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use alloy::primitives::{Address, B256};
use anyhow::bail;
use futures_util::{SinkExt, StreamExt};
use l2pay::session::{answer_challenge, Frame};
use l2pay::signer::{LocalSigner, Signer};
use l2pay::state::ChannelParams;
use l2pay::wire::{decode_frame, encode_frame};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::Message as WsMessage;

pub type Ws = tokio_tungstenite::WebSocketStream<tokio::net::TcpStream>;

/// What the hub's challenge told about it.
#[derive(Clone, Copy, Debug)]
pub struct HubInfo {
    pub hub: Address,
    pub chain_id: u64,
    pub adjudicator: Address,
}

pub async fn next_frame(ws: &mut Ws) -> anyhow::Result<Frame> {
    loop {
        match ws.next().await {
            Some(Ok(WsMessage::Binary(b))) => return Ok(decode_frame(&b)?),
            Some(Ok(WsMessage::Close(_))) | None => bail!("closed"),
            Some(Ok(_)) => continue,
            Some(Err(e)) => bail!("{e}"),
        }
    }
}

pub async fn send_frame(ws: &mut Ws, f: &Frame) -> anyhow::Result<()> {
    ws.send(WsMessage::Binary(encode_frame(f)?.into())).await?;
    Ok(())
}

/// The hub's address as `IP:PORT` from `ws://IP:PORT/ws`.
pub fn hub_addr(ws_url: &str) -> anyhow::Result<SocketAddr> {
    ws_url
        .trim_start_matches("ws://")
        .trim_end_matches("/ws")
        .parse()
        .map_err(|_| anyhow::anyhow!("--ws-url must be ws://IP:PORT/ws"))
}

/// A TCP connection to `dst` from `src`.
pub async fn tcp_from(dst: SocketAddr, src: Ipv4Addr) -> anyhow::Result<tokio::net::TcpStream> {
    let sock = tokio::net::TcpSocket::new_v4()?;
    sock.bind(SocketAddr::new(IpAddr::V4(src), 0))?;
    Ok(sock.connect(dst).await?)
}

/// A lean WebSocket (small buffers) from `src`, authenticated as `signer`. A refusal of the
/// authentication (for instance `BANNED`) is an error carrying the hub's code.
pub async fn authed(
    url: &str,
    dst: SocketAddr,
    src: Ipv4Addr,
    signer: &LocalSigner,
) -> anyhow::Result<(Ws, HubInfo)> {
    let tcp = tcp_from(dst, src).await?;
    let config = WebSocketConfig::default()
        .read_buffer_size(4096)
        .write_buffer_size(0)
        .max_message_size(Some(1 << 20))
        .max_frame_size(Some(1 << 20));
    let (mut ws, _) = tokio_tungstenite::client_async_with_config(url, tcp, Some(config)).await?;
    let Frame::Challenge {
        hub,
        chain_id,
        adjudicator,
        challenge,
    } = next_frame(&mut ws).await?
    else {
        bail!("expected a challenge");
    };
    send_frame(&mut ws, &answer_challenge(signer, chain_id, hub, challenge)).await?;
    match next_frame(&mut ws).await? {
        Frame::Welcome { .. } => Ok((
            ws,
            HubInfo {
                hub,
                chain_id,
                adjudicator,
            },
        )),
        Frame::Error { code, .. } => bail!("{code}"),
        other => bail!("expected welcome, got {other:?}"),
    }
}

/// The native-coin channel of `signer` with the hub, told apart by `salt`.
pub fn native_params(info: &HubInfo, signer: &LocalSigner, salt: B256) -> ChannelParams {
    ChannelParams {
        chain_id: info.chain_id,
        adjudicator: info.adjudicator,
        participants: [signer.address(), info.hub],
        token: Address::ZERO,
        challenge_period: 3_600,
        salt,
    }
}

/// Registers `params` with the hub and waits for its answer.
pub async fn register(ws: &mut Ws, params: &ChannelParams) -> anyhow::Result<()> {
    send_frame(
        ws,
        &Frame::Register {
            params: params.clone(),
        },
    )
    .await?;
    loop {
        match next_frame(ws).await? {
            Frame::Registered { .. } => return Ok(()),
            Frame::Error { code, message } => bail!("{code}: {message}"),
            _ => continue,
        }
    }
}

/// One HTTP/1.1 request on a fresh connection from `src`; the status and the body.
pub async fn http(
    dst: SocketAddr,
    src: Ipv4Addr,
    method: &str,
    path: &str,
    body: &str,
) -> anyhow::Result<(u16, String)> {
    let mut s = tcp_from(dst, src).await?;
    s.write_all(
        format!(
            "{method} {path} HTTP/1.1\r\nHost: {dst}\r\nConnection: close\r\n\
             Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        )
        .as_bytes(),
    )
    .await?;
    let mut resp = String::new();
    s.read_to_string(&mut resp).await?;
    let status = resp
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let body = resp.split_once("\r\n\r\n").map_or("", |(_, b)| b);
    Ok((status, body.to_string()))
}

/// `GET path` from loopback, parsed as JSON.
pub async fn http_get(dst: SocketAddr, path: &str) -> anyhow::Result<serde_json::Value> {
    let (_, body) = http(dst, Ipv4Addr::LOCALHOST, "GET", path, "").await?;
    Ok(serde_json::from_str(body.trim())?)
}
