// End-to-end test of www/planner.html in headless Chromium (playwright-core, system Chromium):
// serves www/ on a free loopback port, loads the planner, checks the paper's numbers as the
// WebAssembly build computes them, changes inputs, checks the results follow, and saves a
// screenshot to test-results/planner.png.
//
//   node --test tests/e2e/planner.spec.mjs
//
// Runs scripts/build-wasm.sh first so www/pkg/ matches the Rust code (set L2PAY_SKIP_BUILD=1 to
// use www/pkg/ as it is). Needs Chromium at /usr/bin/chromium (override with CHROMIUM=/path).

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import { dirname, extname, join, normalize, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const WWW = join(ROOT, 'www');
const RESULTS = join(ROOT, 'test-results');

const MIME = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json',
  '.wasm': 'application/wasm',
  '.map': 'application/json',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ts': 'text/plain; charset=utf-8',
};

/** Extra places a request may be found when www/ lacks it (the build copies them there). */
const FALLBACKS = {
  '/vendor/chart.umd.js': join(ROOT, 'node_modules', 'chart.js', 'dist', 'chart.umd.js'),
};

/** A tiny static server for www/: GET/HEAD only, no directory listings, no escaping www/. */
function serve() {
  const server = createServer(async (req, res) => {
    try {
      if (req.method !== 'GET' && req.method !== 'HEAD') {
        res.writeHead(405).end();
        return;
      }
      let path = decodeURIComponent(new URL(req.url, 'http://x').pathname);
      if (path.endsWith('/')) path += 'planner.html';
      const file = normalize(join(WWW, path));
      if (!file.startsWith(WWW + sep)) {
        res.writeHead(403).end();
        return;
      }
      let target = file;
      if (!(await stat(file).then((s) => s.isFile(), () => false))) {
        target = FALLBACKS[path];
        if (!target || !existsSync(target)) {
          res.writeHead(404, { 'content-type': 'text/plain' }).end(`not found: ${path}`);
          return;
        }
      }
      const body = await readFile(target);
      res.writeHead(200, {
        'content-type': MIME[extname(target)] ?? 'application/octet-stream',
        'content-length': body.length,
        'cache-control': 'no-store',
      });
      res.end(req.method === 'HEAD' ? undefined : body);
    } catch (e) {
      res.writeHead(500, { 'content-type': 'text/plain' }).end(String(e));
    }
  });
  return new Promise((resolve) => {
    server.listen(0, '127.0.0.1', () => resolve(server));
  });
}

let server;
let browser;
let page;
let base;
const problems = [];

before(async () => {
  // Bring www/pkg/ up to date with the Rust code (a no-op when nothing changed), unless told
  // to test the package as it is.
  if (!process.env.L2PAY_SKIP_BUILD || !existsSync(join(WWW, 'pkg', 'l2pay_core.js'))) {
    const r = spawnSync('bash', [join(ROOT, 'scripts', 'build-wasm.sh')], { cwd: ROOT, stdio: 'inherit' });
    assert.equal(r.status, 0, 'scripts/build-wasm.sh failed: www/pkg/ is needed');
  }
  server = await serve();
  base = `http://127.0.0.1:${server.address().port}`;
  browser = await chromium.launch({
    executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
    args: [
      '--no-sandbox',
      '--headless',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--no-first-run',
    ],
  });
  page = await browser.newPage({ viewport: { width: 1360, height: 900 } });
  page.on('pageerror', (e) => problems.push(`pageerror: ${e.message}`));
  page.on('console', (m) => {
    if (m.type() === 'error') problems.push(`console: ${m.text()}`);
  });
  page.on('response', (r) => {
    if (r.status() >= 400) problems.push(`HTTP ${r.status()}: ${r.url()}`);
  });
  await page.goto(`${base}/planner.html`);
  await page.waitForSelector('body[data-ready="true"]', { timeout: 30_000 });
});

after(async () => {
  await browser?.close();
  await new Promise((resolve) => (server ? server.close(resolve) : resolve()));
});

const out = (card, key) => page.locator(`#${card} [data-out="${key}"]`);

async function set(card, name, value) {
  await page.locator(`#${card} input[name="${name}"]`).fill(String(value));
}

