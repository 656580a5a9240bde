//! [`Store`]: one API over a SQLite or a PostgreSQL pool. The SQL is shared (`$N` parameters and
//! `ON CONFLICT` upserts work in both); only the schema files differ (BLOB vs BYTEA).

use std::collections::HashMap;
use std::str::FromStr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use alloy::primitives::{Address, B256};
use l2pay::channel::ChannelSnapshot;
use l2pay::ledger::Payment;
use l2pay::state::Side;
use l2pay::Amount;
use sqlx::postgres::{PgConnectOptions, PgConnection, PgPool, PgPoolOptions};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};
use sqlx::{Connection, QueryBuilder, Row};

use super::{InvoiceRecord, StoreError, StoredChannel, Write};

/// Layout of `channels.snapshot`: 1 = postcard of [`ChannelSnapshot`].
const SNAPSHOT_FORMAT: i16 = 1;

/// How long opening a PostgreSQL store waits for the server to accept a connection.
const PG_CONNECT_TIMEOUT: Duration = Duration::from_secs(30);

/// How long a SQLite connection waits for another writer's lock before failing.
const SQLITE_BUSY_TIMEOUT: Duration = Duration::from_secs(30);

/// Rows per multi-row statement (7 parameters each at most: far below SQLite's 32766 and
/// PostgreSQL's 65535 parameters per statement).
const ROWS_PER_STATEMENT: usize = 500;

const SELECT_CHANNELS: &str =
    "SELECT channel_id, format, snapshot FROM channels ORDER BY channel_id";
const SELECT_PAYMENTS: &str =
    "SELECT channel_id, payment_id, payer, amount, refunded, preimage FROM payments \
     ORDER BY channel_id, payment_id";
/// `SELECT <every invoice column> FROM invoices <$tail>`.
macro_rules! invoice_select {
    ($tail:literal) => {
        concat!(
            "SELECT payment_hash, merchant, channel_id, amount, invoice, expiry, created_at \
             FROM invoices ",
            $tail
        )
    };
}
const SELECT_INVOICES: &str = invoice_select!("ORDER BY created_at, payment_hash");
const SELECT_INVOICE: &str = invoice_select!("WHERE payment_hash = $1");
const SELECT_INVOICES_OF: &str =
    invoice_select!("WHERE merchant = $1 ORDER BY created_at, payment_hash");
const SELECT_META: &str = "SELECT value FROM meta WHERE key = $1";

/// Which database a [`Store`] is on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

