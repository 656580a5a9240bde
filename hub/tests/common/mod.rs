//! A real devnet for hub tests: anvil with the adjudicator deployed, the `l2pay-hub` binary
//! started as its own process on a free loopback port (so it can be killed with SIGKILL), and
//! native clients connected over real WebSockets.

#![allow(dead_code)]

pub mod evil;
pub mod raw;

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use alloy::primitives::{Address, B256};
use l2pay::signer::{LocalSigner, Signer};
use l2pay::state::{ChannelParams, ChannelState, Side};
use l2pay::Amount;
use l2pay_chain::{deploy_adjudicator, deploy_test_token, AdjudicatorClient, Devnet};
use l2pay_hub::client::{ClientEvent, HubClient};
use l2pay_hub::store::Store;

pub const HUB_KEY: usize = 1;
pub const ETH: Amount = 1_000_000_000_000_000_000;

pub struct Net {
    pub devnet: Devnet,
    pub adjudicator: Address,
    /// A test ERC-20 the hub serves beside the native coin (`--token 0x0,<token>`).
    pub token: Address,
    pub data: tempfile::TempDir,
    pub hub: Option<Child>,
    pub port: u16,
    pub database_url: String,
    pub extra_args: Vec<String>,
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Which database the hub runs on.
#[derive(Clone, Copy, Debug)]
pub enum Backend {
    Sqlite,
    /// A fresh database on the server named by `L2PAY_TEST_POSTGRES_URL`
    /// (`eval "$(bash scripts/postgres.sh)"` starts one; `scripts/test.sh` does).
    Postgres,
}

/// Creates an empty PostgreSQL database for one test and returns its URL.
async fn postgres_database() -> String {
    use sqlx::Connection;
    let server = std::env::var("L2PAY_TEST_POSTGRES_URL").unwrap_or_else(|_| {
        panic!(
            "L2PAY_TEST_POSTGRES_URL is not set: run `eval \"$(bash scripts/postgres.sh)\"` first"
        )
    });
    let mut salt = [0u8; 6];
    getrandom::fill(&mut salt).unwrap();
    let name = format!("l2pay_hub_{}", alloy::hex::encode(salt));
    let mut admin = sqlx::PgConnection::connect(&server)
        .await
        .expect("reach PostgreSQL");
    sqlx::query(&format!("CREATE DATABASE {name}"))
        .execute(&mut admin)
        .await
        .expect("create database");
    let (base, query) = server
        .split_once('?')
        .map_or((server.as_str(), None), |(b, q)| (b, Some(q)));
    let root = base.rsplit_once('/').map_or(base, |(r, _)| r);
    match query {
        Some(q) => format!("{root}/{name}?{q}"),
        None => format!("{root}/{name}"),
    }
}

impl Net {
    /// anvil + adjudicator + a hub on SQLite.
    pub async fn start(extra_args: &[&str]) -> Net {
        Self::start_on(Backend::Sqlite, extra_args).await
    }

    /// anvil + adjudicator + a hub on the given database.
    pub async fn start_on(backend: Backend, extra_args: &[&str]) -> Net {
        let devnet = Devnet::spawn().await.expect("anvil");
        let adjudicator = deploy_adjudicator(&devnet.wallet(0)).await.expect("deploy");
        let token = deploy_test_token(&devnet.wallet(0))
            .await
            .expect("deploy token");
        let data = tempfile::tempdir().unwrap();
        let database_url = match backend {
            Backend::Sqlite => format!("sqlite://{}", data.path().join("hub.sqlite").display()),
            Backend::Postgres => postgres_database().await,
        };
        let mut net = Net {
            devnet,
            adjudicator,
            token,
            data,
            hub: None,
            port: free_port(),
            database_url,
            extra_args: extra_args.iter().map(|s| s.to_string()).collect(),
        };
        std::fs::write(
            net.data.path().join("hub.key"),
            alloy::hex::encode(net.devnet.key(HUB_KEY)),
        )
        .unwrap();
        net.start_hub().await;
        net
    }

