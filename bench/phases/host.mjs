// 2b. The host micro-benchmarks: `cargo bench --bench logout_crypto` (native, release profile).
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

import { ROOT } from '../../tools/worker.mjs';
import { say } from '../lib/print.mjs';

export function host(ctx) {
  const { report, quick } = ctx;
  const jsonPath = path.join(ctx.work, 'host.json');
  say('\n[host] cargo bench --bench logout_crypto --features test-support');
  const r = spawnSync('cargo', ['bench', '--bench', 'logout_crypto', '--features', 'test-support', '--', '--json', jsonPath, ...(quick ? ['--quick'] : [])], {
    cwd: ROOT, encoding: 'utf8', timeout: 20 * 60_000,
  });
  if (r.status === 0 && fs.existsSync(jsonPath)) {
    report.host = { command: `cargo bench --bench logout_crypto --features test-support${quick ? ' -- --quick' : ''}`, ...JSON.parse(fs.readFileSync(jsonPath, 'utf8')) };
    say(r.stdout.split('\n').filter((l) => !l.startsWith('wrote')).join('\n'));
  } else {
    report.host = { error: `cargo bench failed (${r.status}): ${(r.stderr || '').split('\n').filter((l) => /^error/.test(l)).slice(0, 5).join(' | ') || (r.stderr || '').slice(-600)}` };
    say(`  ${report.host.error}`);
  }
}
