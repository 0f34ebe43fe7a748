// Certificate resources end to end (src/certs): the gateway issues certificates from a built-in CA
// Issuer and serves them on its HTTPS listener, renews a short-lived one at 2/3 of its lifetime
// and serves the new one without dropping an open keep-alive connection (and TLS sessions still
// resume), and keeps issued certificates across a restart.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import https from 'node:https';
import path from 'node:path';
import tls from 'node:tls';
import { randomBytes, X509Certificate } from 'node:crypto';
import { freePort, runCli, startGateway, tmpDir, type GatewayProc } from './helpers/cli.ts';
import { InternalCA } from '../src/pki/ca.ts';
import { KeyStore } from '../src/pki/keystore.ts';
import { Secret } from '../src/pki/secret.ts';
import { backendYaml, routeYaml, gatewayWith } from './helpers/config.ts';
import { startUpstream, type Upstream } from './helpers/upstream.ts';

let gw: GatewayProc, up: Upstream, port: number, dir: string, staticSerial: string;
const KEY = randomBytes(32).toString('base64');

function config(): string {
  return `apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: { name: gw, namespace: default }
spec:
  gatewayClassName: portcullis
  addresses: [{ type: IPAddress, value: 127.0.0.1 }]
  listeners:
    - name: app
      protocol: HTTPS
      port: ${port}
      hostname: app.example.test
      tls: { certificateRefs: [{ kind: Secret, name: app-tls }] }
    - name: files
      protocol: HTTPS
      port: ${port}
      hostname: static.example.test
      tls: { certificateRefs: [{ name: files-tls }] }
    - name: short
      protocol: HTTPS
      port: ${port}
      hostname: short.example.test
      tls: { certificateRefs: [{ name: short-tls }] }
---
${routeYaml('up')}
---
${backendYaml('up', [up.port])}
---
apiVersion: portcullis.dev/v1alpha1
kind: Issuer
metadata: { name: internal, namespace: default }
spec:
  ca: { commonName: Test Mesh }
---
apiVersion: portcullis.dev/v1alpha1
kind: Certificate
metadata: { name: app, namespace: default }
spec:
  secretName: app-tls
  issuerRef: { name: internal }
  dnsNames: [app.example.test]
  uris: [spiffe://example.test/ns/default/sa/app]
  privateKey: { algorithm: ECDSA, size: 256 }
  duration: 24h
---
apiVersion: portcullis.dev/v1alpha1
kind: Certificate
metadata: { name: short, namespace: default }
spec:
  secretName: short-tls
  issuerRef: { name: internal }
  dnsNames: [short.example.test]
  duration: 15s
---
apiVersion: portcullis.dev/v1alpha1
kind: Issuer
metadata: { name: files, namespace: default }
spec:
  static: { certFile: static.crt, keyFile: static.key }
---
apiVersion: portcullis.dev/v1alpha1
kind: Certificate
metadata: { name: files, namespace: default }
spec:
  secretName: files-tls
  issuerRef: { name: files }
  dnsNames: [static.example.test]
`;
}

before(async () => {
  process.env.PORTCULLIS_KEY_ENCRYPTION_KEY = KEY; // inherited by the gateway process
  process.env.PORTCULLIS_DRAIN_MS = '500'; // stop (the restart test) without the 10 s drain
  up = await startUpstream('up');
  port = await freePort();
  dir = tmpDir();
  // files for the static Issuer, from a CA of our own
  const work = tmpDir();
  const other = await InternalCA.open({ keystore: await KeyStore.open({ dir: path.join(work, 'keys'), encryptionKey: new Secret(randomBytes(32)) }), certDir: work, name: 'files' });
  const f = await other.issue({ dnsNames: ['static.example.test'] });
  staticSerial = f.serialNumber;
  fs.writeFileSync(path.join(dir, 'static.crt'), f.chainPem);
  fs.writeFileSync(path.join(dir, 'static.key'), f.keyPem.reveal(), { mode: 0o600 });
  fs.writeFileSync(path.join(dir, 'c.yaml'), config());
  gw = await startGateway(dir);
});

after(async () => {
  await gw?.stop();
  await up?.close();
});

