/** Public API of the PKI library (see README.md). */
export { PkiError, isPkiError, type PkiErrorCode } from './errors.ts';
export { Secret, isSecret } from './secret.ts';
export { KeyStore, loadEncryptionKey, parseEncryptionKey, generateEncryptionKey, KEY_ENV_VAR, KEY_FILE_ENV_VAR, type KeyStoreOptions, type LoadKeyOptions } from './keystore.ts';
export { writeFileAtomic, ensurePrivateDir } from './fsutil.ts';
export { generatePrivateKeyPem, type KeySpec, type EcCurve, type RsaBits } from './keys.ts';
export {
  InternalCA,
  DEFAULT_LEAF_LIFETIME_MS,
  validateDnsName,
  validateUri,
  type CertificateIssuer,
  type CertificateRequest,
  type IssuedCertificate,
  type InternalCAOptions,
  type Usage,
} from './ca.ts';
export {
  inspectCertificates,
  inspectPem,
  inventoryPath,
  parsePemBundle,
  parseTarget,
  scanRemote,
  scanMany,
  formatTable,
  toJson,
  type CertEntry,
  type Finding,
  type FindingCode,
  type Severity,
  type InspectOptions,
  type InventoryResult,
  type InventoryError,
  type ScanOptions,
  type ScanResult,
} from './inventory.ts';
export { certsList, certsScan, type CommandResult, type CommonCertsOptions } from './commands.ts';
export {
  RenewalScheduler,
  ManualClock,
  systemClock,
  computeRenewalTime,
  backoffDelay,
  createSecureContextSwap,
  type Clock,
  type TimerHandle,
  type Validity,
  type RenewalPolicy,
  type BackoffPolicy,
  type RenewalSchedulerOptions,
  type RenewedEvent,
  type RenewalFailedEvent,
  type ExpiringEvent,
  type RenewFn,
  type SwapFn,
} from './renewal.ts';
export { CertificateStore, type CertificateStoreOptions } from './store.ts';
export { validateIssued } from './validate.ts';
export { StaticFileIssuer, type StaticFileIssuerOptions } from './static.ts';
export { CertificateManager, matchesRequest, type CertificateManagerOptions, type ManagedCertificateSpec, type ManagedStatus, type CertificateListener } from './manager.ts';
export {
  AcmeIssuer,
  Http01Store,
  TlsAlpn01Store,
  runDns01Hook,
  dns01RecordName,
  ACME_TLS_ALPN_PROTOCOL,
  HTTP01_PATH_PREFIX,
  type AcmeIssuerOptions,
  type ChallengeType,
  type Dns01Hook,
  type Dns01Options,
  type Dns01Record,
} from './acme.ts';
