// KV calls from the worker's wasm (src/edge/mod.rs), one crossing each, with strings in and out:
// through workers-rs, a KV call builds its options with serde-wasm-bindgen, looks the binding's
// methods up again for every store, and converts a bulk read's Map or a list's keys value by
// value, which cost more CPU than the call (bench/, table 5).

/** The value of `key` as text, or null. */
export function kvGet(ns, key) {
  return ns.get(key, { type: 'text' });
}

/** JSON of the values of `keys` (a JSON array of at most 100) as text or null, in order. */
export async function kvGetMany(ns, keys) {
  const wanted = JSON.parse(keys);
  const found = await ns.get(wanted, { type: 'text' });
  return JSON.stringify(wanted.map((k) => found.get(k) ?? null));
}

/** Writes `value`; `expiration` in seconds since the epoch (0: none), `metadata` JSON ('': none). */
export function kvPut(ns, key, value, expiration, metadata) {
  const options = {};
  if (expiration > 0) options.expiration = expiration;
  if (metadata) options.metadata = JSON.parse(metadata);
  return ns.put(key, value, options);
}

export function kvDelete(ns, key) {
  return ns.delete(key);
}

/** JSON of one page of keys under `prefix`: {keys: [{name, metadata}], cursor: string|null}. */
export async function kvList(ns, prefix, cursor, limit) {
  const page = await ns.list({ prefix, limit, ...(cursor ? { cursor } : {}) });
  return JSON.stringify({
    keys: page.keys.map((k) => ({ name: k.name, metadata: k.metadata ?? null })),
    cursor: page.list_complete ? null : (page.cursor ?? null),
  });
}

/**
 * Independent KV calls in one crossing, made together (Promise.allSettled): `ops` is JSON of
 * [{ns: 0 (CLIENTS) | 1 (SESSIONS), delete: key} | {ns, put: key, value,
 * expiration (0: none), metadata (null: none)}]. Answers JSON of one outcome per op, in order:
 * {value: null} for a write or delete, {error} for a call that failed (the others still run).
 * Each call is still a subrequest; past six at once the runtime holds the rest until a
 * connection frees (https://developers.cloudflare.com/workers/platform/limits/#simultaneous-open-connections).
 */
export async function kvBatch(clients, sessions, ops) {
  const calls = JSON.parse(ops).map((op) => {
    const ns = op.ns === 0 ? clients : sessions;
    if (op.delete !== undefined) return ns.delete(op.delete);
    const options = {};
    if (op.expiration > 0) options.expiration = op.expiration;
    if (op.metadata != null) options.metadata = op.metadata;
    return ns.put(op.put, op.value, options);
  });
  const settled = await Promise.allSettled(calls);
  return JSON.stringify(
    settled.map((s) =>
      s.status === 'fulfilled' ? { value: s.value ?? null } : { error: String(s.reason?.message ?? s.reason).slice(0, 200) },
    ),
  );
}
