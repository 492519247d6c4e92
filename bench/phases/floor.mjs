// 2a. The floor: what a logout's parts cost alone in the same runtime (bench/floor, a tiny JS
// worker with the same keys): signatures, verifications, KV operations, POSTs, queue messages,
// log lines, per unit, at the main concurrency and alone.

import { r3, request } from '../lib/load.mjs';
import { perRequest } from '../lib/measure.mjs';
import { say } from '../lib/print.mjs';
import { startFloorWorker } from '../lib/wrangler.mjs';

async function measureFloor(ctx, vars, rp) {
  const { opt } = ctx;
  const w = await startFloorWorker(ctx, vars.SIGNING_JWKS, 'floor');
  const R = opt.floorRequests;
  const ok = (r) => r.status < 300;
  const out = { startup: w.startup, raw: {} };
  const SIG_N = 16;
  const KV_N = 8;
  const KV_PAR_N = 32;
  const KV_BULK_N = 100;
  const POST_N = 3;
  const Q_N = 100;
  const LOG_N = 8;
  const to = encodeURIComponent(`${rp.url}/bc/floor`);
  // Per unit at a given concurrency: the runs at the main concurrency use those, the logouts
  // one at a time (scale) those measured alone: the runtime's cost per request and per
  // operation falls with concurrency.
  async function unitsAt(concurrency, withCrypto) {
    const raw = {};
    const run = (p, count = R) => perRequest(w, rp, { count, concurrency, make: () => ({ path: p }), check: ok, deadlineMs: ctx.deadlineMs });
    raw.noop = await run('/noop', R * 2);
    if (withCrypto) {
      for (const alg of ['RS256', 'ES256', 'EdDSA']) {
        raw[`sign_${alg}`] = await run(`/sign?alg=${alg}&n=${SIG_N}`);
        raw[`verify_${alg}`] = await run(`/verify?alg=${alg}&n=${SIG_N}`);
      }
      raw.kv_put = await run(`/kv?op=put&n=${KV_N}`);
    }
    raw.kv_get = await run(`/kv?op=get&n=${KV_N}`);
    raw.kv_getpar = await run(`/kv?op=getpar&n=${KV_PAR_N}`);
    // The bulk read reads existing client records (reading missing keys costs far less).
    const seeded = await request('GET', `${w.url}/kv?op=seed&n=${KV_BULK_N}`);
    if (seeded.status !== 200) throw new Error(`floor seed: ${seeded.status} ${seeded.body}`);
    raw.kv_bulk = await run(`/kv?op=bulk&n=${KV_BULK_N}`);
    raw.kv_delete = await run(`/kv?op=delete&n=${KV_N}`);
    raw.post = await run(`/fetch?n=${POST_N}&to=${to}`);
    raw.queue = await run(`/queue?n=${Q_N}`, Math.max(10, Math.floor(R / 4)));
    raw.log = await run(`/log?n=${LOG_N}`);
    const noop = raw.noop.workerdMsPerRequest;
    const unit = (key, n) => (raw[key] ? r3((raw[key].workerdMsPerRequest - noop) / n) : null);
    const units = {
      concurrency,
      request: noop,
      kvGet: unit('kv_get', KV_N),
      kvGetParallel: unit('kv_getpar', KV_PAR_N),
      kvBulkPerKey: unit('kv_bulk', KV_BULK_N),
      kvDelete: unit('kv_delete', KV_N),
      post: unit('post', POST_N),
      queueMessage: raw.queue.bad ? null : unit('queue', Q_N),
      logLine: unit('log', LOG_N),
      logLineWranglerNode: r3((raw.log.wranglerNodeMsPerRequest - raw.noop.wranglerNodeMsPerRequest) / LOG_N),
    };
    if (withCrypto) {
      units.kvPut = unit('kv_put', KV_N);
      units.sign = { RS256: unit('sign_RS256', SIG_N), ES256: unit('sign_ES256', SIG_N), EdDSA: unit('sign_EdDSA', SIG_N) };
      units.verify = { RS256: unit('verify_RS256', SIG_N), ES256: unit('verify_ES256', SIG_N), EdDSA: unit('verify_EdDSA', SIG_N) };
    }
    return { units, raw };
  }
  const main = await unitsAt(opt.concurrency, true);
  const alone = await unitsAt(1, false);
  out.perUnitMs = main.units;
  out.perUnitAloneMs = alone.units;
  out.raw = { [`c${opt.concurrency}`]: main.raw, c1: alone.raw };
  out.method = `CPU of the workerd processes per request, minus /noop's, divided by the units per request (signatures and verifications: ${SIG_N}, KV operations: ${KV_N} one after the other, ${KV_PAR_N} at once, or one bulk read of ${KV_BULK_N} keys, POSTs: ${POST_N}, queue messages: ${Q_N}, log lines: ${LOG_N}); ${R} requests each, at concurrency ${opt.concurrency} and alone`;
  await w.stop();
  return out;
}

export async function floor(ctx, vars, rp) {
  say('\n[floor] standalone JS worker (bench/floor), same keys, same wrangler/workerd');
  ctx.report.floor = await ctx.phase('floor', () => measureFloor(ctx, vars, rp));
  if (ctx.report.floor) say(`  per unit (ms of workerd CPU): ${JSON.stringify(ctx.report.floor.perUnitMs)}`);
}
