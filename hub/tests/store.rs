//! Store conformance: one suite, run against SQLite (a file in a temp dir) and PostgreSQL (a fresh
//! database per test on the server named by `L2PAY_TEST_POSTGRES_URL`; start one with
//! `eval "$(bash scripts/postgres.sh)"`).

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use alloy::primitives::{keccak256, Address, B256};
use futures_util::future::join_all;
use l2pay::channel::{ChannelSnapshot, Proposal};
use l2pay::ledger::Payment;
use l2pay::op::{Op, Policy};
use l2pay::signer::Signature;
use l2pay::state::{ChannelParams, ChannelState, Htlc, Side};
use l2pay_hub::store::{
    Backend, GroupCommit, InvoiceRecord, Store, StoreError, StoredChannel, Write,
};
use sqlx::Connection;

const POSTGRES_ENV: &str = "L2PAY_TEST_POSTGRES_URL";

// ----- test databases -----

#[derive(Clone, Copy, Debug)]
enum Kind {
    Sqlite,
    Postgres,
}

/// A fresh, empty database of one backend; `open` may be called again to reopen it.
struct TestDb {
    url: String,
    /// SQLite: the directory holding the file.
    _dir: Option<tempfile::TempDir>,
    /// PostgreSQL: the server URL and the database to drop afterwards.
    pg: Option<(String, String)>,
}

static DB_SEQ: AtomicU64 = AtomicU64::new(0);

impl TestDb {
    async fn new(kind: Kind) -> TestDb {
        match kind {
            Kind::Sqlite => {
                let dir = tempfile::tempdir().expect("temp dir");
                let url = format!("sqlite://{}", dir.path().join("hub.db").display());
                TestDb {
                    url,
                    _dir: Some(dir),
                    pg: None,
                }
            }
            Kind::Postgres => {
                let server = std::env::var(POSTGRES_ENV).unwrap_or_else(|_| {
                    panic!(
                        "{POSTGRES_ENV} is not set: the PostgreSQL store tests need a server. \
                         Start one with `eval \"$(bash scripts/postgres.sh)\"` (installs and \
                         starts PostgreSQL on 127.0.0.1:55432 and exports {POSTGRES_ENV}), \
                         then rerun the tests in that shell."
                    )
                });
                let nanos = SystemTime::now()
                    .duration_since(UNIX_EPOCH)
                    .unwrap()
                    .subsec_nanos();
                let name = format!(
                    "l2pay_t_{}_{}_{}",
                    std::process::id(),
                    DB_SEQ.fetch_add(1, Ordering::Relaxed),
                    nanos
                );
                let mut admin = sqlx::PgConnection::connect(&server)
                    .await
                    .unwrap_or_else(|e| panic!("cannot reach {POSTGRES_ENV}: {e}"));
                sqlx::query(&format!("CREATE DATABASE {name}"))
                    .execute(&mut admin)
                    .await
                    .expect("create test database");
                admin.close().await.ok();
                TestDb {
                    url: with_database(&server, &name),
                    _dir: None,
                    pg: Some((server, name)),
                }
            }
        }
    }

    async fn open(&self) -> Store {
        Store::open(&self.url).await.expect("open store")
    }

    /// Drops the PostgreSQL database (best effort; a failed test leaves it for inspection).
    async fn cleanup(self) {
        if let Some((server, name)) = &self.pg {
            if let Ok(mut admin) = sqlx::PgConnection::connect(server).await {
                let _ = sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                    .execute(&mut admin)
                    .await;
                admin.close().await.ok();
            }
        }
    }
}

/// `postgres://…/OLD?params` → `postgres://…/NAME?params`.
fn with_database(url: &str, name: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (url, None),
    };
    let scheme_end = base.find("://").map_or(0, |i| i + 3);
    let base = match base[scheme_end..].find('/') {
        Some(i) => &base[..scheme_end + i],
        None => base,
    };
    match query {
        Some(q) => format!("{base}/{name}?{q}"),
        None => format!("{base}/{name}"),
    }
}

