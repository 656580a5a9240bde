// The browser SDK end to end in headless Chromium against a real hub, anvil and the demo
// merchant (the devnet binary): open a channel through the EIP-1193 provider, pay, receive a
// refund, top up, withdraw, reload mid-payment, reconnect after a dropped connection, two
// tabs on one wallet, backup → clear site data → restore, close (cooperative and unilateral).
//
// Run: node --test tests/e2e/sdk.spec.mjs (scripts/test.sh builds pkg/ first).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createDecipheriv, createHash, pbkdf2Sync } from 'node:crypto';
import { join } from 'node:path';
import { ROOT, startDevnet, tokenBalance, launchBrowser } from './devnet.mjs';
import { walletPage } from './page.mjs';

const USD = 1_000_000n; // tUSD has 6 decimals
// The `webln` package's browser build (a devDependency): what storefronts call.
const WEBLN_UMD = join(ROOT, 'node_modules', 'webln', 'dist', 'webln.min.js');
let dev;
let browser;
let context;
let page;
let openWallet;
let inPage;
let invoice;
let until;

before(async () => {
  dev = await startDevnet();
  ({ openWallet, inPage, invoice, until } = walletPage(dev));
  browser = await launchBrowser();
  context = await browser.newContext();
  page = await context.newPage();
  page.on('pageerror', (e) => console.error('page error:', e));
});

after(async () => {
  await browser?.close();
  await dev?.stop();
});

test('open a channel through the provider, pay an invoice, get the receipt', async () => {
  const funder = dev.config.fundingAccounts[0];
  const before = await tokenBalance(dev, funder);
  const { role, address } = await openWallet(page);
  assert.equal(role, 'leader');
  assert.match(address, /^0x[0-9a-fA-F]{40}$/);
  const ch = await inPage(page, (w) => w.openChannel({ deposit: 100_000_000n }));
  assert.equal(ch.status, 'open');
  assert.equal(ch.available, String(100n * USD));
  assert.equal(await tokenBalance(dev, funder), before - 100n * USD, 'the deposit came from the provider account');
  const stages = await page.evaluate(() => window.events.filter((x) => x.e === 'chain').map((x) => `${x.payload.label}:${x.payload.stage}`));
  for (const s of ['approve:submitted', 'openChannel:mined', 'openChannel:confirmed']) assert.ok(stages.includes(s), s);

  const inv = await invoice(12n * USD, 'mug');
  const receipt = await inPage(page, (w, inv) => w.pay(inv), inv.invoice);
  assert.equal(receipt.amount, String(12n * USD));
  assert.equal(receipt.description, 'mug');
  const hash = '0x' + createHash('sha256').update(Buffer.from(receipt.preimage.slice(2), 'hex')).digest('hex');
  assert.equal(hash, inv.paymentHash.toLowerCase(), 'the preimage proves payment');
  const bal = await inPage(page, (w) => w.balance());
  assert.equal(BigInt(bal.available), 88n * USD - BigInt(receipt.fee));
  const merchant = await dev.api('/api/merchant/payments');
  assert.ok(JSON.stringify(merchant.body).toLowerCase().includes(inv.paymentHash.slice(2).toLowerCase()));

  // One payment per invoice: paying it again gives the same receipt and spends nothing...
  const again = await inPage(page, (w, inv) => w.pay(inv), inv.invoice);
  assert.equal(again.preimage, receipt.preimage);
  assert.equal(again.fee, receipt.fee);
  assert.equal((await inPage(page, (w) => w.balance())).available, bal.available, 'nothing paid twice');
  // ...and two calls at once for a new invoice are one payment.
  const inv2 = await invoice(3n * USD, 'spoon');
  const [a, b] = await inPage(page, (w, i) => Promise.all([w.pay(i), w.pay(i)]), inv2.invoice);
  assert.equal(a.preimage, b.preimage);
  const after = await inPage(page, (w) => w.balance());
  assert.equal(BigInt(after.available), BigInt(bal.available) - 3n * USD - BigInt(a.fee), 'paid once');
});

