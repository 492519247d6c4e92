// The edge-logout benchmark: cost per logout against `wrangler dev` and, in the same run, against
// the peer (node-oidc-provider 9.13, its own bench.mjs); the per-request costs inside the worker
// and on the host; size and start-up; how the cost grows with relying parties and sessions.
// Prints a table and writes it as JSON (bench/results/latest.json). See bench/README.md.
//
//   bash bench/run.sh [flags]            (sets up, builds, then runs this with Node 22)
//   "$NODE22" bench/run.mjs [flags]      (after `. scripts/setup.sh` and `bash scripts/build.sh`)
//
// Flags: bench/lib/options.mjs. This file only orchestrates: the phases are in bench/phases/
// (one file each), the shared code in bench/lib/, the tables in bench/summary/.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import { ROOT } from '../tools/worker.mjs';
import { budgetModel, readBudget, recordedFigures } from './lib/budget.mjs';
import { CLK_TCK } from './lib/cpu.mjs';
import { r2 } from './lib/load.mjs';
import { idleRate } from './lib/measure.mjs';
import { registerClients } from './lib/oidc.mjs';
import { parseOptions } from './lib/options.mjs';
import { CLIENT_SETS, clientsOf, scaleClients, startOurs } from './lib/ours.mjs';
import { say } from './lib/print.mjs';
import { startRp } from './lib/rp.mjs';
import { consumerBatch } from './lib/wrangler.mjs';
import { adminLogout } from './phases/admin-logout.mjs';
import { baseline } from './phases/baseline.mjs';
import { floor } from './phases/floor.mjs';
import { hints } from './phases/hints.mjs';
import { isolate } from './phases/isolate.mjs';
import { host } from './phases/host.mjs';
import { mixVsPeer } from './phases/mix-vs-peer.mjs';
import { scaleRps } from './phases/scale-rps.mjs';
import { size } from './phases/size.mjs';
import { startups } from './phases/startups.mjs';
import { variants } from './phases/variants.mjs';
import { wasmSigner } from './phases/wasm-signer.mjs';
import { summarize } from './summary/index.mjs';

const argv = process.argv.slice(2);
const { opt: OPT, quick: QUICK, summarizeFile } = parseOptions(argv, ROOT);

// Every subrequest figure from src/budget.rs, printed by edge-logout-budget (fails, naming what is missing).
const figures = readBudget(ROOT);

// ------------------------------------------------------------------ --summarize FILE
// Print the table of an earlier run's JSON again (with this version's table code), with the
// budget figures that run recorded.
if (summarizeFile) {
  const report = JSON.parse(fs.readFileSync(path.resolve(summarizeFile), 'utf8'));
  const opt = { ...OPT, ...report.options };
  const again = summarize(report, opt, budgetModel(recordedFigures(figures, report.codeConstants)));
  console.log(again);
  fs.writeFileSync(path.resolve(summarizeFile), JSON.stringify({ ...report, table: again }, null, 2));
  process.exit(0);
}

// ------------------------------------------------------------------ run context
const budget = budgetModel(figures);
const startedAt = new Date();
const work = fs.mkdtempSync(path.join(os.tmpdir(), 'edge-logout-bench-run-'));
const git = (...a) => spawnSync('git', a, { cwd: ROOT, encoding: 'utf8' }).stdout.trim();
const report = {
  when: startedAt.toISOString(),
  command: `${path.relative(ROOT, process.argv[1])} ${argv.join(' ')}`.trim(),
  options: { ...OPT, out: path.relative(ROOT, OPT.out) },
  code: {
    head: git('rev-parse', '--short', 'HEAD'),
    uncommittedFilesInSrc: git('status', '--porcelain', 'src', 'Cargo.toml').split('\n').filter(Boolean).length,
    buildInputs: fs.existsSync(path.join(ROOT, 'build/.inputs')) ? fs.readFileSync(path.join(ROOT, 'build/.inputs'), 'utf8').trim().slice(0, 12) : null,
  },
  // The budget figures (edge-logout-budget) and the consumer's batch (wrangler.toml) the run measured against.
  codeConstants: { ...figures, consumerBatch: consumerBatch() },
  machine: { cpus: os.cpus().length, model: os.cpus()[0]?.model, clkTck: CLK_TCK, node: process.version, loadavgAtStart: os.loadavg().map(r2) },
};

