// Our lightest request: discovery, CPU per request at the main concurrency.
import { perRequest } from '../lib/measure.mjs';
import { say } from '../lib/print.mjs';

export async function baseline(ctx, ours, rp) {
  const { opt, report } = ctx;
  report.baseline = await ctx.phase('baseline', () => perRequest(ours, rp, {
    count: opt.hintRequests,
    concurrency: opt.concurrency,
    make: () => ({ path: '/.well-known/openid-configuration' }),
    check: (r) => r.status === 200,
    deadlineMs: ctx.deadlineMs,
  }));
  say(`\n[baseline] discovery: ${report.baseline?.workerdMsPerRequest} ms of workerd CPU per request`);
}