test('typed errors: overspend, garbage invoice, expired invoice; nothing changes', async () => {
  const before = await inPage(page, (w) => w.channel());
  const big = await invoice(1000n * USD, 'too much');
  const short = await dev.api('/api/merchant/invoices', { amount: String(USD), description: 'short-lived', ttlSecs: 1 });
  await new Promise((r) => setTimeout(r, 2100));
  const codes = await inPage(page, async (w, invs) => {
    const out = [];
    for (const i of [...invs, 'l2pay1garbage', 42]) {
      try {
        await w.pay(i);
        out.push('paid');
      } catch (e) {
        out.push(`${e instanceof Error && e.name}:${e.code}`);
      }
    }
    return out;
  }, [big.invoice, short.body.invoice]);
  assert.deepEqual(codes, [
    'L2payError:INVALID_UPDATE',
    'L2payError:INVOICE_EXPIRED',
    'L2payError:INVALID_INVOICE',
    'L2payError:INVALID_INVOICE',
  ]);
  const after = await inPage(page, (w) => w.channel());
  assert.deepEqual(after, before);
});

test('a refund issued by the merchant arrives as an event and shows in history', async () => {
  const hist = await inPage(page, (w) => w.history());
  const paid = hist.find((h) => h.description === 'mug');
  const r = await dev.api('/api/merchant/refunds', { paymentId: paid.paymentHash, amount: String(5n * USD) });
  assert.ok(r.status >= 200 && r.status < 300, JSON.stringify(r.body));
  await until(page, () => window.events.some((x) => x.e === 'refund'), undefined, 'refund event');
  const after = await inPage(page, (w) => w.history());
  assert.equal(after.find((h) => h.paymentHash === paid.paymentHash).refunded, String(5n * USD));
  const over = await dev.api('/api/merchant/refunds', { paymentId: paid.paymentHash, amount: String(8n * USD) });
  assert.ok(over.status >= 400 && over.status < 500, 'refunding more than was paid is refused');
});

test('top up and withdraw through the provider', async () => {
  const funder = dev.config.fundingAccounts[0];
  const before = await inPage(page, (w) => w.balance());
  await inPage(page, (w) => w.topUp(20_000_000n));
  const topped = await inPage(page, (w) => w.balance());
  assert.equal(BigInt(topped.available), BigInt(before.available) + 20n * USD);
  const chainBefore = await tokenBalance(dev, funder);
  await inPage(page, (w) => w.withdraw('7000000'));
  const after = await inPage(page, (w) => w.balance());
  assert.equal(BigInt(after.available), BigInt(topped.available) - 7n * USD);
  assert.equal(await tokenBalance(dev, funder), chainBefore + 7n * USD, 'withdrawal paid to the provider account');
});

test('reload in the middle of a payment: it finishes after the reload', async () => {
  const inv = await invoice(3n * USD, 'reload');
  const before = await inPage(page, (w) => w.balance());
  // Reload as soon as the payment is durably on record (with its HTLC, in one transaction),
  // before the hub had time to settle it.
  await page.evaluate(async ({ i, hash }) => {
    window.wallet.pay(i).catch(() => {});
    while (!(await window.wallet.store.get('payments', hash))) await new Promise((r) => setTimeout(r, 0));
  }, { i: inv.invoice, hash: inv.paymentHash });
  await page.reload();
  await openWallet(page);
  await until(page, async (hash) => (await window.wallet.history()).some((h) => h.paymentHash === hash && h.status !== 'pending'), inv.paymentHash, 'payment resolved after reload');
  await until(page, async () => (await window.wallet.balance()).locked === 0n, undefined, 'nothing left locked');
  const entry = (await inPage(page, (w) => w.history())).find((h) => h.paymentHash === inv.paymentHash);
  const after = await inPage(page, (w) => w.balance());
  // The HTLC was stored with the record before the reload: the payment completes.
  assert.equal(entry.status, 'settled');
  assert.match(entry.preimage, /^0x[0-9a-f]{64}$/);
  assert.equal(BigInt(after.available), BigInt(before.available) - 3n * USD - BigInt(entry.fee));
});

