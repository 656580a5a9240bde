//! The idle-connections benchmark: K lean clients (one key each) connect from source
//! addresses 127.0.0.2.., authenticate, register one (unfunded) channel and hold the socket;
//! reports the hub's resident memory per connected channel.

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use l2pay::session::Frame;
use serde_json::json;

use super::raw::{self, Ws};
use super::{proc_cpu_secs, proc_status_kb, random_b256, random_signer, rss_sampler, Args, Env};

/// A lean idle client: TCP from `src`, WebSocket with small buffers, auth, register one
/// channel; returns the open socket (no task, nothing polls it afterwards).
async fn idle_client(url: &str, dst: SocketAddr, src: Ipv4Addr) -> anyhow::Result<Ws> {
    let signer = random_signer();
    let (mut ws, info) = raw::authed(url, dst, src, &signer).await?;
    raw::register(&mut ws, &raw::native_params(&info, &signer, random_b256())).await?;
    Ok(ws)
}

fn fd_limit() -> Option<u64> {
    let s = std::fs::read_to_string("/proc/self/limits").ok()?;
    s.lines()
        .find(|l| l.starts_with("Max open files"))?
        .split_whitespace()
        .nth(3)?
        .parse()
        .ok()
}

/// Connects `k` idle clients over `args.source_addrs` addresses, `args.connect_concurrency`
/// at a time; returns the open sockets, how many failed and the first error.
pub async fn connect_idle(
    args: &Args,
    pid: Option<u32>,
    url: &str,
    k: usize,
) -> anyhow::Result<(Vec<Ws>, usize, Option<String>)> {
    let dst = raw::hub_addr(url)?;
    let n_src = args.source_addrs.clamp(1, 250);
    let failed = Arc::new(AtomicUsize::new(0));
    let first_err = Arc::new(Mutex::new(None::<String>));
    let done = Arc::new(AtomicUsize::new(0));
    let progress = {
        let done = done.clone();
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(Duration::from_secs(5)).await;
                let rss = pid.and_then(|p| proc_status_kb(p, "VmRSS:")).unwrap_or(0);
                eprintln!(
                    "loadgen: {} idle clients registered, hub RSS {:.1} MB",
                    done.load(Ordering::Relaxed),
                    rss as f64 / 1024.0
                );
            }
        })
    };
    let held: Vec<Ws> = futures_util::stream::iter(0..k)
        .map(|i| {
            let url = url.to_string();
            let src = Ipv4Addr::new(127, 0, 0, 2 + (i % n_src as usize) as u8);
            let (failed, first_err, done) = (failed.clone(), first_err.clone(), done.clone());
            async move {
                match tokio::time::timeout(Duration::from_secs(60), idle_client(&url, dst, src))
                    .await
                {
                    Ok(Ok(ws)) => {
                        done.fetch_add(1, Ordering::Relaxed);
                        Some(ws)
                    }
                    Ok(Err(e)) => {
                        failed.fetch_add(1, Ordering::Relaxed);
                        first_err.lock().unwrap().get_or_insert(e.to_string());
                        None
                    }
                    Err(_) => {
                        failed.fetch_add(1, Ordering::Relaxed);
                        first_err.lock().unwrap().get_or_insert("timeout".into());
                        None
                    }
                }
            }
        })
        .buffer_unordered(args.connect_concurrency.max(1))
        .filter_map(|x| async move { x })
        .collect()
        .await;
    progress.abort();
    let failed = failed.load(Ordering::Relaxed);
    let first_err = first_err.lock().ok().and_then(|e| e.clone());
    Ok((held, failed, first_err))
}

pub async fn idle(args: &Args, env: &Env, k: usize) -> anyhow::Result<serde_json::Value> {
    let pid = env.hub_pid;
    let url = env.ws_url.clone();
    let dst = raw::hub_addr(&url)?;
    let n_src = args.source_addrs.clamp(1, 250);
    // Let the hub settle (watcher start-up, first allocations) before the baseline.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let rss0 = pid.and_then(|p| proc_status_kb(p, "VmRSS:"));
    let hub_cpu0 = pid.and_then(proc_cpu_secs);
    let (stop, sampler) = rss_sampler(pid);
    let t0 = Instant::now();
    let (held, failed, first_err) = connect_idle(args, pid, &url, k).await?;
    let connect_secs = t0.elapsed().as_secs_f64();
    let connected = held.len();
    eprintln!(
        "loadgen: {connected} idle clients registered in {connect_secs:.1} s; holding {} s",
        args.hold
    );
    tokio::time::sleep(Duration::from_secs(args.hold)).await;
    let rss1 = pid.and_then(|p| proc_status_kb(p, "VmRSS:"));
    let hub_cpu = pid
        .and_then(proc_cpu_secs)
        .zip(hub_cpu0)
        .map(|(a, b)| a - b);
    let hub_fds = pid.and_then(|p| {
        std::fs::read_dir(format!("/proc/{p}/fd"))
            .ok()
            .map(|d| d.count())
    });
    let health = raw::http_get(dst, "/health").await.ok();
    stop.store(true, Ordering::Relaxed);
    let peak = sampler.await.unwrap_or(0);
    let my_rss = proc_status_kb(std::process::id(), "VmRSS:");
    let per = match (rss0, rss1) {
        (Some(a), Some(b)) if connected > 0 => {
            Some((b.saturating_sub(a)) as f64 * 1024.0 / connected as f64)
        }
        _ => None,
    };
    let report = json!({
        "benchmark": "idle_connections",
        "requested": k,
        "connected_registered": connected,
        "failed": failed,
        "first_error": first_err,
        "source_addrs": n_src,
        "connect_s": connect_secs,
        "connect_rate_per_s": connected as f64 / connect_secs,
        "hub_rss_kb": { "before": rss0, "after": rss1, "peak": peak },
        "hub_bytes_per_channel": per,
        "hub_cpu_s": hub_cpu,
        "hub_open_fds": hub_fds,
        "hub_health": health,
        "fd_limit_loadgen": fd_limit(),
        "loadgen_rss_kb": my_rss,
        "frame_size_bytes": std::mem::size_of::<Frame>(),
    });
    println!(
        "idle connections: {connected}/{k} connected + authenticated + registered in {connect_secs:.1} s \
         ({:.0}/s, {} failed{})",
        connected as f64 / connect_secs,
        failed,
        first_err
            .as_ref()
            .map_or(String::new(), |e| format!(", first error: {e}")),
    );
    println!(
        "  hub RSS {} → {} MB = {} per channel; hub CPU {}",
        rss0.map_or("?".into(), |k| format!("{:.1}", k as f64 / 1024.0)),
        rss1.map_or("?".into(), |k| format!("{:.1}", k as f64 / 1024.0)),
        per.map_or("?".into(), |b| format!("{:.1} KB", b / 1024.0)),
        hub_cpu.map_or("?".into(), |c| format!("{c:.1} s")),
    );
    drop(held);
    Ok(report)
}
