// A small relying party for tests and the local demo: an HTTP server on 127.0.0.1 that records
// every request it gets (back-channel logout POSTs, front-channel iframe GETs, post-logout
// landing pages) and can be told, per path, to answer with a status, late, never, or by
// resetting the connection.
//
//   import { start } from './rp.mjs';
//   const rp = await start();                 // port 0: a free port
//   rp.configure('/backchannel', { status: 500 });
//   rp.configure('/slow', { delayMs: 3000 });
//   rp.configure('/hang', { hang: true });     // never answers (until close())
//   rp.configure('/reset', { reset: true });   // destroys the connection
//   ... rp.received (array of records), await rp.waitFor((r) => r.logout_token) ...
//   await rp.close();
//
// Standalone demo RP: `node tools/rp.mjs --port 8788` (any Node >= 20).
import http from 'node:http';
import { pathToFileURL } from 'node:url';

const MAX_BODY = 1024 * 1024;

function escapeHtml(s) {
  return String(s).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** The payload of a JWT, decoded without verification (for logs and assertions). */
export function decodeJwtPayload(jwt) {
  try {
    const part = String(jwt).split('.')[1];
    return JSON.parse(Buffer.from(part, 'base64url').toString('utf8'));
  } catch {
    return null;
  }
}

/** The header of a JWT, decoded without verification. */
export function decodeJwtHeader(jwt) {
  try {
    return JSON.parse(Buffer.from(String(jwt).split('.')[0], 'base64url').toString('utf8'));
  } catch {
    return null;
  }
}

function landingPage(rec) {
  const state = rec.query.state;
  const frontchannel = rec.query.iss !== undefined || rec.query.sid !== undefined;
  const title = frontchannel ? 'front-channel logout received' : 'signed out';
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>demo RP: ${escapeHtml(title)}</title></head>
<body>
<h1>${escapeHtml(title)}</h1>
<p>path: <code>${escapeHtml(rec.path)}</code></p>
<p>state: <code id="state">${state === undefined ? '(none)' : escapeHtml(state)}</code></p>
${frontchannel ? `<p>iss: <code id="iss">${escapeHtml(rec.query.iss ?? '')}</code> sid: <code id="sid">${escapeHtml(rec.query.sid ?? '')}</code></p>` : ''}
</body></html>
`;
}

/**
 * Starts the relying party. Options: `port` (0 = any free port), `log` (a function called with
 * each record after it is complete, e.g. console.log for the demo).
 */
export async function start({ port = 0, log } = {}) {
  const received = [];
  const rules = new Map();
  const sockets = new Set();
  const waiters = new Set();
  const pendingTimers = new Set();

  function notify() {
    for (const w of [...waiters]) {
      const hit = received.find(w.predicate);
      if (hit) {
        waiters.delete(w);
        clearTimeout(w.timer);
        w.resolve(hit);
      }
    }
  }

  const server = http.createServer((req, res) => {
    const url = new URL(req.url, 'http://127.0.0.1');
    const chunks = [];
    let size = 0;
    req.on('data', (c) => {
      size += c.length;
      if (size <= MAX_BODY) chunks.push(c);
    });
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      const contentType = String(req.headers['content-type'] ?? '');
      const form = contentType.split(';')[0].trim().toLowerCase() === 'application/x-www-form-urlencoded'
        ? Object.fromEntries(new URLSearchParams(body))
        : null;
      const rec = {
        at: Date.now(),
        method: req.method,
        path: url.pathname,
        url: req.url,
        query: Object.fromEntries(url.searchParams),
        headers: { ...req.headers },
        body,
        form,
        logout_token: form?.logout_token,
        claims: form?.logout_token ? decodeJwtPayload(form.logout_token) : undefined,
      };
      // When the connection of this request closed (the sender gave up, or after the answer):
      // with `answeredAt` it shows whether the sender waited for the answer.
      res.on('close', () => {
        rec.closedAt = Date.now();
      });
      received.push(rec);
      notify();
      if (log) log(rec);
      answer(req, res, rec);
    });
  });

  function answer(req, res, rec) {
    const rule = rules.get(rec.path) ?? {};
    if (rule.reset) {
      req.socket.destroy();
      return;
    }
    if (rule.hang) return; // the socket stays open until close()
    const send = () => {
      if (res.destroyed) return;
      const status = rule.status ?? 200;
      const headers = { 'cache-control': 'no-store', ...(rule.headers ?? {}) };
      let body = rule.body;
      if (body === undefined && rec.method === 'GET' && status < 300) {
        body = landingPage(rec);
        headers['content-type'] ??= 'text/html; charset=utf-8';
      }
      res.writeHead(status, headers);
      res.end(rec.method === 'HEAD' ? undefined : body);
      rec.answeredAt = Date.now();
      rec.answeredStatus = status;
    };
    if (rule.delayMs > 0) {
      const t = setTimeout(() => {
        pendingTimers.delete(t);
        send();
      }, rule.delayMs);
      pendingTimers.add(t);
    } else {
      send();
    }
  }

  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', resolve);
  });
  const actualPort = server.address().port;

  return {
    url: `http://127.0.0.1:${actualPort}`,
    port: actualPort,
    /**
     * Every request, in arrival order: {at, method, path, url, query, headers, body, form,
     * logout_token, claims}, and once known: `answeredAt`, `answeredStatus` (when and how this
     * server answered; never set for a request it did not answer: hang, reset, or the sender
     * closed the connection first) and `closedAt` (when the connection closed).
     */
    received,
    /** Back-channel logout requests (POSTs that carried a logout_token). */
    backchannel: () => received.filter((r) => r.method === 'POST' && r.logout_token !== undefined),
    /** GET requests, optionally only those to `path`. */
    gets: (path) => received.filter((r) => r.method === 'GET' && (path === undefined || r.path === path)),
    /**
     * How to answer requests to `path`: {status, delayMs, hang, reset, headers, body}; `null`
     * restores the default (200, a landing page for GETs).
     */
    configure(path, rule) {
      if (rule === null || rule === undefined) rules.delete(path);
      else rules.set(path, { ...rule });
    },
    /** Forgets every record and every configured answer. */
    reset() {
      received.length = 0;
      rules.clear();
    },
    /** The first record (already received or yet to come) for which `predicate` is true. */
    waitFor(predicate, timeoutMs = 60_000) {
      const hit = received.find(predicate);
      if (hit) return Promise.resolve(hit);
      return new Promise((resolve, reject) => {
        const w = { predicate, resolve };
        w.timer = setTimeout(() => {
          waiters.delete(w);
          reject(new Error(`rp: nothing matching within ${timeoutMs} ms; received: ${JSON.stringify(received.map((r) => `${r.method} ${r.url}`))}`));
        }, timeoutMs);
        waiters.add(w);
      });
    },
    /** Stops the server, dropping hung and pending requests. */
    close() {
      for (const t of pendingTimers) clearTimeout(t);
      pendingTimers.clear();
      for (const w of waiters) {
        clearTimeout(w.timer);
        w.resolve(undefined);
      }
      waiters.clear();
      return new Promise((resolve) => {
        server.close(() => resolve());
        for (const s of sockets) s.destroy();
      });
    },
  };
}