test('a dropped hub connection reconnects and payments continue', async () => {
  await page.evaluate(() => {
    window.events = [];
    window.wallet.dropConnection();
  });
  await until(page, () => window.events.some((x) => x.e === 'connection' && x.payload.state === 'disconnected'), undefined, 'disconnected event');
  await until(page, () => window.wallet.connectionState === 'connected', undefined, 'reconnected');
  const inv = await invoice(1n * USD, 'after reconnect');
  const r = await inPage(page, (w, i) => w.pay(i), inv.invoice);
  assert.ok(r.preimage);
});

test('offline, then online: a payment started offline completes when the network returns', async () => {
  await context.setOffline(true);
  await page.evaluate(() => window.wallet.dropConnection());
  await until(page, () => window.wallet.connectionState !== 'connected', undefined, 'offline');
  const inv = await invoice(1n * USD, 'offline');
  await page.evaluate((i) => {
    window.offlinePay = window.wallet.pay(i, { timeoutMs: 60000 }).then((r) => r.preimage, (e) => e.code);
  }, inv.invoice);
  await new Promise((r) => setTimeout(r, 1500));
  assert.notEqual(await page.evaluate(() => window.wallet.connectionState), 'connected', 'still offline');
  await context.setOffline(false);
  const res = await page.evaluate(() => window.offlinePay);
  assert.match(res, /^0x[0-9a-f]{64}$/, `paid after coming back online (got ${res})`);
});

test('two tabs: the second forwards to the first, and takes over when it closes', async () => {
  const page2 = await context.newPage();
  const { role } = await openWallet(page2);
  assert.equal(role, 'follower');
  const inv = await invoice(2n * USD, 'from tab 2');
  const r = await inPage(page2, (w, i) => w.pay(i), inv.invoice);
  assert.ok(r.preimage, 'paid through the leading tab');
  const b1 = await inPage(page, (w) => w.balance());
  const b2 = await inPage(page2, (w) => w.balance());
  assert.deepEqual(b1, b2, 'one channel, one state');
  // A restore from the second tab would replace the wallet under the first: refused.
  const restoreWhileLed = await page2.evaluate(async () => {
    const { Wallet } = await import('/pkg/index.js');
    return Wallet.restore({ key: '0x' + '11'.repeat(32), name: 'shopper', hubUrl: window.cfg.hubUrl, chain: { provider: { request: async () => [] } } })
      .then(() => 'restored', (e) => e.code);
  });
  assert.equal(restoreWhileLed, 'WALLET_IN_USE');
  await page.close();
  await until(page2, () => window.wallet.role === 'leader', undefined, 'tab 2 takes over');
  await until(page2, () => window.wallet.connectionState === 'connected', undefined, 'tab 2 connected');
  const inv2 = await invoice(1n * USD, 'tab 2 leads');
  const r2 = await inPage(page2, (w, i) => w.pay(i), inv2.invoice);
  assert.ok(r2.preimage);
  page = page2;
});

/** Deletes the wallet's IndexedDB database, as "clear site data" does. */
async function clearSiteData(p, name = 'shopper') {
  await p.evaluate(async (name) => {
    await window.wallet.dispose();
    await new Promise((res, rej) => {
      const r = indexedDB.deleteDatabase(`l2pay:${name}`);
      r.onsuccess = res;
      r.onerror = () => rej(r.error);
    });
  }, name);
}

/** Restores in the page with `opts` (backup + passphrase, or key) and the devnet settings. */
function restoreInPage(p, opts) {
  return p.evaluate(async (opts) => {
    const { Wallet, httpProvider } = await import('/pkg/index.js');
    const cfg = window.cfg;
    try {
      window.wallet = await Wallet.restore({
        ...opts, name: 'shopper', hubUrl: cfg.hubUrl, challengePeriod: cfg.challengePeriod,
        chain: { provider: httpProvider(cfg.rpcUrl, { account: cfg.fundingAccounts[0] }), token: cfg.token, pollMs: 50 },
      });
      return 'restored';
    } catch (e) {
      return e.code;
    }
  }, opts);
}

