// The planner page: reads each card's inputs, runs the model in the WebAssembly build of
// `l2pay::plan` (./pkg/l2pay.js, placed here by scripts/build-wasm.sh), shows the result and
// redraws the paper's figures from the same code's sweeps. No model arithmetic lives in JS.

const CHART_PATHS = [
  // www/ as web root (the build copies chart.js here) ...
  './vendor/chart.umd.js',
  // ... or the repository root as web root.
  '../node_modules/chart.js/dist/chart.umd.js',
];

const MAX_SAFE = Number.MAX_SAFE_INTEGER;
const COLORS = ['#1f77b4', '#d62728', '#2ca02c', '#ff7f0e', '#9467bd', '#8c564b', '#e377c2', '#17becf'];

const $ = (sel, root = document) => root.querySelector(sel);
const $$ = (sel, root = document) => [...root.querySelectorAll(sel)];

let wasm;
let Chart = null;
const charts = {};

/** Cards: form id → wasm export and which figures depend on it. */
const CARDS = {
  'nodes': { run: (w, i) => w.planNodes(i), figures: [] },
  'single-merchant': { run: (w, i) => w.planSingleMerchant(i), figures: ['fig13'] },
  'single-platform': { run: (w, i) => w.planSinglePlatform(i), figures: ['fig14', 'fig15', 'fig16'] },
  'funds-capacity': { run: (w, i) => w.planFundsCapacity(i), figures: ['figFunds'] },
  'build-time': { run: (w, i) => w.planBuildTime(i), figures: [] },
  'payment-methods': { run: (w, i) => w.planPaymentMethods(i), figures: ['fig12'] },
};

const METHOD_LABELS = {
  credit_card: 'Credit card (1.5–2.9 %)',
  bitcoin: 'Bitcoin ($0.21/tx)',
  ethereum: 'Ethereum ($0.11–0.39/tx)',
  lightning: 'Lightning ($0.00008/tx)',
  plasma: 'Plasma ($0)',
};

// ---------------------------------------------------------------- formatting

const intFmt = new Intl.NumberFormat('en-US', { maximumFractionDigits: 0 });
const compact = new Intl.NumberFormat('en-US', { notation: 'compact', maximumFractionDigits: 2 });

function usd(v) {
  const a = Math.abs(v);
  if (a >= 1000) return '$' + intFmt.format(v);
  if (a >= 1) return '$' + v.toLocaleString('en-US', { minimumFractionDigits: 2, maximumFractionDigits: 2 });
  if (a === 0) return '$0';
  return '$' + v.toLocaleString('en-US', { maximumSignificantDigits: 4 });
}

const FORMATS = {
  int: (v) => intFmt.format(v),
  usd,
  num: (v) => v.toLocaleString('en-US', { maximumFractionDigits: 2 }),
  seconds: (v) => v.toLocaleString('en-US', { maximumFractionDigits: 3 }) + ' s',
  days: (v) => v.toLocaleString('en-US', { maximumFractionDigits: 2 }) + ' days',
};

const pick = (obj, path) => path.split('.').reduce((o, k) => (o == null ? o : o[k]), obj);

// ---------------------------------------------------------------- inputs

/** A card's inputs as the plain object the wasm export takes (camelCase keys). */
function readInputs(form) {
  const input = {};
  for (const el of $$('input', form)) {
    const raw = el.value.trim();
    if (raw === '') {
      throw Object.assign(new Error(`${labelOf(el)} is required`), { code: 'MISSING' });
    }
    const n = Number(raw);
    if (!Number.isFinite(n)) {
      throw Object.assign(new Error(`${labelOf(el)} is not a number`), { code: 'INVALID_NUMBER' });
    }
    input[el.name] = n;
  }
  return input;
}

function labelOf(el) {
  return el.closest('label')?.firstChild?.textContent.trim() ?? el.name;
}

function writeInputs(form, values) {
  for (const [k, v] of Object.entries(values)) {
    const el = form.elements.namedItem(k);
    if (el) el.value = String(v);
  }
}

// ---------------------------------------------------------------- models

