// The merchant dashboard: payments as they arrive (polled), partial or full refunds, balances
// on and off chain, and the hub's channels. Talks only to the devnet's merchant API.
import { mountChrome, merchantApi, explain, fmt, parseAmount, shortHex, say, showBanner, hideBanner, toast, formatUnits, token } from "./app.js";

const $ = (id) => document.getElementById(id);
const PAYMENTS_MS = 1000;
const OVERVIEW_MS = 2000;
const MAX_ROWS = 100;

let filter = "all";
let payments = [];
let merchantAddress = "";
const rows = new Map(); // paymentId -> { tr, form }
let seen = null; // payment ids already shown (null before the first load)
let lastOk = 0;

const isStream = (p) => /^Stream ·/.test(p.description ?? "");

function clock(secs) {
  if (!secs) return "–";
  const d = new Date(secs * 1000);
  return d.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit", second: "2-digit", hourCycle: "h23" });
}

// ---------------------------------------------------------------- payments

function rowFor(p) {
  let r = rows.get(p.paymentId);
  if (r) return r;
  const tr = document.createElement("tr");
  tr.dataset.paymentId = p.paymentId;
  tr.innerHTML = `<td class="num small muted nowrap" data-col="time"></td>
    <td data-col="what"><div class="desc"></div><div class="small muted mono hash"></div></td>
    <td class="right" data-col="amount"></td>
    <td class="right" data-col="refunded"></td>
    <td class="right" data-col="action"><button class="btn secondary small refund" type="button">Refund…</button><span class="badge good done" hidden>refunded</span></td>`;
  const form = document.createElement("tr");
  form.className = "refund-form";
  form.dataset.refundFor = p.paymentId;
  form.hidden = true;
  form.innerHTML = `<td colspan="5" style="background:#f7f8ff">
      <div class="row">
        <label class="field grow"><span>Refund amount (up to <b class="max"></b>)</span>
          <span class="input-unit" data-unit="${token.symbol}"><input name="refund-amount" inputmode="decimal" autocomplete="off"></span></label>
        <button class="btn secondary small full" type="button">Full amount</button>
        <button class="btn small do-refund" type="button">Refund</button>
        <button class="btn secondary small cancel" type="button">Cancel</button>
      </div>
      <p class="msg" hidden></p>
    </td>`;
  tr.querySelector(".refund").addEventListener("click", () => openForm(p.paymentId));
  form.querySelector(".cancel").addEventListener("click", () => (form.hidden = true));
  form.querySelector(".full").addEventListener("click", () => {
    const cur = payments.find((x) => x.paymentId === p.paymentId);
    form.querySelector("input").value = formatUnits(cur.refundable, token.decimals);
  });
  form.querySelector(".do-refund").addEventListener("click", () => refund(p.paymentId));
  form.querySelector("input").addEventListener("keydown", (e) => {
    if (e.key === "Enter") refund(p.paymentId);
  });
  r = { tr, form };
  rows.set(p.paymentId, r);
  return r;
}

function openForm(id) {
  const p = payments.find((x) => x.paymentId === id);
  const { form } = rows.get(id);
  for (const [other, r] of rows) if (other !== id) r.form.hidden = true;
  form.hidden = false;
  form.querySelector(".max").textContent = fmt(p.refundable);
  form.querySelector("input").value = formatUnits(p.refundable, token.decimals);
  say(form.querySelector(".msg"), "");
  form.querySelector("input").select();
}

async function refund(id) {
  const { form } = rows.get(id);
  const msg = form.querySelector(".msg");
  const btn = form.querySelector(".do-refund");
  let amount;
  try {
    amount = parseAmount(form.querySelector("input").value);
  } catch (e) {
    say(msg, explain(e, "refund"), "bad");
    return;
  }
  btn.disabled = true;
  btn.textContent = "Refunding…";
  say(msg, "Sending the refund through the hub…", "info");
  try {
    const updated = await merchantApi("/api/merchant/refunds", { paymentId: id, amount: amount.toString() });
    const i = payments.findIndex((x) => x.paymentId === id);
    if (i >= 0) payments[i] = updated;
    form.hidden = true;
    toast(`Refunded ${fmt(amount)} to the shopper`, "good");
    render();
    loadOverview();
    setTimeout(loadOverview, 700); // the refund reaches the shopper's channel a moment later
  } catch (e) {
    say(msg, explain(e, "refund"), "bad");
  } finally {
    btn.disabled = false;
    btn.textContent = "Refund";
  }
}

