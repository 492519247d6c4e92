// Measuring a started worker: CPU per request of a bounded load, the idle rate, and how much of
// the machine other processes used meanwhile.
import { CLK_TCK, groupMeter, machineBusySeconds, procStat } from './cpu.mjs';
import { dist, pool, r2, r3, request, sleep } from './load.mjs';

export const ms = (s) => s * 1000;

/** Our own share of the machine, to tell how much of the busy time was somebody else's. */
export function machineMark(extraPids = []) {
  const own = process.cpuUsage();
  return { busyS: machineBusySeconds(), selfS: (own.user + own.system) / 1e6, extra: extraPids.map((p) => procStat(p)?.ticks ?? 0) };
}
export function foreignCpu(a, b, measuredS) {
  const extraS = b.extra.reduce((s, t, i) => s + (t - a.extra[i]), 0) / CLK_TCK;
  return r2(b.busyS - a.busyS - (b.selfS - a.selfS) - extraS - measuredS);
}

/**
 * `count` requests (from `make(i)` -> {method, path, headers}) with `concurrency`, CPU of the
 * worker's processes per request. `check(res)` says whether an answer is the expected one.
 */
export async function perRequest(w, rp, { count, concurrency = 4, make, check, deadlineMs }) {
  const meter = groupMeter(w.pid);
  const warm = make(0);
  await request(warm.method ?? 'GET', w.url + warm.path, { headers: warm.headers });
  const lat = [];
  let bad = 0;
  let sample = null;
  const m0 = machineMark([rp.pid]);
  const a = meter.mark();
  await pool([...Array(count).keys()], concurrency, async (i) => {
    const q = make(i);
    const r = await request(q.method ?? 'GET', w.url + q.path, { headers: q.headers });
    lat.push(r.ms);
    if (!check(r)) {
      bad += 1;
      sample ??= `${r.status} ${r.body.slice(0, 160)}`;
    }
  }, deadlineMs);
  const b = meter.mark();
  const m1 = machineMark([rp.pid]);
  const d = meter.between(a, b);
  return {
    requests: lat.length,
    perS: r2(lat.length / d.wallS),
    bad,
    badSample: sample,
    workerdMsPerRequest: r3(ms(d.workerdS) / lat.length),
    workerdMsPerRequestFromThreads: r3(ms(d.workerdNsS) / lat.length),
    wranglerNodeMsPerRequest: r3(ms(d.otherS) / lat.length),
    latencyMs: dist(lat),
    foreignCpuS: foreignCpu(m0, m1, d.workerdS + d.otherS),
  };
}

/** Idle CPU of the worker's processes, ms per second. */
export async function idleRate(w, seconds = 3) {
  const a = w.meter.mark();
  await sleep(seconds * 1000);
  const b = w.meter.mark();
  const d = w.meter.between(a, b);
  return r3(ms(d.workerdNsS) / d.wallS);
}
