// The npm package as a storefront developer gets it: `npm pack` of pkg/, installed from the
// tarball into a fresh Vite + TypeScript app (written here, no `npm create`), type-checked with
// `tsc --noEmit` under strict options (the package's .d.ts files included: skipLibCheck off),
// built with `vite build`, and the built page loaded in headless Chromium, where it loads the
// .wasm, generates a key and shows its address. The same page also runs under `vite` (dev).
// No devnet needed.
//
//   node --test tests/e2e/package.spec.mjs
//
// Runs scripts/build-wasm.sh first so pkg/ matches the Rust code (set L2PAY_SKIP_BUILD=1 to
// test pkg/ as it is). npm downloads come from ~/.npm's cache when it has them
// (--prefer-offline); the first run on a machine fetches vite and typescript (~10 s).
// L2PAY_KEEP_TMP=1 keeps the temporary app for a look. Needs Chromium (CHROMIUM=/path).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { extname, join, normalize, sep } from 'node:path';
import { ROOT, launchBrowser } from './devnet.mjs';

// Pinned; both installed and worked here with npm 11 (Vite 8 needs npm ≥ 11 to install its
// native bindings; where npm is 10, vite@7 works with the same files).
const VITE = process.env.L2PAY_VITE_VERSION ?? '8.3.8';
const TYPESCRIPT = process.env.L2PAY_TS_VERSION ?? '7.0.2';
const WEBLN_TYPES = '3.0.0';

const PKG = join(ROOT, 'pkg');
let tmp;
let app;
let browser;

/** Runs `cmd args` in `cwd`; returns its stdout, or fails with all it printed. */
function run(cmd, args, cwd, what = `${cmd} ${args.join(' ')}`) {
  const r = spawnSync(cmd, args, { cwd, encoding: 'utf8', env: { ...process.env, NO_COLOR: '1' } });
  const out = `${r.stdout ?? ''}${r.stderr ?? ''}`;
  assert.equal(r.status, 0, `${what} failed (exit ${r.status}${r.error ? `, ${r.error.message}` : ''}):\n${out}`);
  return r.stdout;
}

const write = (path, text) => {
  mkdirSync(join(path, '..'), { recursive: true });
  writeFileSync(path, text);
};

// A strict tsconfig, stricter than Vite's vanilla-ts template: skipLibCheck is off so the
// package's own .d.ts files are checked too, and `lib` is the template's ES2022 + DOM (the
// wasm-bindgen classes' `[Symbol.dispose]()` types only because l2pay_core.d.ts references the
// esnext.disposable lib itself).
const tsconfig = (lib) => JSON.stringify({
  compilerOptions: {
    target: 'ES2022',
    module: 'ESNext',
    moduleResolution: 'bundler',
    lib,
    types: ['vite/client'],
    strict: true,
    noEmit: true,
    skipLibCheck: false,
    isolatedModules: true,
    verbatimModuleSyntax: true,
    moduleDetection: 'force',
    exactOptionalPropertyTypes: true,
    noUncheckedIndexedAccess: true,
    noImplicitOverride: true,
    noImplicitReturns: true,
    noUnusedLocals: true,
    noUnusedParameters: true,
    noFallthroughCasesInSwitch: true,
  },
  include: ['src'],
}, null, 2);

const INDEX_HTML = `<!doctype html>
<html lang="en">
  <head><meta charset="utf-8"><link rel="icon" href="data:,"><title>l2pay in a Vite app</title></head>
  <body>
    <p id="status">loading</p>
    <p id="address"></p>
    <p id="invoice"></p>
    <p id="invoice-instanceof"></p>
    <p id="open"></p>
    <script type="module" src="/src/main.ts"></script>
  </body>
</html>
`;

