// What `wrangler dev` holds in its local KV, read straight from the state directory it persists
// to (`startWorker`'s `persistTo`): miniflare keeps each namespace as a SQLite table
// `_mf_entries(key, blob_id, expiration, metadata)`, and every write replaces a key's `blob_id`
// with a fresh one. Comparing two snapshots therefore shows any write, delete or new key, even
// one that rewrites a value unchanged. Read-only: the worker keeps running.
import fs from 'node:fs';
import path from 'node:path';
import { DatabaseSync } from 'node:sqlite';

function sqliteFiles(dir) {
  if (!fs.existsSync(dir)) return [];
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) return sqliteFiles(p);
    return e.name.endsWith('.sqlite') ? [p] : [];
  });
}

/**
 * Every KV entry of the worker persisting to `persistTo`, as sorted lines
 * `<file>\t<key>\t<blob_id>\t<expiration>\t<metadata>`.
 */
export function kvSnapshot(persistTo) {
  const rows = [];
  for (const file of sqliteFiles(path.join(persistTo, 'v3', 'kv'))) {
    const db = new DatabaseSync(file, { readOnly: true });
    try {
      const hasTable = db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = '_mf_entries'").get();
      if (!hasTable) continue;
      for (const r of db.prepare('SELECT key, blob_id, expiration, metadata FROM _mf_entries').all()) {
        rows.push([path.basename(file), r.key, r.blob_id, r.expiration, r.metadata].join('\t'));
      }
    } finally {
      db.close();
    }
  }
  return rows.sort();
}