/// Runs each case against both backends: `sqlite::CASE` and `postgres::CASE`.
macro_rules! conformance {
    ($($case:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $case() {
                    let db = super::TestDb::new(super::Kind::Sqlite).await;
                    super::$case(&db).await;
                    db.cleanup().await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $case() {
                    let db = super::TestDb::new(super::Kind::Postgres).await;
                    super::$case(&db).await;
                    db.cleanup().await;
                }
            )*
        }
    };
}

conformance!(
    empty_store_loads_nothing,
    snapshots_and_payments_round_trip,
    upserts_replace,
    large_batches_and_repeated_keys,
    failing_batch_leaves_nothing,
    invoices_round_trip,
    meta_round_trips,
    reopening_keeps_everything,
    group_commit_shares_transactions,
    group_commit_keeps_order,
    group_commit_isolates_a_failing_request,
    acknowledged_commits_survive_a_kill,
);

// ----- fixtures -----

const BIG: u128 = u128::MAX;

fn params(i: u64) -> ChannelParams {
    ChannelParams {
        chain_id: 31_337,
        adjudicator: Address::repeat_byte(0xad),
        participants: [Address::repeat_byte(0xa1), Address::repeat_byte(0xb2)],
        token: Address::ZERO,
        challenge_period: 3_600,
        salt: keccak256(i.to_be_bytes()),
    }
}

/// A snapshot exercising every field, with amounts near `u128::MAX`.
fn snapshot(i: u64, nonce: u64) -> ChannelSnapshot {
    let htlc = Htlc {
        id: 7,
        from: Side::A,
        amount: BIG - 3,
        payment_hash: keccak256(b"preimage"),
        expiry: u64::MAX,
    };
    let latest = ChannelState {
        nonce,
        balances: [BIG - 1, u128::from(i)],
        deposits: [BIG, BIG - 2],
        withdrawn: [0, 1],
        htlcs: vec![htlc],
        is_final: false,
    };
    let mut next = latest.clone();
    next.nonce += 1;
    ChannelSnapshot {
        params: params(i),
        me: Side::B,
        policy: Policy::default(),
        latest,
        latest_peer_sig: Some(Signature([0x5a; 65])),
        pending: Some(Proposal {
            op: Op::Pay {
                payment_id: keccak256(b"pending"),
                amount: BIG,
            },
            state: next,
        }),
        highest_signed: nonce + 1,
        chain_deposits: [BIG, BIG - 7],
        last_htlc_id: [i, u64::MAX],
    }
}

fn id(i: u64) -> B256 {
    params(i).channel_id()
}

fn payment_id(channel: u64, n: u64) -> B256 {
    keccak256([channel.to_be_bytes(), n.to_be_bytes()].concat())
}

fn payment(n: u64) -> Payment {
    Payment {
        payer: if n.is_multiple_of(2) {
            Side::A
        } else {
            Side::B
        },
        amount: BIG - u128::from(n),
        refunded: u128::from(n) << 100,
        preimage: (!n.is_multiple_of(3)).then(|| keccak256(n.to_be_bytes())),
    }
}

fn snap_write(s: &ChannelSnapshot) -> Write {
    Write::Snapshot {
        channel_id: s.params.channel_id(),
        snapshot: Box::new(s.clone()),
    }
}

fn pay_write(channel: u64, n: u64, p: &Payment) -> Write {
    Write::Payment {
        channel_id: id(channel),
        payment_id: payment_id(channel, n),
        payment: p.clone(),
    }
}

fn invoice(n: u8, merchant: Address, created_at: u64) -> InvoiceRecord {
    InvoiceRecord {
        payment_hash: keccak256([n]),
        merchant,
        channel_id: id(u64::from(n)),
        amount: BIG - u128::from(n),
        invoice: format!("l2pay1invoice{n}"),
        expiry: if n == 0 { u64::MAX } else { created_at + 600 },
        created_at,
    }
}

fn meta(key: &str, value: &str) -> Write {
    Write::Meta {
        key: key.into(),
        value: value.into(),
    }
}