// What a storefront writes: the runtime API, and the public types in signatures. The
// type-level checks at the bottom fail to compile if a public type is (or contains) `any`.
const MAIN_TS = `import { Wallet, httpProvider, parseInvoice, L2payError, initL2pay, Key } from "l2pay";
import type { WebLNProvider as SpecWebLNProvider } from "@webbtc/webln-types";
import type {
  Balance, ChannelInfo, ChainProgress, Eip1193Provider, Hex, HistoryEntry, Invoice, L2payErrorCode,
  Receipt, WalletEvents, WalletOptions, WebLNProvider,
} from "l2pay";

function show(id: string, text: string): void {
  const el = document.getElementById(id);
  if (el) el.textContent = text;
}

/** The storefront's wallet settings. */
export function walletOptions(hubUrl: string, provider: Eip1193Provider, token: Hex): WalletOptions {
  return { hubUrl, name: "shop", create: true, timeoutMs: 20_000, chain: { provider, token, confirmations: 1, timeoutMs: 120_000 } };
}

/** A line for the order page. */
export function describeReceipt(r: Receipt): string {
  const total: bigint = r.amount + r.fee;
  return \`\${r.description}: \${total} to \${r.merchant}, proof \${r.preimage}\`;
}

/** Checkout: open a channel when there is none, then pay. Errors come back as their code. */
export async function checkout(options: WalletOptions, invoice: string): Promise<Receipt | L2payErrorCode> {
  const parsed: Invoice = parseInvoice(invoice);
  const wallet: Wallet = await Wallet.open(options);
  const offPayment = wallet.on("payment", (p: WalletEvents["payment"]) => console.log(p.status, p.preimage ?? p.reason));
  const offChain = wallet.on("chain", (c: ChainProgress) => console.log(c.step, c.stage, c.hash));
  try {
    const channel: ChannelInfo | null = await wallet.channel();
    const balance: Balance = await wallet.balance();
    if (channel === null || balance.available < BigInt(parsed.amount)) {
      await wallet.openChannel({ deposit: 20_000_000n });
    }
    return await wallet.pay(invoice, { timeoutMs: 10_000 });
  } catch (e) {
    if (e instanceof L2payError) return e.code;
    throw e;
  } finally {
    offPayment();
    offChain();
    const history: HistoryEntry[] = await wallet.history();
    console.log(history.filter((h) => h.status === "settled").length);
    await wallet.dispose();
  }
}

export function weblnOf(wallet: Wallet): WebLNProvider {
  return wallet.webln({ install: false });
}

// The provider is a WebLN provider as the WebLN types define one, and is what window.webln holds.
export function specWebln(wallet: Wallet): SpecWebLNProvider {
  const provider: SpecWebLNProvider = wallet.webln({ install: true });
  window.webln = provider;
  return provider;
}

async function main(): Promise<void> {
  await initL2pay();
  const key = Key.generate();
  const address: Hex = key.address;
  key.free();
  show("address", address);
  // Runtime checks of the error surface (no network: both fail before any I/O).
  try {
    parseInvoice("l2pay1garbage");
    show("invoice", "parsed?");
  } catch (e) {
    show("invoice", \`\${(e as Error).name}:\${(e as { code?: string }).code}\`);
    show("invoice-instanceof", String(e instanceof L2payError));
  }
  try {
    await Wallet.open(walletOptions("", httpProvider("http://127.0.0.1:9"), "0x0000000000000000000000000000000000000000"));
    show("open", "opened?");
  } catch (e) {
    show("open", e instanceof L2payError ? \`L2payError:\${e.code}\` : String(e));
  }
  show("status", "ready");
}

main().catch((e: unknown) => show("status", \`error: \${e instanceof Error ? e.message : String(e)}\`));

// Type-level checks: no \`any\` in what a storefront touches.
type IsAny<T> = 0 extends 1 & T ? true : false;
type NoAny<T> = IsAny<T> extends true ? "any" : T extends object ? { [K in keyof T]-?: IsAny<T[K]> } [keyof T] extends false ? true : "field is any" : true;
type Assert<T extends true> = T;
export type Checks = [
  Assert<NoAny<Receipt>>, Assert<NoAny<Balance>>, Assert<NoAny<ChannelInfo>>, Assert<NoAny<HistoryEntry>>,
  Assert<NoAny<Invoice>>, Assert<NoAny<ChainProgress>>, Assert<NoAny<WalletOptions>>,
  Assert<NoAny<Awaited<ReturnType<Wallet["pay"]>>>>, Assert<NoAny<Awaited<ReturnType<Wallet["close"]>>>>,
  Assert<NoAny<Awaited<ReturnType<typeof Wallet.open>>>>, Assert<NoAny<ReturnType<typeof parseInvoice>>>,
  Assert<NoAny<WalletEvents[keyof WalletEvents]>>,
  Assert<Receipt["amount"] extends bigint ? true : false>,
];
`;

const MIME = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.wasm': 'application/wasm',
  '.svg': 'image/svg+xml',
};

