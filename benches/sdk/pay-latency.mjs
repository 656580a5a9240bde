// `wallet.pay()` latency in headless Chromium against the devnet on loopback: from the call in
// the page to the resolved receipt (the merchant settled and the preimage came back), with the
// SDK's strict-durability IndexedDB, one payment at a time.
//
//   node benches/sdk/pay-latency.mjs [N=200]
//
// Env: L2PAY_SKIP_BUILD=1 uses target/debug/l2pay-devnet as it is (startDevnet otherwise runs
// `cargo build -p l2pay-devnet`); L2PAY_DEVNET_BIN=path runs another devnet binary (e.g. a
// release build) with the same arguments; PROFILE=0 turns the per-phase breakdown off;
// GAP_MS=50 idles that long between payments (isolated payments: the SDK's bookkeeping after a
// receipt, which otherwise delays the next payment, is then off the measured path).
//
// Invoices are created through the merchant API before timing. The page opens a wallet on
// /sdk.html (www/pkg, so run scripts/build-wasm.sh first), opens a 100 tUSD channel, pays 10
// untimed warm-up invoices, then N timed ones. With PROFILE (default on) the page wraps a few
// methods of this wallet instance (no SDK file changes): the IndexedDB calls (`store.persist`,
// `store.put`, `store.get`, `store.entries`), the wasm core's calls (`core.*`), and the
// WebSocket (`transport.send`, frames received), and reports where each payment's time went
// (with GAP_MS=0: the counters also include the bookkeeping a payment leaves for after its
// receipt, which back to back delays the next payment anyway).
import { spawn } from 'node:child_process';
import { closeSync, fsyncSync, mkdtempSync, openSync, rmSync, writeSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { launchBrowser, startDevnet } from '../../tests/e2e/devnet.mjs';

const N = Number(process.argv[2] ?? 200);
const WARMUP = 10;
const PROFILE = process.env.PROFILE !== '0';
const AMOUNT = 10_000n; // 0.01 tUSD per payment
const GAP_MS = Number(process.env.GAP_MS ?? 0);

const pct = (xs, p) => xs[Math.min(xs.length - 1, Math.ceil((p / 100) * xs.length) - 1)];
const f1 = (x) => x.toFixed(1);

/** The devnet: startDevnet(), or the same arguments to another binary (L2PAY_DEVNET_BIN). */
async function devnet() {
  if (!process.env.L2PAY_DEVNET_BIN) return startDevnet();
  // Same protocol as tests/e2e/devnet.mjs, with a different binary.
  const { createServer } = await import('node:net');
  const free = () => new Promise((res) => { const s = createServer(); s.listen(0, '127.0.0.1', () => { const { port } = s.address(); s.close(() => res(port)); }); });
  const { ROOT } = await import('../../tests/e2e/devnet.mjs');
  const data = mkdtempSync(join(tmpdir(), 'l2pay-bench-'));
  const [port, hubPort, chainPort] = [await free(), await free(), await free()];
  const child = spawn(process.env.L2PAY_DEVNET_BIN, ['--port', String(port), '--hub-port', String(hubPort), '--chain-port', String(chainPort),
    '--data-dir', data, '--www', join(ROOT, 'www')], { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, RUST_LOG: 'warn' } });
  const config = await new Promise((resolve, reject) => {
    let buf = '';
    child.stdout.on('data', (c) => { buf += c; const m = /L2PAY_DEVNET_READY (\{.*\})\n/.exec(buf); if (m) resolve(JSON.parse(m[1])); });
    child.once('exit', (code) => reject(new Error(`devnet exited early (${code})`)));
  });
  child.stdout.resume();
  const base = `http://127.0.0.1:${port}`;
  return {
    config, base,
    async api(path, body) {
      const r = await fetch(base + path, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
      return { status: r.status, body: await r.json() };
    },
    async stop() {
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      await exited;
      rmSync(data, { recursive: true, force: true });
    },
  };
}

/** fsync latency of this disk from Node, for comparison with IndexedDB's strict commits. */
function fsyncMs(n = 50) {
  const dir = mkdtempSync(join(tmpdir(), 'l2pay-fsync-'));
  const fd = openSync(join(dir, 'f'), 'w');
  const buf = Buffer.alloc(4096, 1);
  const xs = [];
  for (let i = 0; i < n; i++) {
    writeSync(fd, buf, 0, buf.length, i * 4096);
    const t = performance.now();
    fsyncSync(fd);
    xs.push(performance.now() - t);
  }
  closeSync(fd);
  rmSync(dir, { recursive: true, force: true });
  xs.sort((a, b) => a - b);
  return { p50: pct(xs, 50), p90: pct(xs, 90) };
}

const dev = await devnet();
const browser = await launchBrowser();
try {
  const context = await browser.newContext();
  const page = await context.newPage();
  page.on('pageerror', (e) => console.error('page error:', e));
  await page.goto(`${dev.base}/sdk.html`);
  await page.evaluate(async () => {
    const { Wallet, httpProvider } = await import('/pkg/index.js');
    const cfg = await (await fetch('/devnet.json')).json();
    window.wallet = await Wallet.open({
      name: 'bench',
      create: true,
      hubUrl: cfg.hubUrl,
      challengePeriod: cfg.challengePeriod,
      chain: { provider: httpProvider(cfg.rpcUrl, { account: cfg.fundingAccounts[0] }), token: cfg.token, pollMs: 50 },
    });
    await window.wallet.openChannel({ deposit: 100_000_000n });
  });

  const invoices = [];
  const t0 = performance.now();
  for (let i = 0; i < WARMUP + N; i++) {
    const r = await dev.api('/api/merchant/invoices', { amount: AMOUNT.toString(), description: `bench ${i}`, ttlSecs: 3600 });
    if (r.status !== 201) throw new Error(`invoice ${i}: ${r.status} ${JSON.stringify(r.body)}`);
    invoices.push(r.body.invoice);
  }
  const createMs = performance.now() - t0;

  const result = await page.evaluate(async ({ invoices, warmup, profile, gap }) => {
    const w = window.wallet;
    // ---- optional instrumentation of this wallet instance ----
    const acc = { idb: 0, idbTx: 0, persist: 0, persistN: 0, put: 0, putN: 0, read: 0, readN: 0, wasm: 0, wasmN: 0, sent: 0, recv: 0 };
    const wasmBy = {};
    const zero = () => { for (const k of Object.keys(acc)) acc[k] = 0; for (const k of Object.keys(wasmBy)) delete wasmBy[k]; };
    if (profile) {
      const wrapAsync = (obj, name, kind) => {
        const orig = obj[name].bind(obj);
        obj[name] = async (...a) => {
          const t = performance.now();
          try { return await orig(...a); } finally {
            const d = performance.now() - t;
            acc[kind] += d; acc[`${kind}N`] += 1;
            if (kind !== 'read') { acc.idb += d; acc.idbTx += 1; }
          }
        };
      };
      wrapAsync(w.store, 'persist', 'persist');
      wrapAsync(w.store, 'put', 'put');
      wrapAsync(w.store, 'get', 'read');
      wrapAsync(w.store, 'entries', 'read');
      // Every method of the wasm WalletCore instance (synchronous calls into the .wasm).
      const proto = Object.getPrototypeOf(w.core);
      for (const name of Object.getOwnPropertyNames(proto)) {
        const d = Object.getOwnPropertyDescriptor(proto, name);
        if (name === 'constructor' || typeof d.value !== 'function') continue;
        const orig = d.value;
        w.core[name] = function (...a) {
          const t = performance.now();
          try { return orig.apply(this, a); } finally {
            const dt = performance.now() - t;
            acc.wasm += dt; acc.wasmN += 1;
            wasmBy[name] = (wasmBy[name] ?? 0) + dt;
          }
        };
      }
      const send = w.transport.send.bind(w.transport);
      w.transport.send = (b) => { acc.sent += 1; return send(b); };
      const onFrame = w.transport.handlers.onFrame;
      w.transport.handlers.onFrame = (b) => { acc.recv += 1; return onFrame(b); };
    }
    for (const inv of invoices.slice(0, warmup)) await w.pay(inv);
    zero();
    const ms = [];
    const start = performance.now();
    let idle = 0;
    for (const inv of invoices.slice(warmup)) {
      if (gap) {
        const g = performance.now();
        await new Promise((r) => setTimeout(r, gap));
        idle += performance.now() - g;
      }
      const t = performance.now();
      await w.pay(inv);
      ms.push(performance.now() - t);
    }
    const wall = performance.now() - start - idle;
    // For scale: one small put per transaction on a scratch database, strict vs relaxed.
    let idbScale = null;
    if (profile) {
      const db = await new Promise((res, rej) => {
        const r = indexedDB.open('l2pay-bench-scratch', 1);
        r.onupgradeneeded = () => r.result.createObjectStore('s');
        r.onsuccess = () => res(r.result);
        r.onerror = () => rej(r.error);
      });
      const one = (durability, i) => new Promise((res, rej) => {
        const tx = db.transaction('s', 'readwrite', { durability });
        tx.objectStore('s').put({ i, blob: 'x'.repeat(600) }, i % 10);
        tx.oncomplete = res;
        tx.onerror = () => rej(tx.error);
      });
      const read = () => new Promise((res) => { const r = db.transaction('s', 'readonly').objectStore('s').get(1); r.onsuccess = res; });
      idbScale = {};
      for (const [name, f] of [['strict', (i) => one('strict', i)], ['relaxed', (i) => one('relaxed', i)], ['read', () => read()]]) {
        const xs = [];
        for (let i = 0; i < 100; i++) { const t = performance.now(); await f(i); xs.push(performance.now() - t); }
        xs.sort((a, b) => a - b);
        idbScale[name] = xs[49];
      }
      db.close();
    }
    return { ms, wall, acc: { ...acc }, wasmBy: { ...wasmBy }, idbScale };
  }, { invoices, warmup: WARMUP, profile: PROFILE, gap: GAP_MS });

  const ms = [...result.ms].sort((a, b) => a - b);
  const mean = ms.reduce((a, b) => a + b, 0) / ms.length;
  console.log(`pay() → merchant-settled receipt, ${N} sequential payments after ${WARMUP} warm-up, headless Chromium ` +
    `${browser.version()}, devnet ${process.env.L2PAY_DEVNET_BIN ?? 'target/debug/l2pay-devnet'}${PROFILE ? ', instrumented' : ''}${GAP_MS ? `, ${GAP_MS} ms idle between payments` : ''}`);
  console.log(`load average ${loadavg().map((x) => x.toFixed(2)).join(' ')}; ${WARMUP + N} invoices created beforehand in ${(createMs / 1000).toFixed(1)} s`);
  console.log(`latency ms: p50 ${f1(pct(ms, 50))}  p90 ${f1(pct(ms, 90))}  p99 ${f1(pct(ms, 99))}  mean ${f1(mean)}  min ${f1(ms[0])}  max ${f1(ms[ms.length - 1])}`);
  console.log(`throughput: ${(N / (result.wall / 1000)).toFixed(1)} payments/s (one at a time${GAP_MS ? ', idle gaps excluded' : ''})`);
  if (PROFILE) {
    const a = result.acc;
    const per = (x) => f1(x / N);
    const busy = a.idb + a.read + a.wasm;
    console.log('\nper payment (means over the timed payments):');
    console.log(`  IndexedDB strict commits: ${per(a.idb)} ms in ${(a.idbTx / N).toFixed(1)} transactions ` +
      `(core persist ${per(a.persist)} ms × ${(a.persistN / N).toFixed(1)}, SDK put ${per(a.put)} ms × ${(a.putN / N).toFixed(1)})`);
    console.log(`  IndexedDB reads (get/entries): ${per(a.read)} ms × ${(a.readN / N).toFixed(1)}`);
    console.log(`  wasm core calls: ${per(a.wasm)} ms in ${(a.wasmN / N).toFixed(1)} calls (${Object.entries(result.wasmBy).sort((x, y) => y[1] - x[1]).slice(0, 5).map(([k, v]) => `${k} ${(v / N).toFixed(2)}`).join(', ')})`);
    console.log(`  frames: ${(a.sent / N).toFixed(1)} sent, ${(a.recv / N).toFixed(1)} received`);
    console.log(`  rest (hub + merchant round trips not overlapped with the above, other JS): ${f1(mean - busy / N)} ms`);
    const sc = result.idbScale;
    console.log(`  for scale, one-put IndexedDB transactions on a scratch database in the same page (p50 of 100): ` +
      `strict ${f1(sc.strict)} ms, relaxed ${f1(sc.relaxed)} ms, a readonly get ${f1(sc.read)} ms`);
    const fs = fsyncMs();
    console.log(`  for comparison, fsync of 4 KiB on this disk from Node: p50 ${f1(fs.p50)} ms, p90 ${f1(fs.p90)} ms`);
  }
} finally {
  await browser.close();
  await dev.stop();
}
