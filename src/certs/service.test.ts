import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import type { AddressInfo } from 'node:net';
import { Metrics } from '../observability/metrics.ts';
import { createLogger } from '../observability/logger.ts';
import { parseConfigText } from '../config/load.ts';
import { validateSchema } from '../config/validate-schema.ts';
import { analyzeCertificates } from './config.ts';
import { CertificateService } from './service.ts';
import { withAcmeHttp01 } from './http01.ts';

const logger = createLogger({ level: 'silent' });
const tmp = () => fs.mkdtempSync(path.join(os.tmpdir(), 'pcs-certs-'));

test('multi-worker HTTP-01: the primary writes pending tokens to the state directory, a worker answers them', () => {
  const stateDir = tmp();
  const primary = new CertificateService({ stateDir, logger, metrics: new Metrics({ defaultMetrics: false }), onChange: () => {}, shareChallenges: true });
  const worker = new CertificateService({ stateDir, logger, metrics: new Metrics({ defaultMetrics: false }), onChange: () => {}, mode: 'load' });
  const token = 'tok_EN-123';
  assert.equal(worker.answerHttp01(`/.well-known/acme-challenge/${token}`), undefined);
  primary.http01.set(token, `${token}.thumbprint`);
  assert.equal(worker.answerHttp01(`/.well-known/acme-challenge/${token}`), `${token}.thumbprint`);
  assert.equal(worker.answerHttp01(`/.well-known/acme-challenge/${token}?x=1`), `${token}.thumbprint`);
  assert.equal(worker.answerHttp01('/.well-known/acme-challenge/..%2Fsession-key'), undefined, 'only token-shaped names are read');
  assert.equal(worker.answerHttp01('/other'), undefined);
  assert.equal(fs.statSync(path.join(stateDir, 'acme-http01')).mode & 0o777, 0o700);
  primary.http01.delete(token);
  assert.equal(worker.answerHttp01(`/.well-known/acme-challenge/${token}`), undefined, 'gone after cleanup');
  // a single process keeps its tokens in memory only
  const own = tmp();
  const single = new CertificateService({ stateDir: own, logger, metrics: new Metrics({ defaultMetrics: false }), onChange: () => {} });
  single.http01.set(token, 'x');
  assert.equal(fs.existsSync(path.join(own, 'acme-http01')), false);
  assert.equal(single.answerHttp01(`/.well-known/acme-challenge/${token}`), 'x');
});

test('withAcmeHttp01: a pending token is answered before routing; anything else goes to the handler', async () => {
  const certs = new CertificateService({ logger, metrics: new Metrics({ defaultMetrics: false }), onChange: () => {} });
  let routed = 0;
  const server = http.createServer(withAcmeHttp01(certs, (_req, res) => { routed++; res.writeHead(404).end('routed'); }));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  try {
    assert.equal((await fetch(`${base}/.well-known/acme-challenge/abc`)).status, 404, 'nothing pending: routed');
    certs.http01.set('abc', 'abc.key-auth');
    const r = await fetch(`${base}/.well-known/acme-challenge/abc`);
    assert.equal(r.status, 200);
    assert.equal(r.headers.get('content-type'), 'text/plain');
    assert.equal(await r.text(), 'abc.key-auth');
    assert.equal((await fetch(`${base}/.well-known/acme-challenge/other`)).status, 404, 'a token the gateway did not ask for is routed (a backend may answer it)');
    assert.equal((await fetch(`${base}/.well-known/acme-challenge/abc`, { method: 'POST' })).status, 404, 'only GET and HEAD');
    assert.equal(routed, 3);
  } finally {
    server.close();
  }
});

test('without a state directory a Certificate stays pending with the reason, and the status is rebuilt', async () => {
  const { docs } = parseConfigText(`apiVersion: portcullis.dev/v1alpha1
kind: Issuer
metadata: { name: ca, namespace: default }
spec: { ca: {} }
---
apiVersion: portcullis.dev/v1alpha1
kind: Certificate
metadata: { name: c, namespace: default }
spec: { secretName: c-tls, issuerRef: { name: ca }, dnsNames: [c.example] }
`, '/x/c.yaml');
  const ir = analyzeCertificates(validateSchema(docs).resources, () => {}, {}, undefined);
  const certs = new CertificateService({ logger, metrics: new Metrics({ defaultMetrics: false }), onChange: () => {} });
  assert.equal(await certs.prepare(ir), true, 'the state changed: build again');
  assert.equal(certs.state(ir.certificates[0].storeName)?.reason, 'NoStateDirectory');
  assert.equal(await certs.prepare(ir), false, 'nothing new the second time');
  assert.equal(certs.get(ir.certificates[0].storeName), undefined);
});
