// Size of what is uploaded: the wasm and the whole bundle wrangler would upload (its own
// `deploy --dry-run`, offline), raw and gzip; and how long V8 (Node 22's, the engine workerd
// embeds) takes to compile the wasm.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';

import { node22, wranglerEnv, wranglerJs } from './wrangler.mjs';

const gz = (buf) => zlib.gzipSync(buf, { level: 9 }).length;

/** Sizes of the build copy in `buildDir` and of wrangler's upload bundle for `configPath`. */
export function sizes(buildDir, configPath, outDir) {
  const wasm = fs.readFileSync(path.join(buildDir, 'index_bg.wasm'));
  const js = fs.readFileSync(path.join(buildDir, 'index.js'));
  const result = {
    wasm: { raw: wasm.length, gzip: gz(wasm) },
    buildIndexJs: { raw: js.length, gzip: gz(js) },
  };
  const run = spawnSync(node22(), [wranglerJs(), 'deploy', '--dry-run', '--outdir', outDir, '--config', configPath], {
    cwd: path.dirname(configPath),
    env: wranglerEnv(path.dirname(configPath)),
    encoding: 'utf8',
    timeout: 120_000,
  });
  const m = /Total Upload: ([\d.]+) KiB \/ gzip: ([\d.]+) KiB/.exec(`${run.stdout}\n${run.stderr}`);
  const files = fs.existsSync(outDir)
    ? fs.readdirSync(outDir).filter((f) => !f.endsWith('.map') && !f.endsWith('.md'))
    : [];
  let raw = 0;
  let gzip = 0;
  const perFile = {};
  for (const f of files) {
    const b = fs.readFileSync(path.join(outDir, f));
    perFile[f.replace(/^[0-9a-f]{40}-/, '')] = { raw: b.length, gzip: gz(b) };
    raw += b.length;
    gzip += gz(b);
  }
  result.upload = {
    wranglerSays: m ? { totalKiB: Number(m[1]), gzipKiB: Number(m[2]) } : null,
    files: perFile,
    raw,
    gzip,
    command: `wrangler deploy --dry-run --outdir <dir> --config <config with main = copy of build/index.js>`,
    error: m ? undefined : `${run.stdout}\n${run.stderr}`.slice(-800),
  };
  return result;
}

/** Milliseconds V8 takes to compile the wasm (median of `runs`), in a fresh Node 22 each time. */
export function wasmCompileMs(wasmPath, runs = 3) {
  const script = `
    const fs = require('node:fs');
    const bytes = fs.readFileSync(${JSON.stringify(wasmPath)});
    const t0 = process.hrtime.bigint();
    const mod = new WebAssembly.Module(bytes);
    const t1 = process.hrtime.bigint();
    console.log(JSON.stringify({ compileMs: Number(t1 - t0) / 1e6, imports: WebAssembly.Module.imports(mod).length }));`;
  const out = [];
  for (let i = 0; i < runs; i++) {
    const r = spawnSync(node22(), ['-e', script], { encoding: 'utf8', timeout: 60_000 });
    try {
      out.push(JSON.parse(r.stdout.trim()).compileMs);
    } catch {
      return { error: r.stderr.slice(-400) };
    }
  }
  out.sort((a, b) => a - b);
  return { medianMs: out[Math.floor(out.length / 2)], runsMs: out, note: 'synchronous compile (Liftoff baseline; V8 tiers up lazily)' };
}

/**
 * Code bytes per crate of the wasm cargo produced before wasm-bindgen and wasm-opt (it still has
 * its name section): where the size comes from. Shares carry over to the optimised module
 * roughly, not exactly.
 */
