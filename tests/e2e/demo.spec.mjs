// The demo pages end to end in headless Chromium against the devnet (anvil, adjudicator, tUSD,
// hub, demo merchant): a shopper opens a channel from the storefront and buys two products,
// streams micropayments and pauses, the merchant refunds one order from the dashboard, the
// shopper sees the refund in the wallet panel, backs up (a wrong passphrase is refused),
// withdraws and closes; then the final on-chain balances are checked to the unit. A second
// part checks the failure messages: deposit too small, channel too short, expired invoice,
// hub down, chain unreachable. Screenshots of every page go to test-results/screenshots/, the
// pages' console to test-results/demo-console.log.
//
// Run: node --test tests/e2e/demo.spec.mjs (after scripts/build-wasm.sh; set
// L2PAY_SKIP_BUILD=1 to use target/debug/l2pay-devnet as it is).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startDevnet, tokenBalance, launchBrowser, ROOT } from './devnet.mjs';

const USD = 1_000_000n; // tUSD has 6 decimals
const CENT = 10_000n;
const SHOTS = join(ROOT, 'test-results', 'screenshots');
const T = { timeout: 60000 };

let dev;
let browser;
let context;
let shop; // the shopper's tab
let merchant; // the merchant's tab
const orders = []; // { product, price, paymentHash }
let streamed = 0n; // micropayments made
let funderStart;
let hubStart;

async function shot(page, name) {
  await page.evaluate(() => new Promise((r) => {
    window.scrollTo({ top: 0, behavior: 'instant' });
    requestAnimationFrame(() => requestAnimationFrame(r));
  }));
  await page.screenshot({ path: join(SHOTS, `${name}.png`), fullPage: true });
}

const consoleLog = []; // every page's console, written to test-results/demo-console.log

/** Watches a page for script errors (a page that throws is a failed test) and keeps its console. */
function watch(page, errors) {
  page.on('pageerror', (e) => errors.push(`${page.url()}: ${e.message}`));
  page.on('console', (m) => {
    if (m.type() !== 'debug' && m.type() !== 'verbose') consoleLog.push(`${new Date().toISOString()} ${m.type()} ${page.url()}: ${m.text()}`);
  });
}

const pageErrors = [];
const sha256 = (hex) => '0x' + createHash('sha256').update(Buffer.from(hex.slice(2), 'hex')).digest('hex');
const num = async (page, sel) => Number((await page.textContent(sel)).replace(/[^0-9.]/g, ''));

before(async () => {
  mkdirSync(SHOTS, { recursive: true });
  dev = await startDevnet();
  browser = await launchBrowser();
  context = await browser.newContext({ viewport: { width: 1280, height: 860 }, acceptDownloads: true });
  shop = await context.newPage();
  watch(shop, pageErrors);
  funderStart = await tokenBalance(dev, dev.config.fundingAccounts[0]);
  hubStart = await tokenBalance(dev, dev.config.hubAddress);
});

after(async () => {
  writeFileSync(join(ROOT, 'test-results', 'demo-console.log'), consoleLog.join('\n') + '\n');
  await browser?.close();
  await dev?.stop();
});

/** Adds `product` to the cart, checks out and waits for the pay button to hold an invoice. */
async function checkout(page, product) {
  await page.click(`[data-product="${product}"] .add`);
  await page.click('#checkout-btn');
  await page.waitForSelector('#checkout:not([hidden]) l2pay-button[invoice][state="idle"]', T);
}

