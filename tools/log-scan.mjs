// The secrets-in-logs check of the end-to-end runs: every line a worker (wrangler dev) prints is
// searched for what must never be logged (README: "No token, key, cookie or secret is ever
// logged"): its admin token, the session cookies issued by it, its private key material, a
// `logout_token=` body and anything shaped like a JWT (`eyJ`). tools/worker.mjs feeds
// it the output as it comes and fails the worker's stop() on a hit, so each file's `after`
// (which stops its workers) fails when any of its workers logged a secret.
//
//   const scan = logScanner(settings);  scan.feed(chunk);  scan.secrets.add(cookie);
//   scan.hits  // [{what, line}]

// wrangler's own access log: `[wrangler:info] GET /path?query 200 OK (12ms)`. It is the local
// tool's, not the worker's (on the platform the worker's logs are its console calls): the path
// alone is checked, the query string (where an id_token_hint travels by the spec) is not.
const ACCESS_LINE = /^(\[wrangler:[a-z]+\] [A-Z]+ )([^ ?]*)(\?[^ ]*)?( .*)$/;

/** Private parts of the JWKs in a SIGNING_JWKS setting (the members only a private key has). */
function privateParts(jwksText) {
  const out = [];
  try {
    for (const k of JSON.parse(jwksText).keys ?? []) {
      for (const m of ['d', 'p', 'q', 'dp', 'dq', 'qi']) if (typeof k[m] === 'string' && k[m].length >= 16) out.push([`private key member ${m} of ${k.kid}`, k[m]]);
    }
  } catch {}
  return out;
}

export function logScanner(settings) {
  const secrets = new Set(); // cookies and other values added by the tests
  const fixed = [];
  if (settings.ADMIN_TOKEN) fixed.push(['the admin token', settings.ADMIN_TOKEN]);
  if (settings.SIGNING_JWKS) fixed.push(...privateParts(settings.SIGNING_JWKS));
  const patterns = [
    ['a logout_token= body', /logout_token=/],
    ['a JWT (eyJ...)', /eyJ[A-Za-z0-9_-]{8,}/],
    ['PEM private key material', /PRIVATE KEY-----/],
  ];
  const hits = [];
  let carry = '';
  const check = (raw) => {
    const access = ACCESS_LINE.exec(raw);
    const line = access ? access[1] + access[2] + access[4] : raw;
    for (const [what, value] of fixed) if (line.includes(value)) hits.push({ what, line: raw });
    for (const value of secrets) if (value && line.includes(value)) hits.push({ what: 'a session cookie', line: raw });
    for (const [what, re] of patterns) if (re.test(line)) hits.push({ what, line: raw });
  };
  return {
    secrets,
    hits,
    feed(chunk) {
      const lines = (carry + chunk).split('\n');
      carry = lines.pop();
      for (const l of lines) check(l);
    },
    end() {
      if (carry) check(carry);
      carry = '';
    },
    /** The hits as a message (secrets shortened), or null. */
    report(name) {
      if (hits.length === 0) return null;
      // Shown without the secrets themselves: the report goes to the test output.
      const redact = (line) => {
        let out = line;
        for (const [, value] of fixed) out = out.split(value).join('[redacted]');
        for (const value of secrets) if (value) out = out.split(value).join('[redacted]');
        return out.replace(/(eyJ[A-Za-z0-9_-]{6})[A-Za-z0-9_.-]*/g, '$1…').slice(0, 200);
      };
      const shown = hits.slice(0, 10).map((h) => `  ${h.what}: ${redact(h.line)}`);
      return `${name} logged what must never be logged (${hits.length} line(s)):\n${shown.join('\n')}`;
    },
  };
}
