-- Hub store, PostgreSQL. Amounts (u128) are decimal TEXT; ids and hashes are 32-byte BYTEA;
-- u64 values (unix seconds) are BIGINT holding the same 64 bits.

-- The last snapshot of each channel: `snapshot` is `ChannelSnapshot` encoded with postcard in
-- the layout named by `format` (1 = postcard of l2pay's ChannelSnapshot as of this migration).
CREATE TABLE channels (
    channel_id BYTEA    NOT NULL PRIMARY KEY CHECK (octet_length(channel_id) = 32),
    format     SMALLINT NOT NULL,
    snapshot   BYTEA    NOT NULL
);

-- Payment records of a channel (l2pay::ledger::Payment). The foreign key is checked at commit,
-- so a batch may write a payment before its channel's first snapshot.
CREATE TABLE payments (
    channel_id BYTEA    NOT NULL REFERENCES channels (channel_id) DEFERRABLE INITIALLY DEFERRED,
    payment_id BYTEA    NOT NULL CHECK (octet_length(payment_id) = 32),
    payer      SMALLINT NOT NULL CHECK (payer IN (0, 1)),
    amount     TEXT     NOT NULL CHECK (amount ~ '^[0-9]{1,39}$'),
    refunded   TEXT     NOT NULL CHECK (refunded ~ '^[0-9]{1,39}$'),
    preimage   BYTEA    CHECK (preimage IS NULL OR octet_length(preimage) = 32),
    PRIMARY KEY (channel_id, payment_id)
);

CREATE TABLE invoices (
    payment_hash BYTEA  NOT NULL PRIMARY KEY CHECK (octet_length(payment_hash) = 32),
    merchant     BYTEA  NOT NULL CHECK (octet_length(merchant) = 20),
    channel_id   BYTEA  NOT NULL CHECK (octet_length(channel_id) = 32),
    amount       TEXT   NOT NULL CHECK (amount ~ '^[0-9]{1,39}$'),
    invoice      TEXT   NOT NULL,
    expiry       BIGINT NOT NULL,
    created_at   BIGINT NOT NULL
);
CREATE INDEX invoices_by_merchant ON invoices (merchant, created_at);

-- Small key/value settings (e.g. the chain watcher's last scanned block).
CREATE TABLE meta (
    key   TEXT NOT NULL PRIMARY KEY,
    value TEXT NOT NULL
);
