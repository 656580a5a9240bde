// The shopper's wallet panel: balances, payment history with refunds against their payments,
// open / top up / withdraw / close with on-chain progress, encrypted backup and restore.
import { Wallet } from "./pkg/index.js";
import { CHAIN_DOWN, chainDown } from "./messages.js";
import {
  mountChrome, openWallet, wallet as currentWallet, walletEvents, replaceWallet, config, explain, fmt, parseAmount,
  shortHex, say, timeAgo, refreshChip, toast,
} from "./app.js";

const $ = (id) => document.getElementById(id);
const ACTIONS = ["open-btn", "topup-btn", "withdraw-btn", "close-btn", "close-yes", "backup-btn", "restore-btn"];
let busy = false;
let refreshTimer = null;
let lastChannel = null;
const flash = new Set(); // payment hashes to highlight (just refunded)

// ---------------------------------------------------------------- rendering

function scheduleRefresh(ms = 100) {
  clearTimeout(refreshTimer);
  refreshTimer = setTimeout(refresh, ms);
}

async function refresh() {
  const w = currentWallet();
  if (!w) return;
  try {
    const [ch, hist] = await Promise.all([w.channel(), w.history()]);
    lastChannel = ch;
    renderChannel(ch, w);
    renderHistory(hist);
  } catch (e) {
    say($("channel-msg"), explain(e), "bad");
  }
  // The on-chain part needs the chain: a separate call, so an unreachable node only blanks it.
  try {
    const b = await w.balance();
    $("b-available").textContent = fmt(b.available);
    $("b-locked").textContent = fmt(b.locked);
    $("b-deposited").textContent = fmt(b.deposited);
    $("b-onchain").textContent = b.onChain === null ? "unavailable" : fmt(b.onChain);
    $("b-onchain").title = b.onChain === null ? CHAIN_DOWN : "";
  } catch (e) {
    const ch = lastChannel;
    $("b-available").textContent = ch ? fmt(ch.available) : fmt(0n);
    $("b-locked").textContent = ch ? fmt(ch.locked) : fmt(0n);
    $("b-deposited").textContent = ch ? fmt(ch.deposited - ch.withdrawn) : fmt(0n);
    $("b-onchain").textContent = "unavailable";
    $("b-onchain").title = explain(e);
  }
  refreshChip();
}

function renderChannel(ch, w) {
  const status = $("channel-status");
  const open = ch && ch.status === "open";
  status.textContent = ch ? ch.status : "none";
  status.className = `badge ${open ? "good" : ch ? "warn" : ""}`;
  $("channel-info").hidden = !ch;
  $("open-panel").hidden = !!ch;
  $("manage-panel").hidden = !open;
  if (ch) {
    $("c-id").textContent = shortHex(ch.channelId, 8);
    $("c-id").title = ch.channelId;
    $("c-hub").textContent = fmt(ch.hubBalance);
    $("c-nonce").textContent = String(ch.nonce);
    $("c-key").textContent = w.address ? shortHex(w.address, 6) : "held by another tab";
    $("c-key").title = w.address ?? "";
    if (ch.failure) say($("channel-msg"), `This channel can only be settled on chain now: ${ch.failure}`, "bad");
    if (ch.status === "opening" && !busy) {
      say($("channel-msg"), "An earlier attempt to open this channel did not finish, and the wallet cannot resume it. No payment can use it.", "bad");
    }
  }
  const role = $("role-badge");
  role.hidden = w.role !== "follower";
  role.textContent = "Another tab drives this wallet";
}

/** Folds runs of settled per-second stream payments into one entry each. */
function groupStreams(hist) {
  const out = [];
  for (const h of hist) {
    const m = /^Stream · (.+) · second (\d+)$/.exec(h.description ?? "");
    const last = out[out.length - 1];
    if (m && h.status === "settled" && h.refunded === 0n) {
      if (last?.group && last.title === m[1]) last.items.push(h);
      else out.push({ group: true, title: m[1], items: [h] });
    } else {
      out.push(h);
    }
  }
  return out.map((x) => (x.group && x.items.length === 1 ? x.items[0] : x));
}

function streamRow(g) {
  const tr = document.createElement("tr");
  tr.dataset.group = "stream";
  const newest = g.items[0];
  const seconds = g.items.map((h) => Number(/second (\d+)$/.exec(h.description)[1]));
  const sum = g.items.reduce((s, h) => s + h.amount + h.fee, 0n);
  tr.innerHTML = `<td class="small muted nowrap"></td>
    <td><div class="desc"></div><div class="small muted"></div></td>
    <td class="right"><div class="amt"></div></td>
    <td class="right"><span class="badge good">paid</span></td>`;
  tr.cells[0].textContent = timeAgo(newest.createdAt);
  tr.cells[0].title = new Date(newest.createdAt).toLocaleString();
  tr.querySelector(".desc").textContent = `Stream · ${g.title}`;
  tr.querySelector(".small.muted:not(td)").textContent =
    `${g.items.length} seconds watched (seconds ${Math.min(...seconds)}–${Math.max(...seconds)}), ${g.items.length} payments of ${fmt(g.items[0].amount)}`;
  tr.querySelector(".amt").textContent = fmt(-sum);
  return tr;
}