function render() {
  const list = payments.filter((p) => filter === "all" || (filter === "stream") === isStream(p));
  const shown = list.slice(0, MAX_ROWS);
  const body = $("payments").tBodies[0];
  const keep = new Set(shown.map((p) => p.paymentId));
  for (const [id, r] of rows) {
    if (!keep.has(id)) {
      r.tr.remove();
      r.form.remove();
    }
  }
  for (const p of shown) {
    const { tr, form } = rowFor(p);
    tr.querySelector('[data-col="time"]').textContent = clock(p.settledAt ?? p.createdAt);
    tr.querySelector(".desc").textContent = p.description || "Payment";
    tr.querySelector(".hash").textContent = shortHex(p.paymentId, 8);
    tr.querySelector(".hash").title = p.paymentId;
    tr.querySelector('[data-col="amount"]').textContent = fmt(p.amount);
    const refunded = BigInt(p.refunded);
    const cell = tr.querySelector('[data-col="refunded"]');
    cell.textContent = refunded > 0n ? fmt(refunded) : "–";
    cell.className = refunded > 0n ? "right refund-line" : "right muted";
    const left = BigInt(p.refundable);
    tr.querySelector(".refund").hidden = left === 0n;
    tr.querySelector(".done").hidden = left !== 0n;
    if (seen && !seen.has(p.paymentId)) {
      tr.classList.remove("fresh");
      void tr.offsetWidth;
      tr.classList.add("fresh");
    }
    body.append(tr, form);
  }
  seen = new Set(payments.map((p) => p.paymentId));
  $("payments-empty").hidden = shown.length > 0;
  $("payments-more").hidden = list.length <= MAX_ROWS;
  $("payments-more").textContent = `Showing the latest ${MAX_ROWS} of ${list.length}.`;

  const orders = payments.filter((p) => !isStream(p));
  const received = payments.reduce((s, p) => s + BigInt(p.amount), 0n);
  const refunded = payments.reduce((s, p) => s + BigInt(p.refunded), 0n);
  $("s-count").textContent = String(payments.length);
  $("s-count-sub").textContent = `${orders.length} order${orders.length === 1 ? "" : "s"} · ${payments.length - orders.length} micropayments · ${fmt(received)}`;
  $("s-refunded").textContent = fmt(refunded);
  $("s-refunded-sub").textContent = `${payments.filter((p) => BigInt(p.refunded) > 0n).length} payment(s) refunded`;
}

async function pollPayments() {
  try {
    const { payments: list } = await merchantApi("/api/merchant/payments");
    payments = list;
    render();
    live(true);
  } catch (e) {
    live(false, e);
  } finally {
    setTimeout(pollPayments, document.hidden ? 5000 : PAYMENTS_MS);
  }
}

// ---------------------------------------------------------------- overview

async function pollOverview() {
  await loadOverview();
  setTimeout(pollOverview, document.hidden ? 5000 : OVERVIEW_MS);
}

async function loadOverview() {
  try {
    const o = await merchantApi("/api/merchant/overview");
    merchantAddress = o.merchant.address;
    $("s-offchain").textContent = fmt(o.merchant.offChainBalance);
    $("s-onchain").textContent = fmt(o.merchant.onChainBalance);
    $("s-merchant-addr").textContent = shortHex(o.merchant.address, 6);
    $("s-merchant-addr").title = o.merchant.address;
    $("b-merchant").textContent = fmt(o.merchant.offChainBalance);
    $("b-hub").textContent = fmt(o.merchant.hubBalance);
    $("b-locked").textContent = fmt(o.merchant.locked);
    $("b-deposit").textContent = fmt(o.merchant.deposits.hub);
    $("b-nonce").textContent = String(o.merchant.nonce);
    $("b-merchant-chain").textContent = fmt(o.merchant.onChainBalance);
    $("b-hub-chain").textContent = fmt(o.hub.onChainBalance);
    renderChannels(o.hub.channels);
    hideBanner("overview");
  } catch (e) {
    if (e.code === "CHAIN_UNREACHABLE") {
      showBanner("overview", "warn", "On-chain balances are unavailable.", explain(e));
    } else if (e.code !== "NETWORK") {
      showBanner("overview", "warn", "The overview could not be loaded.", explain(e));
    }
  }
}