#[derive(Clone, Debug)]
enum Db {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

/// The hub's durable store. Cheap to clone (a pool handle); safe to use from many tasks.
#[derive(Clone, Debug)]
pub struct Store {
    db: Db,
    transactions: Arc<AtomicU64>,
}

/// Runs `$body` with `$pool` bound to the concrete pool (the body is compiled once per backend).
macro_rules! on_pool {
    ($db:expr, $pool:ident => $body:expr) => {
        match $db {
            Db::Sqlite($pool) => $body,
            Db::Postgres($pool) => $body,
        }
    };
}

/// Applies a [`Coalesced`] batch inside the open transaction `$tx`: one multi-row statement per
/// table (per [`ROWS_PER_STATEMENT`] rows).
macro_rules! apply_writes {
    ($tx:ident, $batch:expr) => {{
        let batch: &Coalesced<'_> = $batch;
        for chunk in batch.snapshots.chunks(ROWS_PER_STATEMENT) {
            let mut q = QueryBuilder::new("INSERT INTO channels (channel_id, format, snapshot) ");
            q.push_values(chunk, |mut row, (id, bytes)| {
                row.push_bind(id.as_slice())
                    .push_bind(SNAPSHOT_FORMAT)
                    .push_bind(bytes.as_slice());
            });
            q.push(
                " ON CONFLICT (channel_id) DO UPDATE \
                 SET format = excluded.format, snapshot = excluded.snapshot",
            );
            q.build().persistent(false).execute(&mut *$tx).await?;
        }
        for chunk in batch.payments.chunks(ROWS_PER_STATEMENT) {
            let mut q = QueryBuilder::new(
                "INSERT INTO payments (channel_id, payment_id, payer, amount, refunded, preimage) ",
            );
            q.push_values(chunk, |mut row, (channel_id, payment_id, p)| {
                row.push_bind(channel_id.as_slice())
                    .push_bind(payment_id.as_slice())
                    .push_bind(side_code(p.payer))
                    .push_bind(p.amount.to_string())
                    .push_bind(p.refunded.to_string())
                    .push_bind(p.preimage.as_ref().map(|h| h.as_slice()));
            });
            q.push(
                " ON CONFLICT (channel_id, payment_id) DO UPDATE SET payer = excluded.payer, \
                 amount = excluded.amount, refunded = excluded.refunded, \
                 preimage = excluded.preimage",
            );
            q.build().persistent(false).execute(&mut *$tx).await?;
        }
        for chunk in batch.invoices.chunks(ROWS_PER_STATEMENT) {
            let mut q = QueryBuilder::new(
                "INSERT INTO invoices \
                 (payment_hash, merchant, channel_id, amount, invoice, expiry, created_at) ",
            );
            q.push_values(chunk, |mut row, inv| {
                row.push_bind(inv.payment_hash.as_slice())
                    .push_bind(inv.merchant.as_slice())
                    .push_bind(inv.channel_id.as_slice())
                    .push_bind(inv.amount.to_string())
                    .push_bind(inv.invoice.as_str())
                    .push_bind(u64_to_sql(inv.expiry))
                    .push_bind(u64_to_sql(inv.created_at));
            });
            // The actor writes an invoice only when it made its merchant the hash's owner (the
            // first registration, or one after the owner's invoice expired): the store follows.
            q.push(
                " ON CONFLICT (payment_hash) DO UPDATE SET merchant = excluded.merchant, \
                 channel_id = excluded.channel_id, amount = excluded.amount, \
                 invoice = excluded.invoice, expiry = excluded.expiry, \
                 created_at = excluded.created_at",
            );
            q.build().persistent(false).execute(&mut *$tx).await?;
        }
        for chunk in batch.meta.chunks(ROWS_PER_STATEMENT) {
            let mut q = QueryBuilder::new("INSERT INTO meta (key, value) ");
            q.push_values(chunk, |mut row, (key, value)| {
                row.push_bind(*key).push_bind(*value);
            });
            q.push(" ON CONFLICT (key) DO UPDATE SET value = excluded.value");
            q.build().persistent(false).execute(&mut *$tx).await?;
        }
    }};
}

/// Reads `(channel_id, format, snapshot)` rows inside the transaction `$tx`.
macro_rules! read_channel_rows {
    ($tx:ident) => {
        sqlx::query(SELECT_CHANNELS)
            .fetch_all(&mut *$tx)
            .await?
            .iter()
            .map(|r| -> Result<(Vec<u8>, i16, Vec<u8>), sqlx::Error> {
                Ok((r.try_get(0)?, r.try_get(1)?, r.try_get(2)?))
            })
            .collect::<Result<Vec<_>, _>>()?
    };
}

/// Reads payment rows inside the transaction `$tx`.
macro_rules! read_payment_rows {
    ($tx:ident) => {
        sqlx::query(SELECT_PAYMENTS)
            .fetch_all(&mut *$tx)
            .await?
            .iter()
            .map(|r| -> Result<PaymentRow, sqlx::Error> {
                Ok(PaymentRow {
                    channel_id: r.try_get(0)?,
                    payment_id: r.try_get(1)?,
                    payer: r.try_get(2)?,
                    amount: r.try_get(3)?,
                    refunded: r.try_get(4)?,
                    preimage: r.try_get(5)?,
                })
            })
            .collect::<Result<Vec<_>, _>>()?
    };
}

/// Reads an [`InvoiceRow`] from a row selected by [`invoice_select!`].
macro_rules! invoice_row {
    ($r:expr) => {
        (|| -> Result<InvoiceRow, sqlx::Error> {
            let r = &$r;
            Ok(InvoiceRow {
                payment_hash: r.try_get(0)?,
                merchant: r.try_get(1)?,
                channel_id: r.try_get(2)?,
                amount: r.try_get(3)?,
                invoice: r.try_get(4)?,
                expiry: r.try_get(5)?,
                created_at: r.try_get(6)?,
            })
        })()
    };
}

impl Store {
    /// Opens (creating if missing) the store at `url` and brings its schema up to date.
    ///
    /// * `sqlite://PATH` (relative to the working directory; `sqlite:///abs/path` for an
    ///   absolute one), or `sqlite::memory:` for a throwaway in-process database. The file (and
    ///   its directory) is created if missing and opened in WAL mode with `synchronous=FULL` (a commit is on disk
    ///   when it returns), a busy timeout and foreign keys on.
    /// * `postgres://USER:PASSWORD@HOST:PORT/DB` (or `postgresql://`).
    pub async fn open(url: &str) -> Result<Store, StoreError> {
        let open_err = |source| StoreError::Open {
            url: redact(url),
            source,
        };
        let db = if url.starts_with("sqlite:") {
            let options = SqliteConnectOptions::from_str(url)
                .map_err(open_err)?
                .create_if_missing(true)
                .journal_mode(SqliteJournalMode::Wal)
                .synchronous(SqliteSynchronous::Full)
                .busy_timeout(SQLITE_BUSY_TIMEOUT)
                .foreign_keys(true);
            let in_memory = url.contains(":memory:") || url.contains("mode=memory");
            if !in_memory {
                if let Some(dir) = options.get_filename().parent() {
                    if !dir.as_os_str().is_empty() {
                        std::fs::create_dir_all(dir).map_err(|e| open_err(sqlx::Error::Io(e)))?;
                    }
                }
            }
            let pool = if in_memory {
                // An in-memory database lives as long as one connection to it: keep exactly one.
                SqlitePoolOptions::new()
                    .max_connections(1)
                    .min_connections(1)
                    .idle_timeout(None)
                    .max_lifetime(None)
            } else {
                SqlitePoolOptions::new().max_connections(4)
            }
            .connect_with(options)
            .await
            .map_err(open_err)?;
            sqlx::migrate!("migrations/sqlite").run(&pool).await?;
            Db::Sqlite(pool)
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            let options = PgConnectOptions::from_str(url).map_err(open_err)?;
            // One direct connection first: the pool would retry a refused connection until its
            // acquire timeout and then report only "pool timed out".
            let mut first =
                tokio::time::timeout(PG_CONNECT_TIMEOUT, PgConnection::connect_with(&options))
                    .await
                    .map_err(|_| {
                        open_err(sqlx::Error::Io(std::io::Error::new(
                            std::io::ErrorKind::TimedOut,
                            format!("no answer within {PG_CONNECT_TIMEOUT:?}"),
                        )))
                    })?
                    .map_err(open_err)?;
            sqlx::migrate!("migrations/postgres")
                .run(&mut first)
                .await?;
            first.close().await.ok();
            let pool = PgPoolOptions::new()
                .max_connections(8)
                .connect_with(options)
                .await
                .map_err(open_err)?;
            Db::Postgres(pool)
        } else {
            return Err(StoreError::UnsupportedUrl(redact(url)));
        };
        Ok(Store {
            db,
            transactions: Arc::new(AtomicU64::new(0)),
        })
    }

