// The Wallet: the driver of the wasm core in a browser tab. It owns the I/O — IndexedDB, the
// WebSocket to the hub, timers, the EIP-1193 provider — and feeds the core; the core decides
// what to sign, store and send. A frame that depends on a state leaves only after that state
// is durable: the core holds it until `handlePersisted`, which is called only once the strict
// IndexedDB transaction completed.
import { Key, WalletCore, parseInvoice } from "./l2pay_core.js";
import { Chain } from "./chain.js";
import { initL2pay } from "./init.js";
import { L2payError, asL2payError } from "./errors.js";
import { fromHex, loadOrCreateKey, openBackup, saveKey, sealBackup, toHex } from "./keys.js";
import { Store } from "./store.js";
import { weblnProvider } from "./webln.js";
import { Transport } from "./transport.js";
import * as onchain from "./onchain.js";
import { FORWARDED, acquire, follow, serve } from "./tabs.js";

const ZERO = "0x0000000000000000000000000000000000000000";
const DEFAULT_TIMEOUT_MS = 30000;

/** Hub error codes for channel messages it refused; the channel core handles them. */
const CHANNEL_REFUSALS = new Set(["INVALID_UPDATE", "STALE_NONCE", "NONCE_TOO_LOW", "BASE_MISMATCH", "BUSY", "REPLAY"]);

const opKind = (op) => (typeof op === "string" ? op : Object.keys(op)[0]);
const same = (a, b) => a.toLowerCase() === b.toLowerCase();

/** The challenge-period bounds the adjudicator enforces (seconds). */
const MIN_CHALLENGE_PERIOD = 60;
const MAX_CHALLENGE_PERIOD = 30 * 86400;

/** Checks `Wallet.open`'s options; `INVALID_OPTIONS` says which one is wrong. */
function checkOptions(opts) {
  const bad = (m) => new L2payError("INVALID_OPTIONS", m);
  if (opts === null || typeof opts !== "object") throw bad("Wallet.open takes an options object");
  const { hubUrl, chain, name = "default", challengePeriod, timeoutMs } = opts;
  let url;
  try {
    url = new URL(hubUrl);
  } catch {
    throw bad(`hubUrl must be a ws:// or wss:// URL, got ${JSON.stringify(hubUrl)}`);
  }
  if (url.protocol !== "ws:" && url.protocol !== "wss:") throw bad(`hubUrl must be a ws:// or wss:// URL, got ${url.protocol}`);
  if (!chain?.provider) throw bad("chain.provider is required (an EIP-1193 provider)");
  if (typeof name !== "string" || name.length === 0 || name.length > 64) throw bad("name must be a string of 1 to 64 characters");
  if (challengePeriod !== undefined && !(Number.isInteger(challengePeriod) && challengePeriod >= MIN_CHALLENGE_PERIOD && challengePeriod <= MAX_CHALLENGE_PERIOD)) {
    throw bad(`challengePeriod must be whole seconds between ${MIN_CHALLENGE_PERIOD} and ${MAX_CHALLENGE_PERIOD}`);
  }
  for (const [k, v] of [["timeoutMs", timeoutMs], ["chain.timeoutMs", chain.timeoutMs]]) {
    if (v !== undefined && !(Number.isInteger(v) && v > 0)) throw bad(`${k} must be a positive whole number of milliseconds`);
  }
  return { hubUrl, chain, name };
}

export class Wallet {
  /** Use `Wallet.open`. */
  constructor(init) {
    Object.assign(this, init);
    this.listeners = new Map();
    this.waiters = new Map();
    this.queue = Promise.resolve();
    this.timer = null;
    this.connection = "disconnected";
    this.hubInfo = null;
    this.closedForGood = false;
    // The leader's view of its IndexedDB records (only the leader writes them).
    this.metas = new Map();
    this.records = new Map();
    // Record writes that ride along with the core's next persist transaction.
    this.extraWrites = [];
  }

