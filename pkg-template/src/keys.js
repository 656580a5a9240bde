// The channel key at rest: 32 secret bytes encrypted with AES-GCM under a non-extractable
// WebCrypto key kept in IndexedDB (or under a key derived from a passphrase), never in
// localStorage. Backups use PBKDF2-SHA-256 + AES-GCM.
import { Key } from "./l2pay_core.js";
import { L2payError } from "./errors.js";

const PBKDF2_ITERATIONS = 310000;
const enc = new TextEncoder();
const dec = new TextDecoder();

function random(n) {
  return crypto.getRandomValues(new Uint8Array(n));
}

export function toHex(bytes) {
  return "0x" + Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

export function fromHex(hex) {
  const h = hex.startsWith("0x") ? hex.slice(2) : hex;
  if (h.length % 2 || /[^0-9a-fA-F]/.test(h)) throw new L2payError("MALFORMED", "bad hex");
  return Uint8Array.from(h.match(/../g) ?? [], (b) => parseInt(b, 16));
}

function b64(bytes) {
  let s = "";
  for (const b of bytes) s += String.fromCharCode(b);
  return btoa(s);
}

function unb64(text) {
  return Uint8Array.from(atob(text), (c) => c.charCodeAt(0));
}

async function passphraseKey(passphrase, salt, iterations) {
  const base = await crypto.subtle.importKey("raw", enc.encode(passphrase), "PBKDF2", false, [
    "deriveKey",
  ]);
  return crypto.subtle.deriveKey(
    { name: "PBKDF2", salt, iterations, hash: "SHA-256" },
    base,
    { name: "AES-GCM", length: 256 },
    false,
    ["encrypt", "decrypt"],
  );
}

async function seal(aesKey, plain) {
  const iv = random(12);
  const ct = new Uint8Array(await crypto.subtle.encrypt({ name: "AES-GCM", iv }, aesKey, plain));
  return { iv: b64(iv), ct: b64(ct) };
}

async function open(aesKey, box, what) {
  try {
    return new Uint8Array(
      await crypto.subtle.decrypt({ name: "AES-GCM", iv: unb64(box.iv) }, aesKey, unb64(box.ct)),
    );
  } catch (e) {
    throw new L2payError("WRONG_PASSPHRASE", `cannot decrypt the ${what}: wrong passphrase or corrupted data`, { cause: e });
  }
}

/** Loads the wallet key from the store; creates, encrypts and stores a new one only when
 * `create` is set (otherwise `NO_WALLET`: the app decides between restoring and creating). */
export async function loadOrCreateKey(store, passphrase, { create = false } = {}) {
  const saved = await store.get("meta", "key");
  if (saved) {
    const aes = saved.kdf
      ? await passphraseKey(passphrase ?? requirePassphrase(), unb64(saved.kdf.salt), saved.kdf.iterations)
      : await store.get("meta", "wrapKey");
    const secret = await open(aes, saved.box, "wallet key");
    try {
      return Key.fromBytes(secret);
    } finally {
      secret.fill(0);
    }
  }
  if (!create) {
    throw new L2payError(
      "NO_WALLET",
      "no wallet is stored under this name (new, or the browser's storage was cleared): restore it from a backup or its key, or open with { create: true } for a new one",
    );
  }
  const key = Key.generate();
  await saveKey(store, key, passphrase);
  return key;
}

function requirePassphrase() {
  throw new L2payError("PASSPHRASE_REQUIRED", "this wallet is protected by a passphrase");
}

/** Encrypts and stores `key` (replacing any stored key). */
export async function saveKey(store, key, passphrase) {
  const secret = key.toBytes();
  try {
    if (passphrase) {
      const salt = random(16);
      const aes = await passphraseKey(passphrase, salt, PBKDF2_ITERATIONS);
      const box = await seal(aes, secret);
      await store.put(["meta", "key", { box, kdf: { salt: b64(salt), iterations: PBKDF2_ITERATIONS } }]);
    } else {
      const aes = await crypto.subtle.generateKey({ name: "AES-GCM", length: 256 }, false, [
        "encrypt",
        "decrypt",
      ]);
      const box = await seal(aes, secret);
      await store.put(["meta", "wrapKey", aes], ["meta", "key", { box }]);
    }
  } finally {
    secret.fill(0);
  }
}

/** Encrypts a backup (any JSON value) under a passphrase; returns a self-describing string. */
export async function sealBackup(value, passphrase) {
  if (!passphrase || passphrase.length < 8) {
    throw new L2payError("WEAK_PASSPHRASE", "a backup passphrase needs at least 8 characters");
  }
  const salt = random(16);
  const aes = await passphraseKey(passphrase, salt, PBKDF2_ITERATIONS);
  const box = await seal(aes, enc.encode(JSON.stringify(value)));
  return JSON.stringify({ l2payBackup: 1, kdf: { salt: b64(salt), iterations: PBKDF2_ITERATIONS }, ...box });
}

/** Decrypts a backup made by `sealBackup`. */
export async function openBackup(text, passphrase) {
  let env;
  try {
    env = JSON.parse(text);
  } catch (e) {
    throw new L2payError("INVALID_BACKUP", "not an l2pay backup", { cause: e });
  }
  if (env?.l2payBackup !== 1) throw new L2payError("INVALID_BACKUP", "not an l2pay backup (version 1)");
  const iterations = env.kdf?.iterations;
  const fields = [env.kdf?.salt, env.iv, env.ct];
  if (!Number.isSafeInteger(iterations) || iterations < 1 || iterations > 10_000_000 || fields.some((f) => typeof f !== "string")) {
    throw new L2payError("INVALID_BACKUP", "the backup is incomplete (kdf, iv or ciphertext missing)");
  }
  if (typeof passphrase !== "string") throw new L2payError("WRONG_PASSPHRASE", "a backup needs its passphrase");
  let salt;
  try {
    salt = unb64(env.kdf.salt);
    unb64(env.iv);
    unb64(env.ct);
  } catch (e) {
    throw new L2payError("INVALID_BACKUP", "the backup is damaged (not base64)", { cause: e });
  }
  const aes = await passphraseKey(passphrase, salt, iterations);
  const data = JSON.parse(dec.decode(await open(aes, env, "backup")));
  const key = data?.key;
  if (!Array.isArray(key) || key.length !== 32 || key.some((b) => !Number.isInteger(b) || b < 0 || b > 255) || typeof data.stores !== "object" || data.stores === null) {
    throw new L2payError("INVALID_BACKUP", "the backup decrypts but lacks its key or channels");
  }
  return data;
}

export function randomHex32() {
  return toHex(random(32));
}
