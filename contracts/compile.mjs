// Compiles every contracts/*.sol with solc-js (standard JSON, optimizer on, evmVersion cancun)
// and writes contracts/out/<Name>.json = { "abi": [...], "bytecode": "0x..." } for the contract
// named like its file. `node contracts/compile.mjs --check` recompiles in memory and exits 1 if
// the committed artifacts differ.
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { createRequire } from "node:module";

const require = createRequire(import.meta.url);
const solc = require("solc");

const EXPECTED_VERSION = "0.8.37";
const dir = path.dirname(fileURLToPath(import.meta.url));
const outDir = path.join(dir, "out");
const check = process.argv.includes("--check");

if (!solc.version().startsWith(EXPECTED_VERSION)) {
  console.error(`solc ${solc.version()} found, ${EXPECTED_VERSION} expected`);
  process.exit(2);
}

const files = fs.readdirSync(dir).filter((f) => f.endsWith(".sol")).sort();
const sources = {};
for (const f of files) sources[f] = { content: fs.readFileSync(path.join(dir, f), "utf8") };

const input = {
  language: "Solidity",
  sources,
  settings: {
    evmVersion: "cancun",
    optimizer: { enabled: true, runs: 200 },
    outputSelection: { "*": { "*": ["abi", "evm.bytecode.object"] } },
  },
};

const output = JSON.parse(solc.compile(JSON.stringify(input)));
const errors = (output.errors || []).filter((e) => e.severity === "error");
for (const e of output.errors || []) console.error(e.formattedMessage);
if (errors.length) process.exit(2);

let stale = 0;
if (!check) fs.mkdirSync(outDir, { recursive: true });
for (const f of files) {
  const name = path.basename(f, ".sol");
  const c = output.contracts[f][name];
  if (!c) {
    console.error(`${f} declares no contract ${name}`);
    process.exit(2);
  }
  const artifact = JSON.stringify({ abi: c.abi, bytecode: "0x" + c.evm.bytecode.object }, null, 2) + "\n";
  const file = path.join(outDir, `${name}.json`);
  if (check) {
    const old = fs.existsSync(file) ? fs.readFileSync(file, "utf8") : null;
    if (old !== artifact) {
      console.error(`stale: contracts/out/${name}.json (run node contracts/compile.mjs)`);
      stale++;
    }
  } else {
    fs.writeFileSync(file, artifact);
    console.log(`wrote contracts/out/${name}.json (${c.evm.bytecode.object.length / 2} bytes)`);
  }
}
if (check) {
  if (stale) process.exit(1);
  console.log(`artifacts up to date (${files.length} contracts, solc ${solc.version()})`);
}