  /**
   * Opens (or creates) the wallet `name` stored in this origin's IndexedDB and connects to
   * the hub. See the package README for the options.
   */
  static async open(opts) {
    const { hubUrl, chain, name = "default" } = checkOptions(opts);
    await initL2pay(opts.wasm);
    const wallet = new Wallet({
      name,
      hubUrl,
      passphrase: opts.passphrase,
      create: opts.create === true,
      chain: new Chain(chain.provider, chain),
      token: chain.token ?? ZERO,
      challengePeriod: opts.challengePeriod ?? 3600,
      timeoutMs: opts.timeoutMs ?? DEFAULT_TIMEOUT_MS,
    });
    const lock = await acquire(name);
    wallet.lock = lock;
    if (lock.leader) {
      try {
        await wallet.lead();
      } catch (e) {
        // A wallet that failed to open (wrong passphrase, no wallet) holds no lock.
        await wallet.dispose();
        throw e;
      }
    } else {
      wallet.follow();
      lock.promoted
        .then(() => wallet.lead())
        .catch(async (e) => {
          wallet.emit("error", asL2payError(e));
          await wallet.dispose();
        });
    }
    return wallet;
  }

  /** Milliseconds an on-chain step waits for its transaction before a `TIMEOUT`. */
  get chainTimeoutMs() {
    return this.chain.timeoutMs;
  }

  /** "leader" when this tab drives the wallet, "follower" when another tab does. */
  get role() {
    return this.remote ? "follower" : "leader";
  }

  /** Becomes the tab that drives the wallet: loads it and connects to the hub. */
  async lead() {
    if (this.closedForGood) {
      // Disposed while waiting for the lock: hand it straight on.
      this.lock?.release();
      return;
    }
    this.store = await Store.open(this.name);
    const key = await loadOrCreateKey(this.store, this.passphrase, { create: this.create });
    this.persisted = await globalThis.navigator?.storage?.persist?.().catch(() => false) ?? false;
    this.core = new WalletCore(key);
    key.free();
    await this.load();
    this.needsSync = (await this.store.get("meta", "needsSync")) === true;
    this.core.setResync(this.needsSync);
    if (this.remote) {
      this.remote.close();
      this.remote = null;
      for (const m of FORWARDED) delete this[m];
    }
    this.stopServing = serve(this, this.name);
    this.connect();
    this.emit("role", { role: "leader" });
  }

  /** Forwards the wallet's methods to the tab that leads. */
  follow() {
    this.remote = follow(this.name, (event, payload) => {
      if (event === "connection") this.connection = payload.state;
      this.emit(event, payload);
    });
    for (const m of FORWARDED) this[m] = (...args) => this.remote.call(m, args);
    this.remote.call("connectionState", []).then((state) => {
      if (this.remote) this.setConnection(state);
    }, () => {});
    this.remote.call("address", []).then((a) => (this.remoteAddress = a), () => {});
  }

  /**
   * Restores a wallet: from `exportBackup`'s output (with its passphrase), or from the channel
   * key alone (`key`: 0x-hex, from `exportKey`). Either way the wallet then recovers the latest
   * countersigned state of every channel from the hub, so an old backup loses nothing. A
   * wallet under `name` that still has a channel is not replaced (`WALLET_EXISTS`) unless
   * `replace: true`.
   */
  static async restore({ backup, passphrase, key, replace = false, ...opts } = {}) {
    checkOptions(opts);
    await initL2pay(opts.wasm);
    const name = opts.name ?? "default";
    let stores = {};
    let secret;
    if (backup !== undefined) {
      const data = await openBackup(backup, passphrase);
      stores = data.stores;
      secret = Uint8Array.from(data.key);
    } else if (typeof key === "string") {
      try {
        secret = fromHex(key);
      } catch (e) {
        throw new L2payError("INVALID_KEY", "a key is 32 bytes of 0x-hex (as exportKey() gives it)", { cause: e });
      }
      // Checked before anything is written.
      Key.fromBytes(secret).free();
    } else {
      throw new L2payError("INVALID_OPTIONS", "restore needs a backup (with its passphrase) or a key");
    }
    // Never replace a wallet that another tab is driving.
    const lock = await acquire(name, { wait: false });
    if (!lock.leader) {
      secret.fill(0);
      throw new L2payError("WALLET_IN_USE", "another tab is using this wallet; close it before restoring");
    }
    const store = await Store.open(name);
    try {
      // Restoring the same key over itself loses nothing; another key must not silently take
      // the place of a wallet that still has a channel.
      const k = Key.fromBytes(secret);
      try {
        const address = k.address.toLowerCase();
        const open = new Set((await store.entries("channels")).filter(([, m]) => m.status !== "closed").map(([id]) => id));
        const snapshot = (s) => (typeof s === "string" ? JSON.parse(s) : s);
        const theirs = (await store.entries("snapshots")).filter(([id, s]) => open.has(id) && snapshot(s).params.participants[0].toLowerCase() !== address);
        if (theirs.length && !replace) {
          throw new L2payError("WALLET_EXISTS", `the wallet "${name}" in this browser still has a channel; close it, restore under another name, or pass replace: true`);
        }
        await store.load(stores);
        await saveKey(store, k, opts.passphrase);
      } finally {
        k.free();
      }
      await store.put(["meta", "needsSync", true], ["meta", "backedUpAt", Date.now()]);
    } finally {
      secret.fill(0);
      store.close();
      lock.release();
    }
    return Wallet.open({ ...opts, name });
  }