test('storefront: the first checkout opens a channel with visible progress, then pays', async () => {
  await shop.goto(`${dev.base}/`);
  await shop.waitForSelector('#wallet-chip .dot.connected', T);
  await shop.waitForFunction(() => /No channel yet/.test(document.querySelector('#wallet-chip').textContent), undefined, T);
  await shop.evaluate(() => {
    window.progress = [];
    document.addEventListener('l2pay-progress', (e) => window.progress.push(`${e.detail.step}:${e.detail.stage}`));
  });
  await checkout(shop, 'beans');
  assert.match(await shop.textContent('#checkout-total'), /12\.50 tUSD/);
  await shop.click('l2pay-button .pay');
  await shop.waitForSelector('l2pay-button[state="setup"]', T);
  assert.equal(await shop.inputValue('l2pay-button input[name="deposit"]'), '50', 'a 50 tUSD deposit is suggested');

  // Slow the chain's receipts down a little so that the progress can be seen (and shot).
  const chainPort = new URL(dev.config.rpcUrl).port;
  const slow = (url) => url.port === chainPort;
  await shop.route(slow, async (route) => {
    if (/eth_getTransactionReceipt/.test(route.request().postData() ?? '')) await new Promise((r) => setTimeout(r, 400));
    await route.continue();
  });
  await shop.click('l2pay-button .open');
  await shop.waitForSelector('l2pay-button[state="opening"] li[data-step="openChannel"][data-s="active"]', T);
  await shot(shop, '1-storefront-opening-channel');
  await shop.waitForSelector('#confirmation:not([hidden])', T);
  await shop.unroute(slow);
  const progress = await shop.evaluate(() => window.progress);
  for (const s of ['approve:submitted', 'approve:mined', 'approve:confirmed', 'openChannel:submitted', 'openChannel:mined', 'openChannel:confirmed']) {
    assert.ok(progress.includes(s), `progress ${s} in ${progress}`);
  }

  const receipt = await shop.$eval('#receipt', (dl) => Object.fromEntries([...dl.querySelectorAll('dd')].map((d) => [d.dataset.field, d.textContent])));
  assert.equal(receipt.amount, '12.50 tUSD');
  assert.equal(receipt.fee, '0.00 tUSD');
  assert.equal(receipt.merchant.toLowerCase(), dev.config.merchantAddress.toLowerCase());
  assert.equal(sha256(receipt.preimage), receipt.paymentHash.toLowerCase(), 'the preimage proves payment');
  assert.match(await shop.textContent('#proof'), /sha256\(preimage\) equals the payment hash/);
  orders.push({ product: 'beans', price: 12_500_000n, paymentHash: receipt.paymentHash });
  await shop.waitForFunction(() => /37\.50 tUSD/.test(document.querySelector('#wallet-chip').textContent), undefined, T);
  assert.equal(await tokenBalance(dev, dev.config.fundingAccounts[0]), funderStart - 50n * USD, 'the deposit left account 0');
});

test('storefront: the second checkout pays at once through the open channel', async () => {
  await shop.click('#continue-btn');
  await checkout(shop, 'mug');
  const started = Date.now();
  await shop.click('l2pay-button .pay');
  await shop.waitForSelector('#confirmation:not([hidden])', T);
  const ms = Date.now() - started;
  const hash = await shop.getAttribute('#confirmation', 'data-payment-hash');
  assert.notEqual(hash, orders[0].paymentHash);
  assert.equal(await shop.textContent('[data-field="amount"]'), '8.00 tUSD');
  orders.push({ product: 'mug', price: 8_000_000n, paymentHash: hash });
  assert.equal(await shop.locator('#orders li').count(), 2, 'both orders listed');
  await shot(shop, '2-storefront-order-confirmed');
  console.log(`second checkout paid in ${ms} ms`);
  const { body } = await dev.api('/api/merchant/payments');
  for (const o of orders) {
    const p = body.payments.find((x) => x.paymentId.toLowerCase() === o.paymentHash.toLowerCase());
    assert.ok(p, `the merchant received ${o.product}`);
    assert.equal(BigInt(p.amount), o.price);
  }
});

