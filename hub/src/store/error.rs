use alloy::primitives::B256;

/// Why a store operation failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("unsupported store URL {0:?}: expected sqlite://PATH, sqlite::memory: or postgres://USER:PASSWORD@HOST:PORT/DB")]
    UnsupportedUrl(String),
    #[error("cannot open store {url}: {source}")]
    Open {
        /// The URL with its password hidden.
        url: String,
        source: sqlx::Error,
    },
    #[error("store migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("store database error: {0}")]
    Database(#[from] sqlx::Error),
    #[error("cannot encode {what} for the store: {reason}")]
    Encode { what: &'static str, reason: String },
    #[error("corrupt {what} in the store (key {key}): {reason}")]
    Corrupt {
        what: &'static str,
        key: String,
        reason: String,
    },
    #[error("snapshot written under channel id {key} but its params give channel id {actual}")]
    ChannelIdMismatch { key: B256, actual: B256 },
    #[error("the store's group-commit task has stopped")]
    Closed,
}