function showResult(form, result) {
  const err = $('[data-error]', form);
  err.hidden = true;
  err.textContent = '';
  form.classList.remove('invalid');
  for (const dd of $$('[data-out]', form)) {
    dd.textContent = FORMATS[dd.dataset.fmt](pick(result, dd.dataset.out));
  }
  const tbody = $('[data-methods]', form);
  if (tbody) {
    tbody.replaceChildren(...result.methods.map((m) => {
      const tr = document.createElement('tr');
      tr.dataset.method = m.name;
      for (const text of [METHOD_LABELS[m.name] ?? m.name, usd(m.fee_low), usd(m.fee_high)]) {
        const td = document.createElement('td');
        td.textContent = text;
        tr.append(td);
      }
      return tr;
    }));
  }
  $('[data-json]', form).textContent = JSON.stringify(result, null, 2);
}

function showError(form, e) {
  const err = $('[data-error]', form);
  err.hidden = false;
  err.textContent = `${e.code ?? 'ERROR'}: ${e.message}`;
  form.classList.add('invalid');
  for (const dd of $$('[data-out]', form)) dd.textContent = '—';
  const tbody = $('[data-methods]', form);
  if (tbody) tbody.replaceChildren();
  $('[data-json]', form).textContent = '';
}

function compute(id) {
  const form = document.getElementById(id);
  try {
    const result = CARDS[id].run(wasm, readInputs(form));
    showResult(form, result);
  } catch (e) {
    showError(form, e);
  }
  for (const fig of CARDS[id].figures) drawFigure(fig);
}

// ---------------------------------------------------------------- figures

const clampTx = (n) => Math.min(MAX_SAFE, Math.max(1, Math.round(n)));

/** Figure id → () => PlanFigure, built from the cards' current inputs. */
const FIGURES = {
  fig12() {
    const { transactions, value } = readInputs(document.getElementById('payment-methods'));
    return wasm.planFeeByMethod({
      maxTransactions: clampTx(transactions),
      valuePerTx: transactions > 0 ? value / transactions : 0,
      steps: 50,
    });
  },
  fig13() {
    const base = readInputs(document.getElementById('single-merchant'));
    return wasm.planSingleMerchantFees({
      base,
      // Far enough past the break-even (T = 2C) to show it.
      maxTransactions: clampTx(1.5 * Math.max(base.offchainTx, 2 * base.customers)),
      steps: 60,
      sidechainFees: [0, 0.01, 0.05],
    });
  },
  fig14() {
    const base = readInputs(document.getElementById('single-platform'));
    return wasm.planSinglePlatformFees({
      base,
      maxTransactions: clampTx(1.5 * Math.max(base.offchainTx, 2 * (base.customers + base.merchants))),
      steps: 60,
      values: [0, 0.01, 0.05],
    });
  },
  fig15() {
    const base = readInputs(document.getElementById('single-platform'));
    const links = base.platformNodes >= 2 ? [1, 2, 10, 100] : [];
    // "Payments just pass through one intermediary in Figure 15."
    return wasm.planFeesByLinks({
      base: { ...base, hops: 1 },
      maxTransactions: clampTx(base.offchainTx),
      steps: 40,
      values: links,
    });
  },
  fig16() {
    const base = readInputs(document.getElementById('single-platform'));
    return wasm.planFeesByHops({
      base,
      maxTransactions: clampTx(base.offchainTx),
      steps: 40,
      values: [1, 5, 10],
    });
  },
  figFunds() {
    const f = readInputs(document.getElementById('funds-capacity'));
    const hops = [...new Set([1, 2, 5, 10, f.intermediaries])].sort((a, b) => a - b);
    return wasm.planFundsByHopTime({
      volume: f.volume,
      periodS: f.periodS,
      maxHopTimeS: 2 * f.hopTimeS,
      steps: 100,
      intermediaries: hops,
    });
  },
};

