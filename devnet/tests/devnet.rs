//! The devnet binary end to end: real anvil, the in-process hub and merchant, the HTTP API, a
//! native shopper paying over a real WebSocket, refunds, static files, and a clean stop.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use alloy::primitives::{Address, B256};
use alloy::providers::{DynProvider, Provider, ProviderBuilder};
use alloy::signers::local::PrivateKeySigner;
use l2pay::op::payment_hash;
use l2pay::signer::LocalSigner;
use l2pay::state::{ChannelState, Side};
use l2pay::Amount;
use l2pay_chain::bindings::IERC20;
use l2pay_chain::AdjudicatorClient;
use l2pay_hub::client::HubClient;
use serde_json::{json, Value};

/// Secret key of anvil's account 1 (its default mnemonic): the first demo funding account.
const SHOPPER_KEY: &str = "59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d";
const TUSD: Amount = 1_000_000;

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A running `l2pay-devnet`; stopped with SIGTERM (then SIGKILL) if a test fails mid-way.
struct Devnet {
    child: Option<Child>,
    info: Value,
    http: String,
    chain_port: u16,
    _data: tempfile::TempDir,
}

impl Devnet {
    fn start(extra: &[&str]) -> Devnet {
        let data = tempfile::tempdir().unwrap();
        let (port, hub_port, chain_port) = (free_port(), free_port(), free_port());
        let mut child = Command::new(env!("CARGO_BIN_EXE_l2pay-devnet"))
            .args(["--port", &port.to_string()])
            .args(["--hub-port", &hub_port.to_string()])
            .args(["--chain-port", &chain_port.to_string()])
            .args([
                "--data-dir",
                &data.path().join("state").display().to_string(),
            ])
            .args(extra)
            .env(
                "RUST_LOG",
                std::env::var("DEVNET_LOG").unwrap_or_else(|_| "warn".into()),
            )
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start l2pay-devnet");
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        // Reads stdout to the end (so the devnet never blocks on a full pipe), passing lines on.
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                println!("devnet| {line}");
                let _ = tx.send(line);
            }
        });
        let deadline = Instant::now() + Duration::from_secs(120);
        let mut human = false;
        let info = loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let line = rx
                .recv_timeout(left)
                .expect("the devnet printed L2PAY_DEVNET_READY in time");
            if line == format!("l2pay devnet ready: open http://127.0.0.1:{port}/") {
                human = true;
            }
            if let Some(j) = line.strip_prefix("L2PAY_DEVNET_READY ") {
                break serde_json::from_str::<Value>(j).expect("READY line carries JSON");
            }
        };
        assert!(human, "the human ready line comes before the machine one");
        Devnet {
            child: Some(child),
            info,
            http: format!("http://127.0.0.1:{port}"),
            chain_port,
            _data: data,
        }
    }

    fn addr(&self, field: &str) -> Address {
        self.info[field].as_str().unwrap().parse().unwrap()
    }

    fn signal(&self, sig: libc::c_int) {
        let pid = self.child.as_ref().unwrap().id() as i32;
        // SAFETY: kill(2) on the child this test started.
        assert_eq!(unsafe { libc::kill(pid, sig) }, 0);
    }

    /// Sends `sig` and waits (up to 30 s) for the devnet to exit.
    fn stop(&mut self, sig: libc::c_int) -> ExitStatus {
        self.signal(sig);
        let mut child = self.child.take().unwrap();
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(status) = child.try_wait().unwrap() {
                return status;
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                panic!("the devnet did not exit within 30 s of the signal");
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Devnet {
    fn drop(&mut self) {
        if self.child.is_some() {
            let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                self.stop(libc::SIGTERM);
            }));
        }
    }
}

/// Pids of anvil processes listening on `port` (by command line: `anvil ... -p PORT`).
fn anvils_on(port: u16) -> Vec<i32> {
    let mut found = vec![];
    for e in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = e.file_name().to_string_lossy().parse::<i32>() else {
            continue;
        };
        let Ok(cmdline) = std::fs::read(e.path().join("cmdline")) else {
            continue;
        };
        let args: Vec<String> = cmdline
            .split(|b| *b == 0)
            .map(|a| String::from_utf8_lossy(a).into_owned())
            .collect();
        let is_anvil = args.first().is_some_and(|a| a.ends_with("anvil"));
        let on_port = args
            .windows(2)
            .any(|w| w[0] == "-p" && w[1] == port.to_string());
        if is_anvil && on_port {
            found.push(pid);
        }
    }
    found
}

struct Reply {
    status: u16,
    content_type: String,
    cache_control: String,
    body: Vec<u8>,
}

