// <l2pay-button invoice="l2pay1…">: a pay button any storefront can drop in.
//
//   import { setWallet } from "./l2pay-button.js";
//   setWallet(Wallet.open({ … }));          // a Wallet, or a promise of one, shared by every button
//   <l2pay-button invoice="l2pay1…" deposit="50"></l2pay-button>
//   button.addEventListener("l2pay-paid", (e) => e.detail.receipt);
//
// Attributes: invoice (required), deposit (suggested first deposit in whole tokens, default 50),
// symbol (default "tUSD"), decimals (default 6), label (button text; default "Pay <amount>"),
// wallet-href (where to send the shopper to top up; shown when the channel is short).
// Properties: wallet (overrides the shared wallet), invoice, state, receipt, error.
// Methods: pay(), reset().
// Events (bubbling, composed): l2pay-state {state}, l2pay-progress {step, stage, text},
// l2pay-paid {receipt, invoice}, l2pay-failed {error, code, message, invoice}.
// States (also reflected as the `state` attribute): idle → [setup → opening →] paying → paid,
// or failed. "setup" asks for the first deposit when the wallet has no channel yet; "opening"
// shows the deposit being mined.
import { initL2pay, parseInvoice, formatUnits, parseUnits } from "./pkg/index.js";
import { chainDown, explain } from "./messages.js";

let sharedWallet = null;

/** Sets the wallet (or a promise of one) every button without its own `wallet` uses. */
export function setWallet(wallet) {
  sharedWallet = wallet;
}

/** The shared wallet, once it is open. */
export async function getWallet() {
  return sharedWallet ? await sharedWallet : null;
}

const STYLE = `
:host { display: block; font: inherit; --accent: var(--l2pay-accent, #3b4ee0); --good: var(--l2pay-good, #13804f); --bad: var(--l2pay-bad, #b3261e); }
.pay {
  font: inherit; font-weight: 650; font-size: 1rem; width: 100%; cursor: pointer;
  padding: .75rem 1rem; border-radius: var(--l2pay-radius, 10px); border: 0;
  background: var(--accent); color: #fff; display: flex; align-items: center; justify-content: center; gap: .55rem;
  box-shadow: 0 2px 10px rgba(59, 78, 224, .25); transition: filter .15s, background .2s;
}
.pay:hover:not(:disabled) { filter: brightness(1.08); }
.pay:focus-visible { outline: 3px solid rgba(59, 78, 224, .35); outline-offset: 2px; }
.pay:disabled { cursor: default; }
:host([state="paying"]) .pay, :host([state="opening"]) .pay { background: #5b6bd8; }
:host([state="paid"]) .pay { background: var(--good); box-shadow: none; }
:host([state="failed"]) .pay { background: #fff; color: var(--bad); border: 1px solid #f0c4c0; box-shadow: none; }
.logo { width: 18px; height: 18px; border-radius: 5px; background: rgba(255,255,255,.22); display: grid; place-items: center; font-size: .62rem; font-weight: 800; }
:host([state="failed"]) .logo { background: #fdeceb; }
.spin { width: 16px; height: 16px; border-radius: 50%; border: 2px solid rgba(255,255,255,.4); border-top-color: #fff; animation: spin .8s linear infinite; }
@keyframes spin { to { transform: rotate(360deg); } }
.setup { border: 1px solid #dfe3f5; background: #f7f8ff; border-radius: var(--l2pay-radius, 10px); padding: .85rem .9rem; margin-top: .6rem; font-size: .9rem; }
.setup p { margin: 0 0 .6rem; color: #3c4654; }
.setup label { display: grid; gap: .3rem; font-size: .85rem; color: #5d6b7a; }
.unit { position: relative; }
.unit input { font: inherit; width: 100%; box-sizing: border-box; padding: .5rem 3.6rem .5rem .6rem; border: 1px solid #cdd5df; border-radius: 8px; font-size: 1rem; }
.unit span { position: absolute; right: .7rem; top: 50%; transform: translateY(-50%); color: #8995a3; font-size: .85rem; }
.presets { display: flex; gap: .35rem; margin: .45rem 0 .7rem; }
.presets button, .cancel { font: inherit; font-size: .82rem; padding: .25rem .6rem; border-radius: 999px; border: 1px solid #cdd5df; background: #fff; cursor: pointer; }
.presets button[aria-pressed="true"] { border-color: var(--accent); color: var(--accent); background: #eceefe; }
.actions { display: flex; gap: .5rem; align-items: center; }
.actions .pay { flex: 1; }
.cancel { border-radius: 8px; padding: .6rem .8rem; }
.steps { list-style: none; margin: .7rem 0 0; padding: 0; display: grid; gap: .4rem; font-size: .88rem; }
.steps li { display: grid; grid-template-columns: 20px 1fr; gap: .5rem; align-items: start; color: #8995a3; }
.steps li .ic { width: 18px; height: 18px; border-radius: 50%; border: 2px solid #cdd5df; box-sizing: border-box; margin-top: 1px; }
.steps li[data-s="active"] { color: #17202b; }
.steps li[data-s="active"] .ic { border-color: var(--accent); border-top-color: transparent; animation: spin .9s linear infinite; }
.steps li[data-s="done"] { color: #17202b; }
.steps li[data-s="done"] .ic { border: 0; background: var(--good); position: relative; }
.steps li[data-s="done"] .ic::after { content: ""; position: absolute; left: 6px; top: 3px; width: 4px; height: 8px; border: solid #fff; border-width: 0 2px 2px 0; transform: rotate(45deg); }
.steps small { display: block; color: #8995a3; font-family: ui-monospace, monospace; font-size: .76rem; }
.status { margin: .55rem 0 0; font-size: .88rem; color: #5d6b7a; min-height: 0; }
.status:empty { display: none; }
:host([state="failed"]) .status { color: #7a1a14; background: #fdeceb; padding: .55rem .7rem; border-radius: 8px; }
:host([state="paid"]) .status { color: #0c5535; }
.status a { color: inherit; font-weight: 600; }
`;