test('stream: the meter pays per second while playing and stops when paused', async () => {
  await shop.goto(`${dev.base}/stream.html`);
  await shop.waitForSelector('#wallet-chip .dot.connected', T);
  await shop.click('#play-btn');
  await shop.waitForSelector('#meter[data-state="playing"]', T);
  await shop.waitForFunction(() => Number(document.querySelector('#count').textContent) >= 4, undefined, T);
  await shot(shop, '3-stream-playing');
  await shop.click('#play-btn');
  await shop.waitForSelector('#meter[data-state="paused"]', T);
  const count = await num(shop, '#count');
  assert.ok(count > 0, 'payments were made');
  await shop.waitForTimeout(2500);
  assert.equal(await num(shop, '#count'), count, 'no payment after pausing');
  assert.equal(await shop.textContent('#total'), `${(count / 100).toFixed(2)}tUSD`);
  assert.equal(await shop.isVisible('#player-msg'), false, 'no error while streaming');
  streamed = BigInt(count);
  const { body } = await dev.api('/api/merchant/payments');
  const micro = body.payments.filter((p) => /^Stream ·/.test(p.description ?? ''));
  assert.equal(micro.length, count, 'the merchant received one payment per count');
  assert.ok(micro.every((p) => BigInt(p.amount) === CENT));
});

test('merchant refunds part of an order from the dashboard; the wallet panel shows it', async () => {
  await shop.goto(`${dev.base}/wallet.html`);
  await shop.waitForSelector('#wallet-chip .dot.connected', T);
  await shop.waitForSelector(`#history tr[data-payment-hash="${orders[0].paymentHash}"]`, T);
  merchant = await context.newPage();
  watch(merchant, pageErrors);
  await merchant.goto(`${dev.base}/merchant.html`);
  const row = `#payments tr[data-payment-id="${orders[0].paymentHash.toLowerCase()}"]`;
  const rowAny = `#payments tr[data-payment-id="${orders[0].paymentHash}"], ${row}`;
  await merchant.waitForSelector(rowAny, T);
  const id = await merchant.getAttribute(rowAny, 'data-payment-id');
  await merchant.click(`tr[data-payment-id="${id}"] .refund`);
  assert.equal(await merchant.inputValue(`tr[data-refund-for="${id}"] input`), '12.5', 'the full amount is suggested');
  // Too much first: a clear refusal, nothing refunded.
  await merchant.fill(`tr[data-refund-for="${id}"] input`, '13');
  await merchant.click(`tr[data-refund-for="${id}"] .do-refund`);
  await merchant.waitForSelector(`tr[data-refund-for="${id}"] .msg.bad`, T);
  assert.match(await merchant.textContent(`tr[data-refund-for="${id}"] .msg`), /more than is left to refund/);
  await merchant.fill(`tr[data-refund-for="${id}"] input`, '5');
  await merchant.click(`tr[data-refund-for="${id}"] .do-refund`);
  await merchant.waitForFunction((id) => document.querySelector(`tr[data-payment-id="${id}"] [data-col="refunded"]`).textContent === '5.00 tUSD', id, T);
  await merchant.waitForFunction(() => document.querySelector('#s-refunded').textContent === '5.00 tUSD', undefined, T);
  await merchant.waitForSelector('#channels li', T);
  assert.equal(await merchant.locator('#channels li').count(), 2, 'the hub has two channels: the merchant and the shopper');
  await shot(merchant, '4-merchant-dashboard');
  const { body } = await dev.api('/api/merchant/payments');
  assert.equal(body.payments.find((p) => p.paymentId === id).refunded, String(5n * USD));

  await shop.bringToFront();
  const line = `#history tr[data-payment-hash="${orders[0].paymentHash}"] .refund-line:not([hidden])`;
  await shop.waitForSelector(line, T);
  assert.equal(await shop.textContent(line), '+5.00 tUSD refunded');
  const expected = 50n * USD - 12_500_000n - 8_000_000n - streamed * CENT + 5n * USD;
  const fmt = (v) => `${v / USD}.${String(v % USD).padStart(6, '0').slice(0, 2)} tUSD`;
  await shop.waitForFunction((t) => document.querySelector('#b-available').textContent === t, fmt(expected), T);
  await shot(shop, '5-wallet-refund-received');
});

