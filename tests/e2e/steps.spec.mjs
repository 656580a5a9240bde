// Every SDK call has one definite outcome, in headless Chromium against the devnet: bad
// options and amounts get their documented codes before anything happens, a channel the hub
// would refuse costs nothing, and each on-chain step interrupted by a rejected prompt, a
// timeout or a reload is finished by the same call again, with the chain's totals exact.
//
// Run: node --test tests/e2e/steps.spec.mjs (scripts/test.sh builds pkg/ first).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startDevnet, tokenBalance, launchBrowser } from './devnet.mjs';
import { walletPage } from './page.mjs';

const USD = 1_000_000n;
const ACCOUNT = 2;
let dev;
let browser;
let context;
let page;
let h;

before(async () => {
  dev = await startDevnet();
  h = walletPage(dev);
  browser = await launchBrowser();
  context = await browser.newContext();
  page = await context.newPage();
  page.on('pageerror', (e) => console.error('page error:', e));
});

after(async () => {
  await browser?.close();
  await dev?.stop();
});

const funder = () => dev.config.fundingAccounts[ACCOUNT];

test('bad options, amounts, keys and backups get their codes; a failed open keeps no lock', async () => {
  await page.goto(`${dev.base}/sdk.html`);
  const codes = await page.evaluate(async () => {
    const { Wallet, httpProvider } = await import('/pkg/index.js');
    const cfg = await (await fetch('/devnet.json')).json();
    const chain = { provider: httpProvider(cfg.rpcUrl, { account: cfg.fundingAccounts[3] }), token: cfg.token };
    const base = { hubUrl: cfg.hubUrl, chain, challengePeriod: cfg.challengePeriod };
    const code = (p) => p.then(() => 'ok', (e) => e.code);
    const out = {
      badUrl: await code(Wallet.open({ ...base, hubUrl: 'not a url' })),
      httpUrl: await code(Wallet.open({ ...base, hubUrl: 'http://127.0.0.1:1/ws' })),
      badPeriod: await code(Wallet.open({ ...base, challengePeriod: 10 })),
      noWallet: await code(Wallet.open({ ...base, name: 'never-made' })),
      badKey: await code(Wallet.restore({ ...base, name: 'r', key: '0x1234' })),
      zeroKey: await code(Wallet.restore({ ...base, name: 'r', key: '0x' + '00'.repeat(32) })),
      badBackup: await code(Wallet.restore({ ...base, name: 'r', backup: '{"l2payBackup":1}', passphrase: 'whatever123' })),
    };
    // A wallet protected by a passphrase, opened with the wrong one, then the right one in the
    // same tab: the failed open held no lock, so the second leads.
    const w = await Wallet.open({ ...base, name: 'locked', create: true, passphrase: 'right passphrase' });
    await w.dispose();
    out.wrong = await code(Wallet.open({ ...base, name: 'locked', passphrase: 'wrong passphrase' }));
    const again = await Wallet.open({ ...base, name: 'locked', passphrase: 'right passphrase' });
    out.role = again.role;
    out.noArg = await code(again.openChannel());
    out.huge = await code(again.openChannel({ deposit: 1n << 128n }));
    out.hugeString = await code(again.topUp('340282366920938463463374607431768211456'));
    const storage = await again.storage();
    out.backedUpBefore = storage.backedUpAt;
    out.persisted = typeof storage.persisted;
    out.key = (await again.exportKey()).length;
    out.backedUpAfter = typeof (await again.storage()).backedUpAt;
    await again.dispose();
    // A tab holds the wallet's lock but serves nothing (it hangs): a follower's call gets
    // NO_LEADER, nothing done, instead of waiting forever.
    navigator.locks.request('l2pay:orphan', () => new Promise(() => {}));
    const follower = await Wallet.open({ ...base, name: 'orphan', create: true });
    out.followerRole = follower.role;
    out.noLeader = await follower.channel().then(() => 'ok', (e) => `${e.code}:${e.mayComplete}`);
    return out;
  });
  assert.deepEqual(codes, {
    badUrl: 'INVALID_OPTIONS',
    httpUrl: 'INVALID_OPTIONS',
    badPeriod: 'INVALID_OPTIONS',
    noWallet: 'NO_WALLET',
    badKey: 'INVALID_KEY',
    zeroKey: 'INVALID_KEY',
    badBackup: 'INVALID_BACKUP',
    wrong: 'WRONG_PASSPHRASE',
    role: 'leader',
    noArg: 'INVALID_AMOUNT',
    huge: 'INVALID_AMOUNT',
    hugeString: 'INVALID_AMOUNT',
    backedUpBefore: null,
    persisted: 'boolean',
    key: 66,
    backedUpAfter: 'number',
    followerRole: 'follower',
    noLeader: 'NO_LEADER:false',
  });
});

