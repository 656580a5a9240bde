// Human sentences for every failure the demo pages can meet, by error code. Errors come from
// the SDK (`L2payError.code`), from the demo merchant API (`{ error: { code, message } }`) or
// from the pages themselves. Never shows a stack trace; unknown errors get a generic sentence
// with the first line of their message.

/** Is `e` a network failure of `fetch` (server down, connection refused)? */
export function isNetworkFailure(e) {
  const m = String(e?.message ?? e ?? "");
  return e?.name === "TypeError" && /fetch|network|load failed/i.test(m) || /Failed to fetch|NetworkError|ECONNREFUSED/i.test(m);
}

/** The first line of a message, without "Error:" prefixes, at most 160 characters. */
export function shortReason(text) {
  let s = String(text ?? "").split("\n")[0].replace(/^(\w*Error:\s*)+/, "").trim();
  if (s.length > 160) s = s.slice(0, 157) + "…";
  return s;
}

const HUB_DOWN = "The payment hub is not answering. Your wallet keeps retrying; payments resume as soon as it is back.";
export const CHAIN_DOWN =
  "The blockchain node is unreachable, so on-chain steps (opening a channel, top-ups, withdrawals, closing) cannot run right now. Payments inside an open channel still work.";

/** The error for an on-chain step whose node cannot be reached (`balance().onChain === null`). */
export function chainDown() {
  const e = new Error("cannot reach the blockchain node (network unreachable)");
  e.code = "CHAIN_ERROR";
  return e;
}

/**
 * A sentence for a person. `action` tailors a few of them: "pay", "open", "topUp",
 * "withdraw", "close", "backup", "restore", "refund", "invoice", "load".
 */
export function explain(e, action = "") {
  const code = e?.code ?? (isNetworkFailure(e) ? "NETWORK" : "");
  const reason = shortReason(e?.message ?? e);
  switch (code) {
    case "NETWORK":
      return "The demo server is not reachable. Is the devnet still running (scripts/demo.sh)?";
    case "NOT_CONNECTED":
    case "HUB_UNREACHABLE":
    case "HUB_DOWN":
      return HUB_DOWN;
    case "TIMEOUT":
      if (/hub/i.test(reason) && !/agree|payment/i.test(reason)) return HUB_DOWN;
      if (action === "pay") {
        return "The payment is taking longer than expected. It may still complete: check your wallet's history in a moment before paying again.";
      }
      return `This is taking longer than expected (${reason}). Try again in a moment.`;
    case "CHAIN_ERROR":
    case "CHAIN_UNREACHABLE":
      if (/fetch|network|connect|unreachable|ECONNREFUSED|Load failed/i.test(reason)) return CHAIN_DOWN;
      if (/revert/i.test(reason)) {
        return "The chain rejected the transaction (it reverted), so nothing changed on chain. Does your account hold enough tUSD?";
      }
      return `The chain refused the transaction: ${reason}.`;
    case "USER_REJECTED":
      return "You declined the transaction in your wallet. Nothing was sent.";
    case "WRONG_CHAIN":
      return "Your account is on a different chain than the payment hub. Switch networks and try again.";
    case "NO_PROVIDER":
    case "NO_ACCOUNT":
      return "No blockchain account is available to fund the channel. Connect a wallet account and try again.";
    case "INVALID_UPDATE":
      if (action === "withdraw") return "You cannot withdraw more than is available in your channel.";
      if (action === "pay" || action === "") {
        return "Your channel does not hold enough for this payment. Top up your channel from the wallet, then try again.";
      }
      return `The hub and your wallet could not agree on this update: ${reason}.`;
    case "DEPOSIT_TOO_SMALL":
      return reason || "That deposit is too small to cover this payment.";
    case "INVOICE_EXPIRED":
      return "This invoice has expired. Ask for a fresh one and pay that instead; nothing was charged.";
    case "INVALID_INVOICE":
      return "This is not a valid l2pay invoice, so it cannot be paid.";
    case "BAD_SIGNATURE":
      return "This invoice is not signed by the merchant it names. Do not pay it.";
    case "PAYMENT_FAILED":
      return `The payment did not go through${reason ? ` (${reason})` : ""}. Nothing was taken from your channel.`;
    case "REJECTED":
      return `The hub refused this: ${reason.replace(/^the hub refused the \w+:\s*/i, "")}.`;
    case "NO_CHANNEL":
      return "You have no open channel yet. Open one from your wallet, or simply pay in the shop: the first payment opens it.";
    case "CHANNEL_EXISTS":
      return "You already have a channel. Top it up from your wallet instead of opening another one.";
    case "BAD_CHANNEL":
      return `The hub would not accept this channel: ${reason}.`;
    case "INVALID_AMOUNT":
    case "BAD_AMOUNT":
      return "Enter an amount above zero, with at most 6 decimals.";
    case "BUSY":
      return "Your wallet is busy with another operation. Try again in a moment.";
    case "LEADER_GONE":
      return "The tab that held your wallet was closed. Try again: this tab takes over.";
    case "NO_STORAGE":
    case "STORAGE_FAILED":
      return "Your browser refused to store the wallet (private browsing, or storage full?). Nothing was sent.";
    case "PASSPHRASE_REQUIRED":
      return "This wallet is protected by a passphrase; enter it to continue.";
    case "WRONG_PASSPHRASE":
      return "That passphrase does not open this backup. Check it and try again.";
    case "WEAK_PASSPHRASE":
      return "Choose a passphrase of at least 8 characters for your backup.";
    case "INVALID_BACKUP":
      return "This file is not an l2pay wallet backup.";
    case "NO_SIGNED_STATE":
      return "There is no co-signed state to take to the chain yet.";
    case "HUB_LIQUIDITY":
      return "The hub cannot route that much to the merchant right now. Try a smaller amount.";
    case "REFUND_EXCEEDS_PAYMENT":
      return "That is more than is left to refund on this payment.";
    case "UNKNOWN_PAYMENT":
      return "The merchant has no record of this payment.";
    case "REFUND_PENDING":
      return "The refund was sent but the hub has not confirmed it yet. Refresh in a moment before trying again.";
    case "HUB_REFUSED":
      return `The hub refused the request: ${reason}.`;
    case "BAD_TTL":
    case "BAD_REQUEST":
      return `The request was not accepted: ${reason}.`;
    case "INSUFFICIENT_ON_CHAIN":
      return reason;
    case "FOLLOWER_TAB":
      return "Another tab is using this wallet. Close the other l2pay tabs, then restore from this one.";
    case "NO_FILE":
      return "Choose a backup file first.";
    case "NO_WALLET":
      return "No wallet is available on this page. Reload the page to open it.";
    default:
      if (isNetworkFailure(e)) return "The demo server is not reachable. Is the devnet still running?";
      return reason ? `Something went wrong: ${reason}.` : "Something went wrong. Try again.";
  }
}