test('backup downloads; a wrong passphrase is refused; the right one restores', async () => {
  const before = await shop.textContent('#b-available');
  await shop.fill('#backup-pass', 'short');
  await shop.click('#backup-btn');
  await shop.waitForSelector('#backup-msg.bad', T);
  assert.match(await shop.textContent('#backup-msg'), /at least 8 characters/);
  await shop.fill('#backup-pass', 'correct horse battery');
  const [download] = await Promise.all([shop.waitForEvent('download', T), shop.click('#backup-btn')]);
  assert.match(download.suggestedFilename(), /^l2pay-wallet-backup-\d{4}-\d\d-\d\d\.json$/);
  const file = await download.path();
  const text = readFileSync(file, 'utf8');
  assert.equal(JSON.parse(text).l2payBackup, 1);
  assert.ok(!text.includes('"key":['), 'the backup is encrypted');

  await shop.setInputFiles('#restore-file', file);
  await shop.fill('#restore-pass', 'wrong passphrase');
  await shop.click('#restore-btn');
  await shop.waitForSelector('#restore-msg.bad', T);
  assert.match(await shop.textContent('#restore-msg'), /passphrase does not open this backup/);
  await shop.fill('#restore-pass', 'correct horse battery');
  await shop.click('#restore-btn');
  await shop.waitForSelector('#restore-msg.good', T);
  assert.match(await shop.textContent('#restore-msg'), /Wallet restored/);
  await shop.waitForSelector('#wallet-chip .dot.connected', T);
  await shop.waitForFunction((t) => document.querySelector('#b-available').textContent === t, before, T);
});

test('withdraw and close from the wallet panel; final on-chain balances are exact', async () => {
  const funder = dev.config.fundingAccounts[0];
  const spent = 12_500_000n + 8_000_000n + streamed * CENT - 5n * USD; // what the shopper paid, net
  await shop.fill('#withdraw-amount', '10');
  await shop.click('#withdraw-btn');
  await shop.waitForSelector('#channel-msg.good', T);
  assert.match(await shop.textContent('#channel-msg'), /10\.00 tUSD withdrawn/);
  assert.equal(await tokenBalance(dev, funder), funderStart - 50n * USD + 10n * USD);

  await shop.click('#close-btn');
  assert.match(await shop.textContent('#close-text'), /pays your .* back/);
  await shop.click('#close-yes');
  await shop.waitForSelector('#channel-msg.good', T);
  const payout = 40n * USD - spent;
  const text = await shop.textContent('#channel-msg');
  assert.ok(text.includes('Channel closed.'), text);
  await shop.waitForSelector('#open-panel:not([hidden])', T);
  await shop.waitForFunction(() => /No channel yet/.test(document.querySelector('#wallet-chip').textContent), undefined, T);
  await shot(shop, '6-wallet-closed');

  // The shopper got back everything but what they spent; the hub holds what it forwarded;
  // the merchant's money stays off chain in its channel; the contract keeps only that channel.
  assert.equal(await tokenBalance(dev, funder), funderStart - spent, 'account 0: start − net spending');
  assert.equal(await tokenBalance(dev, funder), funderStart - 50n * USD + 10n * USD + payout);
  assert.equal(await tokenBalance(dev, dev.config.hubAddress), hubStart + spent, 'hub: its side of the closed channel');
  assert.equal(await tokenBalance(dev, dev.config.merchantAddress), 0n, 'merchant: nothing on chain');
  assert.equal(await tokenBalance(dev, dev.config.adjudicator), 50_000n * USD, 'adjudicator: the merchant channel only');
  const { body } = await dev.api('/api/merchant/overview');
  assert.equal(BigInt(body.merchant.offChainBalance), spent, 'merchant: paid off chain, net of the refund');
  assert.equal(body.merchant.locked, '0');
  assert.deepEqual(pageErrors, []);
});