test('loads with the paper scenarios computed by the wasm build', async () => {
  assert.match(await page.locator('#status').textContent(), /WebAssembly planner\.$/);
  // Table 4 (Taobao: 700 million users at 35,137 channels per node).
  assert.equal(await out('nodes', 'nodes').textContent(), '19,923');
  // §4.2.1: $38.4 billion a day, 1 s per hop, 1 intermediary → $888,889.
  assert.equal(await out('funds-capacity', 'funds_capacity').textContent(), '$888,889');
  assert.equal(await out('funds-capacity', 'reuse_windows').textContent(), '43,200');
  // §4.3: 700 million openings at 20 TPS → 405 days.
  assert.equal(await out('build-time', 'days').textContent(), '405.09 days');
  // Figure 12: Lightning on Singles' Day, 1.35e9 × $0.00008.
  const ln = page.locator('#payment-methods tr[data-method="lightning"] td');
  assert.equal(await ln.nth(2).textContent(), '$108,000');
  // Apple as a single merchant: 588 million channels.
  assert.equal(await out('single-merchant', 'channels').textContent(), '588,000,000');
  assert.equal(await out('single-merchant', 'fees.state_channel').textContent(), '$246,960,000');
});

test("the paper's stated numbers are set against the models", async () => {
  const rows = page.locator('#paper-checks tbody tr');
  assert.equal(await rows.count(), 10);
  const bad = page.locator('#paper-checks tbody tr.disagrees');
  assert.equal(await bad.count(), 1);
  // Figure 16: the paper's $700,000 against the formula's $640,000.
  assert.equal(await bad.locator('td').nth(2).textContent(), '$700,000');
  assert.equal(await bad.locator('td').nth(3).textContent(), '$640,000');
});

test('results follow the inputs', async () => {
  await set('nodes', 'users', '588e6');
  assert.equal(await out('nodes', 'nodes').textContent(), '16,735');

  await set('funds-capacity', 'hopTimeS', 1500);
  assert.equal(await out('funds-capacity', 'funds_capacity').textContent(), '$1,333,333,333');
  assert.equal(await out('funds-capacity', 'reuse_windows').textContent(), '29');
  await set('funds-capacity', 'hopTimeS', 1);
  await set('funds-capacity', 'intermediaries', 5);
  assert.equal(await out('funds-capacity', 'funds_capacity').textContent(), '$13,333,333');

  await set('build-time', 'tps', 3000);
  assert.equal(await out('build-time', 'days').textContent(), '2.7 days');

  // Figure 16's statement: 2e9 payments, $0.00008 a hop: 10 vs 5 intermediaries = $800,000.
  await set('single-platform', 'offchainTx', 2e9);
  await set('single-platform', 'hops', 5);
  const five = await page.locator('#single-platform pre[data-json]').textContent();
  await set('single-platform', 'hops', 10);
  const ten = await page.locator('#single-platform pre[data-json]').textContent();
  const diff = JSON.parse(ten).fees.state_channel - JSON.parse(five).fees.state_channel;
  assert.ok(Math.abs(diff - 800_000) < 1e-3, `${diff}`);
});

test('invalid input shows the model error and recovers', async () => {
  await set('nodes', 'channelsPerNode', 0);
  const err = page.locator('#nodes [data-error]');
  assert.equal(await err.isVisible(), true);
  assert.match(await err.textContent(), /^NOT_POSITIVE: channels_per_node must be greater than zero/);
  assert.equal(await out('nodes', 'nodes').textContent(), '—');
  await set('nodes', 'channelsPerNode', 35137);
  assert.equal(await err.isVisible(), false);
  assert.equal(await out('nodes', 'nodes').textContent(), '16,735');
});

test('presets load the paper scenarios', async () => {
  await page.click('button[data-preset="taobao"]');
  assert.equal(await page.getAttribute('button[data-preset="taobao"]', 'aria-pressed'), 'true');
  assert.equal(await out('single-platform', 'channels').textContent(), '700,019,923');
  assert.equal(await out('build-time', 'days').textContent(), '405.09 days');
  await page.click('button[data-preset="singles-day"]');
  assert.equal(await out('funds-capacity', 'funds_capacity').textContent(), '$888,889');
  await page.click('button[data-preset="apple"]');
  assert.equal(await out('nodes', 'nodes').textContent(), '16,735');
});