async function rootPem(): Promise<string> {
  const line = await gw.waitForLog(/"built-in CA ready"/, 45_000, 0);
  return fs.readFileSync(JSON.parse(line).root as string, 'utf8');
}

/** Handshake with `servername`, trusting only the CA root; the peer certificate. */
function handshake(servername: string, ca: string, session?: Buffer): Promise<{ cert: tls.DetailedPeerCertificate; reused: boolean; session?: Buffer }> {
  return new Promise((resolve, reject) => {
    let ticket: Buffer | undefined;
    const s = tls.connect({ host: '127.0.0.1', port, servername, ca, ALPNProtocols: ['http/1.1'], ...(session ? { session } : {}) }, () => {
      const cert = s.getPeerCertificate(true);
      const reused = s.isSessionReused();
      // TLS 1.3 tickets arrive after the handshake
      setTimeout(() => { s.end(); resolve({ cert, reused, session: ticket }); }, 100);
    });
    s.on('session', (t: Buffer) => { ticket = t; });
    s.on('error', reject);
  });
}

async function waitFor<T>(what: string, fn: () => Promise<T | undefined>, timeoutMs = 45_000): Promise<T> {
  const t0 = Date.now();
  for (;;) {
    const v = await fn().catch(() => undefined);
    if (v !== undefined) return v;
    if (Date.now() - t0 > timeoutMs) throw new Error(`timed out waiting for ${what}; logs:\n${gw.logs.slice(-30).join('\n')}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

test('built-in CA Issuer: the HTTPS listener serves the issued certificate, verified with the CA root, with its SPIFFE URI', async () => {
  await gw.waitForLog(/"certificate":"Certificate\/default\/app".*"certificate issued"/, 45_000, 0);
  const root = await rootPem();
  const { cert } = await waitFor('the app listener', () => handshake('app.example.test', root));
  assert.match(String(cert.subjectaltname), /DNS:app\.example\.test/);
  assert.match(String(cert.subjectaltname), /URI:spiffe:\/\/example\.test\/ns\/default\/sa\/app/);
  assert.match(String(cert.issuer.CN), /Test Mesh/);
  const x = new X509Certificate(cert.raw);
  const life = x.validToDate.getTime() - Date.now();
  assert.ok(life > 23 * 3600_000 && life <= 24 * 3600_000 + 60_000, `a 24h certificate (${life} ms left)`);
  // The request goes through: the HTTPS listener is programmed with the route attached.
  const res = await new Promise<number>((resolve, reject) => {
    https.get({ host: '127.0.0.1', port, servername: 'app.example.test', headers: { host: 'app.example.test' }, ca: root, path: '/x' }, (r) => { r.resume(); resolve(r.statusCode!); }).on('error', reject);
  });
  assert.equal(res, 200);
  // The private key is stored encrypted, 0600; the status says Ready.
  const st = await (await gw.admin('/status')).json() as Record<string, unknown>;
  assert.match(JSON.stringify(st), /"Certificate\/default\/app".*?"Ready".*?"True"/s);
});

test('renewal at 2/3 of the lifetime: new handshakes get the new certificate, an open keep-alive connection stays usable, sessions resume', async () => {
  const root = await rootPem();
  const first = await waitFor('the short listener', () => handshake('short.example.test', root));
  const firstSerial = first.cert.serialNumber;
  const x = new X509Certificate(first.cert.raw);
  const lifetime = x.validToDate.getTime() - x.validFromDate.getTime();
  assert.ok(lifetime < 20_000, `a short certificate (${lifetime} ms)`);
  // a keep-alive connection opened before the renewal
  const agent = new https.Agent({ keepAlive: true, maxSockets: 1, ca: root, servername: 'short.example.test' });
  const get = () => new Promise<{ status: number; local: number }>((resolve, reject) => {
    https.get({ host: '127.0.0.1', port, agent, headers: { host: 'short.example.test' }, path: '/ka' }, (r) => { const local = r.socket.localPort!; r.resume(); r.on('end', () => resolve({ status: r.statusCode!, local })); }).on('error', reject);
  });
  const before1 = await get();
  assert.equal(before1.status, 200);
  // keep it in use across the renewal (an idle one would meet the server's keep-alive timeout)
  const ports = new Set<number>([before1.local]);
  let busy = true;
  const pinger = (async () => { while (busy) { const r = await get(); assert.equal(r.status, 200); ports.add(r.local); await new Promise((t) => setTimeout(t, 500)); } })();

  // renewed at about 2/3 of the lifetime (jitter only moves it earlier)
  const renewed = await waitFor('a renewed certificate', async () => {
    const h = await handshake('short.example.test', root);
    return h.cert.serialNumber !== firstSerial ? h : undefined;
  }, 25_000);
  const nx = new X509Certificate(renewed.cert.raw);
  assert.ok(nx.validFromDate.getTime() >= x.validFromDate.getTime() + lifetime * 0.5, 'renewed after a good part of the lifetime, not at once');
  assert.ok(nx.validFromDate.getTime() < x.validToDate.getTime(), 'renewed before expiry');
  await gw.waitForLog(/"certificate":"Certificate\/default\/short".*"certificate replaced"/, 1000, 0);

  await new Promise((t) => setTimeout(t, 600));
  busy = false;
  await pinger;
  assert.deepEqual([...ports], [before1.local], 'one keep-alive connection served every request, before and after the renewal');
  agent.destroy();

  // a session from before the renewal resumes after it (the ticket keys did not change)
  assert.ok(first.session, 'got a session ticket before the renewal');
  const resumed = await handshake('short.example.test', root, first.session);
  assert.equal(resumed.reused, true, 'the session resumed across the certificate rotation');
});

test('static Issuer: the listener serves the certificate from the files', async () => {
  await gw.waitForLog(/"certificate":"Certificate\/default\/files".*"certificate issued"/, 45_000, 0);
  const s = await waitFor('the files listener', () => new Promise<string>((resolve, reject) => {
    const c = tls.connect({ host: '127.0.0.1', port, servername: 'static.example.test', rejectUnauthorized: false }, () => { resolve(c.getPeerCertificate().serialNumber.toLowerCase()); c.end(); });
    c.on('error', reject);
  }));
  assert.equal(s, staticSerial);
});

test('a restart serves the stored certificate instead of issuing again; keys are stored encrypted and 0600', async () => {
  const root = await rootPem();
  const before1 = await handshake('app.example.test', root);
  const stateDir = /--state-dir/.test(gw.proc.spawnargs.join(' ')) ? gw.proc.spawnargs[gw.proc.spawnargs.indexOf('--state-dir') + 1] : '';
  const keys = fs.readdirSync(path.join(stateDir, 'keys'));
  assert.ok(keys.length > 0);
  for (const k of keys) {
    const f = path.join(stateDir, 'keys', k);
    assert.equal(fs.statSync(f).mode & 0o777, 0o600, `${k} is 0600`);
    assert.doesNotMatch(fs.readFileSync(f, 'latin1'), /PRIVATE KEY/, `${k} is encrypted`);
  }
  await gw.stop();
  gw = await startGateway(dir, ['--state-dir', stateDir]).catch((e) => { throw e; });
  const after1 = await waitFor('the app listener after restart', () => handshake('app.example.test', root));
  assert.equal(after1.cert.serialNumber, before1.cert.serialNumber, 'the stored certificate is served');
  assert.ok(gw.logs.some((l) => /"certificate":"Certificate\/default\/app".*"certificate loaded"/.test(l)));
  assert.ok(!gw.logs.some((l) => /"certificate":"Certificate\/default\/app".*"certificate issued"/.test(l)), 'not issued again');
  // the inventory of the state directory lists it
  const inv = runCli(['certs', 'list', '--state-dir', stateDir, '--json']);
  assert.equal(inv.code, 0, inv.stderr);
  assert.ok(inv.stdout.toLowerCase().includes(before1.cert.serialNumber.toLowerCase()), 'certs list --state-dir shows the issued certificate');
});

test('changing a Certificate (another name) issues a new one at once, served after the reload', async () => {
  const root = await rootPem();
  const from = gw.logs.length;
  fs.writeFileSync(path.join(dir, 'c.yaml'), config().replace('dnsNames: [app.example.test]', 'dnsNames: [app.example.test, api.example.test]'));
  await gw.waitForLog(/"certificate":"Certificate\/default\/app".*"certificate replaced"/, 45_000, from);
  const h = await waitFor('the new certificate', async () => {
    const x = await handshake('app.example.test', root);
    return String(x.cert.subjectaltname).includes('DNS:api.example.test') ? x : undefined;
  });
  assert.match(String(h.cert.subjectaltname), /DNS:app\.example\.test/);
});

test('without a key encryption key the gateway serves the rest and the Certificate fails closed, with the reason in its status', async () => {
  const p2 = await freePort();
  const d2 = tmpDir();
  fs.writeFileSync(path.join(d2, 'c.yaml'), `${gatewayWith([`{ name: http, protocol: HTTP, port: ${p2} }`, `{ name: https, protocol: HTTPS, port: ${await freePort()}, tls: { certificateRefs: [{ name: x-tls }] } }`])}
---
${routeYaml('up')}
---
${backendYaml('up', [up.port])}
---
apiVersion: portcullis.dev/v1alpha1
kind: Issuer
metadata: { name: internal, namespace: default }
spec: { ca: {} }
---
apiVersion: portcullis.dev/v1alpha1
kind: Certificate
metadata: { name: x, namespace: default }
spec: { secretName: x-tls, issuerRef: { name: internal }, dnsNames: [x.example.test] }
`);
  delete process.env.PORTCULLIS_KEY_ENCRYPTION_KEY;
  let g2: GatewayProc | undefined;
  try {
    g2 = await startGateway(d2);
    await g2.waitForLog(/certificate key store unavailable/, 30_000, 0);
    assert.equal((await fetch(`http://127.0.0.1:${p2}/`)).status, 200, 'the HTTP listener serves');
    const st = JSON.stringify(await (await g2.admin('/status')).json());
    assert.match(st, /"reason":"KeyStoreUnavailable","message":"[^"]*PORTCULLIS_KEY_ENCRYPTION_KEY/);
    assert.match(st, /"Programmed","status":"False","reason":"Pending"/);
    assert.ok(!fs.readdirSync(path.join(g2.proc.spawnargs[g2.proc.spawnargs.indexOf('--state-dir') + 1])).includes('keys'), 'no key was written');
  } finally {
    process.env.PORTCULLIS_KEY_ENCRYPTION_KEY = KEY;
    await g2?.stop();
  }
});