/** Decrypts a backup outside the browser (PBKDF2-SHA-256 + AES-GCM, the documented format). */
function decryptBackup(backup, passphrase) {
  const env = JSON.parse(backup);
  const key = pbkdf2Sync(passphrase, Buffer.from(env.kdf.salt, 'base64'), env.kdf.iterations, 32, 'sha256');
  const ct = Buffer.from(env.ct, 'base64');
  const d = createDecipheriv('aes-256-gcm', key, Buffer.from(env.iv, 'base64'));
  d.setAuthTag(ct.subarray(ct.length - 16));
  return JSON.parse(Buffer.concat([d.update(ct.subarray(0, ct.length - 16)), d.final()]).toString());
}

test('an old backup, site data cleared, restore: the newer state comes back from the hub', async () => {
  const backup = await inPage(page, (w) => w.exportBackup('correct horse battery'));
  assert.ok(!backup.includes('"key":['), 'the backup is encrypted');
  // Pay after the backup: the backup is now stale.
  const inv = await invoice(2n * USD, 'after the backup');
  await inPage(page, (w, i) => w.pay(i), inv.invoice);
  const current = await inPage(page, (w) => w.channel());
  await clearSiteData(page);
  assert.equal(await restoreInPage(page, { backup, passphrase: 'wrong passphrase' }), 'WRONG_PASSPHRASE');
  assert.equal(await restoreInPage(page, { backup, passphrase: 'correct horse battery' }), 'restored');
  await until(page, async (nonce) => (await window.wallet.channel())?.nonce >= nonce, current.nonce, 'recovered from the hub');
  const restored = await inPage(page, (w) => w.channel());
  assert.ok(restored.nonce >= current.nonce);
  assert.deepEqual({ ...restored, nonce: 0 }, { ...current, nonce: 0 }, 'the balances after the stale backup');
  const hist = await inPage(page, (w) => w.history());
  assert.ok(hist.some((h) => h.description === 'mug' && h.refunded === String(5n * USD)), 'history from the backup, refund included');
  assert.ok(hist.some((h) => h.paymentHash.toLowerCase() === inv.paymentHash.toLowerCase()), 'the payment made after the backup is known');
  const next = await invoice(1n * USD, 'after restore');
  assert.ok((await inPage(page, (w, i) => w.pay(i), next.invoice)).preimage);
  decryptBackup(backup, 'correct horse battery'); // the format is the documented one
});

test('restore from the key alone: the channel comes back from the hub', async () => {
  const backup = await inPage(page, (w) => w.exportBackup('another passphrase'));
  const secret = decryptBackup(backup, 'another passphrase').key;
  const key = '0x' + Buffer.from(secret).toString('hex');
  const current = await inPage(page, (w) => w.channel());
  await clearSiteData(page);
  assert.equal(await restoreInPage(page, { key }), 'restored');
  await until(page, async () => (await window.wallet.channel()) !== null, undefined, 'channel recovered');
  const restored = await inPage(page, (w) => w.channel());
  assert.ok(restored.nonce >= current.nonce);
  assert.deepEqual({ ...restored, nonce: 0 }, { ...current, nonce: 0 });
  await until(page, () => window.wallet.connectionState === 'connected', undefined, 'connected');
  const inv = await invoice(1n * USD, 'after key-only restore');
  assert.ok((await inPage(page, (w, i) => w.pay(i), inv.invoice)).preimage);
});

