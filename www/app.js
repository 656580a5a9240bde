// Shared by the demo pages: the devnet settings, the shopper's wallet (opened once per page from
// /devnet.json, funded by the devnet's first funding account through httpProvider), the top
// bar with its navigation and wallet chip, banners for outages, toasts, money formatting and
// the demo merchant's API.
import { Wallet, httpProvider, formatUnits, parseUnits } from "./pkg/index.js";
import { setWallet } from "./l2pay-button.js";
import { explain, isNetworkFailure, shortReason } from "./messages.js";

export { explain, formatUnits, parseUnits };

/** The IndexedDB name of the demo shopper's wallet. */
export const WALLET_NAME = "demo-shopper";

export const token = { symbol: "tUSD", decimals: 6 };

/** An `Error` with a `code`, like the SDK's. */
export function codeError(code, message) {
  const e = new Error(message);
  e.name = "L2payError";
  e.code = code;
  return e;
}

// ---------------------------------------------------------------- devnet settings

let configPromise = null;

/** `GET /devnet.json`, once. */
export function config() {
  configPromise ??= (async () => {
    let res;
    try {
      res = await fetch("/devnet.json", { cache: "no-store" });
    } catch (e) {
      throw codeError("NETWORK", `devnet.json: ${e.message}`);
    }
    if (!res.ok) throw codeError("NETWORK", `devnet.json: HTTP ${res.status}`);
    const cfg = await res.json();
    token.symbol = cfg.tokenSymbol ?? token.symbol;
    token.decimals = cfg.tokenDecimals ?? token.decimals;
    return cfg;
  })();
  configPromise.catch(() => {
    configPromise = null;
  });
  return configPromise;
}

// ---------------------------------------------------------------- money

/** "12.50 tUSD": at least two decimals, every significant one kept. */
export function fmt(v, { symbol = true, sign = false } = {}) {
  const n = BigInt(v);
  const s = formatUnits(n < 0n ? -n : n, token.decimals);
  const [w, f = ""] = s.split(".");
  const body = `${w.replace(/\B(?=(\d{3})+(?!\d))/g, ",")}.${f.padEnd(2, "0")}`;
  const pre = n < 0n ? "−" : sign && n > 0n ? "+" : "";
  return `${pre}${body}${symbol ? ` ${token.symbol}` : ""}`;
}

/** Parses what a person typed ("12.5") into base units; throws INVALID_AMOUNT. */
export function parseAmount(text) {
  const v = parseUnits(String(text).replace(/,/g, "").trim(), token.decimals);
  if (v <= 0n) throw codeError("INVALID_AMOUNT", "amount must be above zero");
  return v;
}

export function shortHex(h, keep = 6) {
  if (!h) return "";
  return h.length <= 2 + keep * 2 ? h : `${h.slice(0, 2 + keep)}…${h.slice(-4)}`;
}

export function timeAgo(ms) {
  const s = Math.max(0, Math.round((Date.now() - ms) / 1000));
  if (s < 5) return "just now";
  if (s < 60) return `${s} s ago`;
  if (s < 3600) return `${Math.floor(s / 60)} min ago`;
  return new Date(ms).toLocaleString();
}

// ---------------------------------------------------------------- merchant API

/** Calls the demo merchant API; throws an `Error` with the API's `code` on failure. */
export async function merchantApi(path, body) {
  let res;
  try {
    res = await fetch(path, body === undefined ? { cache: "no-store" } : {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(body),
    });
  } catch (e) {
    throw codeError("NETWORK", e.message);
  }
  let data = null;
  try {
    data = await res.json();
  } catch {
    // An empty or non-JSON body: the status says enough.
  }
  if (!res.ok) {
    throw codeError(data?.error?.code ?? (res.status >= 500 ? "NETWORK" : "BAD_REQUEST"), data?.error?.message ?? `HTTP ${res.status}`);
  }
  return data;
}

/** Asks the demo merchant for an invoice of `amount` base units. */
export function createInvoice(amount, description, ttlSecs) {
  return merchantApi("/api/merchant/invoices", { amount: amount.toString(), description, ...(ttlSecs ? { ttlSecs } : {}) });
}

// ---------------------------------------------------------------- the shopper's wallet

