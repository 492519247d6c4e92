// The example's one origin: a small reverse proxy that sends edge-logout's paths to `wrangler dev`
// and everything else to node-oidc-provider, as the production route split does on one domain
// (wrangler.toml `routes` for edge-logout's paths, the rest to the login half). The admin API is
// not routed: the login half calls it directly, server to server.
import http from 'node:http';

/** The paths edge-logout serves to browsers and relying parties. */
export function isEdgeLogoutPath(pathname) {
  return pathname === '/.well-known/openid-configuration' || pathname === '/jwks' || pathname === '/session/end';
}

/**
 * Starts the router on 127.0.0.1:`port`; `edgeLogout` and `loginHalf` are the origins behind it.
 * The Host header is kept (node-oidc-provider builds its URLs from it), X-Forwarded-* added.
 */
export async function startRouter({ port, edgeLogout, loginHalf }) {
  const server = http.createServer((req, res) => {
    const { pathname } = new URL(req.url, 'http://router');
    const target = new URL(isEdgeLogoutPath(pathname) ? edgeLogout : loginHalf);
    const upstream = http.request({
      host: target.hostname,
      port: target.port,
      method: req.method,
      path: req.url,
      headers: {
        ...req.headers,
        'x-forwarded-proto': 'http',
        'x-forwarded-host': req.headers.host ?? '',
        'x-forwarded-for': req.socket.remoteAddress ?? '',
      },
    }, (up) => {
      res.writeHead(up.statusCode ?? 502, up.headers);
      up.pipe(res);
    });
    upstream.on('error', (e) => {
      if (!res.headersSent) res.writeHead(502, { 'content-type': 'text/plain' });
      res.end(`router: ${target.origin} is unreachable (${e.code ?? e.message})\n`);
    });
    req.pipe(upstream);
  });
  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', resolve);
  });
  return {
    url: `http://127.0.0.1:${server.address().port}`,
    close: () => new Promise((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    }),
  };
}