  // ----- public API -----

  /** This wallet's channel address (it signs channel states; it needs no ether). */
  get address() {
    return this.core?.address ?? this.remoteAddress ?? null;
  }

  /** "connecting" | "connected" | "disconnected". */
  get connectionState() {
    return this.connection;
  }

  /** Subscribes to "payment" | "refund" | "state" | "connection" | "chain" | "error". */
  on(event, cb) {
    if (!this.listeners.has(event)) this.listeners.set(event, new Set());
    this.listeners.get(event).add(cb);
    return () => this.off(event, cb);
  }

  off(event, cb) {
    this.listeners.get(event)?.delete(cb);
  }

  /** The open channel, if any: id, balances, deposits, and its life-cycle status. */
  async channel() {
    const meta = await this.activeMeta();
    if (!meta) return null;
    return this.describe(meta);
  }

  /** Balances in base units: off chain (spendable and locked in payments) and on chain. */
  async balance() {
    const meta = await this.activeMeta();
    // Off-chain figures are known even when the chain is not reachable.
    const onChain = await this.chain
      .account()
      .then((account) => this.chain.tokenBalance(this.token, account))
      .catch(() => null);
    if (!meta) return { available: 0n, locked: 0n, deposited: 0n, onChain };
    const c = this.core.channel(meta.channelId);
    return {
      available: BigInt(c.balance),
      locked: BigInt(c.locked),
      deposited: BigInt(c.state.deposits[0]) - BigInt(c.state.withdrawn[0]),
      onChain,
    };
  }

  /** Payments made from this wallet, newest first, with refunds against them. */
  async history() {
    const ledger = new Map();
    for (const id of this.core.channelIds()) {
      for (const p of this.core.channel(id).payments) ledger.set(p.id.toLowerCase(), p);
    }
    const records = [...this.records.values()];
    const known = new Set(records.map((r) => r.paymentHash.toLowerCase()));
    // Payments recovered from the hub (a restore without this record) have no description.
    for (const [hash, p] of ledger) {
      if (p.payer === "A" && !known.has(hash)) {
        records.push({ paymentHash: p.id, amount: p.amount, fee: "0", description: "", merchant: null, status: "settled", preimage: p.preimage, createdAt: 0 });
      }
    }
    records.sort((a, b) => b.createdAt - a.createdAt);
    return records.map((r) => ({
      invoice: r.invoice ?? null,
      paymentHash: r.paymentHash,
      amount: BigInt(r.amount),
      fee: BigInt(r.fee),
      description: r.description,
      merchant: r.merchant,
      status: r.status,
      preimage: r.preimage ?? null,
      reason: r.reason ?? null,
      refunded: BigInt(ledger.get(r.paymentHash.toLowerCase())?.refunded ?? 0),
      createdAt: r.createdAt,
    }));
  }

  /**
   * Opens a channel with the hub funded with `deposit` from the provider's account, and
   * waits until the hub has agreed the deposit. Progress arrives as "chain" events. Resumes a
   * channel an earlier call left `opening`.
   */
  openChannel(opts) {
    return onchain.openChannel(this, opts);
  }

  /** Adds `amount` to the channel from the provider's account. */
  topUp(amount, opts) {
    return onchain.topUp(this, amount, opts);
  }

  /** Takes `amount` out of the channel to the provider's account; the channel stays open. */
  withdraw(amount, opts) {
    return onchain.withdraw(this, amount, opts);
  }

  /**
   * Closes the channel: cooperatively when the hub answers, otherwise on chain alone.
   * Resolves with the payout to this wallet's account.
   */
  close(opts) {
    return onchain.close(this, opts);
  }