/** Wallet events re-dispatched as `CustomEvent`s (detail = payload); survives a restore. */
export const walletEvents = new EventTarget();
const EVENTS = ["payment", "refund", "state", "connection", "chain", "role", "error"];
let current = null;
let unsubscribe = [];
let walletPromise = null;

/** The options `Wallet.open` and `Wallet.restore` take for the demo shopper. */
export async function walletOptions() {
  const cfg = await config();
  return {
    name: WALLET_NAME,
    // The demo makes a wallet on the first visit (a real shop would offer a restore first).
    create: true,
    hubUrl: cfg.hubUrl,
    challengePeriod: cfg.challengePeriod,
    chain: { provider: httpProvider(cfg.rpcUrl, { account: cfg.fundingAccounts[0] }), token: cfg.token, pollMs: 100 },
  };
}

function adopt(w) {
  for (const off of unsubscribe) off();
  current = w;
  unsubscribe = EVENTS.map((e) => w.on(e, (payload) => walletEvents.dispatchEvent(new CustomEvent(e, { detail: payload }))));
  walletPromise = Promise.resolve(w);
  setWallet(walletPromise);
  walletEvents.dispatchEvent(new CustomEvent("wallet", { detail: w }));
  return w;
}

/** Opens the shopper's wallet (once per page). */
export function openWallet() {
  if (!walletPromise) {
    walletPromise = (async () => adopt(await Wallet.open(await walletOptions())))();
    setWallet(walletPromise);
    walletPromise.catch((e) => {
      walletPromise = null;
      showBanner("wallet", "bad", "Your wallet could not be opened.", explain(e, "load"));
    });
  }
  return walletPromise;
}

/** The wallet if it is open (no waiting). */
export function wallet() {
  return current;
}

/** Replaces the open wallet: `make(options)` returns the new one (used by restore). */
export async function replaceWallet(make) {
  const old = current ?? (await walletPromise?.catch(() => null));
  if (old) await old.dispose();
  current = null;
  walletPromise = null;
  try {
    return adopt(await make(await walletOptions()));
  } catch (e) {
    // Reopen what was there so the page keeps working, then report the failure.
    await openWallet().catch(() => {});
    throw e;
  }
}

// ---------------------------------------------------------------- page chrome

const PAGES = [
  ["index.html", "Shop"],
  ["stream.html", "Stream"],
  ["wallet.html", "Wallet"],
  ["merchant.html", "Merchant"],
  ["planner.html", "Planner"],
];

let banners;
let toasts;

/**
 * Adds the top bar (navigation, wallet chip), the banner area and the toast stack. `shopper`
 * pages open the wallet and show its balance and hub connection in the chip.
 */
export function mountChrome({ active, shopper = true }) {
  const bar = document.createElement("header");
  bar.className = "topbar";
  bar.innerHTML = `<div class="topbar-inner">
      <a class="brand" href="index.html"><span class="brand-mark">L2</span>l2pay <small>demo store</small></a>
      <nav class="nav" aria-label="Pages"></nav>
      <a class="chip" id="wallet-chip" href="wallet.html"><span class="dot"></span><span class="chip-text">Wallet</span></a>
    </div>`;
  const nav = bar.querySelector(".nav");
  for (const [href, label] of PAGES) {
    const a = document.createElement("a");
    a.href = href;
    a.textContent = label;
    if (href === active) a.setAttribute("aria-current", "page");
    nav.append(a);
  }
  banners = document.createElement("div");
  banners.className = "banner-wrap";
  banners.setAttribute("role", "alert");
  toasts = document.createElement("div");
  toasts.className = "toasts";
  toasts.setAttribute("aria-live", "polite");
  document.body.prepend(bar, banners);
  document.body.append(toasts);
  const foot = document.createElement("footer");
  foot.className = "site";
  foot.innerHTML = `Everything here runs on a local devnet: anvil, the l2pay adjudicator, the tUSD test token, an l2pay hub and a demo merchant. <a href="/devnet.json">devnet.json</a> · <a href="sdk.html">SDK console</a>`;
  document.body.append(foot);
  window.addEventListener("pageshow", (e) => {
    // A page restored from the back/forward cache holds a stale wallet: start afresh.
    if (e.persisted) location.reload();
  });
  const chip = bar.querySelector("#wallet-chip");
  if (shopper) {
    watchConnection(chip);
    openWallet().then(() => refreshChip(), () => {
      chip.querySelector(".chip-text").textContent = "Wallet unavailable";
      chip.querySelector(".dot").className = "dot disconnected";
    });
  } else {
    chip.querySelector(".chip-text").textContent = "Merchant view";
    chip.querySelector(".dot").className = "dot connected";
    chip.href = "merchant.html";
  }
  config().catch((e) => showBanner("config", "bad", "The demo server is not answering.", explain(e, "load")));
}

