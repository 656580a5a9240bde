// Public types of the l2pay SDK. Amounts are `bigint` in base units (or decimal strings on
// input), never JS numbers.
import type { Hex, Invoice } from "./l2pay_core.js";
export type { Hex, Invoice, ChannelParams, ChannelState, Htlc } from "./l2pay_core.js";
export { Key, parseInvoice, signState, verifyState } from "./l2pay_core.js";

/** An amount in the token's base units: a bigint, or a decimal string such as "1500000". */
export type AmountInput = bigint | string;

/** Every code an l2pay call rejects with; the package README says what each means and
 * whether money may still move. */
export type L2payErrorCode =
  | "INVALID_OPTIONS"
  | "INVALID_AMOUNT"
  | "INVALID_INVOICE"
  | "INVOICE_EXPIRED"
  | "INVALID_UPDATE"
  | "BAD_SIGNATURE"
  | "BUSY"
  | "NOT_CONNECTED"
  | "NO_CHANNEL"
  | "CHANNEL_EXISTS"
  | "BAD_CHANNEL"
  | "PAYMENT_FAILED"
  | "REJECTED"
  | "TIMEOUT"
  | "NO_PROVIDER"
  | "NO_ACCOUNT"
  | "WRONG_CHAIN"
  | "USER_REJECTED"
  | "CHAIN_ERROR"
  | "NO_SIGNED_STATE"
  | "NO_STORAGE"
  | "STORAGE_FAILED"
  | "PASSPHRASE_REQUIRED"
  | "WRONG_PASSPHRASE"
  | "WEAK_PASSPHRASE"
  | "INVALID_BACKUP"
  | "LEADER_GONE"
  | "WALLET_IN_USE"
  | "MALFORMED"
  | "ALREADY_PAID"
  | "PAYMENT_IN_FLIGHT"
  | "INVALID_KEY"
  | "NO_WALLET"
  | "WALLET_EXISTS"
  | "NO_LEADER"
  | "WITHDRAWAL_PENDING"
  | "PAYMENTS_PENDING"
  | "UNKNOWN_CHANNEL"
  | "STALE_NONCE"
  | "NONCE_TOO_LOW"
  | "NONCE_TOO_HIGH"
  | "NONCES_EXHAUSTED"
  | "QUEUE_FULL"
  | "BASE_MISMATCH"
  | "REPLAY"
  | "EQUIVOCATION"
  | "DESYNC"
  | "FRAME_TOO_LARGE"
  | "UNSUPPORTED_VERSION"
  | "CHANNEL_FAILED"
  | "INTERNAL";

export declare class L2payError extends Error {
  readonly name: "L2payError";
  readonly code: L2payErrorCode;
  /** On a `TIMEOUT` of `pay`: the payment's hash. */
  readonly paymentHash?: Hex;
  /** Set when a call gave up early: true if money may still move (call the same method
   * again to learn the outcome), false if nothing happened. */
  readonly mayComplete?: boolean;
  /** On a `TIMEOUT` of an on-chain step: the transaction that is out. */
  readonly txHash?: Hex;
  /** On `WITHDRAWAL_PENDING` or a failed `withdraw`: the agreed amount owed on chain. */
  readonly pendingWithdrawal?: bigint;
  constructor(code: L2payErrorCode, message: string, options?: { cause?: unknown });
}

/** An EIP-1193 provider: `window.ethereum`, or anything with `request`. */
export interface Eip1193Provider {
  request(args: { method: string; params?: unknown[] | object }): Promise<unknown>;
}

export interface ChainOptions {
  provider: Eip1193Provider;
  /** ERC-20 the channel holds; the zero address (default) for the native coin. */
  token?: Hex;
  /** Blocks to wait after inclusion before a step counts as confirmed (default 1). */
  confirmations?: number;
  /** How often to poll the provider for receipts, in ms (default 250). */
  pollMs?: number;
  /** How long an on-chain step waits for its transaction before `TIMEOUT` (with
   * `mayComplete: true`), ms (default 600000). The challenge period is not bounded by it. */
  timeoutMs?: number;
}

