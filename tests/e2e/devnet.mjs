// Test harness: starts the one-command devnet binary (anvil + adjudicator + tUSD + hub +
// demo merchant + the pages) on free ports with a throwaway data dir, and a headless
// Chromium (Debian's, driven by playwright-core).
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, existsSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

function freePort() {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

/** Starts the devnet binary on fresh ports; resolves once it printed its READY line. */
async function launch(bin) {
  const data = mkdtempSync(join(tmpdir(), 'l2pay-e2e-'));
  const [port, hubPort, chainPort] = [await freePort(), await freePort(), await freePort()];
  const child = spawn(bin, [
    '--port', String(port), '--hub-port', String(hubPort), '--chain-port', String(chainPort),
    '--data-dir', data, '--www', join(ROOT, 'www'),
  ], { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, RUST_LOG: process.env.DEVNET_LOG ?? 'warn' } });
  const config = await new Promise((resolve, reject) => {
    let buf = '';
    const timer = setTimeout(() => reject(new Error('devnet did not get ready in 120 s')), 120000);
    child.stdout.on('data', (chunk) => {
      buf += chunk;
      const m = /L2PAY_DEVNET_READY (\{.*\})\n/.exec(buf);
      if (m) {
        clearTimeout(timer);
        resolve(JSON.parse(m[1]));
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      rmSync(data, { recursive: true, force: true });
      reject(Object.assign(new Error(`devnet exited early (${code})`), { early: true }));
    });
  });
  return { child, config, data, port };
}

/** Builds (if needed) and starts the devnet; resolves once it printed its READY line. */
export async function startDevnet() {
  const bin = join(ROOT, 'target', 'debug', 'l2pay-devnet');
  if (!process.env.L2PAY_SKIP_BUILD || !existsSync(bin)) {
    const b = spawnSync('cargo', ['build', '-q', '-p', 'l2pay-devnet'], { cwd: ROOT, stdio: 'inherit' });
    if (b.status !== 0) throw new Error('cargo build -p l2pay-devnet failed');
  }
  // A port found free can be taken (e.g. as another connection's source port) before the
  // devnet binds it: then the devnet exits at once, and a fresh set of ports is tried.
  let launched;
  for (let attempt = 1; !launched; attempt++) {
    try {
      launched = await launch(bin);
    } catch (e) {
      if (attempt === 3 || !e.early) throw e;
      console.error(`devnet: ${e.message}; retrying with other ports`);
    }
  }
  const { child, config, data, port } = launched;
  child.stdout.resume();
  const base = `http://127.0.0.1:${port}`;
  let id = 0;
  const rpc = async (method, params = []) => {
    const r = await fetch(config.rpcUrl, {
      method: 'POST', headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ jsonrpc: '2.0', id: ++id, method, params }),
    });
    const body = await r.json();
    if (body.error) throw new Error(`${method}: ${body.error.message}`);
    return body.result;
  };
  const api = async (path, body) => {
    const r = await fetch(base + path, body === undefined ? {} : {
      method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body),
    });
    return { status: r.status, body: await r.json() };
  };
  return {
    config, base, rpc, api, child,
    async stop() {
      if (child.exitCode === null) {
        const exited = new Promise((r) => child.once('exit', r));
        child.kill('SIGTERM');
        await exited;
      }
      rmSync(data, { recursive: true, force: true });
    },
  };
}

/** The tUSD balance of `who` (6 decimals) read straight from anvil. */
export async function tokenBalance(dev, who) {
  const data = '0x70a08231' + who.slice(2).toLowerCase().padStart(64, '0');
  return BigInt(await dev.rpc('eth_call', [{ to: dev.config.token, data }, 'latest']));
}

export async function launchBrowser() {
  return chromium.launch({
    executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
    args: ['--no-sandbox', '--headless=new', '--disable-gpu', '--disable-quic', '--disable-dev-shm-usage',
      '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
  });
}
