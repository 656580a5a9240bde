// IndexedDB persistence. Every write the core depends on goes through a readwrite transaction
// with `durability: "strict"` and counts as done only on the transaction's `complete` event:
// Chromium's default ("relaxed") reports success before the data reaches the disk.
import { L2payError } from "./errors.js";

/** Schema version; `migrate` brings any older database up to it. */
export const SCHEMA_VERSION = 1;

const STORES = ["meta", "snapshots", "ledger", "channels", "payments"];

function migrate(db, oldVersion) {
  if (oldVersion < 1) {
    // meta: key material and wallet settings; snapshots: the core's channel snapshots (JSON);
    // ledger: the core's payment records, key `${channelId}/${paymentId}`; channels: the SDK's
    // view of each channel's life (opening, open, closing, closed); payments: the shopper's
    // history, one record per invoice paid, keyed by payment hash.
    db.createObjectStore("meta");
    db.createObjectStore("snapshots");
    db.createObjectStore("ledger");
    db.createObjectStore("channels");
    db.createObjectStore("payments");
  }
}

function request(req) {
  return new Promise((resolve, reject) => {
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => reject(req.error);
  });
}

function done(tx) {
  return new Promise((resolve, reject) => {
    tx.oncomplete = () => resolve();
    tx.onabort = () => reject(tx.error ?? new Error("transaction aborted"));
    tx.onerror = () => reject(tx.error);
  });
}

export function databaseName(name) {
  return `l2pay:${name}`;
}

export class Store {
  /** Opens (creating or migrating) the wallet database `l2pay:<name>`. */
  static async open(name) {
    if (typeof indexedDB === "undefined") {
      throw new L2payError("NO_STORAGE", "IndexedDB is not available in this environment");
    }
    const req = indexedDB.open(databaseName(name), SCHEMA_VERSION);
    req.onupgradeneeded = (e) => migrate(req.result, e.oldVersion);
    req.onblocked = () => {};
    try {
      const db = await request(req);
      db.onversionchange = () => db.close();
      return new Store(db);
    } catch (e) {
      throw new L2payError("NO_STORAGE", `cannot open IndexedDB: ${e?.message ?? e}`, { cause: e });
    }
  }

  /** Deletes the wallet database `l2pay:<name>` (all channels and the key). */
  static async destroy(name) {
    await request(indexedDB.deleteDatabase(databaseName(name)));
  }

  constructor(db) {
    this.db = db;
  }

  close() {
    this.db.close();
  }

  async get(store, key) {
    return request(this.db.transaction(store, "readonly").objectStore(store).get(key));
  }

  async entries(store) {
    const tx = this.db.transaction(store, "readonly");
    const os = tx.objectStore(store);
    const [keys, values] = await Promise.all([request(os.getAllKeys()), request(os.getAll())]);
    return keys.map((k, i) => [k, values[i]]);
  }

  /** Writes `[store, key, value]` triples in one strict transaction. */
  async put(...writes) {
    const names = [...new Set(writes.map((w) => w[0]))];
    const tx = this.db.transaction(names, "readwrite", { durability: "strict" });
    for (const [store, key, value] of writes) tx.objectStore(store).put(value, key);
    await done(tx);
  }

  /** Deletes `[store, key]` pairs in one strict transaction. */
  async delete(...keys) {
    const names = [...new Set(keys.map((k) => k[0]))];
    const tx = this.db.transaction(names, "readwrite", { durability: "strict" });
    for (const [store, key] of keys) tx.objectStore(store).delete(key);
    await done(tx);
  }

  /**
   * The core's `persist` outputs, in order, and `extra` `[store, key, value]` writes, in one
   * strict transaction.
   */
  async persist(outputs, extra = []) {
    const names = [...new Set(["snapshots", "ledger", ...extra.map((w) => w[0])])];
    const tx = this.db.transaction(names, "readwrite", { durability: "strict" });
    const snaps = tx.objectStore("snapshots");
    const ledger = tx.objectStore("ledger");
    for (const o of outputs) {
      snaps.put(o.snapshot, o.channelId);
      if (o.payment) ledger.put(o.payment.record, `${o.channelId}/${o.payment.id}`);
    }
    for (const [store, key, value] of extra) tx.objectStore(store).put(value, key);
    await done(tx);
  }

  /** Every store's content (for a backup). */
  async dump() {
    const out = {};
    for (const s of STORES) {
      out[s] = (await this.entries(s)).filter(([k]) => !(s === "meta" && k === "wrapKey"));
    }
    return out;
  }

  /** Replaces everything with a dump (a restore). */
  async load(dump) {
    const tx = this.db.transaction(STORES, "readwrite", { durability: "strict" });
    for (const s of STORES) {
      const os = tx.objectStore(s);
      os.clear();
      for (const [k, v] of dump[s] ?? []) os.put(v, k);
    }
    await done(tx);
  }
}