function drawFigure(id) {
  if (!Chart) return;
  const canvas = document.getElementById(id);
  let fig;
  try {
    fig = FIGURES[id]();
  } catch (e) {
    fig = { title: `Cannot plot: ${e.message}`, x_label: '', y_label: '', series: [] };
  }
  const datasets = fig.series.map((s, i) => ({
    label: s.label,
    data: s.points.map(([x, y]) => ({ x, y })),
    borderColor: COLORS[i % COLORS.length],
    backgroundColor: COLORS[i % COLORS.length],
    borderWidth: 2,
    pointRadius: 0,
    borderDash: /\(low\)/.test(s.label) ? [6, 4] : [],
  }));
  const existing = charts[id];
  if (existing) {
    existing.data.datasets = datasets;
    existing.options.plugins.title.text = fig.title;
    existing.options.scales.x.title.text = fig.x_label;
    existing.options.scales.y.title.text = fig.y_label;
    existing.update('none');
    return;
  }
  const tick = (v) => compact.format(v);
  charts[id] = new Chart(canvas, {
    type: 'line',
    data: { datasets },
    options: {
      animation: false,
      parsing: false,
      normalized: true,
      responsive: true,
      aspectRatio: 1.6,
      interaction: { mode: 'nearest', intersect: false },
      plugins: {
        title: { display: true, text: fig.title },
        legend: { position: 'bottom', labels: { boxWidth: 14 } },
        tooltip: {
          callbacks: {
            label: (ctx) => `${ctx.dataset.label}: ${usd(ctx.parsed.y)}`,
          },
        },
      },
      scales: {
        x: { type: 'linear', title: { display: true, text: fig.x_label }, ticks: { callback: tick } },
        y: { type: 'linear', title: { display: true, text: fig.y_label }, ticks: { callback: tick } },
      },
    },
  });
}

// ---------------------------------------------------------------- presets

function presets(s) {
  return {
    apple: {
      'nodes': s.appleNodes,
      'single-merchant': s.apple,
      'build-time': { onchainTx: s.apple.customers, tps: s.build.tps },
    },
    taobao: {
      'nodes': s.taobaoNodes,
      'single-platform': s.taobao,
      'build-time': s.build,
    },
    'singles-day': {
      'payment-methods': s.singlesDayMethods,
      'funds-capacity': s.singlesDayFunds,
      'single-platform': { offchainTx: s.singlesDayMethods.transactions },
    },
  };
}

function applyPreset(all, name) {
  for (const [id, values] of Object.entries(all[name])) {
    const form = document.getElementById(id);
    writeInputs(form, values);
    compute(id);
    form.classList.remove('flash');
    void form.offsetWidth; // restart the highlight animation
    form.classList.add('flash');
  }
  for (const b of $$('[data-preset]')) b.setAttribute('aria-pressed', String(b.dataset.preset === name));
}

// ---------------------------------------------------------------- the paper's numbers

function showPaperChecks() {
  const fmt = {
    count: (v) => intFmt.format(v),
    usd,
    days: (v) => v.toLocaleString('en-US', { maximumFractionDigits: 2 }) + ' days',
  };
  const rows = wasm.planPaperChecks().map((c) => {
    const tr = document.createElement('tr');
    tr.className = c.agrees ? 'agrees' : 'disagrees';
    const f = fmt[c.unit] ?? String;
    for (const text of [c.source, c.claim, f(c.paper), f(c.model), c.agrees ? '✓' : '≠', c.note]) {
      const td = document.createElement('td');
      td.textContent = text;
      tr.append(td);
    }
    return tr;
  });
  $('#paper-checks tbody').replaceChildren(...rows);
}

// ---------------------------------------------------------------- start

async function loadChart() {
  for (const path of CHART_PATHS) {
    try {
      await import(path); // the UMD build sets globalThis.Chart
      if (globalThis.Chart) return globalThis.Chart;
    } catch {
      // try the next location
    }
  }
  return null;
}

async function main() {
  const status = $('#status');
  try {
    const mod = await import('./pkg/l2pay_core.js');
    await mod.default();
    wasm = mod;
  } catch (e) {
    status.textContent = `Could not load the WebAssembly planner (./pkg/l2pay_core.js): ${e.message}. ` +
      'Build it with scripts/build-wasm.sh.';
    status.classList.add('bad');
    return;
  }
  Chart = await loadChart();
  const all = presets(wasm.planScenarios());
  // Start from every paper scenario at once.
  for (const name of ['apple', 'singles-day', 'taobao']) {
    for (const [id, values] of Object.entries(all[name])) writeInputs(document.getElementById(id), values);
  }
  for (const id of Object.keys(CARDS)) {
    const form = document.getElementById(id);
    form.addEventListener('input', () => compute(id));
    form.addEventListener('submit', (e) => e.preventDefault());
    compute(id);
  }
  for (const b of $$('[data-preset]')) b.addEventListener('click', () => applyPreset(all, b.dataset.preset));
  showPaperChecks();
  status.textContent = Chart
    ? 'Computed live by the l2pay WebAssembly planner.'
    : 'Computed live by the l2pay WebAssembly planner (chart.js not found: figures are off).';
  document.body.dataset.ready = 'true';
}

main();
