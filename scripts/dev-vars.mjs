#!/usr/bin/env node
// Writes .dev.vars (the settings `wrangler dev` reads for local runs) if it does not exist:
// ISSUER=http://127.0.0.1:$PORT (default 8787), ALLOW_HTTP_URIS=true, fresh signing keys
// (RS256, ES256, EdDSA), a random ADMIN_TOKEN and a demo PROVIDER_METADATA.
// An existing .dev.vars is never touched: delete it to get a fresh one.
// Runs under any Node >= 20: `node scripts/dev-vars.mjs`.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { generateVars, parseEnvFile, toEnvFile } from '../tools/keys.mjs';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const file = path.join(ROOT, '.dev.vars');
const port = Number(process.env.PORT || 8787);
if (!Number.isInteger(port) || port < 1 || port > 65535) {
  console.error(`[dev-vars] PORT must be a port number, not ${JSON.stringify(process.env.PORT)}`);
  process.exit(2);
}

if (fs.existsSync(file)) {
  const vars = parseEnvFile(fs.readFileSync(file, 'utf8'));
  let issuerPort;
  try {
    const u = new URL(vars.ISSUER);
    issuerPort = Number(u.port || (u.protocol === 'https:' ? 443 : 80));
  } catch {
    issuerPort = undefined;
  }
  console.error(`[dev-vars] keeping the existing ${path.relative(process.cwd(), file) || '.dev.vars'}`);
  if (issuerPort !== port) {
    console.error(
      `[dev-vars] note: its ISSUER (${vars.ISSUER ?? 'unset'}) is not on port ${port}; ` +
        'edit ISSUER in .dev.vars, or delete .dev.vars to have it written again for this port',
    );
  }
  process.exit(0);
}

const vars = generateVars({ port });
const text = toEnvFile(vars, [
  'Local settings for `wrangler dev`, written by scripts/dev-vars.mjs (not committed: .gitignore).',
  'Delete this file to get fresh keys and a fresh admin token. One setting per line; JSON on one line.',
]);
try {
  // 'wx': never overwrite, even if another run wrote it in the meantime.
  fs.writeFileSync(file, text, { mode: 0o600, flag: 'wx' });
} catch (e) {
  if (e.code !== 'EEXIST') throw e;
  console.error('[dev-vars] .dev.vars appeared meanwhile: keeping it');
  process.exit(0);
}
console.error(`[dev-vars] wrote ${file} (ISSUER=${vars.ISSUER}, keys ${JSON.parse(vars.SIGNING_JWKS).keys.map((k) => k.kid).join(', ')})`);