let chipTimer = null;

/** Updates the wallet chip (available balance, connection dot) soon. */
export function refreshChip() {
  if (chipTimer) return;
  chipTimer = setTimeout(async () => {
    chipTimer = null;
    const chip = document.getElementById("wallet-chip");
    const w = current;
    if (!chip || !w) return;
    try {
      const ch = await w.channel();
      const text = ch && ch.status !== "closed" ? `${fmt(ch.available)}` : "No channel yet";
      chip.querySelector(".chip-text").textContent = text;
      chip.title = ch ? `Channel ${ch.status}; ${fmt(ch.available)} available` : "No channel: your first payment opens one";
    } catch {
      // The wallet page shows the details.
    }
  }, 120);
}

function watchConnection(chip) {
  const dot = chip.querySelector(".dot");
  let timer = null;
  const apply = (state) => {
    dot.className = `dot ${state}`;
    clearTimeout(timer);
    if (state === "connected") {
      hideBanner("hub");
    } else {
      // Brief reconnects do not deserve a banner.
      timer = setTimeout(() => {
        if (current && current.role === "leader" && current.connectionState !== "connected") {
          showBanner(
            "hub",
            "warn",
            "The payment hub is unreachable.",
            "Your wallet keeps trying to reconnect. Payments wait until it is back; your money stays safe in the channel contract.",
          );
        }
      }, state === "connecting" ? 5000 : 1500);
    }
  };
  walletEvents.addEventListener("connection", (e) => apply(e.detail.state));
  walletEvents.addEventListener("wallet", (e) => {
    const w = e.detail;
    apply(w.connectionState);
    refreshChip();
  });
  walletEvents.addEventListener("role", (e) => {
    if (e.detail.role === "leader") apply(current?.connectionState ?? "connecting");
  });
  for (const ev of ["state", "payment", "refund"]) walletEvents.addEventListener(ev, refreshChip);
  walletEvents.addEventListener("refund", (e) => toast(`Refund received: ${fmt(e.detail.amount)}`, "good"));
  walletEvents.addEventListener("error", (e) => {
    const err = e.detail;
    // Hub notices and transient failures: shown, never silent, never as a stack.
    toast(explain(err), "bad");
  });
}

/** Shows (or updates) the banner `id`; kind "warn" or "bad". */
export function showBanner(id, kind, title, text) {
  if (!banners) return;
  let b = banners.querySelector(`[data-banner="${id}"]`);
  if (!b) {
    b = document.createElement("div");
    b.dataset.banner = id;
    banners.append(b);
  }
  b.className = `banner ${kind}`;
  b.innerHTML = "";
  const body = document.createElement("div");
  const strong = document.createElement("strong");
  strong.textContent = title;
  body.append(strong, document.createTextNode(text));
  b.append(body);
}

export function hideBanner(id) {
  banners?.querySelector(`[data-banner="${id}"]`)?.remove();
}

/** A message in the corner for a few seconds. */
export function toast(text, kind = "") {
  if (!toasts) return;
  const t = document.createElement("div");
  t.className = `toast ${kind}`;
  t.textContent = text;
  toasts.append(t);
  setTimeout(() => t.remove(), 4000);
  while (toasts.children.length > 4) toasts.firstChild.remove();
}

/** Sets a `.msg` element's text and kind ("", "bad", "good", "info"); empty text hides it. */
export function say(el, text, kind = "info") {
  el.textContent = text ?? "";
  el.className = `msg ${kind}`;
  el.hidden = !text;
}

export { isNetworkFailure, shortReason };
