// 2c. The peer mix with SIGNER=wasm (the Rust signer compiled to wasm instead of WebCrypto), on
// an instance of its own. Only with --wasm: the default build has no Rust signer, so this builds
// the variant with the wasm-crypto feature first (into build-wasm-crypto/).
import { recordLogouts } from '../lib/logout-run.mjs';
import { registerClients } from '../lib/oidc.mjs';
import { buildVariant, clientsOf, startOurs } from '../lib/ours.mjs';
import { say } from '../lib/print.mjs';

export async function wasmSigner(ctx, rp) {
  const { opt, report } = ctx;
  await ctx.phase('wasm-signer', async () => {
    say('\n[wasm-signer] building the wasm-crypto variant (EDGE_LOGOUT_FEATURES=wasm-crypto bash scripts/build.sh)');
    const wasm = await startOurs(ctx, 'wasm-signer', { SIGNER: 'wasm' }, { buildDir: buildVariant('wasm-crypto') });
    report.startups.push({ label: 'wasm-signer', ...wasm.startup });
    await registerClients(wasm.admin, rp.url, clientsOf('mix'));
    await recordLogouts(ctx, rp, 'mixWasmSigner', { w: wasm, name: 'mix SIGNER=wasm', clients: clientsOf('mix'), hintAlg: 'RS256', n: opt.wasmN, concurrency: opt.concurrency });
    await wasm.stop();
  });
}
