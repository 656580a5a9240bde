// A wallet's on-chain steps: open, top up, withdraw, close, and getting back the deposit of a
// channel the hub never agreed. Each step is resumable: the channel's record (IndexedDB) says
// where it stands before every transaction, and what the chain shows decides the rest, so
// after a reload, a crash, a timeout or a rejected prompt the same call again finishes the
// step or abandons it cleanly. Money on chain is never invisible: `channel()` reports it.
import { txApprove } from "./l2pay_core.js";
import { L2payError } from "./errors.js";
import { randomHex32 } from "./keys.js";
import { toPositive } from "./units.js";

const ZERO = "0x0000000000000000000000000000000000000000";
const same = (a, b) => a.toLowerCase() === b.toLowerCase();

/** An error that says whether money may still move (`mayComplete`) and what to do. */
function definite(e, fields) {
  return Object.assign(e, fields);
}

/** What the chain shows of channel `id`: A's deposit, withdrawals, close and payout. */
export async function onChain(w, meta) {
  const events = await w.chain.events(adjudicatorOf(w, meta), null, meta.channelId);
  const deposit = events.filter((e) => e.type === "deposit" && e.participant && same(e.participant, w.address));
  const withdrawn = events.filter((e) => e.type === "withdrawn").map((e) => BigInt(e.withdrawn[0]));
  const registered = events.filter((e) => e.type === "closeRegistered").at(-1) ?? null;
  const done = events.find((e) => e.type === "closed" || e.type === "settled") ?? null;
  return {
    events,
    deposited: deposit.length ? BigInt(deposit.at(-1).total) : 0n,
    withdrawn: withdrawn.length ? withdrawn.at(-1) : 0n,
    registered,
    done,
  };
}

function adjudicatorOf(w, meta) {
  return w.hubInfo?.adjudicator ?? meta.adjudicator;
}

/** The provider must be on the channel's chain before anything is signed or sent. */
export async function checkChain(w, meta) {
  const want = w.hubInfo?.chainId ?? meta?.chainId;
  const chainId = await w.chain.chainId();
  if (want !== undefined && chainId !== want) {
    throw new L2payError("WRONG_CHAIN", `the provider is on chain ${chainId}, the channel on ${want}; switch the wallet's network`);
  }
}

/** `openChannel({ deposit })`: see the README. Resumes a channel left `opening`. */
export async function openChannel(w, opts) {
  const amount = toPositive(opts?.deposit, "deposit");
  await w.whenWelcomed();
  await checkChain(w);
  const existing = await w.activeMeta();
  if (existing?.status === "opening") return resumeOpening(w, existing, amount);
  if (existing) throw new L2payError("CHANNEL_EXISTS", "this wallet already has an open channel");
  // Refused here (BAD_CHANNEL) when the hub's terms would refuse it: nothing is sent.
  const id = w.core.createChannel(w.token, w.challengePeriod, randomHex32());
  await w.pump();
  const meta = {
    channelId: id,
    status: "opening",
    chainId: w.hubInfo.chainId,
    adjudicator: w.hubInfo.adjudicator,
    createdAt: Date.now(),
  };
  await w.saveMeta(meta);
  return fundOpening(w, meta, amount, opts?.timeoutMs);
}

/** A channel left `opening`: registers it if the chain shows its deposit, else funds it. The
 * channel id is fixed by its parameters, so a funding transaction sent twice opens it once. */
async function resumeOpening(w, meta, amount) {
  let seen = await onChain(w, meta);
  if (seen.deposited === 0n && meta.fundingTx) {
    try {
      await w.chain.receipt(meta.fundingTx, "openChannel", w.chainTimeoutMs);
    } catch (e) {
      if (e?.code !== "CHAIN_ERROR") throw definite(e, { mayComplete: true, channelId: meta.channelId });
    }
    seen = await onChain(w, meta);
  }
  if (seen.deposited > 0n) return completeOpening(w, meta, seen.events);
  delete meta.fundingTx;
  await w.saveMeta(meta);
  return fundOpening(w, meta, amount);
}