  /**
   * Pays an `l2pay1…` invoice. Resolves with the receipt (the preimage proves payment) once
   * the hub settled; throws `PAYMENT_FAILED`, `INVOICE_EXPIRED`, `INVALID_UPDATE`
   * (insufficient balance)… with nothing spent. Idempotent per invoice: an invoice this
   * wallet already paid resolves with the same receipt, and a call while its payment is in
   * flight waits for that payment. A `TIMEOUT` carries `paymentHash` and `mayComplete: true`:
   * the payment may still settle; call `pay` again with the invoice to wait for it.
   */
  async pay(invoice, { timeoutMs = this.timeoutMs } = {}) {
    if (typeof invoice !== "string") {
      throw new L2payError("INVALID_INVOICE", `an invoice is an l2pay1… string, got ${typeof invoice}`);
    }
    const meta = await this.requireOpen();
    await this.whenWelcomed();
    let started;
    try {
      started = this.core.pay(meta.channelId, invoice, Date.now());
    } catch (e) {
      if (e?.code === "ALREADY_PAID" || e?.code === "PAYMENT_IN_FLIGHT") {
        return this.existingPayment(meta.channelId, parseInvoice(invoice), timeoutMs);
      }
      throw e;
    }
    const record = {
      invoice,
      paymentHash: started.paymentHash,
      amount: started.invoiceAmount,
      fee: started.fee,
      description: started.description,
      merchant: started.merchant,
      status: "pending",
      createdAt: Date.now(),
    };
    // Stored in the same transaction as the HTLC: a pending record means the HTLC exists.
    this.saveRecord(record);
    const result = this.settlement(started.paymentHash, timeoutMs);
    // Handled below; a timeout that fires while the frame is still being stored is not an
    // unhandled rejection.
    result.catch(() => {});
    await this.pump();
    const preimage = await result;
    return {
      paymentHash: started.paymentHash,
      preimage,
      amount: BigInt(started.invoiceAmount),
      fee: BigInt(started.fee),
      description: started.description,
      merchant: started.merchant,
    };
  }

  /** The preimage once payment `hash` settles; `PAYMENT_FAILED`, or a `TIMEOUT` that says the
   * payment may still complete. */
  async settlement(hash, timeoutMs) {
    let e;
    try {
      e = await this.waitFor(
        (x) => (x.type === "paymentSettled" || x.type === "paymentFailed") && same(x.paymentHash, hash),
        "the payment",
        timeoutMs,
      );
    } catch (err) {
      if (err?.code !== "TIMEOUT") throw err;
      const t = new L2payError(
        "TIMEOUT",
        `payment ${hash} did not settle in ${timeoutMs} ms; it may still complete: call pay() again with the same invoice to wait for it`,
        { cause: err },
      );
      t.paymentHash = hash;
      t.mayComplete = true;
      throw t;
    }
    if (e.type === "paymentFailed") throw new L2payError("PAYMENT_FAILED", e.reason);
    return e.preimage;
  }

  /** The receipt of an invoice this wallet already paid, or waits for its payment in flight. */
  async existingPayment(channelId, inv, timeoutMs) {
    const hash = inv.paymentHash;
    const paid = this.core.channel(channelId).payments.find((p) => same(p.id, hash) && p.payer === "A");
    const record = this.records.get(hash.toLowerCase());
    const preimage = paid?.preimage ?? (await this.settlement(hash, timeoutMs));
    const sent = paid ? BigInt(paid.amount) : BigInt(record?.amount ?? inv.amount) + BigInt(record?.fee ?? 0);
    return {
      paymentHash: hash,
      preimage,
      amount: BigInt(inv.amount),
      fee: record ? BigInt(record.fee) : sent - BigInt(inv.amount),
      description: inv.description,
      merchant: inv.merchant,
    };
  }

  /** An encrypted backup of the key, channels and history (a string to save somewhere safe). */
  async exportBackup(passphrase) {
    await this.serial(() => this.flushExtraWrites());
    const stores = await this.store.dump();
    const secret = await this.exportKeyBytes();
    try {
      const sealed = await sealBackup({ key: Array.from(secret), stores, exportedAt: Date.now() }, passphrase);
      await this.store.put(["meta", "backedUpAt", Date.now()]);
      return sealed;
    } finally {
      secret.fill(0);
    }
  }

  /** The channel key as 0x-hex, for `Wallet.restore({ key })`: whoever holds it controls
   * the channel. Counts as a backup. */
  async exportKey() {
    const secret = await this.exportKeyBytes();
    try {
      await this.store.put(["meta", "backedUpAt", Date.now()]);
      return toHex(secret);
    } finally {
      secret.fill(0);
    }
  }

