/**
 * ACME end to end against Debian's Pebble: issuance over HTTP-01, TLS-ALPN-01 and DNS-01 (exec
 * hook and webhook), external account binding, renewal by the scheduler with a hot swap on a real
 * TLS server, and the alert event when a renewal fails.
 *
 * Pebble and pebble-challtestsrv are started here on free loopback ports. Pebble's TLS certificate
 * (absent from the Debian package) is issued by our own InternalCA. Names resolve through
 * challtestsrv (-defaultIPv4 127.0.0.1), so every validation lands on this process's responders.
 * If the binaries are missing (run scripts/install-pebble.sh) or Pebble does not start, every test
 * is skipped with the reason.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import tls from 'node:tls';
import { randomBytes } from 'node:crypto';
import { AcmeIssuer, Http01Store, TlsAlpn01Store, type Dns01Record } from '../../src/pki/acme.ts';
import { InternalCA } from '../../src/pki/ca.ts';
import { KeyStore } from '../../src/pki/keystore.ts';
import { validateIssued } from '../../src/pki/validate.ts';
import { Secret } from '../../src/pki/secret.ts';
import { createSecureContextSwap, ManualClock, RenewalScheduler, type RenewalFailedEvent, type RenewedEvent } from '../../src/pki/renewal.ts';
import { freePort } from '../helpers/cli.ts';

const repo = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const children: ChildProcess[] = [];
const servers: Array<http.Server | tls.Server> = [];
let workDir: string | undefined;

after(async () => {
  for (const c of children) if (c.exitCode === null && c.pid) c.kill('SIGTERM');
  await Promise.all(servers.map((s) => new Promise<void>((r) => ('closeAllConnections' in s && s.closeAllConnections(), s.close(() => r())))));
  if (workDir) await rm(workDir, { recursive: true, force: true });
});

function which(bin: string): string | undefined {
  const r = spawnSync('sh', ['-c', `command -v ${bin}`], { encoding: 'utf8' });
  return r.status === 0 ? r.stdout.trim() : undefined;
}

function httpsGet(url: string, ca: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    https
      .get(url, { ca, timeout: 2000 }, (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (d) => (body += d));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      })
      .on('error', reject)
      .on('timeout', function (this: http.ClientRequest) {
        this.destroy(new Error('timeout'));
      });
  });
}

function startProcess(cmd: string, args: string[], env: Record<string, string> = {}): { child: ChildProcess; output: () => string } {
  let out = '';
  const child = spawn(cmd, args, { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  child.stdout?.on('data', (d) => (out += d));
  child.stderr?.on('data', (d) => (out += d));
  children.push(child);
  return { child, output: () => out };
}

interface Pebble {
  directoryUrl: string;
  managementUrl: string;
  /** Pebble's issuing root, fetched from the management API. */
  root: string;
}

interface Env {
  skip?: string;
  tlsCa?: string;
  challMgmt?: string;
  httpPort?: number;
  tlsPort?: number;
  dnsPort?: number;
  keystore?: KeyStore;
  http01: Http01Store;
  tlsAlpn01: TlsAlpn01Store;
  /** HTTP-01 responder switch: false = answer 404 to everything. */
  answering: { on: boolean };
  pebble?: Pebble;
  startPebble: (extra?: Record<string, unknown>) => Promise<Pebble>;
}

const env: Env = {
  http01: new Http01Store(),
  tlsAlpn01: new TlsAlpn01Store(),
  answering: { on: true },
  startPebble: async () => {
    throw new Error('not set up');
  },
};