    pub async fn start_hub(&mut self) {
        let bin = PathBuf::from(env!("CARGO_BIN_EXE_l2pay-hub"));
        let child = Command::new(bin)
            .args(["--listen", &format!("127.0.0.1:{}", self.port)])
            .args(["--data-dir", &self.data.path().display().to_string()])
            .args(["--database-url", &self.database_url])
            .args(["--rpc-url", &self.devnet.endpoint()])
            .args(["--adjudicator", &self.adjudicator.to_string()])
            .args(["--poll-ms", "100"])
            // anvil mines a block per transaction and none otherwise: act at the head unless
            // the test asks for a confirmation depth.
            .args(
                (!self
                    .extra_args
                    .iter()
                    .any(|a| a.starts_with("--confirmations")))
                .then_some(["--confirmations", "0"])
                .into_iter()
                .flatten(),
            )
            .args(
                (!self.extra_args.iter().any(|a| a.starts_with("--token")))
                    .then(|| {
                        [
                            "--token".to_string(),
                            format!("{},{}", Address::ZERO, self.token),
                        ]
                    })
                    .into_iter()
                    .flatten(),
            )
            .args(&self.extra_args)
            .env(
                "RUST_LOG",
                std::env::var("HUB_LOG").unwrap_or_else(|_| "warn".into()),
            )
            .stdout(Stdio::inherit())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start l2pay-hub");
        self.hub = Some(child);
        for _ in 0..200 {
            if tokio::net::TcpStream::connect(("127.0.0.1", self.port))
                .await
                .is_ok()
            {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("hub did not start listening");
    }

    /// SIGKILL: no shutdown code runs, only what was durable survives.
    pub fn kill_hub(&mut self) {
        if let Some(mut c) = self.hub.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    pub fn ws_url(&self) -> String {
        format!("ws://127.0.0.1:{}/ws", self.port)
    }

    pub fn http_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    pub fn hub_address(&self) -> Address {
        self.devnet.address(HUB_KEY)
    }

    pub fn chain(&self, key: usize) -> AdjudicatorClient {
        AdjudicatorClient::new(self.adjudicator, self.devnet.wallet(key))
    }

    /// A client for anvil account `key` (its own SQLite store under the temp dir when
    /// `durable`).
    pub async fn client(&self, key: usize, durable: bool) -> HubClient {
        let signer = Arc::new(self.devnet.signer(key));
        let store = if durable {
            let path = self.data.path().join(format!("client-{key}.sqlite"));
            Some(
                Store::open(&format!("sqlite://{}", path.display()))
                    .await
                    .unwrap(),
            )
        } else {
            None
        };
        HubClient::connect(&self.ws_url(), signer, store)
            .await
            .expect("connect")
    }

    /// Opens a channel on chain from `key` to the hub with `deposit`, has the hub add
    /// `hub_deposit` (operator liquidity for a merchant), and registers it.
    pub async fn open_channel(
        &self,
        c: &HubClient,
        key: usize,
        deposit: Amount,
        hub_deposit: Amount,
    ) -> ChannelParams {
        self.open_channel_in(Address::ZERO, c, key, deposit, hub_deposit)
            .await
    }

    /// [`Self::open_channel`] in `token` (the zero address: the native coin). For the test
    /// token, both sides are minted and approve what they deposit.
    pub async fn open_channel_in(
        &self,
        token: Address,
        c: &HubClient,
        key: usize,
        deposit: Amount,
        hub_deposit: Amount,
    ) -> ChannelParams {
        let mut salt = [0u8; 32];
        getrandom::fill(&mut salt).unwrap();
        let params = c.channel_params(token, 3_600, B256::from(salt));
        if token != Address::ZERO {
            for (who, amount) in [(key, deposit), (HUB_KEY, hub_deposit)] {
                if amount == 0 {
                    continue;
                }
                let t = l2pay_chain::bindings::TestToken::new(token, self.devnet.wallet(who));
                t.mint(
                    self.devnet.address(who),
                    alloy::primitives::U256::from(amount),
                )
                .send()
                .await
                .unwrap()
                .get_receipt()
                .await
                .unwrap();
                self.chain(who).approve(token, amount).await.unwrap();
            }
        }
        self.chain(key)
            .open(&params, deposit)
            .await
            .expect("open on chain");
        if hub_deposit > 0 {
            self.chain(HUB_KEY)
                .deposit(&params, hub_deposit)
                .await
                .expect("hub deposit");
        }
        let id = c.register(params.clone()).await.expect("register");
        c.chain_deposit(id, Side::A, deposit).await.unwrap();
        if hub_deposit > 0 {
            c.chain_deposit(id, Side::B, hub_deposit).await.unwrap();
        }
        wait_for(c, id, |s| s.deposits == [deposit, hub_deposit]).await;
        params
    }
}

impl Drop for Net {
    fn drop(&mut self) {
        self.kill_hub();
    }
}

/// Waits (up to 60 s, CI machines are shared) until the client's channel state satisfies `f`.
pub async fn wait_for(c: &HubClient, id: B256, f: impl Fn(&ChannelState) -> bool) -> ChannelState {
    for _ in 0..1_200 {
        let got = tokio::time::timeout(Duration::from_secs(2), c.state(id)).await;
        if let Ok(Ok((s, _))) = got {
            if f(&s) {
                return s;
            }
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let s = c.state(id).await.map(|x| x.0);
    panic!("channel {id} never reached the expected state; last: {s:?}");
}

/// Waits for a client event matching `f`.
pub async fn wait_event(
    rx: &mut tokio::sync::broadcast::Receiver<ClientEvent>,
    f: impl Fn(&ClientEvent) -> bool,
) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    while let Ok(Ok(e)) = tokio::time::timeout_at(deadline, rx.recv()).await {
        if f(&e) {
            return;
        }
    }
    panic!("event never came");
}

pub fn signer(n: u8) -> LocalSigner {
    LocalSigner::from_bytes(&[n; 32]).unwrap()
}

pub fn addr(s: &LocalSigner) -> Address {
    s.address()
}
