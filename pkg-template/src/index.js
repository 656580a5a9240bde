// l2pay: state-channel payments for web storefronts.
//
//   import { Wallet } from "l2pay";
//   const wallet = await Wallet.open({ hubUrl, chain: { provider: window.ethereum, token } });
//   await wallet.openChannel({ deposit: 20_000000n });
//   const receipt = await wallet.pay(invoice);
export { initL2pay } from "./init.js";
export { Wallet } from "./wallet.js";
export { L2payError } from "./errors.js";
export { httpProvider } from "./chain.js";
export { formatUnits, parseUnits } from "./units.js";
export { SCHEMA_VERSION } from "./store.js";
export { Key, parseInvoice, signState, verifyState } from "./l2pay_core.js";