function renderChannels(channels) {
  $("channels-count").textContent = `${channels.length}`;
  // The merchant first, then shoppers by size.
  const sorted = [...channels].sort((a, b) => {
    const m = (c) => (c.client.toLowerCase() === merchantAddress.toLowerCase() ? 0 : 1);
    const total = (c) => BigInt(c.clientBalance) + BigInt(c.hubBalance);
    return m(a) - m(b) || (total(b) > total(a) ? 1 : total(b) < total(a) ? -1 : 0);
  });
  $("channels").replaceChildren(...sorted.map((c) => {
    const li = document.createElement("li");
    li.dataset.channelId = c.channelId;
    li.title = `channel ${c.channelId} with ${c.client}`;
    const isMerchant = c.client.toLowerCase() === merchantAddress.toLowerCase();
    li.innerHTML = `<div class="chan-top"><span class="dot"></span><strong class="who"></strong><span class="small muted updates"></span></div>
      <div class="chan-bar" aria-hidden="true"><span></span></div>
      <div class="chan-nums small"><span class="theirs"></span><span class="hub"></span></div>`;
    const open = (c.status ?? "open") === "open";
    li.querySelector(".dot").className = `dot ${open && c.connected ? "connected" : "disconnected"}`;
    li.querySelector(".who").textContent = isMerchant ? "Nonce & Co. (merchant)" : `Shopper ${shortHex(c.client, 3)}`;
    const state = open ? (c.connected ? "online" : "offline") : c.status;
    li.querySelector(".updates").textContent = `${state} · ${c.nonce} updates`;
    if (!open) li.classList.add("chan-closed");
    const theirs = BigInt(c.clientBalance);
    const hub = BigInt(c.hubBalance);
    const total = theirs + hub + BigInt(c.locked);
    const pct = total > 0n ? Number((theirs * 1000n) / total) / 10 : 0;
    li.querySelector(".chan-bar span").style.width = `${Math.max(pct, theirs > 0n ? 1 : 0)}%`;
    li.querySelector(".theirs").textContent = `${isMerchant ? "Merchant" : "Shopper"} ${fmt(theirs)}`;
    li.querySelector(".hub").textContent = `Hub ${fmt(hub)}${BigInt(c.locked) > 0n ? ` · ${fmt(c.locked)} in flight` : ""}`;
    return li;
  }));
}

// ---------------------------------------------------------------- liveness

function live(ok, e) {
  const dot = $("live-dot");
  if (ok) {
    lastOk = Date.now();
    dot.className = "dot connected";
    $("live").textContent = "Live";
    hideBanner("api");
  } else {
    dot.className = "dot disconnected";
    $("live").textContent = "Offline, retrying…";
    showBanner("api", "bad", "The merchant API is not answering.", ` ${explain(e)} The dashboard keeps retrying.`);
  }
}

setInterval(() => {
  if (lastOk && Date.now() - lastOk > 1500) {
    $("live").textContent = `Last update ${Math.round((Date.now() - lastOk) / 1000)} s ago`;
  } else if (lastOk) {
    $("live").textContent = "Live";
  }
}, 1000);

for (const b of document.querySelectorAll("[data-filter]")) {
  b.addEventListener("click", () => {
    filter = b.dataset.filter;
    for (const x of document.querySelectorAll("[data-filter]")) x.setAttribute("aria-pressed", String(x === b));
    render();
  });
}

mountChrome({ active: "merchant.html", shopper: false });
pollOverview().then(pollPayments);