async function setup(): Promise<void> {
  let pebbleBin = which('pebble');
  let challBin = which('pebble-challtestsrv');
  if ((!pebbleBin || !challBin) && process.getuid?.() === 0 && process.env.PORTCULLIS_TEST_INSTALL_PEBBLE !== '0') {
    const r = spawnSync('sh', [join(repo, 'scripts', 'install-pebble.sh')], { encoding: 'utf8', timeout: 240_000 });
    if (r.status !== 0) console.log(`# scripts/install-pebble.sh failed (status ${r.status}): ${(r.stderr || r.stdout || '').slice(-400)}`);
    pebbleBin = which('pebble');
    challBin = which('pebble-challtestsrv');
  }
  if (!pebbleBin || !challBin) {
    env.skip = 'pebble / pebble-challtestsrv not installed (run scripts/install-pebble.sh as root)';
    return;
  }
  workDir = await mkdtemp(join(tmpdir(), 'pcs-pebble-'));
  const keystore = await KeyStore.open({ dir: join(workDir, 'keys'), encryptionKey: new Secret(randomBytes(32)) });
  env.keystore = keystore;
  // Pebble's own HTTPS certificate, from our CA
  const ca = await InternalCA.open({ keystore, certDir: join(workDir, 'ca'), name: 'pebble-tls' });
  const pebbleTls = await ca.issue({ dnsNames: ['localhost'], ipAddresses: ['127.0.0.1'] });
  await writeFile(join(workDir, 'pebble-cert.pem'), pebbleTls.chainPem);
  await writeFile(join(workDir, 'pebble-key.pem'), pebbleTls.keyPem.reveal(), { mode: 0o600 });
  env.tlsCa = ca.rootCertPem;

  // challenge responders: HTTP-01 from the store, TLS-ALPN-01 via the store's SNICallback
  const httpServer = http.createServer((req, res) => {
    const body = env.answering.on ? env.http01.handleHttp01(req.url ?? '/') : undefined;
    if (body === undefined) res.writeHead(404).end('not found');
    else res.writeHead(200, { 'content-type': 'text/plain' }).end(body);
  });
  const fallback = await ca.issue({ dnsNames: ['fallback.portcullis.test'] });
  // the ALPN-aware mode a shared HTTPS listener would use: challenge certificate only for acme-tls/1
  const tlsServer = tls.createServer(
    { key: fallback.keyPem.reveal(), cert: fallback.chainPem, SNICallback: env.tlsAlpn01.sniCallback(undefined, { alpnAware: true }), ALPNCallback: env.tlsAlpn01.alpnCallback() } as tls.TlsOptions,
    (s) => s.end(),
  );
  tlsServer.on('tlsClientError', () => {});
  for (const s of [httpServer, tlsServer]) {
    await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
    servers.push(s);
  }
  env.httpPort = (httpServer.address() as AddressInfo).port;
  env.tlsPort = (tlsServer.address() as AddressInfo).port;

  // DNS: challtestsrv answers A 127.0.0.1 for every name, and TXT records we set
  env.dnsPort = await freePort();
  const challMgmtPort = await freePort();
  env.challMgmt = `http://127.0.0.1:${challMgmtPort}`;
  const chall = startProcess(challBin, ['-defaultIPv4', '127.0.0.1', '-defaultIPv6', '', '-dns01', `127.0.0.1:${env.dnsPort}`, '-http01', '', '-https01', '', '-tlsalpn01', '', '-management', `127.0.0.1:${challMgmtPort}`]);
  const t0 = Date.now();
  for (;;) {
    const ok = await fetch(`${env.challMgmt}/set-default-ipv4`, { method: 'POST', body: JSON.stringify({ ip: '127.0.0.1' }) }).then((r) => r.ok, () => false);
    if (ok) break;
    if (chall.child.exitCode !== null || Date.now() - t0 > 10_000) {
      env.skip = `pebble-challtestsrv did not start: ${chall.output().slice(-400)}`;
      return;
    }
    await new Promise((r) => setTimeout(r, 50));
  }

  let n = 0;
  env.startPebble = async (extra = {}) => {
    const port = await freePort();
    const mgmt = await freePort();
    const cfg = join(workDir!, `pebble-${n++}.json`);
    await writeFile(
      cfg,
      JSON.stringify({
        pebble: {
          listenAddress: `127.0.0.1:${port}`,
          managementListenAddress: `127.0.0.1:${mgmt}`,
          certificate: join(workDir!, 'pebble-cert.pem'),
          privateKey: join(workDir!, 'pebble-key.pem'),
          httpPort: env.httpPort,
          tlsPort: env.tlsPort,
          ocspResponderURL: '',
          externalAccountBindingRequired: false,
          certificateValidityPeriod: 86400,
          ...extra,
        },
      }),
    );
    const p = startProcess(pebbleBin!, ['-config', cfg, '-dnsserver', `127.0.0.1:${env.dnsPort}`], {
      PEBBLE_VA_NOSLEEP: '1',
      PEBBLE_WFE_NONCEREJECT: '0',
      PEBBLE_AUTHZREUSE: '0', // every order must validate again, so a renewal really depends on the challenge
    });
    const directoryUrl = `https://127.0.0.1:${port}/dir`;
    const managementUrl = `https://127.0.0.1:${mgmt}`;
    const start = Date.now();
    for (;;) {
      const r = await httpsGet(directoryUrl, env.tlsCa!).catch(() => undefined);
      if (r?.status === 200) break;
      if (p.child.exitCode !== null || Date.now() - start > 15_000) throw new Error(`pebble did not start: ${p.output().slice(-600)}`);
      await new Promise((r) => setTimeout(r, 50));
    }
    const root = await httpsGet(`${managementUrl}/roots/0`, env.tlsCa!);
    if (root.status !== 200 || !root.body.includes('BEGIN CERTIFICATE')) throw new Error(`pebble management /roots/0 answered ${root.status}`);
    return { directoryUrl, managementUrl, root: root.body };
  };
  try {
    env.pebble = await env.startPebble();
  } catch (e) {
    env.skip = (e as Error).message;
  }
}

