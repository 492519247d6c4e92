// The subrequest budget: the bench's one home for it, taken from Rust itself. `edge-logout-budget`
// (src/bin/edge-logout-budget.rs, built from the sources the run builds) prints src/budget.rs's
// figures and what a request spends, computed by the worker's own `budget::affordable_inline`:
// nothing here parses Rust or repeats its rules. Two budgets per invocation (the free plan: 50
// fetches, 1,000 KV and queue calls), so each request's spend carries both and `fits`.
import { execFileSync } from 'node:child_process';
import path from 'node:path';

/** The binary that prints the budget, built under `root` (cargo, once per run). */
function budgetBinary(root) {
  try {
    execFileSync('cargo', ['build', '--quiet', '--bin', 'edge-logout-budget'], { cwd: root, stdio: ['ignore', 'ignore', 'pipe'] });
  } catch (e) {
    throw new Error(`bench/lib/budget.mjs: cannot build edge-logout-budget (${String(e.stderr ?? e.message).trim().slice(0, 500)}): the bench takes every subrequest figure from it`);
  }
  const target = process.env.CARGO_TARGET_DIR ? path.resolve(root, process.env.CARGO_TARGET_DIR) : path.join(root, 'target');
  return path.join(target, 'debug', 'edge-logout-budget');
}

/** Runs the binary with `queries` (logout:K:D, admin:S:K:D); its JSON answer. */
function ask(binary, queries = []) {
  return JSON.parse(execFileSync(binary, queries, { encoding: 'utf8' }));
}

/**
 * The figures of src/budget.rs under `root`, as edge-logout-budget prints them ({connections,
 * inlineMax, subjectPage, deletesPerSession, bulkReadMax, consumerBatch, free: {...}, ...}), with
 * the limits the tables name (`externalLimit`, `serviceLimit`). The binary rides along
 * (non-enumerable) for budgetModel.
 */
export function readBudget(root) {
  const binary = budgetBinary(root);
  const f = ask(binary).figures;
  for (const key of ['inlineMax', 'subjectPage', 'deletesPerSession', 'bulkReadMax', 'connections', 'consumerBatch']) {
    if (!Number.isFinite(f[key])) throw new Error(`bench/lib/budget.mjs: edge-logout-budget printed no figure ${key}`);
  }
  const figures = { ...f, externalLimit: f.free.externalSubrequests, serviceLimit: f.free.serviceSubrequests };
  Object.defineProperty(figures, 'binary', { value: binary, enumerable: false });
  return figures;
}

/**
 * The subrequest model over `figures` (from readBudget): what one request spends, each answer
 * computed by edge-logout-budget (memoised): KV reads, lists, writes, deletes, fetches (inline
 * deliveries), queue sends, `services` and `total`, the worst case of both budgets and `fits`.
 */
export function budgetModel(figures) {
  const F = { ...figures };
  const binary = figures.binary;
  const memo = new Map();
  const spend = (q) => {
    if (!binary) throw new Error('bench/lib/budget.mjs: these figures carry no edge-logout-budget to ask (readBudget first)');
    if (!memo.has(q)) memo.set(q, ask(binary, [q])[q]);
    return memo.get(q);
  };
  /** An RP-initiated logout whose session has `k` clients, `d` of them with a back-channel URI. */
  const subrequestsLogout = (k, d = k) => spend(`logout:${k}:${d}`);
  /** One page of an admin logout of a user: `s` sessions, `k` clients, `d` deliveries. */
  const subrequestsAdmin = (s, k = 3, d = k * s) => spend(`admin:${s}:${k}:${d}`);
  return { ...F, subrequestsLogout, subrequestsAdmin };
}

/** The figures a run recorded (`codeConstants`) over the current ones, for re-printing its tables; the spends are this version's. */
export function recordedFigures(figures, codeConstants = {}) {
  const out = { ...figures };
  for (const key of ['inlineMax', 'subjectPage', 'deletesPerSession', 'bulkReadMax', 'connections', 'consumerBatch', 'externalLimit', 'serviceLimit']) {
    if (Number.isFinite(codeConstants[key])) out[key] = codeConstants[key];
  }
  Object.defineProperty(out, 'binary', { value: figures.binary, enumerable: false });
  return out;
}
