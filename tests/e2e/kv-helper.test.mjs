// src/edge/kv.js's batch (kvBatch), run on its own in Node against namespaces that keep their
// calls: independent KV calls made together in one crossing from the worker's wasm, their
// outcomes in order, a failed one reported without stopping the others.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { kvBatch } from '../../src/edge/kv.js';

/** A namespace in memory whose calls are kept; `put` of `bad` throws. */
function namespace(name) {
  const data = new Map();
  const calls = [];
  return {
    data,
    calls,
    async delete(key) {
      calls.push(['delete', key]);
      data.delete(key);
    },
    async put(key, value, options) {
      calls.push(['put', key, value, options]);
      if (key === 'bad') throw new Error(`${name} refused bad`);
      data.set(key, value);
    },
  };
}

describe('kv.js: kvBatch', () => {
  it('writes each on its own: a refused one is reported, the others made, options as kvPut sets them', async () => {
    const clients = namespace('clients');
    const sessions = namespace('sessions');
    const ops = [
      { ns: 1, put: 'a', value: '1', expiration: 1900000000, metadata: { at: 5 } },
      { ns: 1, put: 'bad', value: '2', expiration: 0, metadata: null },
      { ns: 0, put: 'b', value: '3', expiration: 0, metadata: null },
    ];
    const out = JSON.parse(await kvBatch(clients, sessions, JSON.stringify(ops)));
    assert.deepEqual(out, [{ value: null }, { error: 'sessions refused bad' }, { value: null }]);
    assert.deepEqual(sessions.calls[0], ['put', 'a', '1', { expiration: 1900000000, metadata: { at: 5 } }]);
    assert.deepEqual(clients.calls[0], ['put', 'b', '3', {}], 'no expiration, no metadata');
    assert.equal(clients.data.get('b'), '3');
    const gone = JSON.parse(await kvBatch(clients, sessions, JSON.stringify([{ ns: 0, delete: 'b' }, { ns: 1, delete: 'a' }])));
    assert.deepEqual(gone, [{ value: null }, { value: null }]);
    assert.equal(clients.data.size + sessions.data.size, 0, 'both deleted');
  });
});