  /** Whether the browser keeps this wallet's storage under pressure (`persisted`, asked for
   * at open) and when it was last backed up (`backedUpAt`, null when never: prompt for it). */
  async storage() {
    const persisted = (await globalThis.navigator?.storage?.persisted?.().catch(() => false)) ?? this.persisted ?? false;
    const backedUpAt = (await this.store.get("meta", "backedUpAt")) ?? null;
    return { persisted, backedUpAt };
  }

  /** This wallet as a WebLN provider (see webln.js); `install` puts it on `window.webln`
   * unless another provider is there. */
  webln({ install = false } = {}) {
    const provider = weblnProvider(this);
    if (install && typeof window !== "undefined" && !window.webln) window.webln = provider;
    return provider;
  }

  /** EIP-191 signature of `message` by the channel key (0x-hex). */
  async signMessage(message) {
    if (typeof message !== "string") throw new L2payError("MALFORMED", "a message is a string");
    return this.core.signMessage(message);
  }

  /** The channel address, also in a follower tab (asked of the leader). */
  async whenAddress() {
    return this.address ?? (this.remoteAddress ??= await this.remote.call("address", []));
  }

  /** Drops the hub connection once (tests, diagnostics); the wallet reconnects. */
  dropConnection() {
    this.transport?.drop();
  }

  /** Stops the wallet: disconnects and closes the database. */
  async dispose() {
    this.closedForGood = true;
    this.remote?.close();
    this.stopServing?.();
    this.transport?.stop();
    clearTimeout(this.timer);
    await this.queue.catch(() => {});
    if (this.store) await this.flushExtraWrites().catch(() => {});
    this.store?.close();
    this.core?.free();
    this.lock?.release();
  }

  // ----- internals -----

  async load() {
    const ledger = await this.store.entries("ledger");
    for (const [id, snapshot] of await this.store.entries("snapshots")) {
      const payments = ledger
        .filter(([k]) => k.startsWith(`${id}/`))
        .map(([k, v]) => [k.slice(id.length + 1), v]);
      this.core.restore(snapshot, payments);
    }
    for (const [id, m] of await this.store.entries("channels")) this.metas.set(id, m);
    for (const [hash, r] of await this.store.entries("payments")) this.records.set(hash.toLowerCase(), r);
    // A record is stored with its HTLC, and its outcome with the update that decided it;
    // after a crash between the two, the ledger or the channel tells what happened.
    const settled = new Map();
    const open = new Set();
    for (const id of this.core.channelIds()) {
      const c = this.core.channel(id);
      for (const h of c.state.htlcs) open.add(h.payment_hash.toLowerCase());
      if (c.pendingPaymentHash) open.add(c.pendingPaymentHash.toLowerCase());
      for (const p of c.payments) settled.set(p.id.toLowerCase(), p);
    }
    for (const [hash, r] of this.records) {
      if (r.status !== "pending") continue;
      const p = settled.get(hash);
      if (p) this.saveRecord({ ...r, status: "settled", preimage: p.preimage });
      else if (!open.has(hash)) this.saveRecord({ ...r, status: "failed", reason: "the hub gave the payment back" });
    }
    await this.flushExtraWrites();
  }

  connect() {
    this.transport = new Transport(this.hubUrl, {
      onOpen: () => this.setConnection("connecting"),
      onFrame: (bytes) =>
        this.serial(async () => {
          try {
            this.core.handleFrame(bytes, Date.now());
          } catch (e) {
            this.emit("error", asL2payError(e));
          }
          await this.drainCore();
        }),
      onClose: () =>
        this.serial(async () => {
          this.core.handleDisconnected();
          this.setConnection("disconnected");
          await this.drainCore();
        }),
    });
    this.setConnection("connecting");
    this.transport.start();
  }

  setConnection(state) {
    if (this.connection === state) return;
    this.connection = state;
    this.emit("connection", { state });
  }

  /** Waits for the hub's welcome; `NOT_CONNECTED` when it does not come in time. */
  whenWelcomed() {
    if (this.hubInfo && this.connection === "connected") return Promise.resolve(this.hubInfo);
    return this.waitFor((e) => e.type === "welcome", "the hub").then(
      () => this.hubInfo,
      (e) => {
        throw e.code === "TIMEOUT" ? new L2payError("NOT_CONNECTED", "the hub cannot be reached; check the connection and retry") : e;
      },
    );
  }