function demoLog(rec) {
  const time = `[demo RP ${new Date(rec.at).toISOString().slice(11, 23)}]`;
  if (rec.logout_token !== undefined) {
    const c = rec.claims ?? {};
    const alg = decodeJwtHeader(rec.logout_token)?.alg;
    console.log(`${time} back-channel logout at ${rec.path}: sub=${c.sub ?? '-'} sid=${c.sid ?? '-'} aud=${JSON.stringify(c.aud)} iss=${c.iss ?? '-'} alg=${alg ?? '?'}`);
  } else if (rec.method === 'GET' && (rec.query.iss !== undefined || rec.query.sid !== undefined)) {
    console.log(`${time} front-channel logout at ${rec.path}: iss=${rec.query.iss ?? '-'} sid=${rec.query.sid ?? '-'}`);
  } else if (rec.method === 'GET' && rec.query.state !== undefined) {
    console.log(`${time} landing page ${rec.path}: signed out, state=${rec.query.state}`);
  } else {
    console.log(`${time} ${rec.method} ${rec.url}`);
  }
}

const isMain = process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href;
if (isMain) {
  const i = process.argv.indexOf('--port');
  const port = i > 0 ? Number(process.argv[i + 1]) : Number(process.env.RP_PORT ?? 8788);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    console.error('usage: node tools/rp.mjs --port N');
    process.exit(2);
  }
  const rp = await start({ port, log: demoLog });
  console.log(`demo RP listening on ${rp.url}`);
  const stop = () => rp.close().then(() => process.exit(0));
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}
