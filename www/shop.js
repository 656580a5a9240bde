// The storefront: catalogue, cart (kept in localStorage), checkout through <l2pay-button>, order
// confirmation with the receipt, and the shopper's orders with refunds the merchant issued.
import {
  mountChrome, openWallet, walletEvents, createInvoice, explain, fmt, parseUnits, token, say, shortHex, toast,
} from "./app.js";
import "./l2pay-button.js";

const ART = {
  beans: `<path d="M20 14h24l4 8v30a4 4 0 0 1-4 4H20a4 4 0 0 1-4-4V22z"/><path d="M16 22h32"/><ellipse cx="32" cy="38" rx="6" ry="9"/><path d="M32 29c-2 6 2 12 0 18"/>`,
  mug: `<path d="M14 20h30v24a8 8 0 0 1-8 8H22a8 8 0 0 1-8-8z"/><path d="M44 25h4a6 6 0 0 1 0 12h-4"/><path d="M22 8c-2 3 2 5 0 8M30 8c-2 3 2 5 0 8M38 8c-2 3 2 5 0 8"/>`,
  notebook: `<rect x="16" y="10" width="32" height="44" rx="3"/><path d="M22 10v44M28 22h14M28 30h14M28 38h9"/>`,
  tote: `<path d="M12 24h40l-4 30H16z"/><path d="M24 24v-6a8 8 0 0 1 16 0v6"/>`,
  stickers: `<path d="M14 14h26l10 10v26H14z"/><path d="M40 14v10h10"/><circle cx="27" cy="34" r="7"/><path d="M24 33h.01M30 33h.01M24 37c2 2 4 2 6 0"/>`,
  pourover: `<path d="M14 16h36L38 34H26z"/><path d="M26 34v4h12v-4"/><rect x="18" y="40" width="28" height="14" rx="4"/><path d="M50 20h4v6h-6"/>`,
};

const PRODUCTS = [
  { id: "beans", name: "House blend beans", blurb: "250 g, medium roast, chocolate and citrus.", price: "12.50", bg: "#f6e7d8", fg: "#8a4b1f" },
  { id: "mug", name: "Enamel mug", blurb: "Speckled blue, 350 ml, survives camping.", price: "8.00", bg: "#e0eaff", fg: "#2f4db8" },
  { id: "notebook", name: "Field notebook", blurb: "48 dotted pages for ledgers of all kinds.", price: "4.75", bg: "#e3f4ea", fg: "#16744a" },
  { id: "tote", name: "Canvas tote", blurb: "Heavy cotton, carries a week of groceries.", price: "15.00", bg: "#fff0d3", fg: "#9a5b00" },
  { id: "stickers", name: "Sticker pack", blurb: "Six vinyl stickers for your laptop lid.", price: "1.20", bg: "#fde6ee", fg: "#b0325d" },
  { id: "pourover", name: "Pour-over kit", blurb: "Ceramic dripper, carafe and 40 filters.", price: "29.00", bg: "#ebe7ff", fg: "#5a3fc4" },
];

const KEY = "l2pay-demo:";
const load = (k, d) => {
  try {
    return JSON.parse(localStorage.getItem(KEY + k)) ?? d;
  } catch {
    return d;
  }
};
const store = (k, v) => localStorage.setItem(KEY + k, JSON.stringify(v));

let cart = load("cart", {}); // id -> qty
let checkout = null; // { orderNo, lines, total, invoice, expiresAt }
const $ = (id) => document.getElementById(id);
const price = (p) => parseUnits(p.price, token.decimals);

function lines(c = cart) {
  return Object.entries(c)
    .filter(([, q]) => q > 0)
    .map(([id, qty]) => ({ product: PRODUCTS.find((p) => p.id === id), qty }))
    .filter((l) => l.product);
}

function total(ls) {
  return ls.reduce((s, l) => s + price(l.product) * BigInt(l.qty), 0n);
}

function renderProducts() {
  $("products").replaceChildren(...PRODUCTS.map((p) => {
    const card = document.createElement("article");
    card.className = "card product";
    card.dataset.product = p.id;
    card.innerHTML = `<div class="art" style="background:${p.bg};color:${p.fg}">
        <svg viewBox="0 0 64 64" fill="none" stroke="currentColor" stroke-width="2.6" stroke-linecap="round" stroke-linejoin="round" aria-hidden="true">${ART[p.id]}</svg></div>
      <div class="body"><h3></h3><p></p>
        <div class="buy"><span class="price"></span><button class="btn small add" type="button" aria-label="Add to cart">+ Add</button></div></div>`;
    card.querySelector("h3").textContent = p.name;
    card.querySelector("p").textContent = p.blurb;
    card.querySelector(".price").innerHTML = `${p.price} <small>tUSD</small>`;
    card.querySelector(".add").addEventListener("click", () => {
      cart[p.id] = (cart[p.id] ?? 0) + 1;
      saveCart();
      toast(`${p.name} added to your cart`);
    });
    return card;
  }));
}