test('a channel the hub would refuse is refused before any transaction', async () => {
  // A token the hub does not serve (its welcome lists the ones it does).
  await h.openWallet(page, 'refused', ACCOUNT);
  const r = await page.evaluate(async () => {
    const { Wallet } = await import('/pkg/index.js');
    await window.wallet.dispose();
    const w = await Wallet.open({
      name: 'refused', create: true, hubUrl: window.cfg.hubUrl, challengePeriod: window.cfg.challengePeriod,
      chain: { provider: window.provider, token: '0x00000000000000000000000000000000deadbeef', pollMs: 50 },
    });
    const code = await w.openChannel({ deposit: 1_000_000n }).then(() => 'opened', (e) => e.code);
    const channel = await w.channel();
    await w.dispose();
    return { code, channel, sends: window.provider.sends };
  });
  assert.deepEqual(r, { code: 'BAD_CHANNEL', channel: null, sends: 0 });
});

test('a rejected or timed-out step is definite, and the same call finishes it', async () => {
  await h.openWallet(page, 'steps', ACCOUNT);
  // Open: the approval is rejected in the wallet; nothing happened, the next open works.
  await page.evaluate(() => (window.provider.rejectSends = 1));
  const rejected = await h.outcome(page, (w) => w.openChannel({ deposit: 30_000_000n }));
  assert.equal(rejected.code, 'USER_REJECTED');
  assert.equal(rejected.mayComplete, false);
  assert.equal(await h.inPage(page, (w) => w.channel()), null);
  const start = await tokenBalance(dev, funder());
  const opened = await h.inPage(page, (w) => w.openChannel({ deposit: 30_000_000n }));
  assert.equal(opened.status, 'open');
  assert.equal(await tokenBalance(dev, funder()), start - 30n * USD);

  // Another key does not silently take the place of a wallet that has a channel.
  const replaced = await page.evaluate(async () => {
    const { Wallet } = await import('/pkg/index.js');
    await window.wallet.dispose();
    const opts = { name: 'steps', hubUrl: window.cfg.hubUrl, chain: { provider: window.provider } };
    return Wallet.restore({ ...opts, key: '0x' + '22'.repeat(32) }).then(() => 'restored', (e) => e.code);
  });
  assert.equal(replaced, 'WALLET_EXISTS');
  await h.openWallet(page, 'steps', ACCOUNT);
  assert.equal((await h.inPage(page, (w) => w.channel())).status, 'open');

  // Another chain in the provider: refused before anything is signed or sent.
  await page.evaluate(() => (window.provider.chainId = '0x1'));
  for (const f of [(w) => w.topUp(1n), (w) => w.withdraw(1n), (w) => w.close()]) {
    assert.equal((await h.outcome(page, f)).code, 'WRONG_CHAIN');
  }
  await page.evaluate(() => (window.provider.chainId = null));
  assert.equal((await h.inPage(page, (w) => w.channel())).nonce, opened.nonce, 'nothing changed');

  // A receipt that never comes: the top-up gives up in its timeout (here at the approval, so
  // the deposit is never sent) and says it may complete.
  await page.evaluate(() => (window.provider.hideReceipts = true));
  const slow = await h.outcome(page, (w) => w.topUp(2_000_000n, { timeoutMs: 1500 }));
  assert.equal(slow.code, 'TIMEOUT');
  assert.equal(slow.mayComplete, true);
  assert.match(slow.txHash, /^0x[0-9a-f]{64}$/);
  await page.evaluate(() => (window.provider.hideReceipts = false));

  // Withdraw: agreed with the hub, then the transaction is rejected. The amount is owed on
  // chain; another amount is refused; the same amount finishes it, paying exactly that.
  await page.evaluate(() => (window.provider.rejectSends = 1));
  const w1 = await h.outcome(page, (w) => w.withdraw(3_000_000n));
  assert.equal(w1.code, 'USER_REJECTED');
  assert.equal(w1.pendingWithdrawal, String(3n * USD));
  assert.equal((await h.inPage(page, (w) => w.channel())).pendingWithdrawal, String(3n * USD));
  const other = await h.outcome(page, (w) => w.withdraw(1_000_000n));
  assert.equal(other.code, 'WITHDRAWAL_PENDING');
  assert.equal(other.pendingWithdrawal, String(3n * USD));
  const beforeWithdraw = await tokenBalance(dev, funder());
  await h.inPage(page, (w) => w.withdraw(3_000_000n));
  assert.equal(await tokenBalance(dev, funder()), beforeWithdraw + 3n * USD, 'exactly the agreed withdrawal');
  assert.equal((await h.inPage(page, (w) => w.channel())).pendingWithdrawal, '0');

  // Close: agreed, then the transaction is rejected. The channel is final (no payments), and
  // close() again sends the cooperative close, not a unilateral one.
  const inv = await h.invoice(4n * USD, 'before close');
  await h.inPage(page, (w, i) => w.pay(i), inv.invoice);
  const bal = await h.inPage(page, (w) => w.balance());
  await page.evaluate(() => (window.provider.rejectSends = 1));
  assert.equal((await h.outcome(page, (w) => w.close())).code, 'USER_REJECTED');
  const closing = await h.inPage(page, (w) => w.channel());
  assert.equal(closing.status, 'closing');
  assert.equal(closing.step, 'close');
  assert.equal((await h.outcome(page, (w, i) => w.pay(i), (await h.invoice(USD)).invoice)).code, 'NO_CHANNEL');
  const chainBefore = await tokenBalance(dev, funder());
  const res = await h.inPage(page, (w) => w.close());
  assert.equal(res.how, 'closed');
  assert.equal(res.payout, bal.available);
  // 30 deposited - 3 withdrawn - 4 paid.
  assert.equal(BigInt(bal.available), 23n * USD);
  assert.equal(await tokenBalance(dev, funder()), chainBefore + 23n * USD);
  assert.equal(await tokenBalance(dev, funder()), start - 4n * USD, 'only the payment left the account');
});