/// Channels `0..n` with payments `0..payments` each, as written and as `load_channels` returns
/// them (ordered by channel id, then payment id).
fn channels(n: u64, payments: u64) -> (Vec<Write>, Vec<StoredChannel>) {
    let mut writes = Vec::new();
    let mut expected = Vec::new();
    for c in 0..n {
        let s = snapshot(c, c + 1);
        writes.push(snap_write(&s));
        let mut ps = Vec::new();
        for k in 0..payments {
            let p = payment(k);
            writes.push(pay_write(c, k, &p));
            ps.push((payment_id(c, k), p));
        }
        ps.sort_by_key(|(id, _)| *id);
        expected.push(StoredChannel {
            snapshot: s,
            payments: ps,
        });
    }
    expected.sort_by_key(|c| c.snapshot.params.channel_id());
    (writes, expected)
}

// ----- the suite -----

async fn empty_store_loads_nothing(db: &TestDb) {
    let store = db.open().await;
    assert!(store.load_channels().await.unwrap().is_empty());
    assert!(store.load_invoices().await.unwrap().is_empty());
    assert_eq!(store.meta("cursor").await.unwrap(), None);
    assert_eq!(store.invoice(B256::ZERO).await.unwrap(), None);
    store.write_batch(&[]).await.unwrap();
    assert_eq!(
        store.transactions(),
        0,
        "an empty batch opens no transaction"
    );
}

async fn snapshots_and_payments_round_trip(db: &TestDb) {
    let store = db.open().await;
    let (writes, expected) = channels(3, 5);
    // A channel without payments, and a payment written before its channel's snapshot (the
    // foreign key is checked at commit).
    let lone = snapshot(9, 0);
    let early = payment(1);
    let mut batch = vec![pay_write(9, 1, &early), snap_write(&lone)];
    batch.extend(writes);
    store.write_batch(&batch).await.unwrap();
    assert_eq!(store.transactions(), 1);

    let mut want = expected;
    want.push(StoredChannel {
        snapshot: lone,
        payments: vec![(payment_id(9, 1), early)],
    });
    want.sort_by_key(|c| c.snapshot.params.channel_id());
    let got = store.load_channels().await.unwrap();
    assert_eq!(got, want);
    let max = got
        .iter()
        .flat_map(|c| c.payments.iter())
        .map(|(_, p)| p.amount)
        .max();
    assert_eq!(max, Some(u128::MAX), "u128::MAX survives");
}

async fn upserts_replace(db: &TestDb) {
    let store = db.open().await;
    let p = payment(4);
    store
        .write_batch(&[
            snap_write(&snapshot(1, 1)),
            pay_write(1, 4, &p),
            meta("k", "1"),
        ])
        .await
        .unwrap();
    let newer = snapshot(1, 2);
    let refunded = Payment {
        refunded: p.amount,
        preimage: None,
        ..p.clone()
    };
    store
        .write_batch(&[
            snap_write(&newer),
            pay_write(1, 4, &refunded),
            meta("k", "2"),
        ])
        .await
        .unwrap();
    let got = store.load_channels().await.unwrap();
    assert_eq!(
        got,
        vec![StoredChannel {
            snapshot: newer,
            payments: vec![(payment_id(1, 4), refunded)],
        }]
    );
    assert_eq!(store.meta("k").await.unwrap().as_deref(), Some("2"));

    // Within one batch the last write of a key wins.
    store
        .write_batch(&[meta("k", "3"), meta("k", "4")])
        .await
        .unwrap();
    assert_eq!(store.meta("k").await.unwrap().as_deref(), Some("4"));

    // An invoice write records the payment hash's owner (the actor decides who owns it: the
    // first registration, or a later one once the owner's invoice expired): the last wins.
    let merchant = Address::repeat_byte(0x11);
    let first = invoice(1, merchant, 100);
    let again = InvoiceRecord {
        invoice: "l2pay1other".into(),
        amount: 1,
        ..first.clone()
    };
    store
        .write_batch(&[Write::Invoice(first.clone())])
        .await
        .unwrap();
    store
        .write_batch(&[Write::Invoice(again.clone())])
        .await
        .unwrap();
    assert_eq!(store.load_invoices().await.unwrap(), vec![again]);
}