function saveCart() {
  store("cart", cart);
  renderCart();
}

function renderCart() {
  const ls = lines();
  const count = ls.reduce((s, l) => s + l.qty, 0);
  $("cart-count").textContent = `${count} item${count === 1 ? "" : "s"}`;
  $("cart-empty").hidden = ls.length > 0;
  const locked = checkout !== null;
  $("cart-lines").replaceChildren(...ls.map((l) => {
    const li = document.createElement("li");
    li.dataset.product = l.product.id;
    li.innerHTML = `<span class="name"></span><span class="qty"><button type="button" aria-label="One less">−</button><span class="num"></span><button type="button" aria-label="One more">+</button></span><span class="num right"></span>`;
    li.querySelector(".name").textContent = l.product.name;
    li.querySelector(".qty .num").textContent = l.qty;
    li.querySelector(".right").textContent = fmt(price(l.product) * BigInt(l.qty), { symbol: false });
    const [less, more] = li.querySelectorAll("button");
    less.disabled = more.disabled = locked;
    less.onclick = () => {
      cart[l.product.id] = l.qty - 1;
      if (cart[l.product.id] <= 0) delete cart[l.product.id];
      saveCart();
    };
    more.onclick = () => {
      cart[l.product.id] = l.qty + 1;
      saveCart();
    };
    return li;
  }));
  $("cart-total").textContent = fmt(total(ls));
  $("checkout-btn").disabled = ls.length === 0 || locked;
  for (const b of document.querySelectorAll(".product .add")) b.disabled = locked;
}

function describe(ls, orderNo) {
  const items = ls.map((l) => `${l.qty}× ${l.product.name}`).join(", ");
  const d = `Order #${orderNo}: ${items}`;
  return d.length > 120 ? d.slice(0, 117) + "…" : d;
}

async function startCheckout() {
  const ls = lines();
  if (!ls.length) return;
  const btn = $("checkout-btn");
  btn.disabled = true;
  btn.textContent = "Preparing your invoice…";
  say($("cart-msg"), "");
  const orderNo = load("order-seq", 1000) + 1;
  try {
    const amount = total(ls);
    const inv = await createInvoice(amount, describe(ls, orderNo));
    store("order-seq", orderNo);
    checkout = { orderNo, lines: ls.map((l) => ({ id: l.product.id, name: l.product.name, qty: l.qty, price: l.product.price })), total: amount, ...inv };
    showCheckout();
  } catch (e) {
    say($("cart-msg"), explain(e, "invoice"), "bad");
  } finally {
    btn.textContent = "Checkout";
    renderCart();
  }
}

let expiryTimer = null;

function showCheckout() {
  $("checkout").hidden = false;
  $("confirmation").hidden = true;
  $("checkout-lines").replaceChildren(...checkout.lines.map((l) => {
    const li = document.createElement("li");
    li.innerHTML = `<span></span><span></span><span class="num right"></span>`;
    li.children[0].textContent = l.name;
    li.children[1].textContent = `× ${l.qty}`;
    li.children[2].textContent = fmt(parseUnits(l.price, token.decimals) * BigInt(l.qty), { symbol: false });
    return li;
  }));
  $("checkout-total").textContent = fmt(checkout.total);
  $("pay").setAttribute("invoice", checkout.invoice);
  $("renew-btn").hidden = true;
  say($("checkout-msg"), "");
  clearInterval(expiryTimer);
  const tick = () => {
    const left = checkout ? checkout.expiresAt - Math.floor(Date.now() / 1000) : 0;
    $("checkout-expiry").textContent = left > 0 ? `invoice valid ${Math.floor(left / 60)}:${String(left % 60).padStart(2, "0")}` : "invoice expired";
    $("checkout-expiry").className = left > 60 ? "badge info" : left > 0 ? "badge warn" : "badge bad";
  };
  tick();
  expiryTimer = setInterval(tick, 1000);
  renderCart();
  $("checkout").scrollIntoView({ block: "nearest", behavior: "smooth" });
}

function cancelCheckout() {
  const state = $("pay").state;
  if (state === "paying" || state === "opening") return;
  checkout = null;
  clearInterval(expiryTimer);
  $("checkout").hidden = true;
  renderCart();
}