const STEP_TEXT = {
  approve: "Allow the channel contract to take the deposit",
  openChannel: "Deposit into the channel contract",
  hub: "Payment hub sees the deposit",
  pay: "Pay instantly through the channel",
};

function codeError(code, message) {
  const e = new Error(message);
  e.name = "L2payError";
  e.code = code;
  return e;
}

function shortHash(h) {
  return h ? `${h.slice(0, 10)}…${h.slice(-6)}` : "";
}

export class L2payButton extends HTMLElement {
  static observedAttributes = ["invoice", "label", "deposit", "symbol", "decimals"];

  constructor() {
    super();
    this._wallet = null;
    this._state = "idle";
    this.receipt = null;
    this.error = null;
    this._parsed = null;
    const root = this.attachShadow({ mode: "open" });
    root.innerHTML = `<style>${STYLE}</style>
      <button class="pay" part="button" type="button"></button>
      <div class="setup" part="setup" hidden>
        <p>First payment from this browser: open a payment channel with a deposit. Every payment after that is instant, and what you don't spend comes back when you close the channel.</p>
        <label>Deposit
          <span class="unit"><input part="deposit" name="deposit" inputmode="decimal" autocomplete="off"><span class="sym"></span></span>
        </label>
        <div class="presets" role="group" aria-label="Deposit presets"></div>
        <div class="actions">
          <button class="pay open" part="open-button" type="button"></button>
          <button class="cancel" type="button">Cancel</button>
        </div>
      </div>
      <ol class="steps" part="steps" hidden></ol>
      <p class="status" part="status" role="status" aria-live="polite"></p>`;
    this.$ = (s) => root.querySelector(s);
    this.$(".pay").addEventListener("click", () => this.pay());
    this.$(".open").addEventListener("click", () => this._confirmDeposit());
    this.$(".cancel").addEventListener("click", () => this.reset());
    this.$("input").addEventListener("input", () => this._renderSetup());
    this.$("input").addEventListener("keydown", (e) => {
      if (e.key === "Enter") this._confirmDeposit();
    });
  }

  connectedCallback() {
    // Properties set before the element was defined shadow the accessors: re-apply them.
    for (const p of ["wallet", "invoice"]) {
      if (Object.prototype.hasOwnProperty.call(this, p)) {
        const v = this[p];
        delete this[p];
        this[p] = v;
      }
    }
    if (!this.hasAttribute("state")) this.setAttribute("state", this._state);
    this._parse();
    this._render();
  }