export interface WalletOptions {
  /** The hub's WebSocket URL, e.g. `wss://hub.example.com/ws`. */
  hubUrl: string;
  chain: ChainOptions;
  /** Several wallets can live in one origin under different names (default "default"). */
  name?: string;
  /** Encrypt the stored key under a passphrase instead of a non-extractable WebCrypto key. */
  passphrase?: string;
  /** Challenge period of new channels, seconds: 60 to 2,592,000 (default 3600; the hub's
   * minimum is checked before any money moves). */
  challengePeriod?: number;
  /** How long to wait for the hub before `TIMEOUT`, ms (default 30000). */
  timeoutMs?: number;
  /** Create a new key when none is stored under `name` (default false: `NO_WALLET`, so a
   * browser that lost its storage never silently gets a new, empty wallet). */
  create?: boolean;
  /** Where to load the `.wasm` from (default: next to the module). */
  wasm?: string | URL | Request | Response | BufferSource | WebAssembly.Module;
}

export type ChannelStatus = "opening" | "open" | "closing" | "closed";

export interface ChannelInfo {
  channelId: Hex;
  status: ChannelStatus;
  /** Agreed updates so far. */
  nonce: number;
  /** Spendable now. */
  available: bigint;
  /** In payments not settled yet. */
  locked: bigint;
  /** Total deposited on chain by this wallet. */
  deposited: bigint;
  /** Total withdrawn on chain by this wallet. */
  withdrawn: bigint;
  /** The hub's side of the channel (refunds and payments flow between the two). */
  hubBalance: bigint;
  /** Set when the channel can only be settled on chain. */
  failure: string | null;
  /** The on-chain step in progress ("recover" | "close" | "forceClose"), resumed by calling
   * `close()` again; null when none. */
  step: string | null;
  /** A withdrawal the hub agreed that is not on chain yet (finish it with `withdraw`); null
   * when the chain cannot be read. */
  pendingWithdrawal: bigint | null;
}

export interface StorageInfo {
  /** Whether the browser granted persistent storage (asked for at open). */
  persisted: boolean;
  /** When the wallet was last backed up (`exportBackup`, `exportKey`, restore); null: never. */
  backedUpAt: number | null;
}

export interface Balance {
  available: bigint;
  locked: bigint;
  /** Deposited minus withdrawn. */
  deposited: bigint;
  /** The provider account's token balance on chain; null when the chain is unreachable. */
  onChain: bigint | null;
}

export interface Receipt {
  paymentHash: Hex;
  /** sha256(preimage) = paymentHash: proof the merchant was paid. */
  preimage: Hex;
  /** What the merchant receives. */
  amount: bigint;
  /** The hub's routing fee on top. */
  fee: bigint;
  description: string;
  merchant: Hex;
}

export interface HistoryEntry {
  /** The invoice paid (null for payments recovered from the hub). */
  invoice: string | null;
  paymentHash: Hex;
  amount: bigint;
  fee: bigint;
  description: string;
  /** Null for a payment recovered from the hub after a restore (its record was lost). */
  merchant: Hex | null;
  status: "pending" | "settled" | "failed";
  preimage: Hex | null;
  reason: string | null;
  /** Refunded by the merchant so far. */
  refunded: bigint;
  createdAt: number;
}

export interface CloseResult {
  channelId: Hex;
  /** Paid to the provider's account. */
  payout: bigint;
  /** "closed": cooperative; "settled": unilateral, after the challenge period; "abandoned":
   * a channel whose funding never reached the chain. */
  how: "closed" | "settled" | "abandoned";
}

export interface ChainProgress {
  step: "openChannel" | "topUp" | "withdraw" | "close" | "forceClose" | "recover" | "challengePeriod" | "settle" | "closed" | "settled" | "dispute";
  stage: "submitted" | "mined" | "confirmed" | "waiting" | "done" | "required";
  channelId: Hex;
  hash?: Hex;
  label?: string;
  blockNumber?: number;
  /** For "challengePeriod": chain time (unix seconds) after which the close can be settled. */
  deadline?: number;
  reason?: string;
}

export interface WalletEvents {
  payment: { paymentHash: Hex; status: "settled" | "failed"; preimage: Hex | null; reason: string | null };
  refund: { paymentHash: Hex; amount: bigint };
  /** An agreed update (`op`: "pay", "deposit", "withdraw", … or "opened", "restored"); call
   * `channel()` for the figures. */
  state: { channelId: Hex; nonce: number; op: string; by: "A" | "B" };
  connection: { state: "connecting" | "connected" | "disconnected" };
  chain: ChainProgress;
  role: { role: "leader" | "follower" };
  error: L2payError;
}