async function renewInvoice() {
  try {
    const inv = await createInvoice(checkout.total, describe(checkout.lines.map((l) => ({ qty: l.qty, product: { name: l.name } })), checkout.orderNo));
    Object.assign(checkout, inv);
    showCheckout();
  } catch (e) {
    say($("checkout-msg"), explain(e, "invoice"), "bad");
  }
}

async function sha256Hex(hex) {
  const bytes = new Uint8Array(hex.slice(2).match(/../g).map((b) => parseInt(b, 16)));
  const d = new Uint8Array(await crypto.subtle.digest("SHA-256", bytes));
  return "0x" + [...d].map((b) => b.toString(16).padStart(2, "0")).join("");
}

async function onPaid(receipt) {
  const order = {
    orderNo: checkout.orderNo,
    lines: checkout.lines,
    total: checkout.total.toString(),
    paymentHash: receipt.paymentHash,
    preimage: receipt.preimage,
    fee: receipt.fee.toString(),
    merchant: receipt.merchant,
    paidAt: Date.now(),
  };
  const orders = load("orders", []);
  orders.unshift(order);
  store("orders", orders);
  cart = {};
  store("cart", cart);
  checkout = null;
  clearInterval(expiryTimer);
  $("checkout").hidden = true;
  const c = $("confirmation");
  c.hidden = false;
  c.dataset.paymentHash = receipt.paymentHash;
  $("confirm-lede").textContent = `Thank you! ${order.lines.map((l) => `${l.qty}× ${l.name}`).join(", ")} — paid through your channel, no on-chain transaction needed.`;
  const f = (name, v) => (c.querySelector(`[data-field="${name}"]`).textContent = v);
  f("order", `#${order.orderNo}`);
  f("amount", fmt(receipt.amount));
  f("fee", fmt(receipt.fee));
  f("merchant", receipt.merchant);
  f("paymentHash", receipt.paymentHash);
  f("preimage", receipt.preimage);
  const ok = (await sha256Hex(receipt.preimage)) === receipt.paymentHash.toLowerCase();
  say($("proof"), ok
    ? "✓ sha256(preimage) equals the payment hash: proof that the merchant was paid."
    : "The preimage does not match the payment hash. Keep this receipt and contact the merchant.", ok ? "good" : "bad");
  renderCart();
  renderOrders();
  c.scrollIntoView({ block: "nearest", behavior: "smooth" });
}

async function renderOrders() {
  const orders = load("orders", []);
  $("orders-empty").hidden = orders.length > 0;
  let refunds = new Map();
  try {
    const w = await openWallet();
    refunds = new Map((await w.history()).map((h) => [h.paymentHash.toLowerCase(), h.refunded]));
  } catch {
    // The banner explains a wallet that does not open.
  }
  $("orders").replaceChildren(...orders.slice(0, 8).map((o) => {
    const li = document.createElement("li");
    li.dataset.paymentHash = o.paymentHash;
    const refunded = refunds.get(o.paymentHash.toLowerCase()) ?? 0n;
    li.innerHTML = `<span><strong></strong><br><span class="muted"></span></span><span></span><span class="num right"></span>`;
    li.querySelector("strong").textContent = `#${o.orderNo}`;
    li.querySelector(".muted").textContent = o.lines.map((l) => `${l.qty}× ${l.name}`).join(", ");
    const badge = document.createElement("span");
    badge.className = refunded > 0n ? "badge good" : "badge";
    badge.textContent = refunded > 0n ? (refunded >= BigInt(o.total) ? "refunded" : `refunded ${fmt(refunded)}`) : "paid";
    li.children[1].append(badge);
    li.querySelector(".right").textContent = fmt(o.total, { symbol: false });
    return li;
  }));
}

mountChrome({ active: "index.html" });
renderProducts();
renderCart();
renderOrders();
$("checkout-btn").addEventListener("click", startCheckout);
$("cancel-btn").addEventListener("click", cancelCheckout);
$("renew-btn").addEventListener("click", renewInvoice);
$("continue-btn").addEventListener("click", () => ($("confirmation").hidden = true));
$("pay").addEventListener("l2pay-state", (e) => {
  const busy = e.detail.state === "paying" || e.detail.state === "opening";
  $("cancel-btn").disabled = busy;
});
$("pay").addEventListener("l2pay-paid", (e) => onPaid(e.detail.receipt));
$("pay").addEventListener("l2pay-failed", (e) => {
  if (e.detail.code === "INVOICE_EXPIRED") {
    $("renew-btn").hidden = false;
    say($("checkout-msg"), "Invoices are valid for ten minutes. Get a fresh one for the same order and pay again.", "info");
  }
});
walletEvents.addEventListener("refund", () => renderOrders());
