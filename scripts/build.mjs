// wrangler's [build] command (wrangler.toml), in Node so that it runs under any shell: wrangler
// runs [build] under cmd on Windows and sh elsewhere, where `test -n ... || bash ...` is sh only.
// The scripts and tests build once themselves and set EDGE_LOGOUT_PREBUILT=1: then nothing to do.
// Otherwise it runs scripts/build.sh (the build itself: installs the Rust tools when missing,
// skips when src/ did not change) with the bash found on PATH (on Windows: Git Bash's; or run
// wrangler under WSL).
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

if (process.env.EDGE_LOGOUT_PREBUILT) process.exit(0);
const root = path.join(path.dirname(fileURLToPath(import.meta.url)), '..');
const r = spawnSync('bash', [path.join('scripts', 'build.sh')], { cwd: root, stdio: 'inherit' });
if (r.error) {
  console.error(`[build] cannot run bash (${r.error.code ?? r.error.message}): scripts/build.sh needs one` +
    (process.platform === 'win32' ? ' (Git Bash on PATH, or run wrangler under WSL)' : ''));
  process.exit(1);
}
process.exit(r.status ?? 1);
