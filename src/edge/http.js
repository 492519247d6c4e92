// The fetch event's request and response, each in one call from the worker's wasm
// (src/edge/request.rs): through workers-rs, the request's method, URL, each header, and the
// response's status, each header and its body were crossings of their own, and the URL was
// parsed again in wasm (bench/: 3.5 to 8% of a logout's isolate time went to writing the
// response alone).

/** JSON of the request's head: {method, path, query (null without '?...'), headers: [[n, v]]}. */
export function requestHead(req) {
  const url = new URL(req.url);
  return JSON.stringify({
    method: req.method,
    path: url.pathname,
    query: url.search ? url.search.slice(1) : null,
    headers: [...req.headers],
  });
}

/** The Response of `status`, `headers` (JSON of [[name, value]]) and `body` (empty: none). */
export function respond(status, headers, body) {
  const h = new Headers();
  for (const [name, value] of JSON.parse(headers)) h.append(name, value);
  return new Response(body.length ? body : null, { status, headers: h });
}