  /** Runs `f` after everything queued before it (frames, writes) — one at a time. */
  serial(f) {
    const next = this.queue.then(f, f);
    this.queue = next.catch(() => {});
    return next;
  }

  pump() {
    return this.serial(() => this.drainCore());
  }

  /** Drains the core: sends frames, stores records durably then confirms them, reacts. */
  async drainCore() {
    for (;;) {
      const outs = this.core.drain();
      if (outs.length === 0) break;
      const persists = [];
      for (const o of outs) {
        if (o.kind === "send") this.transport?.send(o.bytes);
        else if (o.kind === "persist") persists.push(o);
        else await this.onCoreEvent(o.event);
      }
      if (persists.length || this.extraWrites.length) {
        try {
          await this.store.persist(persists, this.extraWrites.splice(0));
        } catch (e) {
          // Nothing that depends on these records is released; the core retransmits later.
          this.emit("error", new L2payError("STORAGE_FAILED", `could not store the channel: ${e?.message ?? e}`));
          break;
        }
        const last = new Map();
        for (const p of persists) last.set(p.channelId, p.seq);
        for (const [id, seq] of last) this.core.handlePersisted(id, seq);
      }
    }
    if (this.needsSync && !this.core.resyncing) {
      this.needsSync = false;
      await this.store.put(["meta", "needsSync", false]);
    }
    this.schedule();
  }

  schedule() {
    clearTimeout(this.timer);
    const at = this.core.pollTimeout();
    if (at === undefined || this.closedForGood) return;
    this.timer = setTimeout(
      () =>
        this.serial(async () => {
          this.core.handleTimeout(Date.now());
          await this.drainCore();
        }),
      Math.max(0, at - Date.now()),
    );
  }

  async onCoreEvent(e) {
    for (const [w] of this.waiters) w(e);
    switch (e.type) {
      case "welcome":
        this.hubInfo = e;
        this.setConnection("connected");
        // Not awaited: it reads the chain, then queues its own step behind this one.
        onchain.reconcile(this).catch((err) => this.emit("error", asL2payError(err)));
        break;
      case "hubError":
        // Refusals of a channel message are the protocol's business: the core retries or
        // reports them per operation (e.g. the hub's chain watcher not having seen a deposit
        // yet). Anything else is news for the application.
        if (!CHANNEL_REFUSALS.has(e.code)) this.emit("error", new L2payError(e.code, `hub: ${e.message}`));
        break;
      case "paymentSettled":
      case "paymentFailed": {
        const r = this.records.get(e.paymentHash.toLowerCase());
        if (r) {
          const status = e.type === "paymentSettled" ? "settled" : "failed";
          this.saveRecord({ ...r, status, preimage: e.preimage ?? null, reason: e.reason ?? null });
        }
        this.emit("payment", {
          paymentHash: e.paymentHash,
          status: e.type === "paymentSettled" ? "settled" : "failed",
          preimage: e.preimage ?? null,
          reason: e.reason ?? null,
        });
        break;
      }
      case "refunded":
        this.emit("refund", { paymentHash: e.paymentId, amount: BigInt(e.amount) });
        break;
      case "updated":
        this.emit("state", { channelId: e.channelId, nonce: e.nonce, op: opKind(e.op), by: e.by });
        break;
      case "restored": {
        const meta = this.metas.get(e.channelId);
        if (!meta || meta.status !== "closed") {
          await this.saveMeta({ createdAt: Date.now(), ...meta, channelId: e.channelId, status: "open" });
        }
        this.emit("state", { channelId: e.channelId, nonce: e.nonce, op: "restored", by: "B" });
        break;
      }
      case "goToChain":
        this.emit("chain", { step: "dispute", stage: "required", channelId: e.channelId, reason: e.reason });
        break;
      default:
        break;
    }
  }

