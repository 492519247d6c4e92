// 2. Hint verification inside the worker: a signed hint with a wrong `iss` (signature checked,
// then refused) minus a malformed one of the same length (refused before any signature work).
import { r3 } from '../lib/load.mjs';
import { perRequest } from '../lib/measure.mjs';
import { say } from '../lib/print.mjs';

async function measureHints(ctx, w, rp) {
  const mk = (hint) => ({ path: `/session/end?${new URLSearchParams({ id_token_hint: hint })}`, headers: { accept: 'text/html' } });
  const bad400 = (r) => r.status === 400;
  const run = (hint) => perRequest(w, rp, { count: ctx.opt.hintRequests, make: () => mk(hint), check: bad400, deadlineMs: ctx.deadlineMs });
  const out = { method: 'CPU per request of GET /session/end?id_token_hint=<hint signed by the worker\'s key, iss of another issuer> (signature verified, then 400) minus the same with a malformed hint of the same length (400 before any signature work); no KV, no cookie', raw: {} };
  let length = 0;
  for (const alg of ['RS256', 'ES256', 'EdDSA']) {
    const hint = await w.mint({ alg, clientId: 'mix-a', sub: 'user-hint', sid: 'sid-hint-0123456789', iss: 'https://other-issuer.example' });
    length = Math.max(length, hint.length);
    out.raw[alg] = await run(hint);
  }
  const malformed = `${Buffer.from('{"alg":').toString('base64url')}.${'A'.repeat(length - 12)}.x`;
  out.raw.malformed = await run(malformed);
  const base = out.raw.malformed.workerdMsPerRequest;
  out.verifyMs = Object.fromEntries(['RS256', 'ES256', 'EdDSA'].map((a) => [a, r3(out.raw[a].workerdMsPerRequest - base)]));
  say(`\n[hint verification in the worker] ms per hint: ${JSON.stringify(out.verifyMs)} (malformed-hint request ${base} ms)`);
  return out;
}

export async function hints(ctx, ours, rp) {
  ctx.report.hints = await ctx.phase('hints', () => measureHints(ctx, ours, rp));
}