function renderHistory(hist) {
  $("history-count").textContent = `${hist.length} payment${hist.length === 1 ? "" : "s"}`;
  $("history-empty").hidden = hist.length > 0;
  const body = $("history").tBodies[0];
  body.replaceChildren(...groupStreams(hist).slice(0, 200).map((h) => {
    if (h.group) return streamRow(h);
    const tr = document.createElement("tr");
    tr.dataset.paymentHash = h.paymentHash;
    if (flash.has(h.paymentHash.toLowerCase())) tr.className = "fresh";
    tr.innerHTML = `<td class="small muted nowrap"></td>
      <td><div class="desc"></div><details class="more"><summary>receipt</summary><dl class="kv small"></dl></details></td>
      <td class="right"><div class="amt"></div><div class="refund-line" hidden></div></td>
      <td class="right"></td>`;
    tr.cells[0].textContent = timeAgo(h.createdAt);
    tr.cells[0].title = new Date(h.createdAt).toLocaleString();
    tr.querySelector(".desc").textContent = h.description || "Payment";
    const kv = tr.querySelector("dl");
    const add = (k, v) => {
      const dt = document.createElement("dt");
      dt.textContent = k;
      const dd = document.createElement("dd");
      dd.className = "mono";
      dd.textContent = v;
      kv.append(dt, dd);
    };
    add("Payment hash", h.paymentHash);
    if (h.preimage) add("Preimage", h.preimage);
    add("Merchant", h.merchant);
    if (h.fee > 0n) add("Fee", fmt(h.fee));
    if (h.reason) add("Reason", h.reason);
    const amt = tr.querySelector(".amt");
    amt.textContent = fmt(-(h.amount + h.fee));
    if (h.status === "failed") amt.className = "amt strike";
    const refund = tr.querySelector(".refund-line");
    if (h.refunded > 0n) {
      refund.hidden = false;
      refund.textContent = `${fmt(h.refunded, { sign: true })} refunded${h.refunded >= h.amount ? " in full" : ""}`;
    }
    const badge = document.createElement("span");
    badge.className = `badge ${h.status === "settled" ? (h.refunded > 0n ? "info" : "good") : h.status === "failed" ? "bad" : "warn"}`;
    badge.textContent = h.status === "settled" ? (h.refunded >= h.amount ? "refunded" : h.refunded > 0n ? "part refunded" : "paid") : h.status;
    tr.cells[3].append(badge);
    return tr;
  }));
}

// ---------------------------------------------------------------- actions

const STEP_NAMES = {
  approve: "Approve tUSD",
  openChannel: "Open channel",
  topUp: "Deposit",
  withdraw: "Withdrawal",
  close: "Cooperative close",
  "force close": "Close on chain",
  settle: "Settle",
};

function logChain(p) {
  const log = $("chain-log");
  const name = STEP_NAMES[p.label] ?? STEP_NAMES[p.step] ?? p.label ?? p.step;
  let text;
  if (p.stage === "submitted") text = `${name}: sent ${shortHex(p.hash, 5)}, waiting to be mined…`;
  else if (p.stage === "mined") text = `${name}: mined in block ${p.blockNumber}`;
  else if (p.stage === "confirmed") text = `${name}: confirmed`;
  else if (p.stage === "waiting") text = `Challenge period: settles after ${new Date(p.deadline * 1000).toLocaleTimeString()}`;
  else if (p.stage === "done") text = `Channel ${p.step}`;
  else if (p.stage === "required") text = `Dispute required: ${p.reason}`;
  else text = `${name}: ${p.stage}`;
  const li = document.createElement("li");
  li.textContent = text;
  log.append(li);
  while (log.children.length > 8) log.firstChild.remove();
}

function setBusy(b) {
  busy = b;
  for (const id of ACTIONS) $(id).disabled = b;
}

/** Runs `fn(wallet)` with the buttons disabled, chain progress logged, and a clear outcome. */
async function run(btn, working, fn, action, msgEl = $("channel-msg")) {
  if (busy) return;
  setBusy(true);
  const label = btn.textContent;
  btn.textContent = working;
  say(msgEl, "");
  $("chain-log").replaceChildren();
  try {
    const w = await openWallet();
    const done = await fn(w);
    if (done) say(msgEl, done, "good");
  } catch (e) {
    say(msgEl, explain(e, action), "bad");
  } finally {
    btn.textContent = label;
    setBusy(false);
    scheduleRefresh(0);
  }
}

function amountOf(id) {
  return parseAmount($(id).value);
}