async fn large_batches_and_repeated_keys(db: &TestDb) {
    let store = db.open().await;
    // More rows than one multi-row statement carries, and keys written several times in one
    // batch: the result is that of applying the writes one by one.
    let mut writes = Vec::new();
    for nonce in 0..3 {
        writes.push(snap_write(&snapshot(1, nonce)));
    }
    for k in 0..1_200 {
        writes.push(pay_write(1, k, &payment(k + 1)));
    }
    for k in 0..1_200 {
        writes.push(pay_write(1, k, &payment(k)));
    }
    let merchant = Address::repeat_byte(0x33);
    let first = invoice(4, merchant, 10);
    let second = InvoiceRecord {
        invoice: "l2pay1second".into(),
        ..first.clone()
    };
    writes.push(Write::Invoice(first.clone()));
    writes.push(Write::Invoice(second.clone()));
    for n in 0..1_100 {
        writes.push(meta(&format!("key{}", n % 700), &n.to_string()));
    }
    store.write_batch(&writes).await.unwrap();
    assert_eq!(store.transactions(), 1);

    let mut payments: Vec<_> = (0..1_200).map(|k| (payment_id(1, k), payment(k))).collect();
    payments.sort_by_key(|(id, _)| *id);
    assert_eq!(
        store.load_channels().await.unwrap(),
        vec![StoredChannel {
            snapshot: snapshot(1, 2),
            payments,
        }]
    );
    assert_eq!(store.load_invoices().await.unwrap(), vec![second]);
    assert_eq!(store.meta("key0").await.unwrap().as_deref(), Some("700"));
    assert_eq!(store.meta("key399").await.unwrap().as_deref(), Some("1099"));
    assert_eq!(store.meta("key400").await.unwrap().as_deref(), Some("400"));
}

async fn failing_batch_leaves_nothing(db: &TestDb) {
    let store = db.open().await;
    let base = snapshot(1, 1);
    store
        .write_batch(&[snap_write(&base), meta("k", "before")])
        .await
        .unwrap();
    let before = store.load_channels().await.unwrap();

    // Every write but the last is valid; the last is a payment of a channel the store does not
    // hold, which the database refuses (at commit: the foreign key is deferred).
    let merchant = Address::repeat_byte(0x22);
    let bad = vec![
        snap_write(&snapshot(1, 2)),
        snap_write(&snapshot(2, 1)),
        pay_write(1, 1, &payment(1)),
        Write::Invoice(invoice(3, merchant, 5)),
        meta("k", "after"),
        meta("other", "x"),
        pay_write(77, 1, &payment(2)),
    ];
    let err = store.write_batch(&bad).await.unwrap_err();
    assert!(matches!(err, StoreError::Database(_)), "{err}");
    assert_eq!(store.load_channels().await.unwrap(), before);
    assert!(store.load_invoices().await.unwrap().is_empty());
    assert_eq!(store.meta("k").await.unwrap().as_deref(), Some("before"));
    assert_eq!(store.meta("other").await.unwrap(), None);

    // A snapshot filed under another channel's id is refused before touching the database.
    let mut wrong = bad[..6].to_vec();
    wrong.push(Write::Snapshot {
        channel_id: id(5),
        snapshot: Box::new(snapshot(6, 1)),
    });
    let err = store.write_batch(&wrong).await.unwrap_err();
    assert!(matches!(err, StoreError::ChannelIdMismatch { .. }), "{err}");
    assert_eq!(store.load_channels().await.unwrap(), before);
    assert_eq!(store.meta("k").await.unwrap().as_deref(), Some("before"));

    // The store still works after the failures.
    store.write_batch(&bad[..6]).await.unwrap();
    assert_eq!(store.load_channels().await.unwrap().len(), 2);
    assert_eq!(store.meta("k").await.unwrap().as_deref(), Some("after"));
}

async fn invoices_round_trip(db: &TestDb) {
    let store = db.open().await;
    let m1 = Address::repeat_byte(0x01);
    let m2 = Address::repeat_byte(0x02);
    let a = invoice(0, m1, 300); // expiry u64::MAX
    let b = invoice(1, m2, 100);
    let c = invoice(2, m1, 200);
    let writes: Vec<Write> = [&a, &b, &c]
        .into_iter()
        .map(|i| Write::Invoice(i.clone()))
        .collect();
    store.write_batch(&writes).await.unwrap();

    assert_eq!(
        store.load_invoices().await.unwrap(),
        vec![b.clone(), c.clone(), a.clone()],
        "oldest first"
    );
    assert_eq!(
        store.invoice(a.payment_hash).await.unwrap(),
        Some(a.clone())
    );
    assert_eq!(store.invoice(keccak256(b"none")).await.unwrap(), None);
    assert_eq!(store.invoices_of(m1).await.unwrap(), vec![c, a.clone()]);
    assert_eq!(store.invoices_of(m2).await.unwrap(), vec![b]);
    assert!(store
        .invoices_of(Address::repeat_byte(0x03))
        .await
        .unwrap()
        .is_empty());
    assert_eq!(a.expiry, u64::MAX);
    assert_eq!(a.amount, u128::MAX);
}

