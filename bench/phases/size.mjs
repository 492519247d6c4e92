// 3. Size: the wasm and the upload bundle (from a copy of build/, the same the runs use), V8's
// compile time of the wasm, and what the wasm's code is made of.
import fs from 'node:fs';
import path from 'node:path';

import { ROOT } from '../../tools/worker.mjs';
import { say } from '../lib/print.mjs';
import { sizes, wasmBreakdown, wasmCompileMs } from '../lib/sizes.mjs';
import { projectConfig, snapshotBuild } from '../lib/wrangler.mjs';

export async function size(ctx) {
  const { report } = ctx;
  await ctx.phase('size', async () => {
    const sizeDir = path.join(ctx.work, 'size');
    fs.mkdirSync(sizeDir, { recursive: true });
    const sizeMain = snapshotBuild(sizeDir);
    const sizeConfig = path.join(sizeDir, 'wrangler.toml');
    fs.writeFileSync(sizeConfig, projectConfig(sizeMain));
    report.size = sizes(path.dirname(sizeMain), sizeConfig, path.join(sizeDir, 'out'));
    report.size.wasmCompile = wasmCompileMs(path.join(path.dirname(sizeMain), 'index_bg.wasm'));
    report.size.breakdown = wasmBreakdown(path.join(ROOT, 'target/wasm32-unknown-unknown/release/edge_logout.wasm'));
    say(`\n[size] wasm ${report.size.wasm.raw} B raw, ${report.size.wasm.gzip} B gzip; upload ${JSON.stringify(report.size.upload.wranglerSays)}; V8 compile ${report.size.wasmCompile.medianMs?.toFixed(1)} ms`);
  });
}
