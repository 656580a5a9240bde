// On-chain steps through an EIP-1193 provider (`window.ethereum`, or any object with
// `request({ method, params })`). Calldata comes from the Rust core; this module only moves
// it and follows the transaction: submitted → mined → confirmed.
import { decodeLog, decodeUint, eventTopic, txBalanceOf } from "./l2pay_core.js";
import { L2payError } from "./errors.js";

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function hexQuantity(v) {
  return "0x" + BigInt(v).toString(16);
}

function chainError(e, what) {
  if (e instanceof L2payError) return e;
  if (e?.code === 4001) return new L2payError("USER_REJECTED", `${what}: rejected in the wallet`, { cause: e });
  return new L2payError("CHAIN_ERROR", `${what}: ${e?.message ?? e}`, { cause: e });
}

export class Chain {
  /**
   * @param {{ request(args: { method: string, params?: unknown[] }): Promise<unknown> }} provider
   * @param {{ confirmations?: number, pollMs?: number, timeoutMs?: number }} opts
   */
  constructor(provider, opts = {}) {
    if (!provider || typeof provider.request !== "function") {
      throw new L2payError("NO_PROVIDER", "chain.provider must be an EIP-1193 provider (an object with request())");
    }
    this.provider = provider;
    this.confirmations = opts.confirmations ?? 1;
    this.pollMs = opts.pollMs ?? 250;
    this.timeoutMs = opts.timeoutMs ?? 600000;
    this.from = null;
  }

  async rpc(method, params = [], what = method) {
    try {
      return await this.provider.request({ method, params });
    } catch (e) {
      throw chainError(e, what);
    }
  }

  /** The account that pays for on-chain steps (asks the wallet for access once). */
  async account() {
    if (this.from) return this.from;
    let accounts = await this.rpc("eth_accounts", [], "reading accounts");
    if (!accounts?.length) accounts = await this.rpc("eth_requestAccounts", [], "connecting the wallet");
    if (!accounts?.length) throw new L2payError("NO_ACCOUNT", "the provider exposes no account");
    this.from = accounts[0];
    return this.from;
  }

  async chainId() {
    return Number(BigInt(await this.rpc("eth_chainId", [], "reading the chain id")));
  }

  async blockTime() {
    const b = await this.rpc("eth_getBlockByNumber", ["latest", false], "reading the chain head");
    return Number(BigInt(b.timestamp));
  }

  async tokenBalance(token, who) {
    if (/^0x0{40}$/i.test(token)) {
      return BigInt(await this.rpc("eth_getBalance", [who, "latest"], "reading a balance"));
    }
    const data = await this.rpc("eth_call", [{ to: token, data: txBalanceOf(who) }, "latest"], "reading a balance");
    return BigInt(decodeUint(data));
  }

  /**
   * Sends a transaction and follows it. `onProgress({ stage, hash, label })` is called with
   * stage "submitted", "mined" and "confirmed". Resolves with the receipt and the adjudicator
   * events its logs carry; throws `CHAIN_ERROR` if it reverts.
   */
  async send({ to, data, value = 0n, label, timeoutMs }, onProgress = () => {}, onSubmitted = async () => {}) {
    const from = await this.account();
    const tx = { from, to, data };
    if (value) tx.value = hexQuantity(value);
    let hash;
    try {
      hash = await this.rpc("eth_sendTransaction", [tx], label);
    } catch (e) {
      // The provider answered with an error (rejected, or the node refused the transaction,
      // e.g. its gas estimate reverted): nothing was sent. Without an answer it may have been.
      if (typeof e?.cause?.code === "number") e.notSent = true;
      throw e;
    }
    await onSubmitted(hash);
    onProgress({ stage: "submitted", hash, label });
    return this.follow(hash, label, onProgress, timeoutMs);
  }

  /** The adjudicator events of a transaction already sent (waits until it is mined). */
  async receipt(hash, label, timeoutMs) {
    return (await this.follow(hash, label, () => {}, timeoutMs)).events;
  }

  /**
   * Waits for `hash` to be mined and confirmed. After `timeoutMs` it throws `TIMEOUT` with
   * `txHash` and `mayComplete: true`: the transaction is out and may still be mined.
   */
  async follow(hash, label, onProgress, timeoutMs = this.timeoutMs) {
    const deadline = Date.now() + timeoutMs;
    const waitMore = async () => {
      if (Date.now() >= deadline) {
        const e = new L2payError("TIMEOUT", `${label}: transaction ${hash} not confirmed within ${timeoutMs} ms; it may still be mined: call the same method again to follow it`);
        e.txHash = hash;
        e.mayComplete = true;
        throw e;
      }
      await sleep(this.pollMs);
    };
    let receipt = null;
    while (!receipt) {
      receipt = await this.rpc("eth_getTransactionReceipt", [hash], label);
      if (!receipt) await waitMore();
    }
    if (BigInt(receipt.status) !== 1n) {
      const e = new L2payError("CHAIN_ERROR", `${label}: the transaction reverted (${hash})`);
      e.reverted = true;
      e.txHash = hash;
      throw e;
    }
    onProgress({ stage: "mined", hash, label, blockNumber: Number(BigInt(receipt.blockNumber)) });
    const mined = BigInt(receipt.blockNumber);
    for (;;) {
      const head = BigInt(await this.rpc("eth_blockNumber", [], label));
      if (head - mined + 1n >= BigInt(this.confirmations)) break;
      await waitMore();
    }
    onProgress({ stage: "confirmed", hash, label });
    const events = receipt.logs.map((l) => decodeLog(l.topics, l.data)).filter((e) => e !== null);
    return { hash, receipt, events };
  }

  /** The decoded adjudicator events `name` (e.g. "Settled", or every one for `null`) of one
   * channel, oldest first. */
  async events(adjudicator, name, channelId) {
    const logs = await this.rpc(
      "eth_getLogs",
      [{ address: adjudicator, fromBlock: "0x0", toBlock: "latest", topics: [name === null ? null : eventTopic(name), channelId] }],
      "reading events",
    );
    return logs.map((l) => decodeLog(l.topics, l.data)).filter((e) => e !== null);
  }

  /** Resolves once the chain's clock passes `deadline` (unix seconds). */
  async waitUntil(deadline) {
    while ((await this.blockTime()) <= deadline) await sleep(Math.max(this.pollMs, 1000));
  }
}

/**
 * A minimal EIP-1193 provider over JSON-RPC HTTP, for development chains whose node holds
 * unlocked accounts (anvil): `httpProvider("http://127.0.0.1:8545", { account })`.
 */
export function httpProvider(url, { account } = {}) {
  let id = 0;
  return {
    async request({ method, params = [] }) {
      if (account && (method === "eth_accounts" || method === "eth_requestAccounts")) return [account];
      const res = await fetch(url, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ jsonrpc: "2.0", id: ++id, method, params }),
      });
      const body = await res.json();
      if (body.error) {
        const err = new Error(body.error.message);
        err.code = body.error.code;
        err.data = body.error.data;
        throw err;
      }
      return body.result;
    },
  };
}