// Every process this run starts is stopped on the way out, however it goes.
const cleanups = [];
async function cleanup() {
  while (cleanups.length) {
    try {
      await cleanups.pop()();
    } catch {}
  }
  fs.rmSync(work, { recursive: true, force: true });
}

/** Runs one part of the bench; a failure is recorded and the rest goes on. */
async function phase(name, fn) {
  try {
    return await fn();
  } catch (e) {
    report.phaseErrors ??= {};
    report.phaseErrors[name] = String(e.stack ?? e).slice(0, 1500);
    say(`  [${name}] failed: ${String(e.message ?? e).slice(0, 400)}`);
    return undefined;
  }
}

/** What every phase gets: the options, the report it writes into, the budget model, and the run's folder and cleanups. */
const ctx = { opt: OPT, quick: QUICK, deadlineMs: OPT.phaseDeadlineS * 1000, work, cleanups, report, budget, phase };

// ------------------------------------------------------------------ the run
async function main() {
  say(`edge-logout bench ${report.when} (HEAD ${report.code.head}, ${report.code.uncommittedFilesInSrc} uncommitted files in src/Cargo.toml, build ${report.code.buildInputs}); ${report.machine.cpus} CPUs, load ${report.machine.loadavgAtStart.join(' ')}`);

  await size(ctx); // 3. size (from a copy of build/, the same the runs use)
  if (OPT.host) host(ctx); // 2b. host micro-benchmarks

  const rp = await startRp();
  cleanups.push(() => rp.stop());

  // 2a. the floor, in the same runtime
  const ours = await startOurs(ctx, 'main');
  report.startups = [{ label: 'main', ...ours.startup }];
  if (OPT.floor) await floor(ctx, ours.vars, rp);

  // 1. cost per logout: ours, the peer, ours again; 2. hint verification; the variants
  const all = [...Object.keys(CLIENT_SETS).flatMap(clientsOf), ...(OPT.scale ? scaleClients(Math.max(...OPT.scaleRps)) : [])];
  await registerClients(ours.admin, rp.url, all);
  report.idleWorkerdMsPerS = await idleRate(ours);
  await baseline(ctx, ours, rp);
  await hints(ctx, ours, rp);
  report.runs = {};
  await mixVsPeer(ctx, ours, rp);
  if (OPT.variants) await variants(ctx, ours, rp);

  // 5. the isolate's own CPU: V8 profiles of ours and of the twin, the peer, interleaved rounds
  if (OPT.isolate) await isolate(ctx, rp);

  // 4. scale: relying parties (4a), sessions of one user (4b); the request alone is in 5
  if (OPT.scale) await scaleRps(ctx, ours, rp);
  if (OPT.admin) await adminLogout(ctx, ours, rp);
  await ours.stop();

  // 2c. SIGNER=wasm; 3. the remaining start-ups
  if (OPT.wasm) await wasmSigner(ctx, rp);
  await startups(ctx);
  await rp.stop();
}

let failed = null;
try {
  await main();
} catch (e) {
  failed = e;
  console.error(`\nbench failed: ${e.stack ?? e}`);
  report.error = String(e.stack ?? e).slice(0, 4000);
} finally {
  await cleanup();
}
report.seconds = r2((Date.now() - startedAt.getTime()) / 1000);
let text;
try {
  text = summarize(report, OPT, budget);
} catch (e) {
  text = `(no table: ${e.stack ?? e})`;
  failed ??= e;
}
console.log(text);
fs.mkdirSync(path.dirname(OPT.out), { recursive: true });
fs.writeFileSync(OPT.out, JSON.stringify({ ...report, table: text }, null, 2));
console.log(`\nwrote ${path.relative(ROOT, OPT.out)} (${report.seconds} s)`);
process.exit(failed || report.phaseErrors ? 1 : 0);
