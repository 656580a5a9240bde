//! `l2pay-hub`: the merchant hub binary.

use clap::Parser;
use l2pay_hub::config::Config;

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