async function fundOpening(w, meta, amount, timeoutMs) {
  let events;
  try {
    events = await fund(w, meta.channelId, amount, "openChannel", timeoutMs, async (hash) => {
      meta.fundingTx = hash;
      await w.saveMeta(meta);
    });
  } catch (e) {
    const seen = await onChain(w, meta).catch(() => null);
    if (seen && seen.deposited > 0n) {
      events = seen.events;
    } else if (e?.code === "USER_REJECTED" || e?.reverted || e?.notSent) {
      // Refused in the wallet or reverted: nothing reached the chain, the channel never existed.
      await abandon(w, meta);
      throw definite(e, { mayComplete: false });
    } else {
      // The transaction may be out (a timeout, a lost connection to the node): the channel
      // stays `opening`, and openChannel() again follows it or funds this same channel (its
      // id is fixed, so it is never funded twice).
      throw definite(e, { mayComplete: true, channelId: meta.channelId });
    }
  }
  return completeOpening(w, meta, events);
}

/** Registers a funded channel with the hub and waits until the hub agreed its deposit. If the
 * hub refuses the channel, its deposit starts coming back at once (`close()` finishes it). */
async function completeOpening(w, meta, events) {
  const id = meta.channelId;
  const registered = w.waitFor((e) => e.type === "registered" && same(e.channelId, id), "registration");
  await w.serial(async () => {
    w.core.register(id, Date.now());
    w.applyDeposits(id, events);
    await w.drainCore();
  });
  try {
    await registered;
  } catch (e) {
    if (e?.code !== "BAD_CHANNEL") throw e;
    const deadline = await recover(w, meta);
    throw new L2payError(
      "BAD_CHANNEL",
      `the hub refused the channel (${e.message}); its deposit comes back after the challenge period: call close() after ${new Date(deadline * 1000).toISOString()}`,
    );
  }
  const total = events.filter((e) => e.type === "deposit" && same(e.channelId, id)).map((e) => BigInt(e.total)).at(-1) ?? 1n;
  await w.untilState(id, (c) => BigInt(c.state.deposits[0]) >= total, "the hub to agree the deposit");
  meta.status = "open";
  delete meta.fundingTx;
  await w.saveMeta(meta);
  const info = await w.describe(meta);
  w.emit("state", { channelId: id, nonce: info.nonce, op: "opened", by: "A" });
  return info;
}

/** Forgets a channel whose funding never happened. */
async function abandon(w, meta) {
  await w.serial(async () => {
    if (w.core.forget(meta.channelId)) {
      w.metas.delete(meta.channelId);
      await w.store.delete(["snapshots", meta.channelId], ["channels", meta.channelId]);
    }
  });
}

/** Starts the challenge period on the nonce-0 state of a channel without any agreed state;
 * returns its deadline (chain seconds). */
async function recover(w, meta) {
  meta.status = "closing";
  meta.step = { kind: "recover" };
  await w.saveMeta(meta);
  const seen = await onChain(w, meta);
  if (seen.registered) return seen.registered.deadline;
  const { events } = await w.chain.send(
    { to: adjudicatorOf(w, meta), data: w.core.txCloseWithoutState(meta.channelId), label: "recover deposit", timeoutMs: w.chainTimeoutMs },
    progress(w, meta.channelId, "recover"),
  );
  return events.find((e) => e.type === "closeRegistered").deadline;
}

function progress(w, id, step) {
  return (p) => w.emit("chain", { ...p, step, channelId: id });
}

/**
 * Sends the funding transaction(s) for `amount` on channel `id`; `onSubmitted(hash)` runs
 * once the deposit transaction is out. Returns the adjudicator events of its receipt.
 */
async function fund(w, id, amount, step, timeoutMs = w.chainTimeoutMs, onSubmitted = async () => {}) {
  const adjudicator = w.hubInfo.adjudicator;
  const report = progress(w, id, step);
  if (!same(w.token, ZERO)) {
    await w.chain.send({ to: w.token, data: txApprove(adjudicator, amount.toString()), label: "approve", timeoutMs }, report);
  }
  const meta = w.metas.get(id);
  const data = meta?.status === "opening" ? w.core.txOpen(id, amount.toString()) : w.core.txDeposit(id, amount.toString());
  const value = same(w.token, ZERO) ? amount : 0n;
  const { events } = await w.chain.send({ to: adjudicator, data, value, label: step, timeoutMs }, report, onSubmitted);
  return events;
}