test('a unilateral close survives a reload: close() again waits out the period and settles', async () => {
  await h.openWallet(page, 'solo-reload', ACCOUNT);
  await h.inPage(page, (w) => w.openChannel({ deposit: 10_000_000n }));
  const inv = await h.invoice(1n * USD, 'before the dispute');
  await h.inPage(page, (w, i) => w.pay(i), inv.invoice);
  // A pay that gives up at once: TIMEOUT saying it may complete, no unhandled rejection, and
  // the same call again waits for that one payment.
  const quick = await h.invoice(1n * USD, 'impatient');
  const r = await page.evaluate(async (i) => {
    const unhandled = [];
    window.addEventListener('unhandledrejection', (e) => unhandled.push(String(e.reason?.code ?? e.reason)));
    const first = await window.wallet.pay(i, { timeoutMs: 1 }).then(() => 'paid', (e) => `${e.code}:${e.mayComplete}:${e.paymentHash !== undefined}`);
    const again = (await window.wallet.pay(i)).amount.toString();
    await new Promise((res) => setTimeout(res, 200));
    return { first, again, unhandled };
  }, quick.invoice);
  assert.deepEqual(r, { first: 'TIMEOUT:true:true', again: String(USD), unhandled: [] });
  const start = await tokenBalance(dev, funder());
  // The reload below cuts this call off (its page is gone).
  page.evaluate(() => window.wallet.close({ unilateral: true })).catch(() => {});
  await h.until(page, () => window.events.some((x) => x.e === 'chain' && x.payload.step === 'challengePeriod'), undefined, 'close registered');
  await page.reload();
  await h.openWallet(page, 'solo-reload', ACCOUNT);
  const ch = await h.inPage(page, (w) => w.channel());
  assert.equal(ch.status, 'closing');
  const closing = page.evaluate(() => window.wallet.close().then((r) => ({ ...r, payout: r.payout.toString() })));
  await h.until(page, () => window.events.some((x) => x.e === 'chain' && x.payload.step === 'challengePeriod'), undefined, 'waiting again');
  await dev.rpc('evm_increaseTime', [dev.config.challengePeriod + 1]);
  await dev.rpc('evm_mine', []);
  const res = await closing;
  assert.equal(res.how, 'settled');
  assert.equal(BigInt(res.payout), 8n * USD);
  assert.equal(await tokenBalance(dev, funder()), start + 8n * USD);
  assert.equal(await h.inPage(page, (w) => w.channel()), null);
});
