// 1. Cost per logout against the peer: ours with the peer's client mix, the peer
// (node-oidc-provider, its own bench.mjs), then ours again (N/4) so that drift shows.
import { r3 } from '../lib/load.mjs';
import { recordLogouts } from '../lib/logout-run.mjs';
import { clientsOf } from '../lib/ours.mjs';
import { runPeer } from '../lib/peer.mjs';
import { say } from '../lib/print.mjs';

async function peer(ctx) {
  const { opt, report } = ctx;
  say(`\n[peer] node-oidc-provider: bench.mjs --n ${opt.n} --concurrency ${opt.concurrency}`);
  try {
    const p = await runPeer({ n: opt.n, concurrency: opt.concurrency });
    const L = p.report.logout;
    report.peer = {
      command: p.command,
      completed: L.completed,
      ok: L.ok,
      failures: L.failures,
      logoutsPerS: L.logoutPairsPerS,
      latencyMs: L.pairLatencyMs,
      cpuMsPerLogout: r3((L.cpu.opCpuSecondsTotal * 1000) / L.completed),
      opCpuPctOfOneCore: L.cpu.opCpuPct,
      deliveries: { expected: p.report.backchannel.expectedDeliveries, received: p.report.backchannel.receivedDeliveries },
      setup: p.report.setup.sessions,
      note: 'a logout is GET end_session (confirm page) + POST confirm (the peer always asks); CPU of the OP process',
      raw: p.report,
    };
    say(p.stdout.trim().split('\n').map((l) => `  ${l}`).join('\n'));
  } catch (e) {
    report.peer = { error: e.message.slice(0, 2000) };
    say(`  peer failed: ${e.message.slice(0, 600)}`);
  }
}

export async function mixVsPeer(ctx, ours, rp) {
  const { opt } = ctx;
  await recordLogouts(ctx, rp, 'mix', { w: ours, name: 'mix', clients: clientsOf('mix'), hintAlg: 'RS256', n: opt.n, concurrency: opt.concurrency });
  if (opt.peer) {
    await peer(ctx);
    await recordLogouts(ctx, rp, 'mixAgain', { w: ours, name: 'mix-again', clients: clientsOf('mix'), hintAlg: 'RS256', n: Math.ceil(opt.n / 4), concurrency: opt.concurrency });
  }
}
