// Loading the WebAssembly module, once.
import init from "./l2pay_core.js";

let ready = null;

/**
 * Loads the WebAssembly module. `Wallet.open` calls it; call it yourself only to pass a custom
 * location, bytes or an already compiled `WebAssembly.Module` (e.g. in Node).
 */
export function initL2pay(input) {
  ready ??= init(input === undefined ? undefined : { module_or_path: input });
  return ready;
}
