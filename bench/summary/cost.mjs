// Table 1: cost per logout (ours, the peer, the variants) in raw local CPU. Where the worker's
// own CPU goes is table 5 (V8 profiles), no longer estimated by subtraction.
import { r3 } from '../lib/load.mjs';
import { table } from '../lib/print.mjs';

export function costTables(v, out) {
  const { opt, R, P } = v;
  const rows1 = [];
  const row = (label, r) => rows1.push([label, r.completed, r.errors, r.logoutsPerS, r.latencyMs.p50, r.latencyMs.p99, r.cpu.workerdMsPerLogout, r.cpu.wranglerNodeMsPerLogout, `${r.deliveries.received}/${r.deliveries.expected}`, P ? r3(P.cpuMsPerLogout / r.cpu.workerdMsPerLogout) : '-']);
  if (R.mix) row('edge-logout, peer mix (RS256, ES256, RS256)', R.mix);
  if (R.mixAgain) row('edge-logout, peer mix, again after the peer', R.mixAgain);
  if (P) rows1.push(['node-oidc-provider 9.13 (GET + confirm POST)', P.completed, P.failures, P.logoutsPerS, P.latencyMs.p50, P.latencyMs.p99, P.cpuMsPerLogout, '-', `${P.deliveries.received}/${P.deliveries.expected}`, 1]);
  if (R.nobc) row('edge-logout, 3 RPs without back-channel', R.nobc);
  if (R.rs256) row('edge-logout, 3 RS256 RPs', R.rs256);
  if (R.es256) row('edge-logout, 3 ES256 RPs', R.es256);
  if (R.eddsa) row('edge-logout, 3 EdDSA RPs', R.eddsa);
  if (R.mixWasmSigner) row('edge-logout, peer mix, SIGNER=wasm', R.mixWasmSigner);
  out.push(table(
    `1. Cost per logout (concurrency ${opt.concurrency}; CPU = utime+stime of the workerd processes (ours) or the OP process (peer), /proc, per completed logout)`,
    ['run', 'logouts', 'errors', 'logouts/s', 'p50 ms', 'p99 ms', 'CPU ms/logout', 'wrangler node ms', 'tokens', 'peer CPU / ours'],
    rows1,
  ));

}