/** A static server for `dir` on a free loopback port (GET/HEAD, no escaping `dir`). */
function serveStatic(dir) {
  const server = createServer(async (req, res) => {
    let path = decodeURIComponent(new URL(req.url, 'http://x').pathname);
    if (path.endsWith('/')) path += 'index.html';
    const file = normalize(join(dir, path));
    if (!file.startsWith(dir + sep) || !(await stat(file).then((s) => s.isFile(), () => false))) {
      res.writeHead(404, { 'content-type': 'text/plain' }).end(`not found: ${path}`);
      return;
    }
    const body = await readFile(file);
    res.writeHead(200, { 'content-type': MIME[extname(file)] ?? 'application/octet-stream', 'content-length': body.length });
    res.end(req.method === 'HEAD' ? undefined : body);
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server)));
}

/** Loads `url` in a fresh page; returns what the page shows and anything that went wrong. */
async function loadApp(url) {
  const context = await browser.newContext();
  const page = await context.newPage();
  const problems = [];
  const wasm = [];
  page.on('pageerror', (e) => problems.push(`pageerror: ${e.message}`));
  page.on('console', (m) => {
    // wasm-bindgen warns and falls back to a slower path when the MIME type is wrong.
    if (m.type() === 'error' || m.type() === 'warning') problems.push(`console ${m.type()}: ${m.text()}`);
  });
  page.on('response', (r) => {
    if (r.status() >= 400) problems.push(`HTTP ${r.status()}: ${r.url()}`);
    if (r.url().endsWith('.wasm')) wasm.push({ url: r.url(), type: r.headers()['content-type'] });
  });
  try {
    await page.goto(url);
    await page.waitForFunction(() => document.getElementById('status')?.textContent !== 'loading', null, { timeout: 30_000 });
    const shown = await page.evaluate(() => Object.fromEntries([...document.querySelectorAll('p')].map((p) => [p.id, p.textContent])));
    return { shown, problems, wasm };
  } finally {
    await context.close();
  }
}

function checkPage({ shown, problems, wasm }) {
  assert.deepEqual(problems, []);
  assert.equal(shown.status, 'ready', JSON.stringify(shown));
  assert.match(shown.address, /^0x[0-9a-fA-F]{40}$/, 'Key.generate().address');
  assert.notEqual(shown.address, shown.address.toLowerCase(), 'EIP-55 checksummed');
  assert.equal(shown.invoice, 'L2payError:INVALID_INVOICE');
  assert.equal(shown['invoice-instanceof'], 'true', 'errors from the core functions are instanceof L2payError');
  assert.equal(shown.open, 'L2payError:INVALID_OPTIONS');
  assert.equal(wasm.length, 1, `one .wasm fetched: ${JSON.stringify(wasm)}`);
  assert.equal(wasm[0].type, 'application/wasm');
}

before(async () => {
  if (!process.env.L2PAY_SKIP_BUILD || !existsSync(join(PKG, 'l2pay_core_bg.wasm'))) {
    const r = spawnSync('bash', [join(ROOT, 'scripts', 'build-wasm.sh')], { cwd: ROOT, stdio: 'inherit' });
    assert.equal(r.status, 0, 'scripts/build-wasm.sh failed: pkg/ is needed');
  }
  tmp = mkdtempSync(join(tmpdir(), 'l2pay-package-'));
  app = join(tmp, 'app');
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  if (tmp && !process.env.L2PAY_KEEP_TMP) rmSync(tmp, { recursive: true, force: true });
  else if (tmp) console.log(`kept ${tmp}`);
});

let tarball;

test('npm pack: the tarball holds the ESM entry, the .d.ts files and the optimised .wasm', () => {
  const out = run('npm', ['pack', '--json', '--pack-destination', tmp], PKG);
  const [info] = JSON.parse(out);
  tarball = join(tmp, info.filename);
  assert.ok(existsSync(tarball), tarball);
  const files = info.files.map((f) => f.path).sort();
  for (const f of ['package.json', 'README.md', 'index.js', 'index.d.ts', 'l2pay_core.js', 'l2pay_core.d.ts', 'l2pay_core_bg.wasm', 'wallet.js']) {
    assert.ok(files.includes(f), `${f} in the tarball (has: ${files.join(', ')})`);
  }
  assert.ok(!files.some((f) => f.startsWith('.')), 'no dotfiles (.build-stamp) in the tarball');
  const manifest = JSON.parse(readFileSync(join(PKG, 'package.json'), 'utf8'));
  assert.equal(manifest.type, 'module');
  assert.equal(manifest.exports['.'].types, './index.d.ts');
});