  attributeChangedCallback(name, oldValue, newValue) {
    if (oldValue === newValue) return;
    if (name === "invoice") {
      if (this._state === "paying" || this._state === "opening") return;
      this.receipt = null;
      this.error = null;
      this._steps = null;
      this._setState("idle", "");
      this._parse();
    }
    this._render();
  }

  /** The wallet this button pays with: its own, else the shared one. */
  get wallet() {
    return this._wallet ?? sharedWallet;
  }
  set wallet(w) {
    this._wallet = w;
  }

  get invoice() {
    return this.getAttribute("invoice") ?? "";
  }
  set invoice(v) {
    this.setAttribute("invoice", v);
  }

  get state() {
    return this._state;
  }

  get decimals() {
    return Number(this.getAttribute("decimals") ?? 6);
  }

  get symbol() {
    return this.getAttribute("symbol") ?? "tUSD";
  }

  /** Back to idle (keeps the invoice). */
  reset() {
    if (this._state === "paying" || this._state === "opening") return;
    this.error = null;
    this._setState(this.receipt ? "paid" : "idle", "");
    this._render();
  }

  fmt(v) {
    const s = formatUnits(v, this.decimals);
    const [w, f = ""] = s.split(".");
    return `${w}.${f.padEnd(2, "0")} ${this.symbol}`;
  }

  async _parse() {
    this._parsed = null;
    const inv = this.invoice;
    if (!inv) return;
    try {
      await initL2pay();
      if (inv !== this.invoice) return;
      this._parsed = parseInvoice(inv);
    } catch (e) {
      this._parsed = { error: e };
    }
    this._render();
  }

  async _invoiceInfo() {
    if (!this.invoice) throw codeError("INVALID_INVOICE", "no invoice attribute");
    await initL2pay();
    const p = parseInvoice(this.invoice);
    this._parsed = p;
    return p;
  }

  /** Pays the invoice: opens a channel first if the wallet has none (asking for the deposit). */
  async pay() {
    if (["paying", "opening", "paid"].includes(this._state)) return this.receipt;
    if (this._state === "failed" && this.error?.code === "INVOICE_EXPIRED") return null;
    this.error = null;
    try {
      const inv = await this._invoiceInfo();
      if (inv.expiry * 1000 <= Date.now()) throw codeError("INVOICE_EXPIRED", "the invoice has expired");
      this._setState("paying", "Connecting to the payment hub…");
      this._render();
      const wallet = await this._ready();
      const ch = await wallet.channel();
      if (!ch || ch.status === "closed") {
        this._setState("setup", "");
        this._render();
        this.$("input").focus();
        return null;
      }
      if (ch.status === "opening") {
        throw codeError("CHANNEL_OPENING", "An earlier attempt to open your channel did not finish. Check your wallet page.");
      }
      if (ch.status === "closing") {
        throw codeError("CHANNEL_CLOSING", "Your channel is being closed; open a new one once it is settled.");
      }
      if (ch.available < BigInt(inv.amount)) {
        throw codeError(
          "INVALID_UPDATE",
          `Your channel holds ${this.fmt(ch.available)}; this payment needs ${this.fmt(inv.amount)}. Top up your channel, then try again.`,
        );
      }
      return await this._payNow(wallet);
    } catch (e) {
      this._fail(e);
      return null;
    }
  }

  /** The wallet, connected to the hub (waits a few seconds for a connection). */
  async _ready() {
    const wallet = await this.wallet;
    if (!wallet) throw codeError("NO_WALLET", "no wallet");
    // (A follower tab reports the leading tab's connection.)
    if (wallet.connectionState === "connected") return wallet;
    await new Promise((resolve, reject) => {
      const off = wallet.on("connection", ({ state }) => {
        if (state === "connected") {
          off();
          clearTimeout(t);
          resolve();
        }
      });
      const t = setTimeout(() => {
        off();
        reject(codeError("NOT_CONNECTED", "the hub is not answering"));
      }, 6000);
    });
    return wallet;
  }

