// The wallet as a WebLN provider (https://webln.guide): what `requestProvider()` from the
// `webln` package finds on `window.webln`, typed as `WebLNProvider` of `@webbtc/webln-types`.
// l2pay invoices take the place of BOLT 11 ones; methods a shopper's channel cannot serve
// reject with an `UnsupportedMethodError`, as the WebLN spec asks.
import { coreVersion, parseInvoice, recoverMessage } from "./l2pay_core.js";

/** The WebLN methods this provider implements. */
const METHODS = ["enable", "isEnabled", "getInfo", "sendPayment", "getBalance", "lookupInvoice", "signMessage", "verifyMessage", "on", "off"];

/** An error of the WebLN spec's kinds (`UnsupportedMethodError`, `RejectionError`, …). */
function weblnError(name, code, message) {
  const e = new Error(message);
  e.name = name;
  e.code = code;
  return e;
}

const unsupported = (method, why) => async () => {
  throw weblnError("UnsupportedMethodError", "UNSUPPORTED_METHOD", `${method} is not supported by l2pay: ${why}`);
};

export function weblnProvider(wallet) {
  let enabled = false;
  const listeners = new Map();
  const address = async () => wallet.address ?? (await wallet.whenAddress());
  return {
    async enable() {
      enabled = true;
    },
    async isEnabled() {
      return enabled;
    },
    async getInfo() {
      return {
        node: { alias: "l2pay", pubkey: await address() },
        version: `l2pay/${coreVersion()}`,
        supports: ["l2pay"],
        methods: [...METHODS],
      };
    },
    async sendPayment(paymentRequest) {
      const r = await wallet.pay(paymentRequest);
      return { preimage: r.preimage.slice(2) };
    },
    /** The spendable channel balance in base units. WebLN types it as a number: a balance
     * above 2^53 base units cannot be one and is refused rather than rounded. */
    async getBalance() {
      const { available } = await wallet.balance();
      if (available > BigInt(Number.MAX_SAFE_INTEGER)) {
        throw weblnError("InvalidDataError", "INVALID_AMOUNT", "the balance does not fit a JS number; use wallet.balance() (bigint)");
      }
      return { balance: Number(available) };
    },
    async lookupInvoice({ paymentRequest, paymentHash } = {}) {
      const hash = paymentHash ?? (paymentRequest ? parseInvoice(paymentRequest).paymentHash : null);
      if (!hash) throw weblnError("InvalidDataError", "INVALID_INVOICE", "lookupInvoice needs a paymentRequest or a paymentHash");
      const h = (hash.startsWith("0x") ? hash : `0x${hash}`).toLowerCase();
      const entry = (await wallet.history()).find((p) => p.paymentHash.toLowerCase() === h);
      if (!entry) throw weblnError("InvalidDataError", "UNKNOWN_PAYMENT", `this wallet made no payment ${h}`);
      return {
        paymentRequest: entry.invoice ?? paymentRequest ?? "",
        paid: entry.status === "settled",
        ...(entry.preimage ? { preimage: entry.preimage.slice(2) } : {}),
      };
    },
    /** EIP-191 signature with the channel key; `verifyMessage` checks one made by this key. */
    async signMessage(message) {
      return { message, signature: await wallet.signMessage(message) };
    },
    async verifyMessage(signature, message) {
      let who;
      try {
        who = recoverMessage(message, signature);
      } catch (e) {
        throw weblnError("InvalidDataError", "BAD_SIGNATURE", `not a valid signature: ${e.message}`);
      }
      if (who.toLowerCase() !== (await address()).toLowerCase()) {
        throw weblnError("InvalidDataError", "BAD_SIGNATURE", `signed by ${who}, not by this wallet`);
      }
    },
    /** Listeners are kept for WebLN's "accountChanged", which never fires: an open wallet's
     * channel key does not change. */
    on(eventName, listener) {
      if (!listeners.has(eventName)) listeners.set(eventName, new Set());
      listeners.get(eventName).add(listener);
    },
    off(eventName, listener) {
      listeners.get(eventName)?.delete(listener);
    },
    makeInvoice: unsupported("makeInvoice", "a shopper's wallet pays invoices; merchants create them on the merchant server"),
    keysend: unsupported("keysend", "payments go to invoices (spontaneous payments need the merchant server)"),
    lnurl: unsupported("lnurl", "l2pay has no LNURL service"),
    request: unsupported("request", "there is no Lightning node behind this wallet"),
  };
}
