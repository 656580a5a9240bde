//! The soak: K connected clients (the idle benchmark's, each now answering the hub: a task
//! reads its socket, so pings get their pongs) stay connected while the payments benchmark
//! runs for `--duration`; reports payment errors, clients the hub dropped, and the hub's
//! memory every `--soak-sample` seconds (flat memory: the last sample near the first).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use serde_json::json;

use super::{idle, proc_status_kb, Args, Env};

pub async fn soak(args: &Args, env: &Env, k: usize) -> anyhow::Result<serde_json::Value> {
    let pid = env.hub_pid;
    let t0 = Instant::now();
    let (held, failed, first_err) = idle::connect_idle(args, pid, &env.ws_url, k).await?;
    let connected = held.len();
    eprintln!(
        "loadgen: {connected}/{k} soak clients connected in {:.1} s ({failed} failed{})",
        t0.elapsed().as_secs_f64(),
        first_err.map_or(String::new(), |e| format!(", first error: {e}"))
    );
    let dropped = Arc::new(AtomicUsize::new(0));
    let mut readers = Vec::with_capacity(connected);
    for mut ws in held {
        let dropped = dropped.clone();
        readers.push(tokio::spawn(async move {
            // Reading answers the hub's pings; the stream ends only if the hub drops us.
            while let Some(m) = ws.next().await {
                if m.is_err() {
                    break;
                }
            }
            dropped.fetch_add(1, Ordering::Relaxed);
        }));
    }
    let samples = Arc::new(Mutex::new(Vec::new()));
    let sampler = {
        let (samples, dropped) = (samples.clone(), dropped.clone());
        let every = Duration::from_secs(args.soak_sample.max(1));
        let start = Instant::now();
        tokio::spawn(async move {
            loop {
                let rss = pid.and_then(|p| proc_status_kb(p, "VmRSS:"));
                let at = start.elapsed().as_secs();
                let gone = dropped.load(Ordering::Relaxed);
                eprintln!(
                    "loadgen: soak {at} s: hub RSS {:.1} MB, {gone} clients dropped",
                    rss.unwrap_or(0) as f64 / 1024.0
                );
                if let Ok(mut s) = samples.lock() {
                    s.push(json!({ "t_s": at, "hub_rss_kb": rss, "dropped": gone }));
                }
                tokio::time::sleep(every).await;
            }
        })
    };
    let payments = super::payments(args, env, None).await?;
    sampler.abort();
    let still = connected.saturating_sub(dropped.load(Ordering::Relaxed));
    let rss_end = pid.and_then(|p| proc_status_kb(p, "VmRSS:"));
    for r in &readers {
        r.abort();
    }
    let samples = samples.lock().map(|s| s.clone()).unwrap_or_default();
    println!(
        "soak: {still}/{k} clients still connected after the payments; hub RSS samples {}",
        samples
            .iter()
            .filter_map(|s| s["hub_rss_kb"].as_u64())
            .map(|kb| format!("{:.1}", kb as f64 / 1024.0))
            .collect::<Vec<_>>()
            .join(" → ")
            + " MB"
    );
    Ok(json!({
        "benchmark": "soak",
        "clients": k,
        "connected": connected,
        "connect_failed": failed,
        "still_connected": still,
        "payments": payments,
        "hub_rss_samples": samples,
        "hub_rss_kb_end": rss_end,
    }))
}