  _defaultDeposit() {
    const suggested = parseUnits(this.getAttribute("deposit") ?? "50", this.decimals);
    const amount = BigInt(this._parsed?.amount ?? 0);
    const unit = 10n ** BigInt(this.decimals);
    // At least the payment, rounded up to a whole token.
    const min = ((amount + unit - 1n) / unit) * unit;
    return suggested >= min ? suggested : min;
  }

  _depositValue() {
    try {
      return parseUnits(this.$("input").value, this.decimals);
    } catch {
      return null;
    }
  }

  async _confirmDeposit() {
    if (this._state !== "setup") return;
    const deposit = this._depositValue();
    const amount = BigInt(this._parsed?.amount ?? 0);
    if (deposit === null || deposit === 0n) {
      this.$(".status").textContent = explain({ code: "INVALID_AMOUNT" });
      return;
    }
    if (deposit < amount) {
      this.$(".status").textContent = `A deposit of ${this.fmt(deposit)} cannot cover this ${this.fmt(amount)} payment. Deposit at least ${this.fmt(amount)}.`;
      this.dispatchEvent(new CustomEvent("l2pay-failed", {
        bubbles: true, composed: true,
        detail: { error: codeError("DEPOSIT_TOO_SMALL", "deposit too small"), code: "DEPOSIT_TOO_SMALL", message: this.$(".status").textContent, invoice: this.invoice, recoverable: true },
      }));
      return;
    }
    let wallet;
    try {
      wallet = await this._ready();
      const { onChain } = await wallet.balance();
      if (onChain === null) throw chainDown();
      if (onChain < deposit) {
        this.$(".status").textContent = `Your account holds ${this.fmt(onChain)} on chain, less than the ${this.fmt(deposit)} deposit. Choose a smaller deposit.`;
        return;
      }
    } catch (e) {
      this._fail(e, "open");
      return;
    }
    this._steps = [
      { id: "approve", s: "active", note: "" },
      { id: "openChannel", s: "todo", note: "" },
      { id: "hub", s: "todo", note: "" },
      { id: "pay", s: "todo", note: "" },
    ];
    this._setState("opening", `Opening your channel with ${this.fmt(deposit)}…`);
    this._render();
    const off = wallet.on("chain", (p) => this._onChain(p));
    try {
      await wallet.openChannel({ deposit });
      this._step("hub", "done", "");
      this._step("pay", "active", "");
    } catch (e) {
      off();
      this._fail(e, "open");
      return;
    }
    off();
    try {
      await this._payNow(wallet);
    } catch (e) {
      this._fail(e);
    }
  }

  _onChain(p) {
    if (p.step !== "openChannel" || this._state !== "opening") return;
    const id = p.label === "approve" ? "approve" : "openChannel";
    const text = {
      submitted: `sent ${shortHash(p.hash)}, waiting to be mined…`,
      mined: `mined in block ${p.blockNumber ?? "?"}`,
      confirmed: `confirmed ${shortHash(p.hash)}`,
    }[p.stage] ?? p.stage;
    this._step(id, p.stage === "confirmed" ? "done" : "active", text);
    if (p.stage === "confirmed") {
      if (id === "approve") this._step("openChannel", "active", "");
      else this._step("hub", "active", "waiting for the hub to agree the deposit…");
    }
    this.dispatchEvent(new CustomEvent("l2pay-progress", { bubbles: true, composed: true, detail: { step: id, stage: p.stage, text, hash: p.hash } }));
  }

  _step(id, s, note) {
    const st = this._steps?.find((x) => x.id === id);
    if (!st) return;
    st.s = s;
    if (note !== undefined) st.note = note;
    this._render();
  }

  async _payNow(wallet) {
    const inv = this._parsed;
    this._setState("paying", `Paying ${this.fmt(inv.amount)}…`);
    this._render();
    const receipt = await wallet.pay(this.invoice);
    this.receipt = receipt;
    this._step("pay", "done", "");
    this._setState("paid", `Paid ${this.fmt(receipt.amount)}. Receipt ${shortHash(receipt.paymentHash)}`);
    this._render();
    this.dispatchEvent(new CustomEvent("l2pay-paid", { bubbles: true, composed: true, detail: { receipt, invoice: this.invoice } }));
    return receipt;
  }