await setup();
if (env.skip) console.log(`# SKIP ACME/Pebble tests: ${env.skip}`);
const skip = env.skip ?? false;

/** Serve `chain`+`key` on loopback and connect with only `root` trusted and hostname verification. */
async function verifyServed(chainPem: string, keyPem: string, root: string, servername: string): Promise<{ authorized: boolean; serial: string }> {
  const server = tls.createServer({ key: keyPem, cert: chainPem }, (s) => s.end('ok'));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  try {
    const port = (server.address() as AddressInfo).port;
    return await new Promise((resolve, reject) => {
      const c = tls.connect({ host: '127.0.0.1', port, servername, ca: root }, () => {
        resolve({ authorized: c.authorized, serial: c.getPeerCertificate().serialNumber.toLowerCase() });
        c.destroy();
      });
      c.on('error', reject);
    });
  } finally {
    await new Promise<void>((r) => server.close(() => r()));
  }
}

function issuerFor(opts: Partial<Parameters<typeof AcmeIssuer.create>[0]> = {}, pebble = env.pebble!) {
  return AcmeIssuer.create({
    directoryUrl: pebble.directoryUrl,
    keystore: env.keystore!,
    caCertificates: env.tlsCa!,
    email: 'ops@portcullis.test',
    termsOfServiceAgreed: true,
    polling: { attempts: 20, minMs: 50, maxMs: 500 }, // Pebble validates in milliseconds; keep the test fast
    ...opts,
  });
}

async function challtest(path: string, body: unknown): Promise<void> {
  const r = await fetch(`${env.challMgmt}${path}`, { method: 'POST', body: JSON.stringify(body) });
  if (!r.ok) throw new Error(`challtestsrv ${path}: ${r.status}`);
}

test('HTTP-01: a certificate issued by Pebble verifies against Pebble\'s root with hostname checks', { skip }, async () => {
  const issuer = await issuerFor({ http01: env.http01 });
  const cert = await issuer.issue({ dnsNames: ['app.portcullis.test', 'www.portcullis.test'] });
  validateIssued(cert, { dnsNames: ['app.portcullis.test', 'www.portcullis.test'] }); // the issuer contract
  const x = new X509Certificate(cert.certPem);
  assert.ok(x.checkHost('www.portcullis.test'));
  assert.equal(x.publicKey.asymmetricKeyDetails?.namedCurve, 'prime256v1');
  assert.ok(Math.abs(cert.notAfter.getTime() - cert.notBefore.getTime() - 86_400_000) < 2000, '24 h certificate (pebble config)');
  assert.ok(cert.chainPem.split('BEGIN CERTIFICATE').length - 1 >= 2, 'leaf and intermediate');
  const v = await verifyServed(cert.chainPem, cert.keyPem.reveal(), env.pebble!.root, 'app.portcullis.test');
  assert.equal(v.authorized, true);
  assert.equal(v.serial, cert.serialNumber);
  await assert.rejects(verifyServed(cert.chainPem, cert.keyPem.reveal(), env.pebble!.root, 'other.portcullis.test'), { code: 'ERR_TLS_CERT_ALTNAME_INVALID' });
  assert.equal(env.http01.size, 0, 'challenge tokens removed after the order');
  assert.ok(issuer.accountUrl?.startsWith('https://127.0.0.1'));
  assert.ok(await env.keystore!.has(issuer.accountKeyName), 'account key lives in the encrypted key store');
});

test('TLS-ALPN-01: validated through the ALPN-aware acme-tls/1 responder', { skip }, async () => {
  const issuer = await issuerFor({ tlsAlpn01: env.tlsAlpn01, challengePriority: ['tls-alpn-01'] });
  const cert = await issuer.issue({ dnsNames: ['alpn.portcullis.test'], key: { type: 'rsa', bits: 2048 } });
  assert.equal(new X509Certificate(cert.certPem).publicKey.asymmetricKeyDetails?.modulusLength, 2048);
  assert.equal((await verifyServed(cert.chainPem, cert.keyPem.reveal(), env.pebble!.root, 'alpn.portcullis.test')).authorized, true);
  assert.equal(env.tlsAlpn01.size, 0);
});

