// The isolate's own CPU, from V8 CPU profiles taken through wrangler dev's inspector: what the
// worker's JavaScript and wasm cost, without the runtime's other threads (KV's SQLite, the
// network) and without estimating by subtraction. A profile samples the isolate's thread every
// `intervalUs`; a sample is either idle (the isolate waits for I/O) or charged to the function on
// top of the stack, which is put in one of the categories below.
//
// The inspector refuses a WebSocket without an Origin header, which browsers send and Node's
// WebSocket does not: one is set here (Node 22's WebSocket takes `headers`).

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** The inspector target of the user worker (wrangler's proxy lists only it). */
async function targetUrl(inspectorPort) {
  const deadline = Date.now() + 15_000;
  for (;;) {
    try {
      const res = await fetch(`http://127.0.0.1:${inspectorPort}/json`, { signal: AbortSignal.timeout(5000) });
      const targets = await res.json();
      const t = targets.find((x) => x.webSocketDebuggerUrl);
      if (t) return t.webSocketDebuggerUrl;
    } catch {}
    if (Date.now() > deadline) throw new Error(`no inspector target on port ${inspectorPort}`);
    await sleep(200);
  }
}

/** A DevTools-protocol session: `send(method, params)` answers with the result. */
async function connect(inspectorPort) {
  const url = await targetUrl(inspectorPort);
  const ws = new WebSocket(url, { headers: { Origin: `http://127.0.0.1:${inspectorPort}` } });
  await new Promise((resolve, reject) => {
    ws.addEventListener('open', resolve, { once: true });
    ws.addEventListener('error', () => reject(new Error(`inspector WebSocket ${url} failed`)), { once: true });
  });
  let next = 1;
  const waiting = new Map();
  ws.addEventListener('message', (ev) => {
    const msg = JSON.parse(typeof ev.data === 'string' ? ev.data : Buffer.from(ev.data).toString());
    const w = msg.id && waiting.get(msg.id);
    if (!w) return;
    waiting.delete(msg.id);
    if (msg.error) w.reject(new Error(`${w.method}: ${JSON.stringify(msg.error)}`));
    else w.resolve(msg.result);
  });
  const send = (method, params = {}) =>
    new Promise((resolve, reject) => {
      const id = next++;
      waiting.set(id, { resolve, reject, method });
      ws.send(JSON.stringify({ id, method, params }));
      setTimeout(() => {
        if (waiting.delete(id)) reject(new Error(`${method}: no answer within 60 s`));
      }, 60_000).unref();
    });
  return { send, close: () => ws.close() };
}

// Native functions have no script URL: they are told apart by name. workerd's KV binding,
// fetch, queue and WebCrypto methods are its own C++ (the wasm-bindgen glue calls them).
const NATIVE = {
  webcrypto: new Set(['sign', 'verify', 'importKey', 'exportKey', 'digest', 'getRandomValues', 'randomUUID']),
  kv: new Set(['get', 'getWithMetadata', 'put', 'delete', 'list']),
  fetch: new Set(['fetch']),
  queue: new Set(['send', 'sendBatch']),
  console: new Set(['log', 'warn', 'error', 'info', 'debug']),
};

/** The category of a profile node's own time. `glueUrl`: the script of the wasm-bindgen glue. */
export function categoryOf(callFrame, glueUrl) {
  const { functionName: name, url } = callFrame;
  if (name === '(idle)') return 'idle';
  if (name === '(garbage collector)') return 'gc';
  if (name === '(program)' || name === '(root)') return 'program';
  if (url?.startsWith('wasm://')) return 'wasm';
  if (!url) {
    for (const [cat, names] of Object.entries(NATIVE)) if (names.has(name)) return cat;
    return 'native other';
  }
  if (glueUrl ? url.includes(glueUrl) : /index\.js$|worker\.js$/.test(url)) return 'js (glue or worker)';
  return 'js other';
}

/** Milliseconds per category over a whole profile ({nodes, samples, timeDeltas}). */
export function breakdown(profile, glueUrl) {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const ms = {};
  const fns = {};
  const { samples, timeDeltas } = profile;
  for (let i = 0; i < samples.length; i++) {
    // timeDeltas[i] is the time since the previous sample: it belongs to the sample before it.
    const dt = (timeDeltas[i + 1] ?? 0) / 1000;
    const frame = byId.get(samples[i]).callFrame;
    const cat = categoryOf(frame, glueUrl);
    ms[cat] = (ms[cat] ?? 0) + dt;
    if (cat !== 'idle') {
      const fn = `${frame.functionName || '(anonymous)'} ${frame.url ? `${frame.url.split('/').pop().slice(0, 40)}:${frame.lineNumber + 1}` : ''}`.trim();
      fns[fn] ??= { ms: 0, frame };
      fns[fn].ms += dt;
    }
  }
  const total = Object.values(ms).reduce((a, b) => a + b, 0);
  const top = Object.entries(fns).sort((a, b) => b[1].ms - a[1].ms).slice(0, 25);
  return { totalMs: total, busyMs: total - (ms.idle ?? 0), ms, top };
}

/**
 * Runs `work()` (which answers with the number of units it completed, e.g. logouts) under a CPU
 * profile of the worker behind `inspectorPort`, and returns the isolate's busy time per unit and
 * its breakdown per unit. `intervalUs`: the sampling interval (100 µs: fine enough for requests
 * of a few ms, and cheap enough not to change them much).
 */
export async function profiled(inspectorPort, work, { intervalUs = 100, glueUrl } = {}) {
  const s = await connect(inspectorPort);
  try {
    await s.send('Profiler.enable');
    await s.send('Profiler.setSamplingInterval', { interval: intervalUs });
    await s.send('Profiler.start');
    let units;
    try {
      units = await work();
    } finally {
      var { profile } = await s.send('Profiler.stop');
    }
    await s.send('Profiler.disable');
    const b = breakdown(profile, glueUrl);
    // The source line of each top JS function (the glue is minified, its names say nothing).
    const lines = {};
    await s.send('Debugger.enable').catch(() => {});
    for (const [fn, { frame }] of b.top) {
      if (!frame.url || frame.url.startsWith('wasm://') || !frame.scriptId) continue;
      try {
        const { scriptSource } = await s.send('Debugger.getScriptSource', { scriptId: frame.scriptId });
        const text = scriptSource.split('\n').slice(frame.lineNumber, frame.lineNumber + 4).join(' ').replace(/\s+/g, ' ');
        lines[fn] = text.slice(Math.max(0, frame.columnNumber - 10), frame.columnNumber + 150).trim();
      } catch {}
    }
    await s.send('Debugger.disable').catch(() => {});
    const per = (x) => (units ? x / units : null);
    const perUnit = Object.fromEntries(Object.entries(b.ms).filter(([k]) => k !== 'idle').map(([k, v]) => [k, r3(per(v))]));
    return {
      units,
      samples: profile.samples.length,
      intervalUs,
      wallMs: r3(b.totalMs),
      busyMs: r3(b.busyMs),
      busyMsPerUnit: r3(per(b.busyMs)),
      perUnit,
      // Samples x interval against the wall time: far below 1, the sampler fell behind (a busy
      // machine), and the figures are coarse.
      samplingHealth: r3((profile.samples.length * intervalUs) / 1000 / b.totalMs),
      topFunctionsMsPerUnit: b.top.map(([f, v]) => [f, r3(per(v.ms)), lines[f] ?? '']),
    };
  } finally {
    s.close();
  }
}

/**
 * Starts a profile now; `stop()` ends it and answers like {@link profiled} for `units` units.
 * For a window that is not one function call (the first request of a fresh instance).
 */
export async function startProfile(inspectorPort, { intervalUs = 100, glueUrl } = {}) {
  let units = 1;
  let release;
  const done = new Promise((r) => (release = r));
  const result = profiled(inspectorPort, async () => {
    await done;
    return units;
  }, { intervalUs, glueUrl });
  // Profiler.start has been sent once the session is up; a short pause lets it take effect.
  await sleep(300);
  return {
    stop: (n = 1) => {
      units = n;
      release();
      return result;
    },
  };
}

const r3 = (x) => (x === null || x === undefined ? x : Math.round(x * 1000) / 1000);
