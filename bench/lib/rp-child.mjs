// The relying parties' back-channel receiver for the benchmark: tools/rp.mjs in a
// process of its own (so that answering deliveries does not share the load generator's event
// loop), indexed by (path, sid). Controlled over IPC by bench/lib/rp.mjs.
import { start } from '../../tools/rp.mjs';

const seen = new Map(); // `${path}|${sid}` -> {count, at}
let total = 0;

const rp = await start({
  port: 0,
  log(rec) {
    if (rec.method !== 'POST' || rec.logout_token === undefined) return;
    total += 1;
    const key = `${rec.path}|${rec.claims?.sid ?? ''}`;
    const s = seen.get(key);
    if (s) s.count += 1;
    else seen.set(key, { count: 1, at: rec.at });
  },
});

process.on('message', (m) => {
  const reply = (body) => process.send({ id: m.id, ...body });
  switch (m.cmd) {
    case 'reset':
      rp.reset();
      seen.clear();
      total = 0;
      return reply({ ok: true });
    case 'total':
      return reply({ total });
    case 'check': {
      // How many of `keys` arrived (at all, and before `before`, epoch ms), and duplicates.
      let received = 0;
      let early = 0;
      let duplicates = 0;
      let lastAt = 0;
      for (const k of m.keys) {
        const s = seen.get(k);
        if (!s) continue;
        received += 1;
        duplicates += s.count - 1;
        if (m.before !== undefined && s.at <= m.before) early += 1;
        if (s.at > lastAt) lastAt = s.at;
      }
      return reply({ received, missing: m.keys.length - received, early, duplicates, lastAt, total });
    }
    case 'sample': {
      const tokens = rp.backchannel().slice(-m.n).map((r) => ({ path: r.path, token: r.logout_token }));
      return reply({ tokens });
    }
    default:
      return reply({ error: `unknown command ${m.cmd}` });
  }
});
process.on('disconnect', () => rp.close().then(() => process.exit(0)));
process.send({ ready: true, url: rp.url, port: rp.port, pid: process.pid });