export function wasmBreakdown(wasmPath, top = 12) {
  if (!fs.existsSync(wasmPath)) return { error: `${wasmPath} is missing` };
  const b = fs.readFileSync(wasmPath);
  let p = 8;
  const leb = () => {
    let result = 0;
    let shift = 0;
    for (;;) {
      const byte = b[p++];
      result += (byte & 0x7f) * 2 ** shift;
      shift += 7;
      if (!(byte & 0x80)) return result;
    }
  };
  const str = () => {
    const n = leb();
    const s = b.toString('utf8', p, p + n);
    p += n;
    return s;
  };
  let importedFuncs = 0;
  const bodySizes = [];
  const names = new Map();
  while (p < b.length) {
    const id = b[p++];
    const size = leb();
    const end = p + size;
    if (id === 2) {
      const n = leb();
      for (let i = 0; i < n; i++) {
        str();
        str();
        const kind = b[p++];
        if (kind === 0) {
          leb();
          importedFuncs += 1;
        } else if (kind === 1) {
          p += 1;
          const flags = leb();
          leb();
          if (flags & 1) leb();
        } else if (kind === 2) {
          const flags = leb();
          leb();
          if (flags & 1) leb();
        } else if (kind === 3) {
          p += 2;
        } else if (kind === 4) {
          p += 1;
          leb();
        }
      }
    } else if (id === 10) {
      const n = leb();
      for (let i = 0; i < n; i++) {
        const len = leb();
        bodySizes.push(len);
        p += len;
      }
    } else if (id === 0) {
      const name = str();
      if (name === 'name') {
        while (p < end) {
          const sub = b[p++];
          const subSize = leb();
          const subEnd = p + subSize;
          if (sub === 1) {
            const n = leb();
            for (let i = 0; i < n; i++) {
              const idx = leb();
              names.set(idx, str());
            }
          }
          p = subEnd;
        }
      }
    }
    p = end;
  }
  const crateOf = (name) => {
    if (!name) return '(unnamed)';
    let m = /^_ZN(\d+)(.*)$/.exec(name);
    if (m) {
      const first = m[2].slice(0, Number(m[1]));
      if (first.startsWith('_$LT$')) {
        const inner = /^_\$LT\$(?:\$RF\$|\$u20\$|mut|dyn|\$LP\$|\$u5b\$)*([A-Za-z_][A-Za-z0-9_]*)/.exec(first);
        return inner ? inner[1] : '(impl)';
      }
      return first;
    }
    if (name.startsWith('_R')) {
      // v0 mangling: the first crate root, C<disambiguator>?<len><ident>.
      m = /C(?:s[0-9A-Za-z]*_)?(\d+)([A-Za-z_][A-Za-z0-9_]*)/.exec(name.slice(2));
      if (m) return m[2].slice(0, Number(m[1]));
    }
    if (/^__wbg|^__wbindgen|^__externref|^__wbg_/.test(name)) return '(wasm-bindgen glue)';
    return '(runtime/other)';
  };
  const perCrate = new Map();
  let total = 0;
  bodySizes.forEach((len, i) => {
    const c = crateOf(names.get(i + importedFuncs));
    perCrate.set(c, (perCrate.get(c) ?? 0) + len);
    total += len;
  });
  const share = (bytes) => Math.round((bytes / total) * 1000) / 10;
  const rows = [...perCrate.entries()].sort((a, c) => c[1] - a[1]).slice(0, top)
    .map(([crate, bytes]) => ({ crate, bytes, share: share(bytes) }));
  const GROUPS = {
    'Rust crypto (signing and hint verification)': ['ed25519_compact', 'num_bigint_dig', 'rsa', 'p256', 'primeorder', 'ecdsa', 'crypto_bigint', 'der', 'sec1', 'elliptic_curve', 'rfc6979', 'hmac', 'jwt_compact', 'sha2', 'digest', 'signature', 'pkcs1', 'pkcs8', 'spki', 'const_oid', 'base64ct', 'generic_array', 'block_buffer', 'subtle', 'rand_core', 'num_traits', 'num_integer', 'num_iter', 'ff', 'group'],
    'URL parsing with IDNA (url, idna, icu_*)': ['url', 'idna', 'icu_normalizer', 'icu_collections', 'icu_properties', 'icu_provider', 'zerovec', 'utf8_iter', 'percent_encoding', 'form_urlencoded', 'smallvec', 'idna_adapter', 'write16', 'utf16_iter', 'yoke', 'zerofrom', 'tinystr', 'icu_locale_core', 'potential_utf', 'litemap', 'writeable'],
    'panic messages (rustc_demangle)': ['rustc_demangle'],
    'JSON (serde, serde_json, serde_wasm_bindgen)': ['serde', 'serde_core', 'serde_json', 'serde_wasm_bindgen', 'itoa', 'ryu', 'zmij'],
  };
  const groups = Object.entries(GROUPS).map(([name, crates]) => {
    const bytes = crates.reduce((sum, c) => sum + (perCrate.get(c) ?? 0), 0);
    return { group: name, bytes, share: share(bytes) };
  });
  return { file: wasmPath, codeBytes: total, functions: bodySizes.length, topCrates: rows, groups };
}
