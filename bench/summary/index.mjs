// The summary: the tables printed at the end of a run (and by --summarize), built from the
// report alone, plus `report.derived` (figures derived from several phases). One file per table
// group; they share the view made here.
import os from 'node:os';

import { r2, r3 } from '../lib/load.mjs';
import { f1, median } from '../lib/print.mjs';
import { costTables } from './cost.mjs';
import { goalsTable } from './goals.mjs';
import { isolateTables } from './isolate.mjs';
import { perRequestTable } from './per-request.mjs';
import { scaleTables } from './scale.mjs';
import { sizeTable } from './size.mjs';

/** The text of the tables; `opt` the run's options, `budget` the subrequest model (bench/lib/budget.mjs). */
export function summarize(report, opt, budget) {
  const out = [];
  const R = report.runs ?? {};
  const P = report.peer && !report.peer.error ? report.peer : null;
  const floor = report.floor?.perUnitMs;
  const floorLogout = floor ? floor.sign.RS256 * 2 + floor.sign.ES256 : NaN;
  const mixCpu = median([R.mix?.cpu.workerdMsPerLogout, R.mixAgain?.cpu.workerdMsPerLogout].filter(Boolean));
  const mixRate = median([R.mix?.logoutsPerS, R.mixAgain?.logoutsPerS].filter(Boolean));
  const mixSub = budget.subrequestsLogout(3);
  report.derived = { floorPerLogoutMs: r3(floorLogout), mixCpuMsPerLogout: mixCpu, mixLogoutsPerS: mixRate };
  const v = { report, opt, budget, R, P, floor, floorLogout, mixCpu, mixRate, mixSub, S: report.size, st: report.startups ?? [] };

  costTables(v, out);
  perRequestTable(v, out);
  sizeTable(v, out);
  if (report.scale) scaleTables(v, out);
  isolateTables(v, out);
  goalsTable(v, out);

  const foreign = Object.values(R).map((r) => r.cpu.foreignCpuS).filter(Number.isFinite);
  if (report.phaseErrors) out.push(`\nParts that failed: ${Object.entries(report.phaseErrors).map(([k, x]) => `${k}: ${x.split('\n')[0]}`).join('; ')}`);
  out.push(`\nNoise: ${report.machine.cpus} CPUs shared; CPU seconds used by other processes (not the worker, wrangler, the load generator or the receiver) during our timed runs: ${foreign.map(f1).join(', ')} s; load average at start ${report.machine.loadavgAtStart.join(' ')}, at end ${os.loadavg().map(r2).join(' ')}. CPU per logout is the robust figure; logouts/s and latency move with the machine.`);
  return out.join('\n');
}