test('installs from the tarball into a fresh Vite + TypeScript app', { timeout: 300_000 }, () => {
  assert.ok(tarball, 'npm pack ran');
  write(join(app, 'package.json'), JSON.stringify({
    name: 'l2pay-vite-smoke',
    private: true,
    version: '0.0.0',
    type: 'module',
    scripts: { typecheck: 'tsc --noEmit', build: 'vite build' },
    dependencies: { l2pay: `file:${tarball}` },
    devDependencies: { typescript: TYPESCRIPT, vite: VITE, '@webbtc/webln-types': WEBLN_TYPES },
  }, null, 2));
  write(join(app, 'index.html'), INDEX_HTML);
  write(join(app, 'src', 'main.ts'), MAIN_TS);
  write(join(app, 'tsconfig.json'), tsconfig(['ES2022', 'DOM', 'DOM.Iterable']));
  run('npm', ['install', '--no-audit', '--no-fund', '--prefer-offline', '--loglevel=error'], app);
  const installed = JSON.parse(readFileSync(join(app, 'node_modules', 'l2pay', 'package.json'), 'utf8'));
  assert.equal(installed.version, JSON.parse(readFileSync(join(PKG, 'package.json'), 'utf8')).version);
});

test('tsc --noEmit (strict, the package .d.ts files checked too) passes', () => {
  assert.ok(existsSync(join(app, 'node_modules', '.bin', 'tsc')), 'installed');
  run(join(app, 'node_modules', '.bin', 'tsc'), ['--noEmit', '-p', 'tsconfig.json'], app, 'tsc --noEmit');
});

let dist;

test('vite build emits the .wasm as an asset, byte for byte the package\'s', () => {
  assert.ok(existsSync(join(app, 'node_modules', '.bin', 'vite')), 'installed');
  run(join(app, 'node_modules', '.bin', 'vite'), ['build', '--logLevel', 'warn'], app, 'vite build');
  dist = join(app, 'dist');
  const assets = readdirSync(join(dist, 'assets'));
  const wasm = assets.filter((f) => f.endsWith('.wasm'));
  assert.equal(wasm.length, 1, `one .wasm among ${assets.join(', ')}`);
  const sha = (p) => createHash('sha256').update(readFileSync(p)).digest('hex');
  assert.equal(sha(join(dist, 'assets', wasm[0])), sha(join(PKG, 'l2pay_core_bg.wasm')));
  const js = assets.filter((f) => f.endsWith('.js')).map((f) => readFileSync(join(dist, 'assets', f), 'utf8')).join('\n');
  assert.ok(js.includes(wasm[0]), 'the bundle refers to the hashed .wasm asset');
});

test('the built app initialises in Chromium: wasm loads, Key.generate(), typed errors', async () => {
  assert.ok(dist, 'built');
  const server = await serveStatic(dist);
  try {
    checkPage(await loadApp(`http://127.0.0.1:${server.address().port}/`));
  } finally {
    await new Promise((r) => server.close(r));
  }
});

test('the same app runs under the Vite dev server (pre-bundled dependency)', { timeout: 60_000 }, async () => {
  assert.ok(existsSync(join(app, 'node_modules', '.bin', 'vite')), 'installed');
  const child = spawn(join(app, 'node_modules', '.bin', 'vite'), ['--host', '127.0.0.1', '--port', '0', '--strictPort', 'false'], {
    cwd: app, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, NO_COLOR: '1' },
  });
  let log = '';
  child.stderr.on('data', (d) => { log += d; });
  try {
    const url = await new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`vite dev did not start in 30 s:\n${log}`)), 30_000);
      child.stdout.on('data', (d) => {
        log += d;
        const m = /(http:\/\/127\.0\.0\.1:\d+\/)/.exec(log);
        if (m) {
          clearTimeout(timer);
          resolve(m[1]);
        }
      });
      child.once('exit', (code) => reject(new Error(`vite dev exited (${code}):\n${log}`)));
    });
    checkPage(await loadApp(url));
  } finally {
    const exited = new Promise((r) => (child.exitCode === null ? child.once('exit', r) : r()));
    child.kill('SIGTERM');
    await exited;
  }
});