/** WebLN's provider (assignable to `WebLNProvider` of `@webbtc/webln-types`), paying l2pay
 * invoices. `makeInvoice`, `keysend`, `lnurl` and `request` reject with an
 * `UnsupportedMethodError`. */
export interface WebLNProvider {
  enable(): Promise<void>;
  isEnabled(): Promise<boolean>;
  getInfo(): Promise<{ node: { alias: string; pubkey: string }; version: string; methods: string[]; supports: string[] }>;
  sendPayment(paymentRequest: string): Promise<{ preimage: string }>;
  /** The spendable balance in base units (refused above 2^53: use `wallet.balance()`). */
  getBalance(): Promise<{ balance: number; currency?: string }>;
  lookupInvoice(args: { paymentRequest?: string; paymentHash?: string }): Promise<{ paymentRequest: string; preimage?: string; paid: boolean }>;
  signMessage(message: string): Promise<{ message: string; signature: string }>;
  verifyMessage(signature: string, message: string): Promise<void>;
  makeInvoice(args: string | number | object): Promise<{ paymentRequest: string }>;
  keysend(args: { destination: string; amount: string | number; customRecords?: Record<string, string> }): Promise<{ preimage: string }>;
  lnurl(lnurl: string): Promise<{ status: "OK" } | { status: "ERROR"; reason: string }>;
  request(method: string, args?: unknown): Promise<unknown>;
  on(eventName: string, listener: () => void): void;
  off(eventName: string, listener: () => void): void;
}

export declare class Wallet {
  private constructor();
  /** Opens (or creates) the wallet stored in this origin's IndexedDB and connects to the hub. */
  static open(options: WalletOptions): Promise<Wallet>;
  /**
   * Restores the wallet from `exportBackup`'s output and its passphrase, or from the channel
   * key alone (`exportKey`), then opens it; it recovers the latest countersigned state of
   * every channel from the hub, so an old backup loses nothing. `WALLET_EXISTS` if `name`
   * still holds a channel, unless `replace: true`.
   */
  static restore(
    options: Omit<WalletOptions, "passphrase" | "create"> & { replace?: boolean } & ({ backup: string; passphrase: string } | { key: Hex }),
  ): Promise<Wallet>;
  /** The channel key's address (signs states; needs no ether). Null in a follower tab. */
  readonly address: Hex | null;
  readonly connectionState: "connecting" | "connected" | "disconnected";
  /** "leader" when this tab drives the wallet, "follower" when another tab does. */
  readonly role: "leader" | "follower";
  on<E extends keyof WalletEvents>(event: E, cb: (payload: WalletEvents[E]) => void): () => void;
  off<E extends keyof WalletEvents>(event: E, cb: (payload: WalletEvents[E]) => void): void;
  channel(): Promise<ChannelInfo | null>;
  balance(): Promise<Balance>;
  history(): Promise<HistoryEntry[]>;
  openChannel(options: { deposit: AmountInput; timeoutMs?: number }): Promise<ChannelInfo>;
  topUp(amount: AmountInput, options?: { timeoutMs?: number }): Promise<Balance>;
  withdraw(amount: AmountInput, options?: { timeoutMs?: number }): Promise<Balance>;
  pay(invoice: string, options?: { timeoutMs?: number }): Promise<Receipt>;
  close(options?: { timeoutMs?: number; unilateral?: boolean }): Promise<CloseResult>;
  /** An encrypted backup; the passphrase needs at least 8 characters. */
  exportBackup(passphrase: string): Promise<string>;
  /** The channel key as 0x-hex (whoever holds it controls the channel). */
  exportKey(): Promise<Hex>;
  storage(): Promise<StorageInfo>;
  /** EIP-191 signature of `message` by the channel key. */
  signMessage(message: string): Promise<Hex>;
  webln(options?: { install?: boolean }): WebLNProvider;
  /** Drops the hub connection once; the wallet reconnects with backoff. */
  dropConnection(): void;
  dispose(): Promise<void>;
}

/** A development EIP-1193 provider over JSON-RPC HTTP for nodes with unlocked accounts (anvil). */
export declare function httpProvider(url: string, options?: { account?: Hex }): Eip1193Provider;
export declare function initL2pay(input?: WalletOptions["wasm"]): Promise<unknown>;
export declare function formatUnits(value: AmountInput, decimals: number): string;
export declare function parseUnits(text: string, decimals: number): bigint;
export declare const SCHEMA_VERSION: number;