impl Reply {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&self.body)))
    }

    /// A typed API error: `{ "error": { "code", "message" } }` with a 4xx status.
    fn error_code(&self) -> String {
        assert!((400..500).contains(&self.status), "status {}", self.status);
        let v = self.json();
        assert!(v["error"]["message"].is_string(), "{v}");
        v["error"]["code"].as_str().unwrap().to_string()
    }
}

async fn request(method: reqwest::Method, url: &str, body: Option<Value>) -> Reply {
    let mut req = reqwest::Client::new().request(method, url);
    if let Some(b) = body {
        req = req
            .header("content-type", "application/json")
            .body(b.to_string());
    }
    let res = req.send().await.expect("HTTP request");
    let header = |name: &str| {
        res.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string()
    };
    let (content_type, cache_control) = (header("content-type"), header("cache-control"));
    let status = res.status().as_u16();
    let body = res.bytes().await.unwrap().to_vec();
    Reply {
        status,
        content_type,
        cache_control,
        body,
    }
}

async fn get(url: &str) -> Reply {
    request(reqwest::Method::GET, url, None).await
}

async fn post(url: &str, body: Value) -> Reply {
    request(reqwest::Method::POST, url, Some(body)).await
}

/// Waits (up to 60 s) until the client's channel state satisfies `f`.
async fn wait_for(c: &HubClient, id: B256, f: impl Fn(&ChannelState) -> bool) -> ChannelState {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Ok((s, _)) = c.state(id).await {
            if f(&s) {
                return s;
            }
            if Instant::now() > deadline {
                panic!("channel {id} never reached the expected state; last: {s:?}");
            }
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn wallet(rpc: &str, key: B256) -> DynProvider {
    ProviderBuilder::new()
        .disable_recommended_fillers()
        .with_simple_nonce_management()
        .with_gas_estimation()
        .fetch_chain_id()
        .wallet(PrivateKeySigner::from_bytes(&key).unwrap())
        .connect_http(rpc.parse().unwrap())
        .erased()
}

/// The whole merchant flow: a shopper opens a tUSD channel and pays an invoice the devnet's
/// merchant created; the merchant sees it, refunds part of it (the shopper's channel shows
/// it), is refused an over-refund; SIGTERM stops everything, anvil included.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shopper_pays_merchant_refunds_then_sigterm_stops_everything() {
    let mut net = Devnet::start(&[]);
    let info = net.info.clone();
    let http = net.http.clone();

    // /devnet.json is what the READY line printed.
    let r = get(&format!("{http}/devnet.json")).await;
    assert_eq!(r.status, 200);
    assert!(r.content_type.starts_with("application/json"));
    assert_eq!(r.cache_control, "no-store");
    assert_eq!(r.json(), info);
    assert_eq!(info["chainId"], 31337);
    assert_eq!(
        info["rpcUrl"],
        format!("http://127.0.0.1:{}", net.chain_port)
    );
    assert_eq!(info["tokenSymbol"], "tUSD");
    assert_eq!(info["tokenDecimals"], 6);
    assert_eq!(info["challengePeriod"], 120);
    assert!(info["hubUrl"]
        .as_str()
        .unwrap()
        .starts_with("ws://127.0.0.1:"));
    assert!(info["hubHttp"]
        .as_str()
        .unwrap()
        .starts_with("http://127.0.0.1:"));
    for field in ["adjudicator", "token", "hubAddress", "merchantAddress"] {
        let s = info[field].as_str().unwrap();
        assert_eq!(s, net.addr(field).to_string(), "{field} is checksummed");
    }
    let funding = info["fundingAccounts"].as_array().unwrap();
    assert_eq!(funding.len(), 5);
    let shopper_key: B256 = SHOPPER_KEY.parse().unwrap();
    let shopper_signer = Arc::new(LocalSigner::from_bytes(&shopper_key.0).unwrap());
    let shopper_addr = PrivateKeySigner::from_bytes(&shopper_key)
        .unwrap()
        .address();
    assert_eq!(funding[0], shopper_addr.to_string());

    // The pages: an existing file of www/ with its type, and something at /.
    let r = get(&format!("{http}/planner.html")).await;
    assert_eq!(r.status, 200);
    assert!(
        r.content_type.starts_with("text/html"),
        "{}",
        r.content_type
    );
    assert_eq!(r.cache_control, "no-store");
    let on_disk = std::fs::read(Path::new(env!("CARGO_MANIFEST_DIR")).join("../www/planner.html"));
    assert_eq!(r.body, on_disk.unwrap());
    let r = get(&format!("{http}/")).await;
    assert_eq!(r.status, 200);
    assert!(r.content_type.starts_with("text/html"));

    // Funding: each funding account holds 10,000 tUSD.
    let rpc = info["rpcUrl"].as_str().unwrap();
    let token = net.addr("token");
    let shopper_chain = AdjudicatorClient::new(net.addr("adjudicator"), wallet(rpc, shopper_key));
    let erc20 = IERC20::new(token, shopper_chain.provider().clone());
    let balance = erc20.balanceOf(shopper_addr).call().await.unwrap();
    assert_eq!(balance.to::<u128>(), 10_000 * TUSD);

    // The merchant creates an invoice.
    let r = post(
        &format!("{http}/api/merchant/invoices"),
        json!({ "amount": "1500000", "description": "one coffee", "ttlSecs": 600 }),
    )
    .await;
    assert_eq!(r.status, 201, "{}", String::from_utf8_lossy(&r.body));
    let inv = r.json();
    let invoice = inv["invoice"].as_str().unwrap().to_string();
    assert!(invoice.starts_with("l2pay1"));
    assert_eq!(inv["amount"], "1500000");
    let hash: B256 = inv["paymentHash"].as_str().unwrap().parse().unwrap();
    let decoded = l2pay::invoice::Invoice::decode(&invoice).unwrap();
    assert_eq!(decoded.request.token, token, "the invoice names tUSD");
    assert_eq!(decoded.request.merchant, net.addr("merchantAddress"));

    // A shopper opens a tUSD channel with the hub (120 s challenge period) and pays it.
    let shopper = HubClient::connect(info["hubUrl"].as_str().unwrap(), shopper_signer, None)
        .await
        .expect("connect to the hub");
    assert_eq!(shopper.hub, net.addr("hubAddress"));
    let deposit = 100 * TUSD;
    let mut salt = [0u8; 32];
    getrandom::fill(&mut salt).unwrap();
    let params = shopper.channel_params(token, 120, B256::from(salt));
    shopper_chain.approve(token, deposit).await.unwrap();
    shopper_chain.open(&params, deposit).await.unwrap();
    let sid = shopper.register(params).await.expect("register");
    shopper.chain_deposit(sid, Side::A, deposit).await.unwrap();
    wait_for(&shopper, sid, |s| s.deposits == [deposit, 0]).await;
    let preimage = shopper.pay_invoice(sid, &invoice).await.expect("paid");
    assert_eq!(payment_hash(&preimage), hash);
    wait_for(&shopper, sid, |s| {
        s.htlcs.is_empty() && s.balances == [deposit - 1_500_000, 1_500_000]
    })
    .await;

    // The merchant's payment list shows it, with its description and settle time.
    let deadline = Instant::now() + Duration::from_secs(30);
    let payment = loop {
        let r = get(&format!("{http}/api/merchant/payments")).await;
        assert_eq!(r.status, 200);
        let list = r.json()["payments"].as_array().unwrap().clone();
        let found = list
            .into_iter()
            .find(|p| p["paymentId"].as_str().unwrap().parse::<B256>().unwrap() == hash);
        if let Some(p) = found.filter(|p| !p["settledAt"].is_null()) {
            break p;
        }
        assert!(Instant::now() < deadline, "the payment never showed");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(payment["amount"], "1500000");
    assert_eq!(payment["refunded"], "0");
    assert_eq!(payment["refundable"], "1500000");
    assert_eq!(payment["description"], "one coffee");
    assert!(payment["createdAt"].as_u64().unwrap() > 1_600_000_000);

    // A partial refund: the API answers once the hub countersigned; the shopper gets it.
    let refunds = format!("{http}/api/merchant/refunds");
    let r = post(&refunds, json!({ "paymentId": hash, "amount": "500000" })).await;
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    let p = r.json();
    assert_eq!(
        (p["refunded"].as_str(), p["refundable"].as_str()),
        (Some("500000"), Some("1000000"))
    );
    wait_for(&shopper, sid, |s| {
        s.balances == [deposit - 1_000_000, 1_000_000]
    })
    .await;
    let (_, shopper_payments) = shopper.state(sid).await.unwrap();
    let (_, sp) = shopper_payments.iter().find(|(id, _)| *id == hash).unwrap();
    assert_eq!((sp.amount, sp.refunded), (1_500_000, 500_000));

    // Refusals are typed 4xx errors and change nothing.
    let r = post(&refunds, json!({ "paymentId": hash, "amount": "1000001" })).await;
    assert_eq!(r.error_code(), "REFUND_EXCEEDS_PAYMENT");
    let r = post(
        &refunds,
        json!({ "paymentId": B256::repeat_byte(7), "amount": "1" }),
    )
    .await;
    assert_eq!((r.status, r.error_code()), (404, "UNKNOWN_PAYMENT".into()));
    let r = post(&refunds, json!({ "paymentId": hash, "amount": 5 })).await;
    assert_eq!(r.error_code(), "BAD_REQUEST");
    let r = post(&refunds, json!({ "paymentId": hash, "amount": "1.5" })).await;
    assert_eq!(r.error_code(), "BAD_AMOUNT");
    let r = post(
        &format!("{http}/api/merchant/invoices"),
        json!({ "amount": "0" }),
    )
    .await;
    assert_eq!(r.error_code(), "BAD_AMOUNT");
    let r = get(&format!("{http}/api/merchant/nothing")).await;
    assert_eq!((r.status, r.error_code()), (404, "NOT_FOUND".into()));
    let r = get(&refunds).await;
    assert_eq!(
        (r.status, r.error_code()),
        (405, "METHOD_NOT_ALLOWED".into())
    );

    // The overview: balances off and on chain, the hub's channels.
    let r = get(&format!("{http}/api/merchant/overview")).await;
    assert_eq!(r.status, 200);
    let o = r.json();
    assert_eq!(o["merchant"]["offChainBalance"], "1000000");
    assert_eq!(
        o["merchant"]["deposits"]["hub"],
        (50_000 * TUSD).to_string()
    );
    assert_eq!(o["merchant"]["deposits"]["merchant"], "0");
    assert_eq!(o["merchant"]["onChainBalance"], "0");
    assert_eq!(o["hub"]["onChainBalance"], "0");
    assert_eq!(o["token"]["symbol"], "tUSD");
    let channels = o["hub"]["channels"].as_array().unwrap();
    assert_eq!(channels.len(), 2, "{channels:?}");
    let ours = channels
        .iter()
        .find(|c| c["channelId"].as_str().unwrap().parse::<B256>().unwrap() == sid)
        .expect("the shopper's channel is listed");
    assert_eq!(ours["client"], shopper_addr.to_string());
    assert_eq!(ours["clientBalance"], (deposit - 1_000_000).to_string());

    // SIGTERM: everything stops, exit status 0, anvil is gone.
    shopper.shutdown().await;
    let anvils = anvils_on(net.chain_port);
    assert_eq!(anvils.len(), 1, "one anvil on the chain port");
    let status = net.stop(libc::SIGTERM);
    assert!(status.success(), "{status:?}");
    assert!(
        anvils_on(net.chain_port).is_empty(),
        "anvil outlived the devnet"
    );
    assert!(!Path::new(&format!("/proc/{}", anvils[0])).exists());
    let provider = ProviderBuilder::new().connect_http(rpc.parse().unwrap());
    assert!(
        provider.get_block_number().await.is_err(),
        "the chain is down"
    );
}

/// Static files from `--www`: the right content types (wasm, JS), `no-store`, index.html at
/// `/`, a 404 for a missing file; SIGINT stops everything too.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serves_www_with_content_types_then_sigint_stops_everything() {
    let www = tempfile::tempdir().unwrap();
    let wasm = b"\0asm\x01\0\0\0".to_vec();
    std::fs::write(www.path().join("index.html"), "<!doctype html><p>shop</p>").unwrap();
    std::fs::write(www.path().join("app.js"), "export const x = 1;\n").unwrap();
    std::fs::write(www.path().join("mod.wasm"), &wasm).unwrap();
    std::fs::write(www.path().join("style.css"), "p { color: red }\n").unwrap();
    let mut net = Devnet::start(&["--www", &www.path().display().to_string()]);
    let http = net.http.clone();

    let r = get(&format!("{http}/")).await;
    assert_eq!(
        (r.status, r.body.as_slice()),
        (200, &b"<!doctype html><p>shop</p>"[..])
    );
    assert!(r.content_type.starts_with("text/html"));
    let r = get(&format!("{http}/mod.wasm")).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.content_type, "application/wasm");
    assert_eq!(r.cache_control, "no-store");
    assert_eq!(r.body, wasm);
    let r = get(&format!("{http}/app.js")).await;
    assert_eq!(r.content_type, "text/javascript");
    assert_eq!(r.cache_control, "no-store");
    let r = get(&format!("{http}/style.css")).await;
    assert!(r.content_type.starts_with("text/css"), "{}", r.content_type);
    let r = get(&format!("{http}/nothing-here.html")).await;
    assert_eq!(r.status, 404);
    let r = get(&format!("{http}/devnet.json")).await;
    assert_eq!(r.json(), net.info);

    let status = net.stop(libc::SIGINT);
    assert!(status.success(), "{status:?}");
    assert!(
        anvils_on(net.chain_port).is_empty(),
        "anvil outlived the devnet"
    );
}

/// A `--data-dir` that is not the devnet's own is never wiped.
#[test]
fn refuses_to_wipe_a_foreign_data_dir() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("precious.txt"), "keep me").unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_l2pay-devnet"))
        .args(["--port", &free_port().to_string()])
        .args(["--hub-port", &free_port().to_string()])
        .args(["--chain-port", &free_port().to_string()])
        .args(["--data-dir", &dir.path().display().to_string()])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("not wiping it"), "{err}");
    assert_eq!(
        std::fs::read_to_string(dir.path().join("precious.txt")).unwrap(),
        "keep me"
    );
}
