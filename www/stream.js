// Micropayments: a "film" drawn on a canvas that only plays as far as it has been paid for.
// While playing, the meter asks the merchant for a 0.01 tUSD invoice for the next second and
// pays it, keeping at most about a second paid ahead; pausing stops the meter (a payment
// already in flight finishes first, then the meter reads "Paused"). Also a pay-per-article
// paywall using <l2pay-button>.
import { mountChrome, openWallet, createInvoice, explain, fmt, shortHex, say, token, walletEvents } from "./app.js";
import "./l2pay-button.js";

const RATE = 10_000n; // 0.01 tUSD (6 decimals) per second
const DURATION = 120; // seconds
const AHEAD = 0.5; // pay the next second when less than this is left of the paid time
const TITLE = "Sunset over the ledger";
const ARTICLE_PRICE = 250_000n;
const ARTICLE_KEY = "l2pay-demo:article-unlocked";

const $ = (id) => document.getElementById(id);
const canvas = $("screen");
const ctx = canvas.getContext("2d");

let state = "paused"; // playing | pausing | paused
let videoTime = 0;
let paidUntil = 0;
let count = 0;
let total = 0n;
let wake = null;
let lastFrame = 0;

// ---------------------------------------------------------------- the film

function lerp(a, b, t) {
  return a + (b - a) * t;
}
function mix(c1, c2, t) {
  const p = (c) => [1, 3, 5].map((i) => parseInt(c.slice(i, i + 2), 16));
  const [a, b] = [p(c1), p(c2)];
  return `rgb(${a.map((v, i) => Math.round(lerp(v, b[i], t))).join(",")})`;
}

function draw(t) {
  const W = canvas.width;
  const H = canvas.height;
  const k = Math.min(1, t / DURATION);
  const sky = ctx.createLinearGradient(0, 0, 0, H);
  sky.addColorStop(0, mix("#4a7fd6", "#1c1446", k));
  sky.addColorStop(0.6, mix("#9cc8f0", "#e0663b", Math.min(1, k * 1.3)));
  sky.addColorStop(1, mix("#f7e7c0", "#ffb35c", k));
  ctx.fillStyle = sky;
  ctx.fillRect(0, 0, W, H);
  // The sun sets.
  const sunY = lerp(H * 0.22, H * 0.78, k);
  const glow = ctx.createRadialGradient(W * 0.68, sunY, 10, W * 0.68, sunY, 220);
  glow.addColorStop(0, "rgba(255,236,170,.95)");
  glow.addColorStop(0.25, "rgba(255,190,90,.55)");
  glow.addColorStop(1, "rgba(255,160,80,0)");
  ctx.fillStyle = glow;
  ctx.fillRect(0, 0, W, H);
  ctx.fillStyle = "#fff3c9";
  ctx.beginPath();
  ctx.arc(W * 0.68, sunY, 56, 0, Math.PI * 2);
  ctx.fill();
  // Stars once it is late.
  if (k > 0.6) {
    ctx.fillStyle = `rgba(255,255,255,${(k - 0.6) * 2})`;
    for (let i = 0; i < 60; i++) {
      const x = (i * 211) % W;
      const y = (i * 97) % (H * 0.45);
      ctx.fillRect(x, y, 2, 2);
    }
  }
  // Clouds drift.
  ctx.fillStyle = `rgba(255,255,255,${lerp(0.85, 0.35, k)})`;
  for (let i = 0; i < 5; i++) {
    const x = ((i * 330 + t * (14 + i * 5)) % (W + 400)) - 200;
    const y = 80 + i * 45;
    for (const [dx, dy, r] of [[0, 0, 34], [36, -14, 42], [78, 0, 32], [40, 10, 36]]) {
      ctx.beginPath();
      ctx.arc(x + dx, y + dy, r, 0, Math.PI * 2);
      ctx.fill();
    }
  }
  // Hills in three layers, the nearest moving fastest.
  const layers = [
    { base: 0.62, amp: 40, f: 0.004, speed: 8, c1: "#6f8fc4", c2: "#3a2a63" },
    { base: 0.72, amp: 50, f: 0.006, speed: 20, c1: "#4f8a6e", c2: "#2b2148" },
    { base: 0.84, amp: 36, f: 0.009, speed: 45, c1: "#2f6b4f", c2: "#17122c" },
  ];
  for (const l of layers) {
    ctx.fillStyle = mix(l.c1, l.c2, k);
    ctx.beginPath();
    ctx.moveTo(0, H);
    for (let x = 0; x <= W; x += 8) {
      const X = x + t * l.speed;
      ctx.lineTo(x, H * l.base + Math.sin(X * l.f) * l.amp + Math.sin(X * l.f * 2.7) * l.amp * 0.35);
    }
    ctx.lineTo(W, H);
    ctx.fill();
  }
  // Title card at the start.
  const a = t < 1 ? 1 : Math.max(0, 1 - (t - 4) / 2);
  if (a > 0) {
    ctx.fillStyle = `rgba(10,14,30,${0.35 * a})`;
    ctx.fillRect(0, H * 0.36, W, 160);
    ctx.fillStyle = `rgba(255,255,255,${a})`;
    ctx.font = "700 60px system-ui, sans-serif";
    ctx.textAlign = "center";
    ctx.fillText(TITLE, W / 2, H * 0.36 + 82);
    ctx.font = "400 26px system-ui, sans-serif";
    ctx.fillStyle = `rgba(220,228,255,${a})`;
    ctx.fillText("0.01 tUSD per second · paid as you watch", W / 2, H * 0.36 + 126);
  }
  if (state === "playing" && videoTime >= paidUntil - 0.01 && videoTime < DURATION) {
    ctx.fillStyle = "rgba(10,14,30,.55)";
    ctx.fillRect(W / 2 - 170, H - 90, 340, 46);
    ctx.fillStyle = "#fff";
    ctx.font = "500 22px system-ui, sans-serif";
    ctx.textAlign = "center";
    ctx.fillText("waiting for the next payment…", W / 2, H - 59);
  }
}

