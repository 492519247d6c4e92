// Variants of the logout on the same instance: 3 RPs without back-channel (the logout without
// deliveries), 3 RS256, 3 ES256 (ES256 hint), 3 EdDSA (EdDSA hint).
import { recordLogouts } from '../lib/logout-run.mjs';
import { clientsOf } from '../lib/ours.mjs';

export async function variants(ctx, ours, rp) {
  const { opt } = ctx;
  for (const [set, hintAlg] of [['nobc', 'RS256'], ['rs256', 'RS256'], ['es256', 'ES256'], ['eddsa', 'EdDSA']]) {
    await recordLogouts(ctx, rp, set, { w: ours, name: set, clients: clientsOf(set), hintAlg, n: opt.variantN, concurrency: opt.concurrency });
  }
}
