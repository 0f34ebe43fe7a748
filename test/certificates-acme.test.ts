// ACME Certificates end to end against real Pebble (Debian's pebble + pebble-challtestsrv, started
// here on loopback; scripts/install-test-deps.sh installs them): the gateway orders the
// certificate, Pebble validates HTTP-01 against the gateway's own HTTP listener, the HTTPS
// listener serves the result; then Pebble goes away and the next renewal raises the alert event
// while the working certificate stays in place.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import https from 'node:https';
import path from 'node:path';
import tls from 'node:tls';
import { InternalCA } from '../src/pki/ca.ts';
import { KeyStore } from '../src/pki/keystore.ts';
import { Secret } from '../src/pki/secret.ts';
import { ROOT, freePort, startGateway, tmpDir, type GatewayProc } from './helpers/cli.ts';
import { backendYaml, routeYaml, gatewayWith } from './helpers/config.ts';
import { startUpstream, type Upstream } from './helpers/upstream.ts';

const children: ChildProcess[] = [];
let gw: GatewayProc | undefined, up: Upstream | undefined;
let skip: string | false = false;
let dir = '';
let cfg = { httpPort: 0, acmePort: 0, tlsCa: '', upPort: 0 };
let challMgmtUrl = '';
let startPebble: (extra?: Record<string, unknown>) => Promise<{ acmePort: number; root: string }>;
let pebbleRoot = '';
let httpsPort = 0;

function which(bin: string): string | undefined {
  const r = spawnSync('sh', ['-c', `command -v ${bin}`], { encoding: 'utf8' });
  return r.status === 0 ? r.stdout.trim() : undefined;
}

function start(cmd: string, args: string[], env: Record<string, string> = {}): { child: ChildProcess; output: () => string } {
  let out = '';
  const child = spawn(cmd, args, { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  child.stdout?.on('data', (d) => (out += d));
  child.stderr?.on('data', (d) => (out += d));
  children.push(child);
  return { child, output: () => out };
}

function get(url: string, ca: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    https.get(url, { ca, timeout: 2000 }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    }).on('error', reject);
  });
}

