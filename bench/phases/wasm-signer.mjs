// 2c. The peer mix with SIGNER=wasm (the Rust signer compiled to wasm instead of WebCrypto), on
// an instance of its own.
import { recordLogouts } from '../lib/logout-run.mjs';
import { registerClients } from '../lib/oidc.mjs';
import { clientsOf, startOurs } from '../lib/ours.mjs';

export async function wasmSigner(ctx, rp) {
  const { opt, report } = ctx;
  await ctx.phase('wasm-signer', async () => {
    const wasm = await startOurs(ctx, 'wasm-signer', { SIGNER: 'wasm' });
    report.startups.push({ label: 'wasm-signer', ...wasm.startup });
    await registerClients(wasm.admin, rp.url, clientsOf('mix'));
    await recordLogouts(ctx, rp, 'mixWasmSigner', { w: wasm, name: 'mix SIGNER=wasm', clients: clientsOf('mix'), hintAlg: 'RS256', n: opt.wasmN, concurrency: opt.concurrency });
    await wasm.stop();
  });
}
