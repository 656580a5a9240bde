// Helpers for driving the SDK in a Playwright page against the devnet: open a wallet behind
// a provider the test can steer (reject the next transactions as a user would, report another
// chain, hide receipts), run code in the page, poll it, make invoices.
import assert from 'node:assert/strict';

/** The helpers bound to a running devnet `dev`. */
export function walletPage(dev) {
  /** Opens the wallet `name` in `p` (creating it if new), recording its events in
   * `window.events`; `window.provider` steers the provider. */
  async function openWallet(p, name = 'shopper', account = 0, extra = {}) {
    await p.goto(`${dev.base}/sdk.html`);
    return p.evaluate(async ({ name, account, extra }) => {
      const { Wallet, httpProvider } = await import('/pkg/index.js');
      const cfg = await (await fetch('/devnet.json')).json();
      const inner = httpProvider(cfg.rpcUrl, { account: cfg.fundingAccounts[account] });
      const provider = {
        rejectSends: 0,
        chainId: null,
        hideReceipts: false,
        sends: 0,
        async request(a) {
          if (a.method === 'eth_sendTransaction') {
            if (provider.rejectSends > 0) {
              provider.rejectSends--;
              throw Object.assign(new Error('User rejected the request.'), { code: 4001 });
            }
            provider.sends++;
          }
          if (a.method === 'eth_chainId' && provider.chainId) return provider.chainId;
          if (a.method === 'eth_getTransactionReceipt' && provider.hideReceipts) return null;
          return inner.request(a);
        },
      };
      window.events = [];
      window.cfg = cfg;
      window.provider = provider;
      window.wallet = await Wallet.open({
        name,
        create: true,
        hubUrl: cfg.hubUrl,
        challengePeriod: cfg.challengePeriod,
        chain: { provider, token: cfg.token, pollMs: 50 },
        ...extra,
      });
      for (const e of ['payment', 'refund', 'state', 'connection', 'chain', 'role', 'error']) {
        window.wallet.on(e, (payload) => window.events.push({ e, payload: JSON.parse(JSON.stringify(payload, (_, v) => (typeof v === 'bigint' ? v.toString() : v))) }));
      }
      return { role: window.wallet.role, address: window.wallet.address };
    }, { name, account, extra });
  }

  /** Runs `f(wallet, arg)` in the page and returns its result with bigints as strings. */
  function inPage(p, f, arg) {
    return p.evaluate(async ({ src, arg }) => {
      // eslint-disable-next-line no-new-func
      const r = await new Function('wallet', 'arg', `return (${src})(wallet, arg);`)(window.wallet, arg);
      return JSON.parse(JSON.stringify(r ?? null, (_, v) => (typeof v === 'bigint' ? v.toString() : v)));
    }, { src: f.toString(), arg });
  }

  /** Like `inPage`, but resolves with `{ code, ...fields }` of the error the call rejects with
   * (or `{ ok: result }`). */
  function outcome(p, f, arg) {
    return p.evaluate(async ({ src, arg }) => {
      const json = (v) => JSON.parse(JSON.stringify(v ?? null, (_, x) => (typeof x === 'bigint' ? x.toString() : x)));
      try {
        // eslint-disable-next-line no-new-func
        return { ok: json(await new Function('wallet', 'arg', `return (${src})(wallet, arg);`)(window.wallet, arg)) };
      } catch (e) {
        return json({ ...e, name: e?.name, code: e?.code, message: e?.message });
      }
    }, { src: f.toString(), arg });
  }

  async function invoice(amount, description = 'test order') {
    const r = await dev.api('/api/merchant/invoices', { amount: amount.toString(), description });
    assert.ok(r.status >= 200 && r.status < 300, JSON.stringify(r.body));
    return r.body;
  }

  /** Polls `pred(arg)` in the page (it may be async) until it returns true, for up to 60 s. */
  async function until(p, pred, arg, what) {
    const deadline = Date.now() + 60000;
    while (Date.now() < deadline) {
      const ok = await p.evaluate(async ({ src, arg }) => {
        // eslint-disable-next-line no-new-func
        return (await new Function('arg', `return (${src})(arg);`)(arg)) === true;
      }, { src: pred.toString(), arg }).catch(() => false);
      if (ok) return;
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error(`timed out waiting for ${what}`);
  }

  return { openWallet, inPage, outcome, invoice, until };
}
