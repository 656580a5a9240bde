-- Hub store, SQLite. Amounts (u128) are decimal TEXT; ids and hashes are 32-byte BLOBs;
-- u64 values (unix seconds) are INTEGER holding the same 64 bits.

-- The last snapshot of each channel: `snapshot` is `ChannelSnapshot` encoded with postcard in
-- the layout named by `format` (1 = postcard of l2pay's ChannelSnapshot as of this migration).
CREATE TABLE channels (
    channel_id BLOB    NOT NULL PRIMARY KEY CHECK (length(channel_id) = 32),
    format     INTEGER NOT NULL,
    snapshot   BLOB    NOT NULL
) WITHOUT ROWID;

-- Payment records of a channel (l2pay::ledger::Payment). The foreign key is checked at commit,
-- so a batch may write a payment before its channel's first snapshot.
CREATE TABLE payments (
    channel_id BLOB    NOT NULL REFERENCES channels (channel_id) DEFERRABLE INITIALLY DEFERRED,
    payment_id BLOB    NOT NULL CHECK (length(payment_id) = 32),
    payer      INTEGER NOT NULL CHECK (payer IN (0, 1)),
    amount     TEXT    NOT NULL CHECK (length(amount) BETWEEN 1 AND 39 AND amount NOT GLOB '*[^0-9]*'),
    refunded   TEXT    NOT NULL CHECK (length(refunded) BETWEEN 1 AND 39 AND refunded NOT GLOB '*[^0-9]*'),
    preimage   BLOB    CHECK (preimage IS NULL OR length(preimage) = 32),
    PRIMARY KEY (channel_id, payment_id)
) WITHOUT ROWID;

CREATE TABLE invoices (
    payment_hash BLOB    NOT NULL PRIMARY KEY CHECK (length(payment_hash) = 32),
    merchant     BLOB    NOT NULL CHECK (length(merchant) = 20),
    channel_id   BLOB    NOT NULL CHECK (length(channel_id) = 32),
    amount       TEXT    NOT NULL CHECK (length(amount) BETWEEN 1 AND 39 AND amount NOT GLOB '*[^0-9]*'),
    invoice      TEXT    NOT NULL,
    expiry       INTEGER NOT NULL,
    created_at   INTEGER NOT NULL
);
CREATE INDEX invoices_by_merchant ON invoices (merchant, created_at);

-- Small key/value settings (e.g. the chain watcher's last scanned block).
CREATE TABLE meta (
    key   TEXT NOT NULL PRIMARY KEY,
    value TEXT NOT NULL
) WITHOUT ROWID;