test('DNS-01: exec hook (wildcard) and webhook publish TXT records through challtestsrv', { skip }, async (t) => {
  // exec: a real child process that calls challtestsrv's API with the env vars it was given
  const script = `
    const { PORTCULLIS_ACME_ACTION: a, PORTCULLIS_ACME_RECORD_NAME: n, PORTCULLIS_ACME_RECORD_VALUE: v } = process.env;
    require('fs').appendFileSync(process.env.HOOK_LOG, a + ' ' + n + '\\n');
    const path = a === 'present' ? '/set-txt' : '/clear-txt';
    fetch(process.env.CHALL + path, { method: 'POST', body: JSON.stringify({ host: n + '.', value: v }) })
      .then((r) => process.exit(r.ok ? 0 : 2), () => process.exit(3));`;
  const hookRuns: string[] = [];
  const hookLog = join(workDir!, 'hook.log');
  const execIssuer = await issuerFor({ dns01: { hook: { type: 'exec', command: process.execPath, args: ['-e', script], env: { CHALL: env.challMgmt!, HOOK_LOG: hookLog } } } });
  const wild = await execIssuer.issue({ dnsNames: ['*.apps.portcullis.test', 'apps.portcullis.test'] });
  // both names use _acme-challenge.apps.portcullis.test and the hook replaces/clears the record:
  // the issuer must run the two validations one after the other
  const rec = '_acme-challenge.apps.portcullis.test';
  assert.deepEqual((await readFile(hookLog, 'utf8')).trim().split('\n'), [`present ${rec}`, `cleanup ${rec}`, `present ${rec}`, `cleanup ${rec}`]);
  assert.equal((await verifyServed(wild.chainPem, wild.keyPem.reveal(), env.pebble!.root, 'x.apps.portcullis.test')).authorized, true);

  // webhook: a real HTTP endpoint that forwards to challtestsrv
  const hook = http.createServer(async (req, res) => {
    let body = '';
    for await (const c of req) body += c;
    const rec = JSON.parse(body) as Dns01Record;
    hookRuns.push(`${rec.action} ${rec.recordName} ${req.headers.authorization}`);
    await challtest(rec.action === 'present' ? '/set-txt' : '/clear-txt', { host: `${rec.recordName}.`, value: rec.value });
    res.writeHead(204).end();
  });
  await new Promise<void>((r) => hook.listen(0, '127.0.0.1', r));
  t.after(() => new Promise<void>((r) => hook.close(() => r())));
  const url = `http://127.0.0.1:${(hook.address() as AddressInfo).port}/dns`;
  const webIssuer = await issuerFor({ dns01: { hook: { type: 'webhook', url, headers: { authorization: new Secret('Bearer hook-token') } } } });
  const c = await webIssuer.issue({ dnsNames: ['dns.portcullis.test'] });
  assert.ok(new X509Certificate(c.certPem).checkHost('dns.portcullis.test'));
  assert.deepEqual(hookRuns, ['present _acme-challenge.dns.portcullis.test Bearer hook-token', 'cleanup _acme-challenge.dns.portcullis.test Bearer hook-token']);
});

/** The next of 'renewed' / 'renewal_failed': the expected one's payload, or a rejection that says what happened instead. */
function outcome(s: RenewalScheduler, want: 'renewed' | 'renewal_failed'): Promise<RenewedEvent | RenewalFailedEvent> {
  return new Promise((resolve, reject) => {
    const onRenewed = (ev: RenewedEvent) => { done(); if (want === 'renewed') resolve(ev); else reject(new Error(`expected renewal_failed, the renewal succeeded (serial ${ev.serialNumber})`)); };
    const onFailed = (ev: RenewalFailedEvent) => { done(); if (want === 'renewal_failed') resolve(ev); else reject(new Error(`expected renewed, the renewal failed (attempt ${ev.attempt}): ${ev.error.message}`)); };
    const done = () => { s.off('renewed', onRenewed); s.off('renewal_failed', onFailed); };
    s.on('renewed', onRenewed);
    s.on('renewal_failed', onFailed);
  });
}

