// 3. Start-up: more instances started and stopped until --starts have been timed (the main and
// the wasm-signer instances count); then one more whose first request runs under a V8 profile
// (not timed: profiling slows it), to show what that request is made of.
import { startOurs } from '../lib/ours.mjs';

export async function startups(ctx) {
  const { opt, report } = ctx;
  for (let i = report.startups.length; i < opt.starts; i++) {
    await ctx.phase(`start-${i}`, async () => {
      const w = await startOurs(ctx, `start-${i}`);
      report.startups.push({ label: `start-${i}`, ...w.startup });
      await w.stop();
    });
  }
  await ctx.phase('start-profiled', async () => {
    const w = await startOurs(ctx, 'start-profiled', {}, { profileFirst: true });
    report.firstRequestProfile = w.startup.firstProfile;
    await w.stop();
  });
}
