import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as pki from './index.ts';

test('the public API loads as one module (x509 polyfill order included) and exports the documented names', () => {
  for (const name of ['KeyStore', 'Secret', 'InternalCA', 'inventoryPath', 'scanRemote', 'formatTable', 'certsList', 'certsScan', 'RenewalScheduler', 'createSecureContextSwap', 'CertificateManager', 'CertificateStore', 'AcmeIssuer', 'Http01Store', 'TlsAlpn01Store', 'PkiError']) {
    assert.equal(typeof (pki as Record<string, unknown>)[name], 'function', name);
  }
  assert.equal(pki.HTTP01_PATH_PREFIX, '/.well-known/acme-challenge/');
});
