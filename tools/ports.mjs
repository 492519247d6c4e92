// Whether something listens on a port of 127.0.0.1: the one port probe of the scripts, the
// bench and the tests (a connect, not a bind, so that it sees any listener).
import net from 'node:net';

export function portOpen(port) {
  return new Promise((resolve) => {
    const s = net.connect({ host: '127.0.0.1', port });
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}
