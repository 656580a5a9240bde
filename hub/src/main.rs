//! `l2pay-hub`: the merchant hub binary.

use clap::Parser;
use l2pay_hub::config::Config;

/// jemalloc, which hands freed memory back to the OS within seconds (glibc's malloc keeps
/// what a burst of connections fragmented: after an attack the hub would stay at its peak).
#[cfg(not(target_env = "msvc"))]
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

/// jemalloc's options (it reads this C string at start): a background thread returns pages
/// unused for a second, so memory follows the load down.
#[cfg(not(target_env = "msvc"))]
#[export_name = "_rjem_malloc_conf"]
pub static MALLOC_CONF: &u8 =
    &b"background_thread:true,dirty_decay_ms:1000,muzzy_decay_ms:1000\0"[0];

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .init();
    let cfg = Config::parse();
    l2pay_hub::run::run(cfg, async {
        let _ = tokio::signal::ctrl_c().await;
    })
    .await
}