async fn meta_round_trips(db: &TestDb) {
    let store = db.open().await;
    assert_eq!(store.meta("watcher.block").await.unwrap(), None);
    let long = "x".repeat(10_000);
    store
        .write_batch(&[
            meta("watcher.block", "18446744073709551615"),
            meta("ünïcødé", "✓ value with 'quotes' and \"double\""),
            meta("long", &long),
            meta("", "empty key"),
        ])
        .await
        .unwrap();
    assert_eq!(
        store.meta("watcher.block").await.unwrap().as_deref(),
        Some("18446744073709551615")
    );
    assert_eq!(
        store.meta("ünïcødé").await.unwrap().as_deref(),
        Some("✓ value with 'quotes' and \"double\"")
    );
    assert_eq!(store.meta("long").await.unwrap(), Some(long));
    assert_eq!(store.meta("").await.unwrap().as_deref(), Some("empty key"));
    assert_eq!(
        store.meta("WATCHER.BLOCK").await.unwrap(),
        None,
        "keys are exact"
    );
}

async fn reopening_keeps_everything(db: &TestDb) {
    let (writes, expected) = channels(4, 3);
    let inv = invoice(1, Address::repeat_byte(0x44), 7);
    {
        let store = db.open().await;
        store.write_batch(&writes).await.unwrap();
        store
            .write_batch(&[Write::Invoice(inv.clone()), meta("cursor", "42")])
            .await
            .unwrap();
        store.close().await;
    }
    // Reopening reruns the (already applied) migrations and finds everything.
    for _ in 0..2 {
        let store = db.open().await;
        assert_eq!(store.load_channels().await.unwrap(), expected);
        assert_eq!(store.load_invoices().await.unwrap(), vec![inv.clone()]);
        assert_eq!(store.meta("cursor").await.unwrap().as_deref(), Some("42"));
        store.close().await;
    }
}

async fn group_commit_shares_transactions(db: &TestDb) {
    const CALLS: u64 = 1_000;
    let store = db.open().await;
    let group = GroupCommit::start(store.clone());
    let tasks: Vec<_> = (0..CALLS)
        .map(|i| {
            let group = group.clone();
            tokio::spawn(async move {
                let s = snapshot(i, i);
                group
                    .commit(vec![snap_write(&s), pay_write(i, 0, &payment(i))])
                    .await
            })
        })
        .collect();
    for t in join_all(tasks).await {
        t.expect("task").expect("commit");
    }
    let stats = group.stats();
    assert_eq!(stats.requests, CALLS);
    assert_eq!(stats.writes, 2 * CALLS);
    assert_eq!(stats.failed_groups, 0);
    assert_eq!(stats.groups, store.transactions());
    assert!(
        store.transactions() < CALLS,
        "{} transactions for {CALLS} commits",
        store.transactions()
    );
    eprintln!(
        "{:?}: {CALLS} concurrent commits in {} transactions",
        store.backend(),
        store.transactions()
    );
    drop(group);
    store.close().await;

    // Durable: a fresh open sees every channel with its payment.
    let store = db.open().await;
    let loaded = store.load_channels().await.unwrap();
    assert_eq!(loaded.len(), CALLS as usize);
    for c in &loaded {
        let i = c.snapshot.latest.nonce;
        assert_eq!(c.snapshot, snapshot(i, i));
        assert_eq!(c.payments, vec![(payment_id(i, 0), payment(i))]);
    }
}