/** Refuses before any transaction when the account cannot pay `amount` (a reverted deposit helps nobody). */
async function ensureOnChain(w, amount) {
  const { onChain } = await w.balance();
  if (onChain === null) throw chainDown();
  if (onChain < amount) {
    const e = new Error(`Your account holds ${fmt(onChain)} on chain, less than the ${fmt(amount)} you asked for. Choose a smaller amount.`);
    e.code = "INSUFFICIENT_ON_CHAIN";
    throw e;
  }
}

$("open-btn").addEventListener("click", () =>
  run($("open-btn"), "Opening…", async (w) => {
    const deposit = amountOf("open-amount");
    await ensureOnChain(w, deposit);
    await w.openChannel({ deposit });
    return `Channel open with ${fmt(deposit)}. Payments from now on are instant.`;
  }, "open"));

$("topup-btn").addEventListener("click", () =>
  run($("topup-btn"), "Topping up…", async (w) => {
    const a = amountOf("topup-amount");
    await ensureOnChain(w, a);
    const b = await w.topUp(a);
    return `Added ${fmt(a)}. You can now spend ${fmt(b.available)}.`;
  }, "topUp"));

$("withdraw-btn").addEventListener("click", () =>
  run($("withdraw-btn"), "Withdrawing…", async (w) => {
    const a = amountOf("withdraw-amount");
    const ch = await w.channel();
    if (ch && a > ch.available) {
      const e = new Error("more than available");
      e.code = "INVALID_UPDATE";
      throw e;
    }
    await w.withdraw(a);
    return `${fmt(a)} withdrawn to your account on chain. The channel stays open.`;
  }, "withdraw"));

$("close-btn").addEventListener("click", async () => {
  const ch = lastChannel;
  $("close-text").textContent = ch
    ? `Closing settles the channel on chain and pays your ${fmt(ch.available)} back to your account. You can open a new channel any time.`
    : "Close the channel?";
  $("close-confirm").hidden = false;
  $("close-btn").hidden = true;
});
$("close-no").addEventListener("click", () => {
  $("close-confirm").hidden = true;
  $("close-btn").hidden = false;
});
$("close-yes").addEventListener("click", () =>
  run($("close-yes"), "Closing…", async (w) => {
    const r = await w.close();
    $("close-confirm").hidden = true;
    $("close-btn").hidden = false;
    return r.how === "closed"
      ? `Channel closed. ${fmt(r.payout)} paid back to your account.`
      : `Channel settled on chain after the challenge period. ${fmt(r.payout)} paid back to your account.`;
  }, "close"));

$("backup-btn").addEventListener("click", () =>
  run($("backup-btn"), "Encrypting…", async (w) => {
    const backup = await w.exportBackup($("backup-pass").value);
    const name = `l2pay-wallet-backup-${new Date().toISOString().slice(0, 10)}.json`;
    const url = URL.createObjectURL(new Blob([backup], { type: "application/json" }));
    const a = Object.assign(document.createElement("a"), { href: url, download: name });
    document.body.append(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(url), 10000);
    return `Saved ${name}. Keep the file and the passphrase: you need both to restore.`;
  }, "backup", $("backup-msg")));

$("restore-btn").addEventListener("click", () =>
  run($("restore-btn"), "Restoring…", async () => {
    const file = $("restore-file").files[0];
    if (!file) {
      const e = new Error("no backup file chosen");
      e.code = "NO_FILE";
      throw e;
    }
    if (currentWallet()?.role === "follower") {
      // Another tab drives this wallet; replacing its storage under it would lose updates.
      const e = new Error("another tab holds the wallet");
      e.code = "FOLLOWER_TAB";
      throw e;
    }
    const backup = await file.text();
    const passphrase = $("restore-pass").value;
    const w = await replaceWallet((opts) => Wallet.restore({ ...opts, backup, passphrase }));
    const ch = await w.channel();
    return `Wallet restored${ch ? `: ${fmt(ch.available)} available` : ""}.`;
  }, "restore", $("restore-msg")));

// ---------------------------------------------------------------- events

walletEvents.addEventListener("chain", (e) => logChain(e.detail));
walletEvents.addEventListener("refund", (e) => {
  flash.add(e.detail.paymentHash.toLowerCase());
  scheduleRefresh(0);
  setTimeout(() => flash.delete(e.detail.paymentHash.toLowerCase()), 3000);
});
for (const ev of ["payment", "state", "wallet", "role"]) walletEvents.addEventListener(ev, () => scheduleRefresh());
setInterval(() => {
  if (!busy && !document.hidden) refresh();
}, 5000);

mountChrome({ active: "wallet.html" });
config().then((cfg) => {
  $("b-account").textContent = shortHex(cfg.fundingAccounts[0], 4);
  $("b-account").title = cfg.fundingAccounts[0];
  $("wallet-lede").textContent = `A payment channel with the l2pay hub, kept in this browser and funded from account ${shortHex(cfg.fundingAccounts[0], 4)} on the local chain.`;
}, () => {});
openWallet().then(() => refresh(), (e) => say($("channel-msg"), explain(e, "load"), "bad"));
