// Relying parties of the operator's own, from a JSON file, so that the example can be tried with
// any application (another RP library, another language) without editing code:
//
//   [{"client_id": "my-app", "client_secret": "...", "client_name": "My app",
//     "redirect_uris": ["http://127.0.0.1:3000/callback"],
//     "post_logout_redirect_uris": ["http://127.0.0.1:3000/signed-out"],
//     "backchannel_logout_uri": "http://127.0.0.1:3000/backchannel-logout"}]
//
// Each is registered with the login half (client_id, client_secret, redirect_uris) and with
// edge-logout (post-logout and back-channel URIs), like the demo's two. The example does not
// start them: they are yours. A wrong file stops the example with a message naming the entry.
import fs from 'node:fs';

const REQUIRED = { client_id: 'string', client_secret: 'string', redirect_uris: 'uris' };
const OPTIONAL = {
  client_name: 'string',
  client_uri: 'string',
  post_logout_redirect_uris: 'uris',
  backchannel_logout_uri: 'string',
  id_token_signed_response_alg: 'alg',
};
// The algorithms the login half signs ID tokens with (login-half.mjs enabledJWA).
const ALGS = ['RS256', 'ES256'];

function check(kind, value) {
  switch (kind) {
    case 'string':
      return typeof value === 'string' && value.length > 0;
    case 'uris':
      return Array.isArray(value) && value.length > 0 && value.every((u) => typeof u === 'string' && URL.canParse(u));
    case 'alg':
      return ALGS.includes(value);
    default:
      return false;
  }
}

/** The relying parties of `file`, checked; `taken`: client ids already in use. */
export function readRelyingParties(file, taken = []) {
  let list;
  try {
    list = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (e) {
    throw new Error(`relying parties file ${file}: ${e.message}`);
  }
  if (!Array.isArray(list)) throw new Error(`relying parties file ${file}: must be a JSON array of relying parties`);
  const ids = new Set(taken);
  return list.map((rp, i) => {
    const where = `relying parties file ${file}, entry ${i}`;
    if (!rp || typeof rp !== 'object' || Array.isArray(rp)) throw new Error(`${where}: must be a JSON object`);
    for (const [field, kind] of Object.entries(REQUIRED)) {
      if (!check(kind, rp[field])) throw new Error(`${where}: ${field} is missing or not ${kind === 'uris' ? 'a list of URIs' : 'a string'}`);
    }
    for (const [field, value] of Object.entries(rp)) {
      if (field in REQUIRED) continue;
      if (!(field in OPTIONAL)) throw new Error(`${where}: unknown field ${field} (known: ${[...Object.keys(REQUIRED), ...Object.keys(OPTIONAL)].join(', ')})`);
      if (!check(OPTIONAL[field], value)) throw new Error(`${where}: ${field} is not valid`);
    }
    if (rp.backchannel_logout_uri && !URL.canParse(rp.backchannel_logout_uri)) throw new Error(`${where}: backchannel_logout_uri is not a URI`);
    if (ids.has(rp.client_id)) throw new Error(`${where}: client_id ${rp.client_id} is already in use`);
    ids.add(rp.client_id);
    return { ...rp };
  });
}