function clock(s) {
  const v = Math.floor(s);
  return `${Math.floor(v / 60)}:${String(v % 60).padStart(2, "0")}`;
}

function frame(now) {
  const dt = lastFrame ? (now - lastFrame) / 1000 : 0;
  lastFrame = now;
  if (state === "playing") videoTime = Math.min(videoTime + dt, paidUntil, DURATION);
  draw(videoTime);
  $("progress-bar").style.width = `${(videoTime / DURATION) * 100}%`;
  $("timecode").textContent = `${clock(videoTime)} / ${clock(DURATION)}`;
  if (state === "playing" && videoTime >= DURATION) pause("The end. Thanks for watching!");
  requestAnimationFrame(frame);
}

// ---------------------------------------------------------------- the meter

function setState(s) {
  state = s;
  $("meter").dataset.state = s;
  const badge = $("meter-state");
  badge.dataset.state = s;
  badge.textContent = { playing: "Paying as you watch", pausing: "Stopping…", paused: "Paused" }[s];
  badge.className = `meter-state badge ${s === "playing" ? "good" : s === "pausing" ? "warn" : ""}`;
  $("play-btn").textContent = s === "paused" ? "▶ Play" : "❚❚ Pause";
  $("play-btn").disabled = s === "pausing";
  $("overlay").hidden = s !== "paused";
  if (wake) wake();
}

/** Waits `ms`, or less if the meter is asked to stop. */
function nap(ms) {
  return new Promise((resolve) => {
    const t = setTimeout(done, Math.max(0, ms));
    function done() {
      clearTimeout(t);
      wake = null;
      resolve();
    }
    wake = done;
  });
}

function renderMeter(latencyMs) {
  $("count").textContent = String(count);
  $("total").innerHTML = `${fmt(total, { symbol: false })}<small>${token.symbol}</small>`;
  $("rate").innerHTML = `${fmt(RATE, { symbol: false })}<small>${token.symbol}/s</small>`;
  if (latencyMs !== undefined) $("latency").innerHTML = `${Math.round(latencyMs)}<small>ms</small>`;
  const ticks = $("ticks");
  if (ticks.children.length !== Math.min(count, 60)) {
    for (const i of ticks.querySelectorAll(".new")) i.classList.remove("new");
    while (ticks.children.length < Math.min(count, 60)) {
      const i = document.createElement("i");
      i.className = "new";
      ticks.append(i);
    }
  }
}

function logPayment(second, receipt, ms) {
  const li = document.createElement("li");
  li.textContent = `second ${second} · ${shortHex(receipt.paymentHash, 5)} · ${Math.round(ms)} ms`;
  $("log").prepend(li);
  while ($("log").children.length > 5) $("log").lastChild.remove();
}