test('validate: Certificate and Issuer errors name the file, line and field', () => {
  const bad = tmpDir();
  fs.writeFileSync(path.join(bad, 'c.yaml'), `apiVersion: portcullis.dev/v1alpha1
kind: Issuer
metadata: { name: le, namespace: default }
spec:
  acme:
    server: https://acme.example.test/dir
    solvers: [{ http01: {} }]
---
apiVersion: portcullis.dev/v1alpha1
kind: Certificate
metadata: { name: c, namespace: default }
spec:
  secretName: c-tls
  issuerRef: { name: le }
  dnsNames: ["*.example.test"]
  ipAddresses: [10.0.0.1]
---
apiVersion: portcullis.dev/v1alpha1
kind: Certificate
metadata: { name: d, namespace: default }
spec:
  secretName: d-tls
  issuerRef: { name: missing }
  dnsNames: [d.example.test]
`);
  const r = runCli(['validate', bad]);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /c\.yaml:16:\d+.*spec\.ipAddresses.*ACME issuer issues DNS names only/);
  assert.match(r.stderr, /c\.yaml:\d+:\d+.*spec\.dnsNames.*wildcard.*DNS-01/);
  assert.match(r.stderr, /c\.yaml:23:\d+.*spec\.issuerRef\.name.*Issuer default\/missing not found/);
  // the example is valid; its HTTPS listener waits for the certificate (validate runs no issuer)
  const ex = runCli(['validate', 'examples/certificates', '--status']);
  assert.equal(ex.code, 0, ex.stderr);
  assert.match(ex.stdout, /Programmed=False \(Pending\): waiting for its certificate/);
});
