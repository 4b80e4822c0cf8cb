// The testbed's TLS front of the Temporal dev server (which has no TLS of its own): terminates
// TLS with ALPN h2, requires a client certificate signed by the testbed's CA, and forwards the
// bytes to the dev server. Started by testbed/components/temporal-tls.ts as a daemon:
//   node --import tsx temporal-tls-proxy.ts <listen port> <upstream host:port> <pki dir>
import { readFileSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { createServer } from 'node:tls';

const [listenPort, upstream, pkiDir] = process.argv.slice(2);
if (!listenPort || !upstream || !pkiDir) {
  console.error('usage: temporal-tls-proxy.ts <listen port> <upstream host:port> <pki dir>');
  process.exit(2);
}
const [upstreamHost = '127.0.0.1', upstreamPort = '7233'] = upstream.split(':');
const pem = (name: string) => readFileSync(join(pkiDir, name));

const server = createServer(
  {
    key: pem('server.key'),
    cert: pem('server.crt'),
    ca: pem('ca.crt'),
    requestCert: true,
    rejectUnauthorized: true,
    ALPNProtocols: ['h2'],
  },
  (client) => {
    const server = connect(Number(upstreamPort), upstreamHost);
    client.pipe(server).pipe(client);
    const close = () => {
      client.destroy();
      server.destroy();
    };
    client.on('error', close).on('close', close);
    server.on('error', close).on('close', close);
  },
);
// Refused handshakes are what the tests look for: one line each.
server.on('tlsClientError', (err: NodeJS.ErrnoException, socket) => {
  console.log(`${new Date().toISOString()} handshake refused from ${socket.remoteAddress ?? '?'}:${socket.remotePort ?? '?'}: ${err.code ?? ''} ${err.message.trim()}`);
});
server.listen(Number(listenPort), '127.0.0.1', () => {
  console.log(`${new Date().toISOString()} TLS (client certificate required, ALPN h2) on 127.0.0.1:${listenPort} -> ${upstream}`);
});
for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  process.once(signal, () => {
    server.close();
    process.exit(0);
  });
}
