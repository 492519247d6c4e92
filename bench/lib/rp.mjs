// Parent side of bench/lib/rp-child.mjs: start the receiver in its own process and ask it
// what arrived.
import { fork } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const CHILD = path.join(path.dirname(fileURLToPath(import.meta.url)), 'rp-child.mjs');

export async function startRp() {
  const child = fork(CHILD, [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const pending = new Map();
  let next = 1;
  const ready = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('rp receiver did not start')), 15_000);
    child.once('message', (m) => {
      clearTimeout(timer);
      resolve(m);
    });
    child.once('exit', (code) => reject(new Error(`rp receiver exited (${code})`)));
  });
  child.on('message', (m) => {
    const p = pending.get(m.id);
    if (p) {
      pending.delete(m.id);
      p(m);
    }
  });
  const ask = (cmd, extra = {}) =>
    new Promise((resolve, reject) => {
      const id = next++;
      const timer = setTimeout(() => {
        pending.delete(id);
        reject(new Error(`rp receiver: no answer to ${cmd}`));
      }, 30_000);
      pending.set(id, (m) => {
        clearTimeout(timer);
        resolve(m);
      });
      child.send({ id, cmd, ...extra });
    });
  return {
    url: ready.url,
    pid: ready.pid,
    reset: () => ask('reset'),
    total: async () => (await ask('total')).total,
    /** keys: `${path}|${sid}`; before: epoch ms for counting early arrivals. */
    check: (keys, before) => ask('check', { keys, before }),
    sample: async (n) => (await ask('sample', { n })).tokens,
    /** Waits until every key arrived or `timeoutMs` passed; returns the last check. */
    async waitFor(keys, timeoutMs, before) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const c = await ask('check', { keys, before });
        if (c.missing === 0 || Date.now() > deadline) return c;
        await new Promise((r) => setTimeout(r, 20));
      }
    },
    stop: () =>
      new Promise((resolve) => {
        child.once('exit', resolve);
        child.disconnect();
        setTimeout(() => {
          try {
            child.kill('SIGKILL');
          } catch {}
          resolve();
        }, 3000).unref();
      }),
  };
}