async fn group_commit_keeps_order(db: &TestDb) {
    let store = db.open().await;
    // A small cap splits the queue into several groups; order must hold across them too.
    let group = GroupCommit::with_max_writes(store.clone(), 7);
    // `enqueue` fixes the order at the call, whatever order the futures are then polled in.
    let commits: Vec<_> = (0..300u32)
        .map(|n| {
            let s = snapshot(1, u64::from(n));
            group.enqueue(vec![snap_write(&s), meta("last", &n.to_string())])
        })
        .collect();
    for r in join_all(commits.into_iter().rev()).await {
        r.unwrap();
    }
    assert_eq!(store.meta("last").await.unwrap().as_deref(), Some("299"));
    let loaded = store.load_channels().await.unwrap();
    assert_eq!(loaded.len(), 1);
    assert_eq!(loaded[0].snapshot.latest.nonce, 299);
    let stats = group.stats();
    assert!(stats.groups > 1, "{stats:?}");
    assert!(stats.groups < 300, "{stats:?}");
}

async fn group_commit_isolates_a_failing_request(db: &TestDb) {
    let store = db.open().await;
    let group = GroupCommit::start(store.clone());
    // Refused up front: a snapshot under the wrong id.
    let err = group
        .commit(vec![Write::Snapshot {
            channel_id: id(1),
            snapshot: Box::new(snapshot(2, 0)),
        }])
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::ChannelIdMismatch { .. }), "{err}");

    // Refused by the database, in the middle of many good requests: only it fails.
    const CALLS: u64 = 200;
    const BAD: u64 = 100;
    let tasks: Vec<_> = (0..CALLS)
        .map(|i| {
            let group = group.clone();
            tokio::spawn(async move {
                let mut writes = vec![snap_write(&snapshot(i, 1)), pay_write(i, 0, &payment(i))];
                if i == BAD {
                    writes.push(pay_write(10_000, 0, &payment(0))); // no such channel
                }
                group.commit(writes).await
            })
        })
        .collect();
    for (i, r) in join_all(tasks).await.into_iter().enumerate() {
        let r = r.expect("task");
        if i as u64 == BAD {
            assert!(r.is_err(), "the bad request must fail");
        } else {
            r.unwrap_or_else(|e| panic!("request {i} failed: {e}"));
        }
    }
    let loaded = store.load_channels().await.unwrap();
    assert_eq!(loaded.len(), (CALLS - 1) as usize);
    assert!(loaded
        .iter()
        .all(|c| c.snapshot.params.channel_id() != id(BAD)));
    assert!(loaded.iter().all(|c| c.payments.len() == 1));
}

const CRASH_URL_ENV: &str = "L2PAY_STORE_CRASH_CHILD_URL";

/// Every commit acknowledged before the process is killed (SIGKILL, mid-stream) is in the store
/// afterwards, at least as new as acknowledged. The writer is this test binary re-run as
/// [`crash_child`].
async fn acknowledged_commits_survive_a_kill(db: &TestDb) {
    use tokio::io::{AsyncBufReadExt, BufReader};

    db.open().await.close().await; // create the schema before the child starts
    let mut child = tokio::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "crash_child",
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CRASH_URL_ENV, &db.url)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("spawn the writer");
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut acked = std::collections::HashMap::<u64, u64>::new();
    let mut count = 0;
    while count < 500 {
        let line = lines
            .next_line()
            .await
            .unwrap()
            .expect("the writer ended early");
        if let Some(rest) = line.strip_prefix("ack ") {
            let (i, n) = rest.split_once(' ').unwrap();
            let (i, n): (u64, u64) = (i.parse().unwrap(), n.parse().unwrap());
            let e = acked.entry(i).or_default();
            *e = (*e).max(n);
            count += 1;
        }
    }
    child.start_kill().unwrap();
    child.wait().await.unwrap();
    // Acks already printed before the kill count too.
    while let Ok(Some(line)) = lines.next_line().await {
        if let Some(rest) = line.strip_prefix("ack ") {
            let (i, n) = rest.split_once(' ').unwrap();
            let (i, n): (u64, u64) = (i.parse().unwrap(), n.parse().unwrap());
            let e = acked.entry(i).or_default();
            *e = (*e).max(n);
        }
    }

    let store = db.open().await;
    let stored: std::collections::HashMap<B256, u64> = store
        .load_channels()
        .await
        .unwrap()
        .into_iter()
        .map(|c| (c.snapshot.params.channel_id(), c.snapshot.latest.nonce))
        .collect();
    for (i, n) in acked {
        let got = stored.get(&id(i)).copied();
        assert!(
            got >= Some(n),
            "channel {i}: acknowledged nonce {n}, stored {got:?}"
        );
    }
}

