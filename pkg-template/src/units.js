// Amounts: bigint in the public API, decimal strings across the wasm boundary. Never numbers.
import { L2payError } from "./errors.js";

/** Amounts are unsigned 128-bit integers (what a channel state holds). */
const MAX_AMOUNT = (1n << 128n) - 1n;

/** `bigint | string` (decimal, base units) to bigint; throws `INVALID_AMOUNT` otherwise. */
export function toAmount(v, what = "amount") {
  let a = null;
  if (typeof v === "bigint") a = v;
  else if (typeof v === "string" && /^[0-9]{1,40}$/.test(v)) a = BigInt(v);
  if (a !== null) {
    if (a < 0n) throw new L2payError("INVALID_AMOUNT", `${what} must not be negative`);
    if (a > MAX_AMOUNT) throw new L2payError("INVALID_AMOUNT", `${what} must be below 2^128 base units`);
    return a;
  }
  throw new L2payError(
    "INVALID_AMOUNT",
    `${what} must be a bigint or a decimal string of base units, got ${typeof v}`,
  );
}

/** A positive amount. */
export function toPositive(v, what = "amount") {
  const a = toAmount(v, what);
  if (a === 0n) throw new L2payError("INVALID_AMOUNT", `${what} must be above zero`);
  return a;
}

/** Formats base units with `decimals` places, e.g. `formatUnits(1500000n, 6)` → "1.5". */
export function formatUnits(value, decimals) {
  const v = toAmount(value);
  const base = 10n ** BigInt(decimals);
  const whole = v / base;
  const frac = (v % base).toString().padStart(decimals, "0").replace(/0+$/, "");
  return frac ? `${whole}.${frac}` : `${whole}`;
}

/** Parses a decimal like "1.5" into base units with `decimals` places. */
export function parseUnits(text, decimals) {
  const m = /^\s*([0-9]+)(?:\.([0-9]*))?\s*$/.exec(String(text));
  if (!m) throw new L2payError("INVALID_AMOUNT", `not a decimal amount: ${text}`);
  const frac = m[2] ?? "";
  if (frac.length > decimals) {
    throw new L2payError("INVALID_AMOUNT", `at most ${decimals} decimal places`);
  }
  return BigInt(m[1]) * 10n ** BigInt(decimals) + BigInt(frac.padEnd(decimals, "0") || "0");
}