/** `topUp(amount)`: adds to the channel from the provider's account. */
export async function topUp(w, amount, { timeoutMs } = {}) {
  const a = toPositive(amount);
  const meta = await w.requireOpen();
  await checkChain(w, meta);
  const before = BigInt(w.core.channel(meta.channelId).state.deposits[0]);
  const events = await fund(w, meta.channelId, a, "topUp", timeoutMs);
  await w.serial(async () => {
    w.applyDeposits(meta.channelId, events);
    await w.drainCore();
  });
  await w.untilState(meta.channelId, (c) => BigInt(c.state.deposits[0]) >= before + a, "the hub to agree the top-up");
  return w.balance();
}

/**
 * After every welcome: a deposit the chain shows for the open channel that the channel does
 * not count yet (a top-up whose tab died once its transaction was out) is told to the core,
 * which agrees it with the hub. Money on chain is never left invisible.
 */
export async function reconcile(w) {
  const meta = await w.activeMeta();
  if (!meta || meta.status !== "open") return;
  const seen = await onChain(w, meta);
  const c = w.core.channel(meta.channelId);
  if (!c || seen.deposited <= BigInt(c.state.deposits[0])) return;
  const latest = seen.events.filter((e) => e.type === "deposit" && same(e.participant, w.address)).slice(-1);
  await w.serial(async () => {
    w.applyDeposits(meta.channelId, latest);
    await w.drainCore();
  });
}

/** An agreed withdrawal the chain has not paid out yet (0n when none). */
export async function pendingWithdrawal(w, meta) {
  const c = w.core.channel(meta.channelId);
  if (!c) return 0n;
  const agreed = BigInt(c.state.withdrawn[0]);
  if (agreed === 0n) return 0n;
  return agreed - (await onChain(w, meta)).withdrawn;
}

/**
 * `withdraw(amount)`: takes `amount` out to the provider's account. Once the hub agreed a
 * withdrawal it is owed on chain whatever happens next, so a withdrawal that did not reach
 * the chain (prompt rejected, timeout, reload) is finished by calling `withdraw` again with
 * the same amount; a different amount is refused with `WITHDRAWAL_PENDING` (and `close()` pays
 * it out too). Nothing else ever changes the amount that leaves.
 */
export async function withdraw(w, amount, { timeoutMs } = {}) {
  const a = toPositive(amount);
  const meta = await w.requireOpen();
  await checkChain(w, meta);
  const id = meta.channelId;
  const pending = await pendingWithdrawal(w, meta);
  if (pending > 0n && pending !== a) {
    throw definite(
      new L2payError("WITHDRAWAL_PENDING", `a withdrawal of ${pending} was agreed and is not on chain yet: call withdraw(${pending}n) to finish it first`),
      { pendingWithdrawal: pending },
    );
  }
  if (pending === 0n) {
    await w.chain.account();
    const agreed = w.agreed(id, "withdraw");
    w.core.withdraw(id, a.toString(), Date.now());
    await w.pump();
    await agreed;
  }
  try {
    await w.chain.send(
      { to: w.hubInfo.adjudicator, data: w.core.txState(id, "withdraw"), label: "withdraw", timeoutMs: timeoutMs ?? w.chainTimeoutMs },
      progress(w, id, "withdraw"),
    );
  } catch (e) {
    throw definite(e, {
      pendingWithdrawal: a,
      mayComplete: true,
      message: `${e.message}; the hub agreed the withdrawal of ${a}: call withdraw(${a}n) again to finish it (close() pays it out too)`,
    });
  }
  return w.balance();
}

/**
 * `close()`: cooperatively when the hub answers (after in-flight payments resolve), otherwise
 * on chain alone (register the latest co-signed state, wait out the challenge period, settle).
 * Every stage is resumable: a `close()` after a reload or a rejected prompt continues from
 * what the chain shows.
 */