/// The writer of [`acknowledged_commits_survive_a_kill`]: does nothing unless run by it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore]
async fn crash_child() {
    use std::io::Write as _;

    let Ok(url) = std::env::var(CRASH_URL_ENV) else {
        return;
    };
    let store = Store::open(&url).await.unwrap();
    let group = GroupCommit::start(store);
    let tasks: Vec<_> = (0..32u64)
        .map(|i| {
            let group = group.clone();
            tokio::spawn(async move {
                for n in 0.. {
                    group
                        .commit(vec![snap_write(&snapshot(i, n))])
                        .await
                        .unwrap();
                    let mut out = std::io::stdout().lock();
                    writeln!(out, "ack {i} {n}").unwrap();
                    out.flush().unwrap();
                }
            })
        })
        .collect();
    join_all(tasks).await;
}

// ----- backend-specific -----

#[tokio::test]
async fn unsupported_urls_are_refused() {
    for url in ["mysql://x/y", "hub.db", ""] {
        let err = Store::open(url).await.unwrap_err();
        assert!(matches!(err, StoreError::UnsupportedUrl(_)), "{url}: {err}");
        assert!(err.to_string().contains("sqlite://"), "{err}");
    }
}

#[tokio::test]
async fn postgres_errors_hide_the_password() {
    // Nothing listens on port 1.
    let err = Store::open("postgres://u:hunter2@127.0.0.1:1/db")
        .await
        .unwrap_err();
    let msg = err.to_string();
    assert!(!msg.contains("hunter2"), "{msg}");
    assert!(msg.contains("postgres://u:***@127.0.0.1:1/db"), "{msg}");
}

#[tokio::test]
async fn sqlite_in_memory_works() {
    let store = Store::open("sqlite::memory:").await.unwrap();
    assert_eq!(store.backend(), Backend::Sqlite);
    let (writes, expected) = channels(2, 2);
    store.write_batch(&writes).await.unwrap();
    assert_eq!(store.load_channels().await.unwrap(), expected);
}

#[tokio::test]
async fn sqlite_creates_missing_file_in_wal_mode() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("new/dir/fresh.db");
    let store = Store::open(&format!("sqlite://{}", path.display()))
        .await
        .unwrap();
    assert!(path.exists());
    store.write_batch(&[meta("k", "v")]).await.unwrap();
    assert!(
        dir.path().join("new/dir/fresh.db-wal").exists(),
        "WAL journal"
    );
    store.close().await;
}

/// Commit throughput with one writer vs many (not a pass/fail test):
/// `cargo test -p l2pay-hub --release --test store -- --ignored --nocapture throughput`.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[ignore]
async fn throughput() {
    let mut kinds = vec![Kind::Sqlite];
    if std::env::var(POSTGRES_ENV).is_ok() {
        kinds.push(Kind::Postgres);
    }
    for kind in kinds {
        for writers in [1usize, 16, 256] {
            let db = TestDb::new(kind).await;
            let store = db.open().await;
            let group = GroupCommit::start(store.clone());
            let per_writer = (2_000 / writers).max(20);
            let started = Instant::now();
            let tasks: Vec<_> = (0..writers)
                .map(|w| {
                    let group = group.clone();
                    tokio::spawn(async move {
                        let s = snapshot(w as u64, 0);
                        for n in 0..per_writer {
                            group
                                .commit(vec![
                                    snap_write(&s),
                                    pay_write(w as u64, n as u64, &payment(n as u64)),
                                ])
                                .await
                                .unwrap();
                        }
                    })
                })
                .collect();
            for t in join_all(tasks).await {
                t.unwrap();
            }
            let secs = started.elapsed().as_secs_f64();
            let commits = writers * per_writer;
            eprintln!(
                "{kind:?}: {writers:>3} writers: {commits} commits in {secs:.2}s = {:.0} commits/s, {} transactions",
                commits as f64 / secs,
                store.transactions()
            );
            drop(group);
            store.close().await;
            db.cleanup().await;
        }
    }
}
