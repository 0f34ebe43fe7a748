/**
 * The one place that loads @peculiar/x509. Its CommonJS build (the one Node resolves: the package
 * has no "exports" map) needs the reflect-metadata polyfill loaded first, and a WebCrypto provider.
 * Import x509 from here, never from '@peculiar/x509' directly.
 */
import 'reflect-metadata';
import * as x509 from '@peculiar/x509';

x509.cryptoProvider.set(globalThis.crypto);

export { x509 };