  /** Resolves with the first core event `match` accepts; rejects after `timeoutMs`. */
  waitFor(match, what, timeoutMs = this.timeoutMs) {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters.delete(w);
        reject(new L2payError("TIMEOUT", `timed out waiting for ${what}`));
      }, timeoutMs);
      const w = (e) => {
        if (e.type === "hubError" && e.code === "BAD_CHANNEL" && what === "registration") {
          clearTimeout(timer);
          this.waiters.delete(w);
          reject(new L2payError("BAD_CHANNEL", e.message));
        } else if (match(e)) {
          clearTimeout(timer);
          this.waiters.delete(w);
          resolve(e);
        }
      };
      this.waiters.set(w, true);
    });
  }

  /** Resolves when our `kind` proposal on `id` is agreed; rejects if the hub refuses it. */
  agreed(id, kind, timeoutMs) {
    return this.waitFor(
      (e) =>
        same(e.channelId ?? "0x", id) &&
        ((e.type === "updated" && e.by === "A" && opKind(e.op) === kind) ||
          (e.type === "proposalRejected" && opKind(e.op) === kind)),
      `the hub to agree the ${kind}`,
      timeoutMs,
    ).then((e) => {
      if (e.type === "proposalRejected") throw new L2payError("REJECTED", `the hub refused the ${kind}: ${e.reason}`);
      return e;
    });
  }

  async untilState(id, pred, what, timeoutMs) {
    if (pred(this.core.channel(id))) return;
    await this.waitFor((e) => e.type === "updated" && same(e.channelId, id) && pred(this.core.channel(id)), what, timeoutMs);
  }

  /** Stores a channel's life-cycle record (durably, now). */
  async saveMeta(meta) {
    this.metas.set(meta.channelId, meta);
    await this.store.put(["channels", meta.channelId, meta]);
  }

  /** Updates a payment record; it is written with the core's next persist transaction. */
  saveRecord(record) {
    this.records.set(record.paymentHash.toLowerCase(), record);
    this.extraWrites.push(["payments", record.paymentHash, record]);
  }

  async flushExtraWrites() {
    if (this.extraWrites.length) await this.store.put(...this.extraWrites.splice(0));
  }

  /** Tells the core what deposits a receipt shows (inside `serial`). */
  applyDeposits(id, events) {
    for (const e of events) {
      if (e.type === "deposit" && same(e.channelId, id)) {
        this.core.handleChainDeposit(id, e.participant, e.total, Date.now());
      }
    }
  }

  async activeMeta() {
    const all = [...this.metas.values()];
    return all.filter((m) => m.status !== "closed").sort((a, b) => b.createdAt - a.createdAt)[0] ?? null;
  }

  async requireOpen() {
    const meta = await this.activeMeta();
    if (!meta || meta.status !== "open") {
      throw new L2payError("NO_CHANNEL", "open a channel first (wallet.openChannel)");
    }
    return meta;
  }

  async describe(meta) {
    const c = this.core.channel(meta.channelId);
    return {
      channelId: meta.channelId,
      status: meta.status,
      nonce: c?.state.nonce ?? 0,
      available: BigInt(c?.balance ?? 0),
      locked: BigInt(c?.locked ?? 0),
      deposited: BigInt(c?.state.deposits[0] ?? 0),
      withdrawn: BigInt(c?.state.withdrawn[0] ?? 0),
      hubBalance: BigInt(c?.state.balances[1] ?? 0),
      failure: c?.failure ?? null,
      step: meta.step?.kind ?? null,
      pendingWithdrawal: meta.status === "open" ? await onchain.pendingWithdrawal(this, meta).catch(() => null) : 0n,
    };
  }

  async exportKeyBytes() {
    const key = await loadOrCreateKey(this.store, this.passphrase, { create: false });
    try {
      return key.toBytes();
    } finally {
      key.free();
    }
  }

  /** Every event (used to mirror events into follower tabs). */
  onAny(cb) {
    this.anyListeners ??= new Set();
    this.anyListeners.add(cb);
    return () => this.anyListeners.delete(cb);
  }

  emit(event, payload) {
    for (const cb of this.anyListeners ?? []) cb(event, payload);
    for (const cb of this.listeners.get(event) ?? []) {
      try {
        cb(payload);
      } catch (e) {
        queueMicrotask(() => {
          throw e;
        });
      }
    }
  }
}

// Every public method rejects with an `L2payError` (errors thrown by the wasm core carry a
// code but are plain `Error`s).
for (const m of FORWARDED) {
  const f = Wallet.prototype[m];
  Wallet.prototype[m] = async function (...args) {
    try {
      return await f.apply(this, args);
    } catch (e) {
      throw asL2payError(e);
    }
  };
}
for (const m of ["open", "restore"]) {
  const f = Wallet[m];
  Wallet[m] = async (...args) => {
    try {
      return await f.apply(Wallet, args);
    } catch (e) {
      throw asL2payError(e);
    }
  };
}
