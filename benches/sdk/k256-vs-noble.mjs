// secp256k1 over an l2pay EIP-712 state digest, in one Node process: k256 compiled into the SDK's
// .wasm (`signState` / `verifyState`) against @noble/curves (pure JS).
//
//   node benches/sdk/k256-vs-noble.mjs [seconds per case, default 6]
//
// Needs pkg/ (scripts/build-wasm.sh) and the root devDependency @noble/curves.
//
// What each side does per operation:
// - wasm signState: JS object → Rust types, EIP-712 digest (keccak), RFC 6979 sign, low-s, 0x hex.
// - wasm verifyState: the same decoding and digest, public-key *recovery*, address (keccak), EIP-55.
// - noble: the same digest computed in JS here (checked: noble's signature over it equals the
//   wasm's byte for byte, both being RFC 6979), then sign / recoverPublicKey + address, and
//   also the bare operations on a precomputed digest, and verify against a known public key.
import { readFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { secp256k1 } from '@noble/curves/secp256k1.js';
import { keccak_256 } from '@noble/hashes/sha3.js';
import { initSync, Key, signState, verifyState } from '../../pkg/l2pay_core.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
initSync({ module: readFileSync(join(ROOT, 'pkg', 'l2pay_core_bg.wasm')) });
const SECONDS = Number(process.argv[2] ?? 6);

// ---- the EIP-712 digest of a channel state, in JS (mirrors src/eip712.rs, src/state.rs) ----
const enc = new TextEncoder();
const hex = (b) => '0x' + Buffer.from(b).toString('hex');
const bytes = (h) => Uint8Array.from(Buffer.from(h.slice(2), 'hex'));
const word = (v) => bytes('0x' + BigInt(v).toString(16).padStart(64, '0'));
const addr = (a) => word(BigInt(a));
const cat = (...parts) => {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) { out.set(p, o); o += p.length; }
  return out;
};
const kec = (b) => keccak_256(b);
const DOMAIN_TYPE = kec(enc.encode('EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)'));
const STATE_TYPE = kec(enc.encode('State(bytes32 channelId,uint256 nonce,uint256 balanceA,uint256 balanceB,uint256 depositA,uint256 depositB,uint256 withdrawnA,uint256 withdrawnB,bytes32 locksRoot,bool isFinal)'));

function channelId(p) {
  return kec(cat(word(p.chain_id), addr(p.adjudicator), addr(p.participants[0]), addr(p.participants[1]),
    addr(p.token), word(p.challenge_period), bytes(p.salt)));
}
function domainSeparator(p) {
  return kec(cat(DOMAIN_TYPE, kec(enc.encode('l2pay')), kec(enc.encode('1')), word(p.chain_id), addr(p.adjudicator)));
}
function locksRoot(htlcs) {
  if (htlcs.length === 0) return new Uint8Array(32);
  // abi.encode(Lock[]): offset, length, then each static tuple inline.
  return kec(cat(word(32), word(htlcs.length), ...htlcs.map((h) =>
    cat(word(h.id), word(h.from === 'A' ? 1 : 0), word(h.amount), bytes(h.payment_hash), word(h.expiry)))));
}
function stateDigest(p, s) {
  const hs = kec(cat(STATE_TYPE, channelId(p), word(s.nonce), word(s.balances[0]), word(s.balances[1]),
    word(s.deposits[0]), word(s.deposits[1]), word(s.withdrawn[0]), word(s.withdrawn[1]),
    locksRoot(s.htlcs), word(s.is_final ? 1 : 0)));
  return kec(cat(Uint8Array.of(0x19, 0x01), domainSeparator(p), hs));
}
const addressOf = (uncompressed) => hex(kec(uncompressed.subarray(1)).subarray(12));
// secp256k1.recoverPublicKey returns the compressed key; an address needs the uncompressed one,
// which Signature#recoverPublicKey (a Point) gives without compressing and decompressing.
const recoverUncompressed = (rec, d) => secp256k1.Signature.fromBytes(rec, 'recovered').recoverPublicKey(d).toBytes(false);

// ---- one key, one realistic state (a payment in flight: one HTLC) ----
const sk = kec(enc.encode('l2pay bench key'));
const key = Key.fromBytes(sk);
const merchantHub = '0x70997970C51812dc3A010C7d01b50e0d17dc79C8';
const params = {
  chain_id: 31337,
  adjudicator: '0x5FbDB2315678afecb367f032d93F642f64180aa3',
  participants: [key.address, merchantHub],
  token: '0xe7f1725E7734CE288F8367e1Bb143E90bb3F0512',
  challenge_period: 3600,
  salt: '0x' + '00'.repeat(31) + '01',
};
const state = {
  nonce: 42,
  balances: ['87000000', '10000000'],
  deposits: ['100000000', '0'],
  withdrawn: ['0', '0'],
  htlcs: [{ id: 7, from: 'A', amount: '3000000', payment_hash: hex(kec(enc.encode('preimage'))), expiry: 1_900_000_000 }],
  is_final: false,
};

