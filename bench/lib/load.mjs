// Bounded load: an HTTP client with keep-alive (like the peer's bench), a worker pool that stops
// at a deadline, and latency statistics.
import http from 'node:http';

export const agent = new http.Agent({ keepAlive: true, maxSockets: 64 });

/**
 * One request to 127.0.0.1 only. Resolves {status, headers, body, ms}. A request sent on a
 * kept-alive socket that the server had already closed (idle) is sent again once, as Node's
 * documentation advises: it never reached the server.
 */
export function request(method, url, { headers = {}, body, timeoutMs = 15_000 } = {}, retried = false) {
  const u = new URL(url);
  if (u.hostname !== '127.0.0.1') throw new Error(`loopback only: ${u.hostname}`);
  const h = { ...headers };
  if (body !== undefined) h['content-length'] = Buffer.byteLength(body);
  const t0 = process.hrtime.bigint();
  return new Promise((resolve, reject) => {
    const req = http.request(
      { method, hostname: u.hostname, port: u.port, path: u.pathname + u.search, headers: h, agent },
      (res) => {
        const chunks = [];
        res.on('data', (c) => chunks.push(c));
        res.on('end', () =>
          resolve({
            status: res.statusCode,
            headers: res.headers,
            body: Buffer.concat(chunks).toString('utf8'),
            ms: Number(process.hrtime.bigint() - t0) / 1e6,
          }),
        );
        res.on('error', reject);
      },
    );
    req.on('error', (e) => {
      if (!retried && req.reusedSocket && (e.code === 'ECONNRESET' || /socket hang up/.test(e.message))) {
        resolve(request(method, url, { headers, body, timeoutMs }, true));
      } else reject(e);
    });
    req.setTimeout(timeoutMs, () => req.destroy(new Error(`timeout ${method} ${u.pathname}`)));
    if (body !== undefined) req.write(body);
    req.end();
  });
}

export async function json(method, url, body, headers = {}) {
  const r = await request(method, url, {
    headers: { accept: 'application/json', ...(body === undefined ? {} : { 'content-type': 'application/json' }), ...headers },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  let parsed;
  try {
    parsed = r.body ? JSON.parse(r.body) : undefined;
  } catch {}
  return { ...r, json: parsed };
}

/** Runs `work(item, i)` over `items` with `concurrency` workers, stopping at `deadlineMs`. */
export async function pool(items, concurrency, work, deadlineMs) {
  let next = 0;
  let stoppedByDeadline = false;
  const t0 = Date.now();
  async function run() {
    while (next < items.length) {
      if (Date.now() - t0 > deadlineMs) {
        stoppedByDeadline = true;
        return;
      }
      const i = next++;
      await work(items[i], i);
    }
  }
  await Promise.all(Array.from({ length: Math.max(1, concurrency) }, run));
  return { stoppedByDeadline, done: Math.min(next, items.length) };
}

export function pct(sorted, p) {
  if (!sorted.length) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))];
}

export const r2 = (x) => (Number.isFinite(x) ? Math.round(x * 100) / 100 : x);
export const r3 = (x) => (Number.isFinite(x) ? Math.round(x * 1000) / 1000 : x);

export function dist(values) {
  const s = [...values].sort((a, b) => a - b);
  return {
    n: s.length,
    mean: r2(s.reduce((a, b) => a + b, 0) / (s.length || 1)),
    p50: r2(pct(s, 50)),
    p90: r2(pct(s, 90)),
    p99: r2(pct(s, 99)),
    max: r2(s[s.length - 1] ?? NaN),
  };
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