async function until(what: string, fn: () => Promise<boolean>, timeoutMs: number, out?: () => string): Promise<void> {
  const t0 = Date.now();
  while (!(await fn().catch(() => false))) {
    if (Date.now() - t0 > timeoutMs) throw new Error(`${what} did not happen: ${(out?.() ?? '').slice(-600)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

// Set up before the tests are declared, so that `skip` is known when they are.
async function setup(): Promise<void> {
  let pebbleBin = which('pebble');
  let challBin = which('pebble-challtestsrv');
  if ((!pebbleBin || !challBin) && process.getuid?.() === 0 && process.env.PORTCULLIS_TEST_INSTALL_PEBBLE !== '0') {
    spawnSync('sh', [path.join(ROOT, 'scripts', 'install-test-deps.sh')], { encoding: 'utf8', timeout: 240_000 });
    pebbleBin = which('pebble');
    challBin = which('pebble-challtestsrv');
  }
  if (!pebbleBin || !challBin) { skip = 'pebble / pebble-challtestsrv not installed (run scripts/install-test-deps.sh as root)'; return; }
  const work = tmpDir('pcs-acme-');
  // Pebble's own HTTPS certificate (the Debian package has none), from a throwaway CA
  const ks = await KeyStore.open({ dir: path.join(work, 'keys'), encryptionKey: new Secret(randomBytes(32)) });
  const ca = await InternalCA.open({ keystore: ks, certDir: path.join(work, 'ca'), name: 'pebble-tls' });
  const pt = await ca.issue({ dnsNames: ['localhost'], ipAddresses: ['127.0.0.1'] });
  fs.writeFileSync(path.join(work, 'cert.pem'), pt.chainPem);
  fs.writeFileSync(path.join(work, 'key.pem'), pt.keyPem.reveal(), { mode: 0o600 });
  const tlsCa = ca.rootCertPem;

  const [httpPort, dnsPort, challMgmt] = [await freePort(), await freePort(), await freePort()];
  httpsPort = await freePort();
  // every name resolves to 127.0.0.1, so Pebble's HTTP-01 request reaches the gateway's listener
  const chall = start(challBin, ['-defaultIPv4', '127.0.0.1', '-defaultIPv6', '', '-dns01', `127.0.0.1:${dnsPort}`, '-http01', '', '-https01', '', '-tlsalpn01', '', '-management', `127.0.0.1:${challMgmt}`]);
  challMgmtUrl = `http://127.0.0.1:${challMgmt}`;
  await until('pebble-challtestsrv start', async () => (await fetch(`http://127.0.0.1:${challMgmt}/set-default-ipv4`, { method: 'POST', body: JSON.stringify({ ip: '127.0.0.1' }) })).ok, 30_000, chall.output);
  let n = 0;
  startPebble = async (extra = {}) => {
    const [acmePort, acmeMgmt] = [await freePort(), await freePort()];
    const file = path.join(work, `pebble-${n++}.json`);
    fs.writeFileSync(file, JSON.stringify({
      pebble: {
        listenAddress: `127.0.0.1:${acmePort}`, managementListenAddress: `127.0.0.1:${acmeMgmt}`,
        certificate: path.join(work, 'cert.pem'), privateKey: path.join(work, 'key.pem'),
        httpPort, tlsPort: httpsPort, ocspResponderURL: '', externalAccountBindingRequired: false,
        certificateValidityPeriod: 3600, ...extra,
      },
    }));
    const p = start(pebbleBin, ['-config', file, '-dnsserver', `127.0.0.1:${dnsPort}`], { PEBBLE_VA_NOSLEEP: '1', PEBBLE_WFE_NONCEREJECT: '0', PEBBLE_AUTHZREUSE: '0' });
    await until('pebble start', async () => (await get(`https://127.0.0.1:${acmePort}/dir`, tlsCa)).status === 200, 45_000, p.output);
    const root = (await get(`https://127.0.0.1:${acmeMgmt}/roots/0`, tlsCa)).body;
    assert.match(root, /BEGIN CERTIFICATE/);
    return { acmePort, root };
  };
  const first = await startPebble();
  const acmePort = first.acmePort;
  pebbleRoot = first.root;

  up = await startUpstream('up');
  dir = tmpDir();
  cfg = { httpPort, acmePort, tlsCa, upPort: up.port };
  fs.writeFileSync(path.join(dir, 'c.yaml'), config(false));
  process.env.PORTCULLIS_KEY_ENCRYPTION_KEY = randomBytes(32).toString('hex');
  process.env.PORTCULLIS_DRAIN_MS = '500';
  gw = await startGateway(dir);
}
await setup();
if (skip) console.log(`# SKIP ACME certificate tests: ${skip}`);

after(async () => {
  await gw?.stop();
  await up?.close();
  for (const c of children) if (c.exitCode === null) c.kill('SIGTERM');
});

/**
 * An ACME Issuer against the Pebble on `acmePort`, trusting Pebble's test certificate; `more` is
 * the rest of spec.acme (solvers, external account binding), indented 4.
 */
function acmeIssuerYaml(name: string, acmePort: number, email: string, more: string): string {
  const caBundle = cfg.tlsCa.trim().split('\n').map((l) => `      ${l}`).join('\n');
  return `apiVersion: portcullis.dev/v1alpha1
kind: Issuer
metadata: { name: ${name}, namespace: default }
spec:
  acme:
    server: https://127.0.0.1:${acmePort}/dir
    email: ${email}
    caBundle: |
${caBundle}
${more}`;
}

function config(alpn: boolean, eab?: { acmePort: number; hmac: string; hook: string }): string {
  return `${gatewayWith([`{ name: http, protocol: HTTP, port: ${cfg.httpPort} }`])}
    - name: https
      protocol: HTTPS
      port: ${httpsPort}
      hostname: www.portcullis.test
      tls: { certificateRefs: [{ name: www-tls }] }
${alpn ? `    - name: alpn
      protocol: HTTPS
      port: ${httpsPort}
      hostname: alpn.portcullis.test
      tls: { certificateRefs: [{ name: alpn-tls }] }
` : ''}${eab ? `    - name: wild
      protocol: HTTPS
      port: ${httpsPort}
      hostname: "*.wild.portcullis.test"
      tls: { certificateRefs: [{ name: wild-tls }] }
` : ''}---
${routeYaml('up')}
---
${backendYaml('up', [cfg.upPort])}
---
${acmeIssuerYaml('pebble', cfg.acmePort, 'ops@portcullis.test', `    solvers: [{ http01: {} }]`)}
---
apiVersion: portcullis.dev/v1alpha1
kind: Certificate
metadata: { name: www, namespace: default }
spec:
  secretName: www-tls
  issuerRef: { name: pebble }
  dnsNames: [www.portcullis.test]
  # Pebble issues for 1 h here: renew after ~4 s, so the test sees a renewal attempt soon
  renewAtFraction: 0.001
${alpn ? `---
${acmeIssuerYaml('pebble-alpn', cfg.acmePort, 'alpn@portcullis.test', `    solvers: [{ tlsAlpn01: {} }]`)}
---
apiVersion: portcullis.dev/v1alpha1
kind: Certificate
metadata: { name: alpn, namespace: default }
spec:
  secretName: alpn-tls
  issuerRef: { name: pebble-alpn }
  dnsNames: [alpn.portcullis.test]
` : ''}${eab ? `---
apiVersion: v1
kind: Secret
metadata: { name: eab, namespace: default }
stringData: { secret: ${eab.hmac} }
---
${acmeIssuerYaml('pebble-eab', eab.acmePort, 'eab@portcullis.test', `    externalAccountBinding: { keyID: kid-1, keySecretRef: { name: eab } }
    solvers:
      - dns01: { exec: { command: [${JSON.stringify(process.execPath)}, ${JSON.stringify(eab.hook)}, ${JSON.stringify(challMgmtUrl)}] } }`)}
---
apiVersion: portcullis.dev/v1alpha1
kind: Certificate
metadata: { name: wild, namespace: default }
spec:
  secretName: wild-tls
  issuerRef: { name: pebble-eab }
  dnsNames: ["*.wild.portcullis.test", wild.portcullis.test]
` : ''}`;
}

function served(servername = 'www.portcullis.test'): Promise<tls.PeerCertificate & { authorized: boolean }> {
  return new Promise((resolve, reject) => {
    const s = tls.connect({ host: '127.0.0.1', port: httpsPort, servername, ca: pebbleRoot }, () => {
      resolve({ ...s.getPeerCertificate(), authorized: s.authorized });
      s.end();
    });
    s.on('error', reject);
  });
}

let cert: Awaited<ReturnType<typeof served>> | undefined;

test('ACME: issued by Pebble over HTTP-01 answered by the gateway\'s own listener, served on HTTPS, renewed', { skip }, async () => {
  await gw!.waitForLog(/"certificate":"Certificate\/default\/www".*"certificate issued"/, 30_000, 0);
  await until('the HTTPS listener serving the ACME certificate', async () => { cert = await served(); return true; }, 30_000, () => gw!.logs.join('\n'));
  assert.equal(cert!.authorized, true, 'verifies against Pebble\'s root with hostname checks');
  assert.match(String(cert!.subjectaltname), /DNS:www\.portcullis\.test/);
  // renewal at renewAtFraction (a few seconds here): a new order, validated again over HTTP-01
  const first = cert!.serialNumber;
  await gw!.waitForLog(/"certificate":"Certificate\/default\/www".*"certificate renewed"/, 45_000, 0);
  await until('the renewed certificate to be served', async () => { const c = await served(); return c.authorized && c.serialNumber !== first; }, 30_000);
});

test('ACME TLS-ALPN-01: answered on the gateway\'s HTTPS port (acme-tls/1), for a Certificate added by a reload', { skip }, async () => {
  const from = gw!.logs.length;
  fs.writeFileSync(path.join(dir, 'c.yaml'), config(true));
  await gw!.waitForLog(/"certificate":"Certificate\/default\/alpn".*"certificate issued"/, 30_000, from);
  let c: Awaited<ReturnType<typeof served>> | undefined;
  await until('the alpn listener', async () => { c = await served('alpn.portcullis.test'); return true; }, 30_000, () => gw!.logs.join('\n'));
  assert.equal(c!.authorized, true);
  assert.match(String(c!.subjectaltname), /DNS:alpn\.portcullis\.test/);
  // ordinary clients of the port were never served a challenge certificate
  assert.equal((await served()).authorized, true);
});

test('ACME DNS-01 through an exec hook, with external account binding required by the CA: a wildcard certificate', { skip }, async () => {
  const hmac = randomBytes(32).toString('base64url');
  const eabPebble = await startPebble({ externalAccountBindingRequired: true, externalAccountMACKeys: { 'kid-1': hmac } });
  // the hook sets the TXT record in pebble-challtestsrv (the DNS server Pebble asks)
  const hook = path.join(dir, 'dns-hook.mjs');
  fs.writeFileSync(hook, `const [mgmt] = process.argv.slice(2);
const e = process.env;
const host = e.PORTCULLIS_ACME_RECORD_NAME + '.';
const present = e.PORTCULLIS_ACME_ACTION === 'present';
const r = await fetch(mgmt + (present ? '/set-txt' : '/clear-txt'), { method: 'POST', body: JSON.stringify(present ? { host, value: e.PORTCULLIS_ACME_RECORD_VALUE } : { host }) });
if (e.PORTCULLIS_KEY_ENCRYPTION_KEY) { console.error('the hook must not see the master key'); process.exit(3); }
process.exit(r.ok ? 0 : 1);
`);
  const from = gw!.logs.length;
  fs.writeFileSync(path.join(dir, 'c.yaml'), config(true, { acmePort: eabPebble.acmePort, hmac, hook }));
  await gw!.waitForLog(/"certificate":"Certificate\/default\/wild".*"certificate issued"/, 30_000, from);
  const wild = () => new Promise<tls.PeerCertificate & { authorized: boolean }>((resolve, reject) => {
    const s = tls.connect({ host: '127.0.0.1', port: httpsPort, servername: 'api.wild.portcullis.test', ca: eabPebble.root }, () => { resolve({ ...s.getPeerCertificate(), authorized: s.authorized }); s.end(); });
    s.on('error', reject);
  });
  // the listener is programmed by the reload that follows the issuance
  await until('the wildcard listener', async () => { await wild(); return true; }, 30_000, () => gw!.logs.slice(from).join('\n'));
  const c = await wild();
  assert.equal(c.authorized, true, 'a name under the wildcard verifies against the EAB Pebble\'s root');
  assert.match(String(c.subjectaltname), /DNS:\*\.wild\.portcullis\.test/);
});

test('ACME: a failed renewal raises the alert; the working certificate stays', { skip }, async () => {
  // The name now resolves where the gateway does not listen: the next renewal's HTTP-01
  // validation fails at Pebble, and that is an alert, long before expiry. (A CA that is down
  // works the same way, after acme-client's own retries of network errors, about a minute.)
  const from = gw!.logs.length;
  const r = await fetch(`${challMgmtUrl}/set-default-ipv4`, { method: 'POST', body: JSON.stringify({ ip: '127.0.0.2' }) });
  assert.equal(r.ok, true);
  const line = await gw!.waitForLog(/"type":"certificate-renewal-failed"/, 30_000, from);
  const ev = JSON.parse(line);
  assert.equal(ev.msg, 'security event');
  assert.equal(ev.severity, 'alert');
  assert.equal(ev.certificate, 'Certificate/default/www');
  assert.equal(ev.issuer, 'Issuer/default/pebble');
  assert.equal(ev.code, 'PCS_ERR_ACME_ORDER');
  assert.match(ev.serving, /^[0-9a-f]+$/, 'names the certificate still in service');
  assert.ok(Date.parse(ev.nextRetryAt) > Date.now() - 1000, 'a retry is scheduled');
  const metrics = await (await gw!.admin('/metrics')).text();
  assert.match(metrics, /portcullis_certificate_renewal_failures_total\{certificate="Certificate\/default\/www",issuer="Issuer\/default\/pebble"\} [1-9]/);
  // the working certificate stays in place (www renews every few seconds here, so a renewal
  // that finished just before the failure may still be swapping in: wait for it)
  await until('the listener to serve the certificate in service', async () => (await served()).serialNumber.toLowerCase() === ev.serving, 5000);
  // the status says so (Issuing False, reason RenewalFailed) while Ready stays True
  await until('the status to show the failure', async () => /"type":"Issuing","status":"False","reason":"RenewalFailed"/.test(JSON.stringify(await (await gw!.admin('/status')).json())), 5000);
});

test('with --workers 2: the primary orders, a worker answers HTTP-01 from the state directory, the workers serve the certificate', { skip }, async () => {
  const [hp, sp] = [await freePort(), await freePort()];
  const pb = await startPebble({ httpPort: hp, tlsPort: sp });
  const d = tmpDir();
  fs.writeFileSync(path.join(d, 'c.yaml'), `${gatewayWith([`{ name: http, protocol: HTTP, port: ${hp} }`, `{ name: https, protocol: HTTPS, port: ${sp}, hostname: workers.portcullis.test, tls: { certificateRefs: [{ name: w-tls }] } }`])}
---
${acmeIssuerYaml('pebble', pb.acmePort, 'workers@portcullis.test', `    solvers: [{ http01: {} }]`)}
---
apiVersion: portcullis.dev/v1alpha1
kind: Certificate
metadata: { name: w, namespace: default }
spec: { secretName: w-tls, issuerRef: { name: pebble }, dnsNames: [workers.portcullis.test] }
`);
  // the workers' HTTP listener must answer, which needs the primary's tokens: the name resolves to 127.0.0.1 again
  await fetch(`${challMgmtUrl}/set-default-ipv4`, { method: 'POST', body: JSON.stringify({ ip: '127.0.0.1' }) });
  const g = await startGateway(d, ['--workers', '2']);
  try {
    await g.waitForLog(/"certificate":"Certificate\/default\/w".*"certificate issued"/, 30_000, 0);
    const get1 = () => new Promise<{ authorized: boolean; san: string }>((resolve, reject) => {
      const s = tls.connect({ host: '127.0.0.1', port: sp, servername: 'workers.portcullis.test', ca: pb.root }, () => { resolve({ authorized: s.authorized, san: String(s.getPeerCertificate().subjectaltname) }); s.end(); });
      s.on('error', reject);
    });
    await until('the workers to serve the certificate', async () => (await get1()).authorized, 45_000, () => g.logs.join('\n'));
    // several connections (the kernel spreads them over both workers) all verify
    for (let i = 0; i < 6; i++) assert.equal((await get1()).authorized, true);
    assert.ok(!g.logs.some((l) => l.includes('certificate-renewal-failed')), 'the first order succeeded: the primary waited for its workers');
  } finally {
    await g.stop();
  }
});