// ---- correctness first: both sides agree ----
const digest = stateDigest(params, state);
const wasmSig = signState(key, params, state);
const nobleRec = secp256k1.sign(digest, sk, { prehash: false, format: 'recovered' });
const nobleSig = hex(cat(nobleRec.subarray(1), Uint8Array.of(27 + nobleRec[0])));
if (nobleSig !== wasmSig) throw new Error(`signatures differ:\n wasm  ${wasmSig}\n noble ${nobleSig}`);
if (verifyState(params, state, wasmSig) !== key.address) throw new Error('verifyState did not recover the key');
const pub = secp256k1.getPublicKey(sk, false);
if (addressOf(recoverUncompressed(nobleRec, digest)).toLowerCase() !== key.address.toLowerCase()) {
  throw new Error('noble recovery disagrees');
}
const compact = nobleRec.subarray(1);
if (!secp256k1.verify(compact, digest, pub, { prehash: false })) throw new Error('noble verify failed');

// ---- timing: the cases take turns (ROUNDS rounds), so load from other processes hits all alike ----
const ROUNDS = 15;
const cases = [
  ['wasmSign', 'wasm  signState (decode + digest + sign + hex)', () => signState(key, params, state)],
  ['nobleSignFull', 'noble digest (JS keccak) + sign + hex', () => {
    const s = secp256k1.sign(stateDigest(params, state), sk, { prehash: false, format: 'recovered' });
    return hex(cat(s.subarray(1), Uint8Array.of(27 + s[0])));
  }],
  ['nobleSign', 'noble sign (precomputed digest)', () => secp256k1.sign(digest, sk, { prehash: false, format: 'recovered' })],
  ['wasmVerify', 'wasm  verifyState (decode + digest + recover + address)', () => verifyState(params, state, wasmSig)],
  ['nobleRecoverFull', 'noble digest + recover + address', () => {
    const sig = bytes(wasmSig);
    const rec = cat(Uint8Array.of(sig[64] - 27), sig.subarray(0, 64));
    return addressOf(recoverUncompressed(rec, stateDigest(params, state)));
  }],
  ['nobleRecover', 'noble recoverPublicKey (precomputed digest)', () => secp256k1.recoverPublicKey(nobleRec, digest, { prehash: false })],
  ['nobleVerify', 'noble verify, known public key (precomputed digest)', () => secp256k1.verify(compact, digest, pub, { prehash: false })],
  ['digest', 'JS EIP-712 digest alone (@noble/hashes keccak)', () => stateDigest(params, state)],
];

function measure(f, ms) {
  let n = 0;
  const t0 = performance.now();
  let t = t0;
  while (t - t0 < ms) {
    for (let i = 0; i < 10; i++) f();
    n += 10;
    t = performance.now();
  }
  return n / ((t - t0) / 1000);
}

console.log(`node ${process.version}, @noble/curves ${JSON.parse(readFileSync(join(ROOT, 'node_modules/@noble/curves/package.json'), 'utf8')).version}, ` +
  `pkg/l2pay_core_bg.wasm ${readFileSync(join(ROOT, 'pkg', 'l2pay_core_bg.wasm')).length} bytes; ${ROUNDS} rounds × ${(SECONDS / ROUNDS).toFixed(2)} s per case; ` +
  `load average ${loadavg().map((x) => x.toFixed(2)).join(' ')}`);
console.log('state: nonce 42, one HTLC; noble and wasm signatures identical\n');
for (const [, , f] of cases) for (let i = 0; i < 300; i++) f(); // warm up: JIT, noble's base-point tables
const samples = Object.fromEntries(cases.map(([id]) => [id, []]));
for (let r = 0; r < ROUNDS; r++) for (const [id, , f] of cases) samples[id].push(measure(f, (SECONDS * 1000) / ROUNDS));
const r = {};
const best = {};
const med = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
console.log(`${'case'.padEnd(58)} ${'median'.padStart(7)}        ${'µs/op'.padStart(7)}   ${'best'.padStart(5)} ops/s   min–max`);
for (const [id, name] of cases) {
  const xs = [...samples[id]].sort((a, b) => a - b);
  r[id] = med(xs);
  best[id] = xs[xs.length - 1];
  console.log(`${name.padEnd(58)} ${r[id].toFixed(0).padStart(7)} ops/s ${(1e6 / r[id]).toFixed(1).padStart(8)}   ${best[id].toFixed(0).padStart(5)}         ${xs[0].toFixed(0)}–${xs[xs.length - 1].toFixed(0)}`);
}

// Each ratio is the median over rounds of the ratio within a round (the two cases ran
// back to back, under the same load), and, second, the ratio of the best rounds.
const ratio = (a, b) => `${med(samples[a].map((x, i) => x / samples[b][i])).toFixed(2)}× (best rounds ${(best[a] / best[b]).toFixed(2)}×)`;
console.log('\nratios (wasm ops/s ÷ noble ops/s; > 1: the wasm is faster)');
console.log(`  sign, same work (digest + sign + hex):           ${ratio('wasmSign', 'nobleSignFull')}`);
console.log(`  sign, wasm full vs noble bare sign:              ${ratio('wasmSign', 'nobleSign')}`);
console.log(`  verify, same work (digest + recover + address):  ${ratio('wasmVerify', 'nobleRecoverFull')}`);
console.log(`  verify, wasm recovery vs noble bare recovery:    ${ratio('wasmVerify', 'nobleRecover')}`);
console.log(`  verify, wasm recovery vs noble verify with key:  ${ratio('wasmVerify', 'nobleVerify')}`);
key.free();