async function payOneSecond(wallet) {
  if (wallet.role === "leader" && wallet.connectionState !== "connected") {
    const e = new Error("the hub is not connected");
    e.code = "NOT_CONNECTED";
    throw e;
  }
  const second = Math.floor(paidUntil) + 1;
  const t0 = performance.now();
  const inv = await createInvoice(RATE, `Stream · ${TITLE} · second ${second}`, 60);
  const receipt = await wallet.pay(inv.invoice, { timeoutMs: 15000 });
  const ms = performance.now() - t0;
  count += 1;
  total += receipt.amount + receipt.fee;
  paidUntil = Math.min(DURATION, paidUntil + 1);
  renderMeter(ms);
  logPayment(second, receipt, ms);
}

async function meter(wallet) {
  while (state === "playing") {
    if (paidUntil >= DURATION || paidUntil - videoTime > AHEAD) {
      await nap(50);
      continue;
    }
    try {
      await payOneSecond(wallet);
    } catch (e) {
      say($("player-msg"), `Playback stopped: ${explain(e, "pay")}`, "bad");
      break;
    }
  }
  setState("paused");
}

async function play() {
  say($("player-msg"), "");
  let wallet;
  try {
    wallet = await openWallet();
    const ch = await wallet.channel();
    if (!ch || ch.status !== "open") {
      $("player-msg").innerHTML = "";
      $("player-msg").append(
        "You need an open payment channel to watch. ",
        Object.assign(document.createElement("a"), { href: "index.html", textContent: "Buy something in the shop" }),
        " (your first purchase opens one) or ",
        Object.assign(document.createElement("a"), { href: "wallet.html", textContent: "open one in your wallet" }),
        ".",
      );
      $("player-msg").className = "msg info";
      $("player-msg").hidden = false;
      return;
    }
    if (ch.available < RATE) {
      say($("player-msg"), explain({ code: "INVALID_UPDATE" }, "pay"), "bad");
      return;
    }
  } catch (e) {
    say($("player-msg"), explain(e, "pay"), "bad");
    return;
  }
  if (videoTime >= DURATION) {
    videoTime = 0;
    paidUntil = 0;
  }
  setState("playing");
  meter(wallet);
}

function pause(message) {
  if (state !== "playing") return;
  setState("pausing");
  if (message) say($("player-msg"), message, "good");
}

$("play-btn").addEventListener("click", () => (state === "paused" ? play() : pause()));
canvas.addEventListener("click", () => (state === "paused" ? play() : pause()));
document.addEventListener("keydown", (e) => {
  if (e.code === "Space" && e.target === document.body) {
    e.preventDefault();
    $("play-btn").click();
  }
});

// ---------------------------------------------------------------- pay-per-article

async function articleInvoice() {
  const btn = $("article-button");
  try {
    const inv = await createInvoice(ARTICLE_PRICE, "Article · Why a cent can be a price again", 600);
    btn.setAttribute("invoice", inv.invoice);
  } catch (e) {
    say(document.getElementById("player-msg"), `The article's invoice could not be created: ${explain(e, "invoice")}`, "bad");
  }
}

function unlockArticle(hash) {
  $("article-body").classList.add("unlocked");
  $("article-pay").hidden = true;
  $("article-badge").textContent = "Unlocked";
  $("article-badge").className = "badge good";
  $("article-badge").title = hash ? `Paid: ${hash}` : "";
}

const unlocked = localStorage.getItem(ARTICLE_KEY);
if (unlocked) unlockArticle(unlocked);
else articleInvoice();
$("article-button").addEventListener("l2pay-paid", (e) => {
  localStorage.setItem(ARTICLE_KEY, e.detail.receipt.paymentHash);
  unlockArticle(e.detail.receipt.paymentHash);
});
$("article-button").addEventListener("l2pay-failed", (e) => {
  if (e.detail.code === "INVOICE_EXPIRED") articleInvoice();
});

mountChrome({ active: "stream.html" });
openWallet().catch(() => {});
walletEvents.addEventListener("connection", (e) => {
  if (e.detail.state === "disconnected" && state === "playing") {
    pause();
    say($("player-msg"), `Paused: ${explain({ code: "NOT_CONNECTED" })}`, "bad");
  }
});
renderMeter();
setState("paused");
requestAnimationFrame(frame);