test('renewal with Pebble: scheduled renewal swaps the served certificate; a failed renewal raises the alert', { skip }, async (t) => {
  const issuer = await issuerFor({ http01: env.http01 });
  const req = { dnsNames: ['renew.portcullis.test'] };
  const first = await issuer.issue(req);
  // the gateway side: a TLS server whose context the swap hook replaces
  const server = tls.createServer({ key: first.keyPem.reveal(), cert: first.chainPem }, (s) => s.end('ok'));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.after(() => new Promise<void>((r) => server.close(() => r())));
  const port = (server.address() as AddressInfo).port;
  const servedSerial = () =>
    new Promise<string>((resolve, reject) => {
      const c = tls.connect({ host: '127.0.0.1', port, servername: 'renew.portcullis.test', ca: env.pebble!.root }, () => {
        resolve(c.getPeerCertificate().serialNumber.toLowerCase());
        c.destroy();
      });
      c.on('error', reject);
    });
  assert.equal(await servedSerial(), first.serialNumber);

  const clock = new ManualClock(Date.now());
  const s = new RenewalScheduler({ clock, random: () => 0.5, renew: () => issuer.issue(req), onSwap: createSecureContextSwap(server), backoff: { initialMs: 60_000 } });
  t.after(() => s.stop());
  const at = s.add('renew', first);
  const life = first.notAfter.getTime() - first.notBefore.getTime();
  assert.equal(at.getTime(), Math.round(first.notBefore.getTime() + life * (2 / 3) - 0.5 * 0.05 * life));

  // Each wait also listens for the other outcome: a renewal that fails instead re-arms its retry on
  // the manual clock, which nothing advances, so a bare once(s, 'renewed') would hang until the
  // test timeout and hide Pebble's error (seen once in CI: a 120 s timeout here, cause unknown).
  const renewed = outcome(s, 'renewed');
  await clock.advanceTo(at);
  const ev = (await renewed) as RenewedEvent;
  assert.notEqual(ev.serialNumber, first.serialNumber);
  assert.equal(await servedSerial(), ev.serialNumber, 'new handshakes get the renewed certificate');

  // the challenge responder goes away: the next renewal fails validation at Pebble
  env.answering.on = false;
  t.after(() => (env.answering.on = true));
  const failed = outcome(s, 'renewal_failed');
  await clock.advanceTo(s.nextAttemptAt('renew')!);
  const alert = (await failed) as RenewalFailedEvent;
  assert.equal(alert.severity, 'alert');
  assert.equal(alert.id, 'renew');
  assert.equal(alert.attempt, 1);
  assert.equal((alert.error as { code?: string }).code, 'PCS_ERR_ACME_ORDER');
  assert.match(alert.error.message, /renew\.portcullis\.test/);
  assert.equal(alert.nextRetryAt.getTime() - clock.now(), Math.round(60_000 * (1 - 0.1 * 0.5)));
  assert.equal(await servedSerial(), ev.serialNumber, 'the working certificate stays in place');
});

test('external account binding: required by Pebble, passed through', { skip }, async () => {
  const hmac = randomBytes(32).toString('base64url');
  const pebble = await env.startPebble({ externalAccountBindingRequired: true, externalAccountMACKeys: { 'kid-1': hmac } });
  const withEab = await issuerFor({ http01: env.http01, accountKeyName: 'acme-eab-account', externalAccountBinding: { kid: 'kid-1', hmacKey: new Secret(hmac) } }, pebble);
  const cert = await withEab.issue({ dnsNames: ['eab.portcullis.test'] });
  assert.equal((await verifyServed(cert.chainPem, cert.keyPem.reveal(), pebble.root, 'eab.portcullis.test')).authorized, true);
  const without = await issuerFor({ http01: env.http01, accountKeyName: 'acme-no-eab-account' }, pebble);
  await assert.rejects(without.issue({ dnsNames: ['eab.portcullis.test'] }), (e: { code: string; message: string }) => e.code === 'PCS_ERR_ACME_ORDER' && /external/i.test(e.message));
});

test('an existing account key without an email: a new issuer instance (a restart) finds the account and orders', { skip }, async () => {
  const first = await issuerFor({ http01: env.http01, accountKeyName: 'acme-no-email-account', email: undefined });
  await first.issue({ dnsNames: ['noemail1.portcullis.test'] });
  const again = await issuerFor({ http01: env.http01, accountKeyName: 'acme-no-email-account', email: undefined });
  const cert = await again.issue({ dnsNames: ['noemail2.portcullis.test'] });
  assert.equal((await verifyServed(cert.chainPem, cert.keyPem.reveal(), env.pebble!.root, 'noemail2.portcullis.test')).authorized, true);
  assert.equal(again.accountUrl, first.accountUrl, 'the same account');
});