test('figures are drawn from the wasm sweeps', async () => {
  const counts = await page.evaluate(() =>
    Object.fromEntries(
      ['fig12', 'fig13', 'fig14', 'fig15', 'fig16', 'figFunds'].map((id) => [
        id,
        globalThis.Chart.getChart(id)?.data.datasets.length ?? 0,
      ]),
    ),
  );
  assert.deepEqual(counts, { fig12: 7, fig13: 5, fig14: 5, fig15: 4, fig16: 3, figFunds: 4 });
  // Figure 16 follows the platform card: the last point of "10 intermediaries" minus
  // "5 intermediaries" at 2e9 payments is the paper's $800,000.
  await set('single-platform', 'offchainTx', 2e9);
  const gap = await page.evaluate(() => {
    const ds = globalThis.Chart.getChart('fig16').data.datasets;
    const last = (d) => d.data[d.data.length - 1];
    return { x: last(ds[2]).x, gap: last(ds[2]).y - last(ds[1]).y };
  });
  assert.equal(gap.x, 2e9);
  assert.ok(Math.abs(gap.gap - 800_000) < 1e-3, `${gap.gap}`);
  mkdirSync(RESULTS, { recursive: true });
  await page.screenshot({ path: join(RESULTS, 'planner.png'), fullPage: true });
  assert.deepEqual(problems, []);
});

test('wasm exports match the CLI and throw coded errors (Node)', async () => {
  const wasm = await import(join(WWW, 'pkg', 'l2pay_core.js'));
  wasm.initSync({ module: await readFile(join(WWW, 'pkg', 'l2pay_core_bg.wasm')) });
  const s = wasm.planScenarios();
  // The same JSON keys `l2pay plan` prints.
  assert.deepEqual(wasm.planNodes(s.appleNodes), { nodes: 16735 });
  assert.deepEqual(wasm.planFundsCapacity({ volume: 38.4e9, periodS: 86400, hopTimeS: 1, intermediaries: 5 }), {
    process_time_s: 6,
    funds_capacity: 38.4e9 * 6 / 86400 * 5,
    reuse_windows: 14400,
  });
  const r = wasm.planSinglePlatform(s.taobao);
  assert.deepEqual(Object.keys(r), ['channels', 'platform_channels', 'onchain_tx', 'offchain_tx', 'fees']);
  assert.deepEqual(Object.keys(r.fees), ['onchain_direct', 'state_channel', 'sidechain']);
  assert.deepEqual(wasm.planPaymentMethods(s.singlesDayMethods).methods.map((m) => m.name),
    ['credit_card', 'bitcoin', 'ethereum', 'lightning', 'plasma']);
  // sidechainFee is optional, as --sidechain-fee is.
  const m = wasm.planSingleMerchant({ customers: 3, merchantNodes: 1, offchainTx: 10, onchainFee: 0.5 });
  assert.equal(m.fees.sidechain, 4);

  const code = (f) => {
    try {
      f();
    } catch (e) {
      assert.ok(e instanceof Error, 'throws an Error');
      return e.code;
    }
    assert.fail('did not throw');
  };
  assert.equal(code(() => wasm.planNodes({ users: 5, channelsPerNode: 0 })), 'NOT_POSITIVE');
  assert.equal(code(() => wasm.planBuildTime({ onchainTx: 1, tps: 0 })), 'NOT_POSITIVE');
  assert.equal(code(() => wasm.planBuildTime({ onchainTx: 1, tps: -3 })), 'INVALID_NUMBER');
  assert.equal(code(() => wasm.planNodes({ users: 1.5, channelsPerNode: 2 })), 'MALFORMED');
  assert.equal(code(() => wasm.planNodes({ users: -1, channelsPerNode: 2 })), 'MALFORMED');
  assert.equal(code(() => wasm.planNodes({ users: 1 })), 'MALFORMED');
  assert.equal(code(() => wasm.planNodes(null)), 'MALFORMED');
  // Counts beyond 2^53 - 1 are not exact JS numbers: serde-wasm-bindgen refuses them as u64.
  assert.equal(code(() => wasm.planNodes({ users: 2 ** 53, channelsPerNode: 1 })), 'MALFORMED');
  // An exact count whose result would not be: 2C > 2^53 - 1.
  assert.equal(
    code(() => wasm.planSingleMerchant({ customers: 2 ** 52, merchantNodes: 1, offchainTx: 0, onchainFee: 1 })),
    'TOO_LARGE',
  );
  assert.equal(
    code(() => wasm.planSinglePlatform({ ...s.taobao, platformNodes: 1, linksPerNode: 3 })),
    'INCONSISTENT_INPUT',
  );
});
