// The peer, node-oidc-provider 9.13 (/work/shared/peers/node-oidc-provider, read-only): copied
// to a writable cache folder, installed there by its own start.sh (npm), started on 127.0.0.1,
// benchmarked with its own bench.mjs, stopped with its own stop.sh.
import { spawnSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import { freePort } from '../../tools/worker.mjs';

export const PEER_SRC = process.env.PEER_DIR || '/work/shared/peers/node-oidc-provider';

function cacheDir() {
  const base = process.env.EDGE_LOGOUT_CACHE || path.join(process.env.XDG_CACHE_HOME || path.join(os.homedir(), '.cache'), 'edge-logout');
  return path.join(base, 'peer', 'node-oidc-provider');
}

function digest(dir) {
  const h = crypto.createHash('sha256');
  for (const f of fs.readdirSync(dir).sort()) {
    const p = path.join(dir, f);
    if (fs.statSync(p).isFile()) h.update(f).update(fs.readFileSync(p));
  }
  return h.digest('hex');
}

/** A writable copy of the peer, refreshed when the shared one changed (node_modules kept). */
export function preparePeer() {
  if (!fs.existsSync(path.join(PEER_SRC, 'bench.mjs'))) throw new Error(`no peer at ${PEER_SRC}`);
  const dir = cacheDir();
  const want = digest(PEER_SRC);
  const stamp = path.join(dir, '.source-digest');
  if (!fs.existsSync(stamp) || fs.readFileSync(stamp, 'utf8') !== want) {
    fs.mkdirSync(dir, { recursive: true });
    for (const f of fs.readdirSync(PEER_SRC)) {
      const src = path.join(PEER_SRC, f);
      if (!fs.statSync(src).isFile()) continue;
      const dst = path.join(dir, f);
      fs.rmSync(dst, { force: true });
      fs.copyFileSync(src, dst);
      fs.chmodSync(dst, f.endsWith('.sh') ? 0o755 : 0o644);
    }
    fs.writeFileSync(stamp, want);
  }
  return dir;
}

const portFree = async (port) => {
  const net = await import('node:net');
  return new Promise((resolve) => {
    const srv = net.createServer();
    srv.once('error', () => resolve(false));
    srv.listen(port, '127.0.0.1', () => srv.close(() => resolve(true)));
  });
};

/**
 * Starts the peer, runs its bench.mjs with `n` and `concurrency`, stops it. Returns its report
 * (results/<out>.json) and the command lines used.
 */
export async function runPeer({ n, concurrency, out = 'edge-logout-bench', setupDeadlineS = 150, benchDeadlineS = 90 }) {
  const dir = preparePeer();
  // Its default ports when free; otherwise free ones. bench.mjs reads the OP's pid from
  // run/op-post.pid when OP_PORT is not 4400, so that file then names the same process.
  let opPort = 4400;
  let rpPort = 4401;
  if (!(await portFree(opPort)) || !(await portFree(rpPort))) {
    opPort = await freePort();
    rpPort = await freePort();
  }
  const env = { ...process.env, OP_PORT: String(opPort), RP_PORT: String(rpPort) };
  // The peer's scripts run with the machine's node (>= 20), as its README says.
  delete env.NODE_OPTIONS;
  const start = spawnSync('./start.sh', [], { cwd: dir, env, encoding: 'utf8', timeout: 240_000 });
  if (start.status !== 0) throw new Error(`peer start.sh failed: ${start.stdout}\n${start.stderr}`);
  try {
    if (opPort !== 4400) fs.copyFileSync(path.join(dir, 'run/op.pid'), path.join(dir, 'run/op-post.pid'));
    const args = ['bench.mjs', '--n', String(n), '--concurrency', String(concurrency), '--out', out,
      '--setup-deadline', String(setupDeadlineS), '--bench-deadline', String(benchDeadlineS)];
    const run = spawnSync('node', args, { cwd: dir, env, encoding: 'utf8', timeout: (setupDeadlineS + benchDeadlineS + 60) * 1000 });
    if (run.status !== 0) throw new Error(`peer bench.mjs failed (${run.status} ${run.signal ?? ''}): ${run.stdout}\n${run.stderr}`);
    const report = JSON.parse(fs.readFileSync(path.join(dir, 'results', `${out}.json`), 'utf8'));
    return { report, stdout: run.stdout, command: `(cd ${dir} && OP_PORT=${opPort} RP_PORT=${rpPort} ./start.sh && node ${args.join(' ')}; ./stop.sh)` };
  } finally {
    if (fs.existsSync(path.join(dir, 'run/op-post.pid'))) fs.rmSync(path.join(dir, 'run/op-post.pid'));
    spawnSync('./stop.sh', [], { cwd: dir, env, encoding: 'utf8', timeout: 30_000 });
  }
}
