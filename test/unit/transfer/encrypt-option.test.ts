/**
 * The `encrypt` option of FerryServer.start and openClient reaches the endpoint's bind plan: false
 * is refused (INSECURE_BIND) off loopback, before any socket is bound or packet sent, and accepted
 * on loopback. What encryption does with it is the transport's (test/integration/transport-*).
 */
import test from 'ava';
import { FerryServer, isFerryError, openClient } from '../../../src/index.js';

test('FerryServer.start with encrypt: false is refused on a non-loopback address', async (t) => {
  const err = await t.throwsAsync(
    FerryServer.start({ host: '0.0.0.0', memory: true, insecure: true, discovery: false, encrypt: false }),
  );
  t.true(isFerryError(err, 'INSECURE_BIND'), String(err));
  t.regex(err!.message, /encryption off is refused/);
});

test('openClient with encrypt: false is refused for a non-loopback server', async (t) => {
  const err = await t.throwsAsync(
    openClient({ host: '192.0.2.1', port: 7733, encrypt: false, connectTimeoutMs: 1000 }),
  );
  t.true(isFerryError(err, 'INSECURE_BIND'), String(err));
});

test('encrypt: false on loopback: a server and a client still talk', async (t) => {
  const server = await FerryServer.start({ memory: true, discovery: false, encrypt: false });
  t.teardown(() => server.close());
  const client = await openClient({ host: '127.0.0.1', port: server.address.port, encrypt: false });
  t.teardown(() => client.close());
  t.deepEqual(await client.listAll(), []);
});
