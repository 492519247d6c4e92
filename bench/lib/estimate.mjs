// The isolate estimate: a request's measured CPU minus what the floor (bench/floor) says the
// local runtime spends on the request itself and on each subrequest it makes (counted by
// bench/lib/budget.mjs) and each queued message.
import { r2 } from './load.mjs';

/** The worker's own CPU, estimated from `raw` ms, the request's subrequests `sub` and the floor's per-unit figures `u`. */
export function isolateEstimate(raw, sub, u, queued = 0) {
  if (!u) return null;
  const clients = (sub.clientReads ?? 0) * u.kvGet + (sub.clientKeys ?? 0) * (u.kvBulkPerKey ?? 0);
  const gets = (sub.kvGetsSequential ?? sub.kvGets) * u.kvGet + (sub.sessionKeys ?? 0) * (u.kvBulkPerKey ?? 0) + clients;
  // KV writes (the outbox, tombstones) are costed as deletes where the floor has no write figure.
  const puts = (sub.kvPuts ?? 0) * (u.kvPut ?? u.kvDelete);
  const platform = u.request + gets + sub.kvDeletes * u.kvDelete + puts + (sub.kvLists ?? 0) * u.kvGet + sub.fetches * u.post + queued * (u.queueMessage ?? 0);
  return r2(raw - platform);
}