test('clear messages: deposit too small, channel too short, expired invoice, chain unreachable', async () => {
  const ctx = await browser.newContext({ viewport: { width: 1280, height: 860 } });
  const page = await ctx.newPage();
  watch(page, pageErrors);
  try {
    // Deposit too small for the first payment.
    await page.goto(`${dev.base}/`);
    await page.waitForSelector('#wallet-chip .dot.connected', T);
    await checkout(page, 'beans');
    await page.click('l2pay-button .pay');
    await page.waitForSelector('l2pay-button[state="setup"]', T);
    await page.fill('l2pay-button input[name="deposit"]', '2');
    await page.click('l2pay-button .open');
    await page.waitForFunction(() => /cannot cover/.test(document.querySelector('l2pay-button').shadowRoot.querySelector('.status').textContent), undefined, T);
    assert.match(await page.textContent('l2pay-button .status'), /A deposit of 2\.00 tUSD cannot cover this 12\.50 tUSD payment/);
    assert.equal(await page.getAttribute('l2pay-button', 'state'), 'setup', 'nothing was opened');

    // An expired invoice: the element says so and offers nothing to retry.
    const short = await dev.api('/api/merchant/invoices', { amount: String(USD), description: 'short-lived', ttlSecs: 1 });
    await new Promise((r) => setTimeout(r, 1500));
    await page.evaluate((inv) => {
      const b = document.createElement('l2pay-button');
      b.id = 'expired';
      b.setAttribute('invoice', inv);
      document.querySelector('#cart').append(b);
    }, short.body.invoice);
    await page.click('#expired .pay');
    await page.waitForSelector('#expired[state="failed"]', T);
    assert.match(await page.textContent('#expired .status'), /This invoice has expired/);
    assert.equal(await page.isDisabled('#expired .pay'), true);

    // A channel too small for the order: opened from the wallet page with 2 tUSD.
    await page.goto(`${dev.base}/wallet.html`);
    await page.waitForSelector('#open-panel:not([hidden])', T);
    await page.fill('#open-amount', '2');
    await page.click('#open-btn');
    await page.waitForSelector('#channel-msg.good', T);
    await page.goto(`${dev.base}/`);
    await page.waitForSelector('#checkout:not([hidden]), #checkout-btn:not([disabled])', T);
    if (await page.isHidden('#checkout')) {
      await page.click('#checkout-btn');
    }
    await page.waitForSelector('l2pay-button[invoice][state="idle"]', T);
    await page.click('l2pay-button .pay');
    await page.waitForSelector('l2pay-button[state="failed"]', T);
    assert.match(await page.textContent('l2pay-button .status'), /Your channel holds 2\.00 tUSD; this payment needs 12\.50 tUSD\. Top up/);
    await shot(page, '7-storefront-channel-too-small');

    // The chain unreachable: reads and on-chain steps say so; nothing breaks.
    await page.goto(`${dev.base}/wallet.html`);
    await page.waitForSelector('#manage-panel:not([hidden])', T);
    const chainPort = new URL(dev.config.rpcUrl).port;
    const down = (url) => url.port === chainPort;
    await page.route(down, (route) => route.abort('connectionrefused'));
    await page.fill('#topup-amount', '5');
    await page.click('#topup-btn');
    await page.waitForSelector('#channel-msg.bad', T);
    assert.match(await page.textContent('#channel-msg'), /blockchain node is unreachable/);
    await page.waitForFunction(() => document.querySelector('#b-onchain').textContent === 'unavailable', undefined, T);
    await shot(page, '8-wallet-chain-unreachable');
    await page.unroute(down);
  } finally {
    await ctx.close();
  }
  assert.deepEqual(pageErrors, []);
});

test('clear messages: the hub down shows a banner, and paying says why it cannot', async () => {
  const ctx = await browser.newContext({ viewport: { width: 1280, height: 860 } });
  // Every WebSocket to the hub is closed at once, as if the hub were down.
  await ctx.routeWebSocket(/\/ws$/, (ws) => ws.close());
  const page = await ctx.newPage();
  watch(page, pageErrors);
  try {
    await page.goto(`${dev.base}/`);
    await page.waitForSelector('[data-banner="hub"]', T);
    assert.match(await page.textContent('[data-banner="hub"]'), /payment hub is unreachable/);
    await checkout(page, 'notebook');
    await page.click('l2pay-button .pay');
    await page.waitForSelector('l2pay-button[state="failed"]', T);
    assert.match(await page.textContent('l2pay-button .status'), /payment hub is not answering/);
    await shot(page, '9-storefront-hub-down');
  } finally {
    await ctx.close();
  }
  assert.deepEqual(pageErrors, []);
});
