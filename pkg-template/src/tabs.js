// Multi-tab safety. Two tabs must never drive the same channel: each would sign its own next
// state and one of them would lose money. One tab holds the Web Lock `l2pay:<name>` and
// leads (it alone opens IndexedDB for writing, holds the hub connection and signs); the other
// tabs forward their calls to it over a BroadcastChannel and receive its events. When the
// leader goes away its lock is released and a waiting tab takes over.
import { L2payError } from "./errors.js";

/** Wallet methods a follower tab forwards to the leader. */
export const FORWARDED = [
  "channel",
  "balance",
  "history",
  "openChannel",
  "topUp",
  "withdraw",
  "pay",
  "close",
  "exportBackup",
  "exportKey",
  "storage",
  "signMessage",
];

/** How long a follower waits for the leader to take a call before `NO_LEADER`. */
const ACK_MS = 3000;

const lockName = (name) => `l2pay:${name}`;

/**
 * Tries to become the leader at once. Resolves `{ leader, release, promoted }`: `promoted`
 * resolves when a follower later becomes leader (with `wait: false`, a follower does not queue
 * for the lock and `promoted` never resolves).
 */
export function acquire(name, { wait = true } = {}) {
  const locks = globalThis.navigator?.locks;
  if (!locks) {
    // No Web Locks (Node, old browsers): a single context is assumed.
    return Promise.resolve({ leader: true, release() {}, promoted: new Promise(() => {}) });
  }
  let release = () => {};
  const held = () => new Promise((r) => (release = r));
  return new Promise((resolve) => {
    locks.request(lockName(name), { ifAvailable: true }, (lock) => {
      if (lock) {
        resolve({ leader: true, release: () => release(), promoted: new Promise(() => {}) });
        return held();
      }
      const promoted = new Promise((becameLeader) => {
        if (!wait) return;
        locks.request(lockName(name), () => {
          becameLeader();
          return held();
        });
      });
      resolve({ leader: false, release: () => release(), promoted });
      return undefined;
    });
  });
}

/** The leader's side: answers forwarded calls and rebroadcasts events. */
export function serve(wallet, name) {
  if (typeof BroadcastChannel === "undefined") return () => {};
  const bc = new BroadcastChannel(lockName(name));
  bc.onmessage = async ({ data }) => {
    if (data?.type !== "call") return;
    bc.postMessage({ type: "ack", id: data.id });
    if (data.method === "connectionState" || data.method === "address") {
      bc.postMessage({ type: "result", id: data.id, ok: true, value: wallet[data.method] });
      return;
    }
    if (!FORWARDED.includes(data.method)) return;
    try {
      const value = await wallet[data.method](...data.args);
      bc.postMessage({ type: "result", id: data.id, ok: true, value });
    } catch (e) {
      // The error's fields (mayComplete, paymentHash, pendingWithdrawal…) travel with it.
      const fields = Object.fromEntries(Object.entries(e ?? {}).filter(([, v]) => ["string", "number", "boolean", "bigint"].includes(typeof v)));
      bc.postMessage({ type: "result", id: data.id, ok: false, error: { ...fields, code: e?.code ?? "INTERNAL", message: e?.message ?? String(e) } });
    }
  };
  const unsubscribe = wallet.onAny((event, payload) => bc.postMessage({ type: "event", event, payload }));
  return () => {
    unsubscribe();
    bc.close();
  };
}

/** The follower's side: a `call(method, args)` and an event feed. */
export function follow(name, onEvent) {
  const bc = new BroadcastChannel(lockName(name));
  const pending = new Map();
  bc.onmessage = ({ data }) => {
    if (data?.type === "event") onEvent(data.event, data.payload);
    const call = pending.get(data?.id);
    if (!call) return;
    if (data.type === "ack") {
      clearTimeout(call.timer);
      call.taken = true;
    }
    if (data.type === "result") {
      clearTimeout(call.timer);
      pending.delete(data.id);
      if (data.ok) call.resolve(data.value);
      else {
        const { code, message, ...fields } = data.error;
        call.reject(Object.assign(new L2payError(code, message), fields));
      }
    }
  };
  return {
    call(method, args) {
      const id = crypto.randomUUID();
      return new Promise((resolve, reject) => {
        // No leader took the call: nothing happened.
        const timer = setTimeout(() => {
          pending.delete(id);
          reject(Object.assign(new L2payError("NO_LEADER", "no tab is driving this wallet (it failed to open or is closing); nothing was done: open the wallet again"), { mayComplete: false }));
        }, ACK_MS);
        pending.set(id, { resolve, reject, timer, taken: false });
        bc.postMessage({ type: "call", id, method, args });
      });
    },
    close() {
      for (const { reject, timer } of pending.values()) {
        clearTimeout(timer);
        reject(
          Object.assign(
            new L2payError("LEADER_GONE", "the tab that held the wallet closed during the call; it may have completed there: call it again to learn the outcome (pay() with the same invoice never pays twice)"),
            { mayComplete: true },
          ),
        );
      }
      pending.clear();
      bc.close();
    },
  };
}