export async function close(w, { timeoutMs = w.timeoutMs, unilateral = false } = {}) {
  const meta = await w.activeMeta();
  if (!meta) throw new L2payError("NO_CHANNEL", "no open channel");
  await checkChain(w, meta);
  const id = meta.channelId;
  const seen = await onChain(w, meta);
  if (seen.done) return finish(w, meta, [seen.done], seen.done.type === "closed" ? "closed" : "settled");
  if (seen.registered) return settleAfter(w, meta, seen.registered.deadline);
  if (meta.status === "opening") {
    if (seen.deposited === 0n) {
      await abandon(w, meta);
      return { channelId: id, payout: 0n, how: "abandoned" };
    }
    return settleAfter(w, meta, await recover(w, meta));
  }
  const c = w.core.channel(id);
  if (!c.state.is_final && !unilateral && w.connection === "connected" && meta.step?.kind !== "forceClose") {
    if (c.state.htlcs.length) {
      await w.untilState(id, (x) => x.state.htlcs.length === 0, "in-flight payments to resolve before closing", timeoutMs).catch(() => {
        throw new L2payError("PAYMENTS_PENDING", "a payment is still in flight: close() again once it resolved, or close({ unilateral: true })");
      });
    }
    try {
      const agreed = w.agreed(id, "close", timeoutMs);
      w.core.close(id, Date.now());
      await w.pump();
      await agreed;
    } catch (e) {
      w.emit("error", e);
    }
  }
  if (w.core.channel(id).state.is_final) {
    // Agreed: the final state closes the channel whoever sends it, hub or no hub.
    meta.status = "closing";
    meta.step = { kind: "close" };
    await w.saveMeta(meta);
    const { events } = await w.chain.send(
      { to: adjudicatorOf(w, meta), data: w.core.txState(id, "closeCooperative"), label: "close", timeoutMs: w.chainTimeoutMs },
      progress(w, id, "close"),
    );
    return finish(w, meta, events, "closed");
  }
  meta.status = "closing";
  meta.step = { kind: "forceClose" };
  await w.saveMeta(meta);
  const data = c.state.nonce === 0 ? w.core.txCloseWithoutState(id) : w.core.txState(id, "closeUnilateral");
  const reg = await w.chain.send({ to: adjudicatorOf(w, meta), data, label: "force close", timeoutMs: w.chainTimeoutMs }, progress(w, id, "forceClose"));
  w.core.handleChainClosing(id);
  await w.pump();
  return settleAfter(w, meta, reg.events.find((e) => e.type === "closeRegistered").deadline);
}

/** Waits out the challenge period (not bounded by `timeoutMs`: it is the chain's clock), then
 * settles; anyone may settle, so a settlement by the hub's watchtower counts too. */
async function settleAfter(w, meta, deadline) {
  const id = meta.channelId;
  if (meta.status !== "closing") {
    meta.status = "closing";
    await w.saveMeta(meta);
  }
  w.emit("chain", { step: "challengePeriod", stage: "waiting", deadline, channelId: id });
  await w.chain.waitUntil(deadline);
  let settled = await w.chain.events(adjudicatorOf(w, meta), "Settled", id);
  if (!settled.length) {
    try {
      settled = (await w.chain.send({ to: adjudicatorOf(w, meta), data: w.core.txSettle(id), label: "settle", timeoutMs: w.chainTimeoutMs }, progress(w, id, "settle"))).events;
    } catch (e) {
      settled = await w.chain.events(adjudicatorOf(w, meta), "Settled", id);
      if (!settled.length) throw e;
    }
  }
  return finish(w, meta, settled, "settled");
}

async function finish(w, meta, events, how) {
  const done = events.find((e) => e.type === "closed" || e.type === "settled");
  meta.status = "closed";
  meta.closedAt = Date.now();
  delete meta.step;
  await w.saveMeta(meta);
  w.emit("chain", { step: how, stage: "done", channelId: meta.channelId });
  return { channelId: meta.channelId, payout: BigInt(done?.payouts?.[0] ?? 0), how };
}