  _fail(e, action = "pay") {
    const code = e?.code ?? "INTERNAL";
    // Our own pre-checks carry a complete sentence already.
    const ownSentence = ["CHANNEL_OPENING", "CHANNEL_CLOSING"].includes(code) || (code === "INVALID_UPDATE" && / needs /.test(e.message));
    const message = ownSentence ? e.message : explain(e, action);
    this.error = { code, message, cause: e };
    this._setState("failed", message);
    this._render();
    const href = this.getAttribute("wallet-href");
    if (href && (code === "INVALID_UPDATE" || code === "CHANNEL_OPENING")) {
      const a = document.createElement("a");
      a.href = href;
      a.textContent = " Open your wallet →";
      this.$(".status").append(a);
    }
    this.dispatchEvent(new CustomEvent("l2pay-failed", { bubbles: true, composed: true, detail: { error: e, code, message, invoice: this.invoice } }));
  }

  _setState(state, status) {
    this._state = state;
    this._status = status;
    this.setAttribute("state", state);
    this.dispatchEvent(new CustomEvent("l2pay-state", { bubbles: true, composed: true, detail: { state } }));
  }

  _renderSetup() {
    const input = this.$("input");
    const presets = this.$(".presets");
    const amount = BigInt(this._parsed?.amount ?? 0);
    const unit = 10n ** BigInt(this.decimals);
    const values = [20n, 50n, 100n].map((v) => v * unit).filter((v) => v >= amount);
    const current = this._depositValue();
    presets.replaceChildren(...values.map((v) => {
      const b = document.createElement("button");
      b.type = "button";
      b.textContent = this.fmt(v);
      b.setAttribute("aria-pressed", String(current === v));
      b.onclick = () => {
        input.value = formatUnits(v, this.decimals);
        this._renderSetup();
      };
      return b;
    }));
    this.$(".open").textContent = current && current > 0n ? `Deposit ${this.fmt(current)} and pay` : "Deposit and pay";
  }

  _render() {
    const btn = this.$(".pay");
    const p = this._parsed;
    const amount = p && !p.error ? this.fmt(p.amount) : "";
    const label = this.getAttribute("label") ?? (amount ? `Pay ${amount}` : "Pay");
    const expired = this._state === "failed" && this.error?.code === "INVOICE_EXPIRED";
    const text = {
      idle: label,
      setup: label,
      opening: "Opening your channel…",
      paying: "Paying…",
      paid: `Paid ${amount}`,
      failed: expired ? "Invoice expired" : "Try again",
    }[this._state];
    const busy = this._state === "paying" || this._state === "opening";
    btn.innerHTML = "";
    const lead = document.createElement("span");
    lead.className = busy ? "spin" : "logo";
    lead.textContent = busy ? "" : this._state === "paid" ? "✓" : "L2";
    btn.append(lead, document.createTextNode(text));
    btn.disabled = busy || this._state === "paid" || expired || !this.invoice;
    btn.hidden = this._state === "setup";
    const setup = this.$(".setup");
    const wasHidden = setup.hidden;
    setup.hidden = this._state !== "setup";
    this.$(".sym").textContent = this.symbol;
    if (this._state === "setup" && wasHidden) {
      this.$("input").value = formatUnits(this._defaultDeposit(), this.decimals);
      this.$(".status").textContent = "";
    }
    if (this._state === "setup") this._renderSetup();
    const steps = this.$(".steps");
    const showSteps = this._steps && ["opening", "paying", "paid"].includes(this._state) || (this._steps && this._state === "failed" && this._steps.some((s) => s.s !== "todo"));
    steps.hidden = !showSteps;
    if (showSteps) {
      steps.replaceChildren(...this._steps.map((s) => {
        const li = document.createElement("li");
        li.dataset.s = s.s;
        li.dataset.step = s.id;
        const ic = document.createElement("span");
        ic.className = "ic";
        const body = document.createElement("span");
        body.textContent = STEP_TEXT[s.id];
        if (s.note) {
          const small = document.createElement("small");
          small.textContent = s.note;
          body.append(small);
        }
        li.append(ic, body);
        return li;
      }));
    }
    if (this._state !== "setup") this.$(".status").textContent = this._status ?? "";
  }
}

if (!customElements.get("l2pay-button")) customElements.define("l2pay-button", L2payButton);