    pub fn backend(&self) -> Backend {
        match self.db {
            Db::Sqlite(_) => Backend::Sqlite,
            Db::Postgres(_) => Backend::Postgres,
        }
    }

    /// Write transactions committed through this store (and its clones) since it was opened.
    pub fn transactions(&self) -> u64 {
        self.transactions.load(Ordering::Relaxed)
    }

    /// Closes the pool, waiting for connections in use to be returned.
    pub async fn close(&self) {
        on_pool!(&self.db, pool => pool.close().await)
    }

    /// Applies `writes` in one transaction: all of them, or none (the error says why). The
    /// result is that of applying them one by one in order: writes to the same key are first
    /// coalesced (the last snapshot, payment, invoice or meta value of a key wins: the actor
    /// writes an invoice only when it made its merchant the payment hash's owner), then each
    /// table gets multi-row upserts. An empty batch does nothing.
    pub async fn write_batch(&self, writes: &[Write]) -> Result<(), StoreError> {
        if writes.is_empty() {
            return Ok(());
        }
        for w in writes {
            w.validate()?;
        }
        let batch = Coalesced::new(writes)?;
        match &self.db {
            Db::Sqlite(pool) => {
                // Take the write lock up front: the busy timeout then applies to waiting for it.
                let mut tx = pool.begin_with("BEGIN IMMEDIATE").await?;
                apply_writes!(tx, &batch);
                tx.commit().await?;
            }
            Db::Postgres(pool) => {
                let mut tx = pool.begin().await?;
                apply_writes!(tx, &batch);
                tx.commit().await?;
            }
        }
        self.transactions.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }

    /// Every channel with its payments (ordered by channel id, then payment id), read in one
    /// consistent snapshot of the database.
    pub async fn load_channels(&self) -> Result<Vec<StoredChannel>, StoreError> {
        let (channel_rows, payment_rows) = match &self.db {
            Db::Sqlite(pool) => {
                let mut tx = pool.begin().await?;
                let c = read_channel_rows!(tx);
                let p = read_payment_rows!(tx);
                tx.rollback().await?;
                (c, p)
            }
            Db::Postgres(pool) => {
                let mut tx = pool
                    .begin_with("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
                    .await?;
                let c = read_channel_rows!(tx);
                let p = read_payment_rows!(tx);
                tx.rollback().await?;
                (c, p)
            }
        };
        let mut channels = Vec::with_capacity(channel_rows.len());
        let mut index = HashMap::with_capacity(channel_rows.len());
        for (id, format, blob) in channel_rows {
            let channel_id = b256(&id, "channel id")?;
            let snapshot = decode_snapshot(channel_id, format, &blob)?;
            index.insert(channel_id, channels.len());
            channels.push(StoredChannel {
                snapshot,
                payments: Vec::new(),
            });
        }
        for row in payment_rows {
            let channel_id = b256(&row.channel_id, "payment's channel id")?;
            let payment_id = b256(&row.payment_id, "payment id")?;
            let key = || format!("{channel_id}/{payment_id}");
            let corrupt = |reason: String| StoreError::Corrupt {
                what: "payment",
                key: key(),
                reason,
            };
            let payer =
                side_from_code(row.payer).ok_or_else(|| corrupt(format!("payer {}", row.payer)))?;
            let amount = parse_amount(&row.amount).map_err(corrupt)?;
            let refunded = parse_amount(&row.refunded).map_err(corrupt)?;
            let preimage = match row.preimage {
                Some(p) => Some(b256(&p, "payment preimage")?),
                None => None,
            };
            let Some(&i) = index.get(&channel_id) else {
                return Err(corrupt("no snapshot for its channel".into()));
            };
            channels[i].payments.push((
                payment_id,
                Payment {
                    payer,
                    amount,
                    refunded,
                    preimage,
                },
            ));
        }
        Ok(channels)
    }

    /// Every invoice, oldest first.
    pub async fn load_invoices(&self) -> Result<Vec<InvoiceRecord>, StoreError> {
        let rows = on_pool!(&self.db, pool => {
            sqlx::query(SELECT_INVOICES)
                .fetch_all(pool)
                .await?
                .iter()
                .map(|r| invoice_row!(r))
                .collect::<Result<Vec<_>, sqlx::Error>>()?
        });
        rows.into_iter().map(InvoiceRow::decode).collect()
    }

    /// The invoice registered for `payment_hash`, if any.
    pub async fn invoice(&self, payment_hash: B256) -> Result<Option<InvoiceRecord>, StoreError> {
        let row = on_pool!(&self.db, pool => {
            match sqlx::query(SELECT_INVOICE)
                .bind(payment_hash.as_slice())
                .fetch_optional(pool)
                .await?
            {
                Some(r) => Some(invoice_row!(r)?),
                None => None,
            }
        });
        row.map(InvoiceRow::decode).transpose()
    }

    /// A merchant's invoices, oldest first.
    pub async fn invoices_of(&self, merchant: Address) -> Result<Vec<InvoiceRecord>, StoreError> {
        let rows = on_pool!(&self.db, pool => {
            sqlx::query(SELECT_INVOICES_OF)
                .bind(merchant.as_slice())
                .fetch_all(pool)
                .await?
                .iter()
                .map(|r| invoice_row!(r))
                .collect::<Result<Vec<_>, sqlx::Error>>()?
        });
        rows.into_iter().map(InvoiceRow::decode).collect()
    }

    /// A metadata value set by [`Write::Meta`].
    pub async fn meta(&self, key: &str) -> Result<Option<String>, StoreError> {
        Ok(on_pool!(&self.db, pool => {
            sqlx::query_scalar::<_, String>(SELECT_META)
                .bind(key)
                .fetch_optional(pool)
                .await?
        }))
    }
}

/// A batch reduced to one write per key, snapshots encoded.
struct Coalesced<'a> {
    snapshots: Vec<(&'a B256, Vec<u8>)>,
    payments: Vec<(&'a B256, &'a B256, &'a Payment)>,
    invoices: Vec<&'a InvoiceRecord>,
    meta: Vec<(&'a str, &'a str)>,
}

impl<'a> Coalesced<'a> {
    fn new(writes: &'a [Write]) -> Result<Self, StoreError> {
        let mut snapshots: Vec<(&B256, &ChannelSnapshot)> = Vec::new();
        let mut payments = Vec::new();
        let mut invoices = Vec::new();
        let mut meta = Vec::new();
        let mut seen_snapshot = HashMap::new();
        let mut seen_payment = HashMap::new();
        let mut seen_invoice = HashMap::new();
        let mut seen_meta = HashMap::new();
        for w in writes {
            match w {
                Write::Snapshot {
                    channel_id,
                    snapshot,
                } => match seen_snapshot.get(channel_id) {
                    Some(&i) => snapshots[i] = (channel_id, &**snapshot),
                    None => {
                        seen_snapshot.insert(channel_id, snapshots.len());
                        snapshots.push((channel_id, &**snapshot));
                    }
                },
                Write::Payment {
                    channel_id,
                    payment_id,
                    payment,
                } => match seen_payment.get(&(channel_id, payment_id)) {
                    Some(&i) => payments[i] = (channel_id, payment_id, payment),
                    None => {
                        seen_payment.insert((channel_id, payment_id), payments.len());
                        payments.push((channel_id, payment_id, payment));
                    }
                },
                Write::Invoice(inv) => match seen_invoice.get(&inv.payment_hash) {
                    Some(&i) => invoices[i] = inv,
                    None => {
                        seen_invoice.insert(&inv.payment_hash, invoices.len());
                        invoices.push(inv);
                    }
                },
                Write::Meta { key, value } => match seen_meta.get(key.as_str()) {
                    Some(&i) => meta[i] = (key.as_str(), value.as_str()),
                    None => {
                        seen_meta.insert(key.as_str(), meta.len());
                        meta.push((key.as_str(), value.as_str()));
                    }
                },
            }
        }
        let snapshots = snapshots
            .into_iter()
            .map(|(id, s)| {
                postcard::to_allocvec(s)
                    .map(|bytes| (id, bytes))
                    .map_err(|e| StoreError::Encode {
                        what: "channel snapshot",
                        reason: e.to_string(),
                    })
            })
            .collect::<Result<_, _>>()?;
        Ok(Coalesced {
            snapshots,
            payments,
            invoices,
            meta,
        })
    }
}

struct PaymentRow {
    channel_id: Vec<u8>,
    payment_id: Vec<u8>,
    payer: i16,
    amount: String,
    refunded: String,
    preimage: Option<Vec<u8>>,
}

struct InvoiceRow {
    payment_hash: Vec<u8>,
    merchant: Vec<u8>,
    channel_id: Vec<u8>,
    amount: String,
    invoice: String,
    expiry: i64,
    created_at: i64,
}

impl InvoiceRow {
    fn decode(self) -> Result<InvoiceRecord, StoreError> {
        let payment_hash = b256(&self.payment_hash, "invoice payment hash")?;
        let corrupt = |reason: String| StoreError::Corrupt {
            what: "invoice",
            key: payment_hash.to_string(),
            reason,
        };
        if self.merchant.len() != 20 {
            return Err(corrupt(format!(
                "merchant of {} bytes",
                self.merchant.len()
            )));
        }
        Ok(InvoiceRecord {
            payment_hash,
            merchant: Address::from_slice(&self.merchant),
            channel_id: b256(&self.channel_id, "invoice channel id")?,
            amount: parse_amount(&self.amount).map_err(corrupt)?,
            invoice: self.invoice,
            expiry: u64_from_sql(self.expiry),
            created_at: u64_from_sql(self.created_at),
        })
    }
}

fn decode_snapshot(
    channel_id: B256,
    format: i16,
    blob: &[u8],
) -> Result<ChannelSnapshot, StoreError> {
    let corrupt = |reason: String| StoreError::Corrupt {
        what: "channel snapshot",
        key: channel_id.to_string(),
        reason,
    };
    if format != SNAPSHOT_FORMAT {
        return Err(corrupt(format!("unknown snapshot format {format}")));
    }
    let snapshot: ChannelSnapshot =
        postcard::from_bytes(blob).map_err(|e| corrupt(e.to_string()))?;
    let actual = snapshot.params.channel_id();
    if actual != channel_id {
        return Err(corrupt(format!("its params give channel id {actual}")));
    }
    Ok(snapshot)
}

fn b256(bytes: &[u8], what: &'static str) -> Result<B256, StoreError> {
    if bytes.len() != 32 {
        return Err(StoreError::Corrupt {
            what,
            key: format!("0x{}", hex_string(bytes)),
            reason: format!("{} bytes instead of 32", bytes.len()),
        });
    }
    Ok(B256::from_slice(bytes))
}

fn hex_string(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn parse_amount(s: &str) -> Result<Amount, String> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!("amount {s:?} is not a decimal integer"));
    }
    s.parse::<Amount>()
        .map_err(|e| format!("amount {s:?}: {e}"))
}

fn side_code(side: Side) -> i16 {
    match side {
        Side::A => 0,
        Side::B => 1,
    }
}

fn side_from_code(code: i16) -> Option<Side> {
    match code {
        0 => Some(Side::A),
        1 => Some(Side::B),
        _ => None,
    }
}

/// u64 in a signed 64-bit column, keeping every bit (values above `i64::MAX` read back
/// unchanged, though SQL comparisons on them would see negative numbers).
fn u64_to_sql(v: u64) -> i64 {
    v as i64
}

fn u64_from_sql(v: i64) -> u64 {
    v as u64
}

/// `url` with its password (if any) replaced by `***`, for error messages and logs.
fn redact(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    let authority_end = rest.find('/').unwrap_or(rest.len());
    let (authority, path) = rest.split_at(authority_end);
    match authority.rsplit_once('@') {
        Some((userinfo, host)) => match userinfo.split_once(':') {
            Some((user, _password)) => format!("{scheme}://{user}:***@{host}{path}"),
            None => url.to_string(),
        },
        None => url.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redacts_passwords() {
        assert_eq!(
            redact("postgres://u:secret@127.0.0.1:5432/db"),
            "postgres://u:***@127.0.0.1:5432/db"
        );
        assert_eq!(redact("postgres://u@h/db"), "postgres://u@h/db");
        assert_eq!(redact("sqlite://hub.db"), "sqlite://hub.db");
    }

    #[test]
    fn amounts_parse_strictly() {
        assert_eq!(parse_amount(&u128::MAX.to_string()), Ok(u128::MAX));
        assert!(parse_amount("+1").is_err());
        assert!(parse_amount("").is_err());
        assert!(parse_amount("340282366920938463463374607431768211456").is_err());
    }

    #[test]
    fn u64_round_trips_through_i64() {
        for v in [0, 1, i64::MAX as u64, i64::MAX as u64 + 1, u64::MAX] {
            assert_eq!(u64_from_sql(u64_to_sql(v)), v);
        }
    }
}
