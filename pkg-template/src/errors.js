// Errors the SDK throws: real `Error`s with a stable machine-readable `code`.

/** An l2pay failure. `code` is stable across releases; `message` is for people. */
export class L2payError extends Error {
  constructor(code, message, options) {
    super(message, options);
    this.name = "L2payError";
    this.code = code;
  }

  /** Errors thrown by the wasm core (`Key.fromBytes`, `parseInvoice`, …) are `Error`s named
   * "L2payError" with a `code`: they count as instances too. */
  static [Symbol.hasInstance](v) {
    return v instanceof Error && v.name === "L2payError" && typeof v.code === "string";
  }
}

/** Any thrown value as an `L2payError` (errors from the wasm core already carry a code). */
export function asL2payError(e, fallbackCode = "INTERNAL") {
  if (e instanceof L2payError) return e;
  const message = e && typeof e === "object" && "message" in e ? String(e.message) : String(e);
  return new L2payError(fallbackCode, message, { cause: e });
}
