// Table 2: the per-request costs, inside the worker (differences of runs), the floor worker
// (same runtime, WebCrypto) and the host (cargo bench, native).
import { r3 } from '../lib/load.mjs';
import { f1, table } from '../lib/print.mjs';

export function perRequestTable(v, out) {
  const { report, opt, R, floor, mixCpu } = v;
  const rows2 = [];
  const H = report.hints?.verifyMs ?? {};
  const host = Object.fromEntries((report.host?.host ?? []).map((h) => [h.name, h.median_us / 1000]));
  const nobc = R.nobc?.cpu.workerdMsPerLogout;
  const perRp = (run, hintAlg) => (run && nobc !== undefined ? r3((run.cpu.workerdMsPerLogout - nobc - ((H[hintAlg] ?? 0) - (H.RS256 ?? 0))) / 3) : NaN);
  report.derived.deliveryPerRpMs = { RS256: perRp(R.rs256, 'RS256'), ES256: perRp(R.es256, 'ES256'), EdDSA: perRp(R.eddsa, 'EdDSA') };
  for (const alg of ['RS256', 'ES256', 'EdDSA']) {
    rows2.push([`verify id_token_hint ${alg}`, H[alg], floor?.verify[alg], host[`verify id_token_hint ${alg}`], 'parsed in wasm, signature by WebCrypto (SIGNER=wasm: jwt-compact)']);
  }
  for (const alg of ['RS256', 'ES256', 'EdDSA']) {
    rows2.push([`sign one logout token ${alg}`, floor?.sign[alg], floor?.sign[alg], host[`logout token ${alg}: claims + input + sign + assemble`], 'WebCrypto (worker = floor call)']);
  }
  for (const alg of ['RS256', 'ES256', 'EdDSA']) {
    rows2.push([`one delivery ${alg} (sign + POST + glue)`, report.derived.deliveryPerRpMs[alg], floor ? r3(floor.sign[alg] + floor.post) : NaN, '-', 'from 3-RP runs minus no-back-channel run']);
  }
  if (R.mixWasmSigner && R.mix) {
    const extra = r3(R.mixWasmSigner.cpu.workerdMsPerLogout - mixCpu);
    report.derived.wasmSignerExtraPerLogoutMs = extra;
    rows2.push(['SIGNER=wasm: extra per mix logout (2 RS256 + 1 ES256)', extra, '-', host['logout token RS256: signature alone (sign_bytes)'] !== undefined ? r3(2 * host['logout token RS256: signature alone (sign_bytes)'] + host['logout token ES256: signature alone (sign_bytes)']) : NaN, 'wasm vs WebCrypto']);
  }
  if (report.baseline) rows2.push([`our lightest request (discovery), concurrency ${opt.concurrency}, whole / above the floor's empty request`, `${f1(report.baseline.workerdMsPerRequest)} / ${f1(floor ? report.baseline.workerdMsPerRequest - floor.request : NaN)}`, '-', '-', 'wasm-bindgen glue, routing, JSON, response']);
  const fa = report.floor?.perUnitAloneMs;
  if (floor && fa) {
    const both = (k) => `${f1(floor[k])} / ${f1(fa[k])}`;
    rows2.push([`local runtime: one request (noop), concurrency ${opt.concurrency} / alone`, '-', both('request'), '-', `wrangler dev proxy + workerd, not in production CPU; ceiling ${f1(report.floor.raw[`c${opt.concurrency}`].noop.perS)} empty requests/s`]);
    rows2.push([`local runtime: one KV get, concurrency ${opt.concurrency} / alone`, '-', both('kvGet'), '-', `local KV simulation (32 at once: ${both('kvGetParallel')}; per key of a bulk read of 100: ${both('kvBulkPerKey')})`]);
    rows2.push([`local runtime: one KV delete, concurrency ${opt.concurrency} / alone`, '-', both('kvDelete'), '-', `local KV simulation (put: ${f1(floor.kvPut)})`]);
    rows2.push([`local runtime: one back-channel POST, concurrency ${opt.concurrency} / alone`, '-', both('post'), '-', 'outbound fetch, not in production CPU']);
    rows2.push([`local runtime: one queue message (batch of 100), concurrency ${opt.concurrency} / alone`, '-', both('queueMessage'), '-', 'queue send']);
    rows2.push([`local runtime: one log line (console.log, ~200 B JSON), concurrency ${opt.concurrency} / alone`, '-', both('logLine'), '-', `+ ${f1(floor.logLineWranglerNode)} ms in wrangler's node process`]);
  }
  rows2.push(['keys: parse SIGNING_JWKS (once per isolate)', '-', '-', host['keys: KeySet::parse (3 keys, once per isolate)'], 'in the first request']);
  out.push(table('2. Per-request cost (ms of CPU): inside the worker (differences of runs, method in bench/README.md), the floor worker (same runtime, WebCrypto), the host (cargo bench, native, release profile)',
    ['what', 'in the worker', 'floor (WebCrypto)', 'host (Rust)', 'how / note'], rows2));
}
