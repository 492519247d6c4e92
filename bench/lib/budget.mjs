// The subrequest budget: the bench's one home for it. Every figure comes from src/budget.rs (its
// `pub const` lines, read from the sources the run builds); the rule below is src/budget.rs's
// `affordable_inline`, and the counts per request follow the code that spends the budget
// (the end-session flow, the admin logout of a user, the back-channel plan). A figure missing
// from src/budget.rs is an error that names it: no silent default.
import fs from 'node:fs';
import path from 'node:path';

export const BUDGET_SOURCE = 'src/budget.rs';

// The constants of src/budget.rs, by the name the report records them under (`codeConstants`).
const CONSTANTS = {
  subrequestLimit: 'SUBREQUEST_LIMIT',
  subrequestsPerDelivery: 'SUBREQUESTS_PER_DELIVERY',
  inlineMax: 'DEFAULT_INLINE_MAX',
  subjectPage: 'SUBJECT_LOGOUT_PAGE',
  deletesPerSession: 'DELETES_PER_SESSION',
  bulkReadMax: 'BULK_READ_MAX',
};

// Platform limits the rule uses as literals (not budget figures): a queue's sendBatch takes up to
// 100 messages (src/budget.rs: ceil(deliveries / 100)), a KV list returns up to 1000 keys.
const QUEUE_SEND_BATCH = 100;
const KV_LIST_MAX = 1000;

/** The figures of src/budget.rs under `root`, as {subrequestLimit, ..., bulkReadMax}; throws naming what is missing. */
export function readBudget(root) {
  const file = path.join(root, BUDGET_SOURCE);
  let text;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (e) {
    throw new Error(`bench/lib/budget.mjs: cannot read ${BUDGET_SOURCE} (${e.code ?? e.message}): the bench takes every subrequest figure from it`);
  }
  const figures = {};
  for (const [key, name] of Object.entries(CONSTANTS)) {
    const m = new RegExp(`^\\s*pub const ${name}: usize = ([\\d_]+);`, 'm').exec(text);
    if (!m) throw new Error(`bench/lib/budget.mjs: ${BUDGET_SOURCE} has no \`pub const ${name}: usize = N;\``);
    figures[key] = Number(m[1].replaceAll('_', ''));
  }
  if (!/^\s*pub fn affordable_inline\(/m.test(text)) throw new Error(`bench/lib/budget.mjs: ${BUDGET_SOURCE} has no \`pub fn affordable_inline\``);
  return figures;
}

/**
 * The subrequest model over `figures` (from readBudget): what one request spends, KV reads,
 * KV deletes, fetches (inline deliveries) and queue sends.
 */
export function budgetModel(figures) {
  const F = { ...figures };
  const ceilDiv = (a, b) => Math.ceil(a / b);

  /**
   * Inline deliveries a request affords (src/budget.rs, affordable_inline): each costs up to
   * SUBREQUESTS_PER_DELIVERY, after what was spent and with room for the deletes and the queue
   * sends of `deliveries`; at most `inlineMax`.
   */
  function affordableInline(spent, deletes, deliveries, inlineMax = F.inlineMax) {
    const reserved = spent + deletes + ceilDiv(deliveries, QUEUE_SEND_BATCH);
    return Math.min(inlineMax, Math.floor(Math.max(0, F.subrequestLimit - reserved) / F.subrequestsPerDelivery));
  }

  /** Bulk reads of `keys` keys: one per BULK_READ_MAX. */
  const bulkReads = (keys) => ceilDiv(keys, F.bulkReadMax);

  /**
   * An RP-initiated logout whose session has `k` clients, `d` of them with a back-channel URI
   * (src/protocol/logout.rs, end_sessions): one bulk read (the session and its tombstone; the
   * cookie names it), one list (its recorded clients), one bulk read of the clients (the hint's
   * client among them), the outbox write, the re-check's queue send, the tombstone, the inline
   * deliveries, the queue sends of the rest, the outbox's removal and DELETES_PER_SESSION deletes.
   */
  function subrequestsLogout(k, d = k) {
    const seq = 1;
    const lists = 1;
    const reads = bulkReads(k);
    const puts = 2; // the outbox, the tombstone
    const deletes = F.deletesPerSession + 1; // the session, its subject index; the outbox
    const recheck = 1;
    const fetches = Math.min(d, affordableInline(seq + lists + reads + puts, deletes + recheck, k));
    const sends = recheck + ceilDiv(Math.max(0, d - fetches), QUEUE_SEND_BATCH);
    return {
      kvGets: seq + reads, kvGetsSequential: seq, kvLists: lists, clientReads: reads, clientKeys: k, kvPuts: puts,
      kvDeletes: deletes, fetches, queueSends: sends, total: seq + lists + reads + puts + deletes + fetches + sends,
    };
  }

  /**
   * One request of an admin logout of a user (DELETE /admin/sessions?sub=): `s` sessions (a page
   * of at most SUBJECT_LOGOUT_PAGE), `k` clients, `d` deliveries (one per client and session with
   * backchannel_logout_session_required): a KV list, the sessions in bulk reads, one list per
   * session (its recorded clients), the clients in bulk reads, the outbox write, the re-check's
   * send, a tombstone and DELETES_PER_SESSION deletes per session, the inline deliveries, the
   * queue sends, the outbox's removal.
   */
  function subrequestsAdmin(s, k = 3, d = k * s) {
    const lists = (ceilDiv(s, KV_LIST_MAX) || 1) + s;
    const puts = 1 + s;
    const deletes = F.deletesPerSession * s + 1;
    const reads = bulkReads(k);
    const sessionReads = bulkReads(s);
    const recheck = 1;
    const fetches = Math.min(d, affordableInline(lists + sessionReads + reads + puts, deletes + recheck, k * s));
    const sends = recheck + ceilDiv(Math.max(0, d - fetches), QUEUE_SEND_BATCH);
    return {
      kvLists: lists, kvGets: sessionReads + reads, kvGetsSequential: sessionReads, sessionKeys: s,
      clientReads: reads, clientKeys: k, kvPuts: puts, kvDeletes: deletes, fetches, queueSends: sends,
      total: lists + sessionReads + reads + puts + deletes + fetches + sends,
    };
  }

  return { ...F, affordableInline, subrequestsLogout, subrequestsAdmin };
}

/** The figures a run recorded (`codeConstants`) over those of src/budget.rs: an earlier run's table is made with the figures it ran against. */
export function recordedFigures(figures, codeConstants = {}) {
  const out = { ...figures };
  for (const key of Object.keys(CONSTANTS)) if (Number.isFinite(codeConstants[key]) && codeConstants[key] < 1e9) out[key] = codeConstants[key];
  return out;
}