test('WebLN: requestProvider() from the webln package finds the wallet, which pays, looks up and signs', async () => {
  const inv = await invoice(1n * USD, 'webln');
  await page.addScriptTag({ path: WEBLN_UMD });
  const r = await page.evaluate(async (i) => {
    const installed = window.wallet.webln({ install: true });
    const webln = await window.WebLN.requestProvider();
    const info = await webln.getInfo();
    const before = await webln.getBalance();
    const res = await webln.sendPayment(i);
    const looked = await webln.lookupInvoice({ paymentRequest: i });
    const signed = await webln.signMessage('order 42');
    const verified = await webln.verifyMessage(signed.signature, 'order 42').then(() => 'ok', (e) => e.code);
    const forged = await webln.verifyMessage(signed.signature, 'order 43').then(() => 'ok', (e) => e.code);
    const refused = [];
    for (const m of ['makeInvoice', 'keysend', 'lnurl']) refused.push(await webln[m]({}).then(() => 'ok', (e) => `${e.name}:${e.code}`));
    return { same: webln === installed, enabled: await webln.isEnabled(), info, before, res, looked, verified, forged, refused, address: window.wallet.address };
  }, inv.invoice);
  assert.ok(r.same, 'requestProvider found window.webln');
  assert.ok(r.enabled);
  assert.equal(r.info.node.alias, 'l2pay');
  assert.equal(r.info.node.pubkey, r.address);
  assert.match(r.info.version, /^l2pay\/\d+\.\d+\.\d+/);
  for (const m of ['sendPayment', 'getBalance', 'lookupInvoice', 'signMessage', 'verifyMessage']) assert.ok(r.info.methods.includes(m), m);
  assert.equal(typeof r.before.balance, 'number');
  assert.match(r.res.preimage, /^[0-9a-f]{64}$/);
  assert.deepEqual(r.looked, { paymentRequest: inv.invoice, paid: true, preimage: r.res.preimage });
  assert.equal(r.verified, 'ok');
  assert.equal(r.forged, 'BAD_SIGNATURE');
  assert.deepEqual(r.refused, Array(3).fill('UnsupportedMethodError:UNSUPPORTED_METHOD'));
  // A follower tab's provider names the same key.
  const page2 = await context.newPage();
  await openWallet(page2);
  await until(page2, () => window.wallet.address !== null, undefined, 'the follower learns the address');
  const info2 = await page2.evaluate(() => window.wallet.webln().getInfo());
  assert.equal(info2.node.pubkey, r.address);
  await page2.close();
});

test('cooperative close pays the channel balance back to the provider account', async () => {
  const funder = dev.config.fundingAccounts[0];
  const bal = await inPage(page, (w) => w.balance());
  const chainBefore = await tokenBalance(dev, funder);
  const res = await inPage(page, (w) => w.close());
  assert.equal(res.how, 'closed');
  assert.equal(res.payout, bal.available);
  assert.equal(await tokenBalance(dev, funder), chainBefore + BigInt(bal.available));
  assert.equal(await inPage(page, (w) => w.channel()), null);
  // The hub lists the channel as closed once its watcher saw the close.
  const me = (await page.evaluate(() => window.wallet.address)).toLowerCase();
  const deadline = Date.now() + 30000;
  let status;
  while (Date.now() < deadline) {
    const { body } = await dev.api('/api/merchant/overview');
    status = body.hub.channels.find((c) => c.client.toLowerCase() === me && c.status === 'closed')?.status;
    if (status) break;
    await new Promise((r) => setTimeout(r, 200));
  }
  assert.equal(status, 'closed');
});

test('unilateral close when the hub does not answer: dispute followed to the end', async () => {
  const p = await context.newPage();
  await openWallet(p, 'solo', 1);
  // More than the account holds: the funding reverts, and the wallet is not left stuck.
  const failed = await p.evaluate(() => window.wallet.openChannel({ deposit: 20_000_000_000n }).then(() => 'opened', (e) => e.code));
  assert.equal(failed, 'CHAIN_ERROR');
  assert.equal(await inPage(p, (w) => w.channel()), null);
  await inPage(p, (w) => w.openChannel({ deposit: 10_000_000n }));
  const errors = await p.evaluate(() => window.events.filter((x) => x.e === 'error').map((x) => x.payload.code));
  assert.deepEqual(errors, [], 'opening a channel raises no hub error');
  const inv = await invoice(4n * USD, 'before going solo');
  await inPage(p, (w, i) => w.pay(i), inv.invoice);
  const funder = dev.config.fundingAccounts[1];
  const chainBefore = await tokenBalance(dev, funder);
  const closing = p.evaluate(() => window.wallet.close({ unilateral: true }).then((r) => ({ ...r, payout: r.payout.toString() })));
  await until(p, () => window.events.some((x) => x.e === 'chain' && x.payload.step === 'challengePeriod'), undefined, 'close registered');
  await dev.rpc('evm_increaseTime', [dev.config.challengePeriod + 1]);
  await dev.rpc('evm_mine', []);
  const res = await closing;
  assert.equal(res.how, 'settled');
  assert.equal(BigInt(res.payout), 6n * USD);
  assert.equal(await tokenBalance(dev, funder), chainBefore + 6n * USD);
});
