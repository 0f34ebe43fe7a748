// TypeBox schemas of portcullis.dev/v1alpha1 Issuer and Certificate (the documents are declared
// in src/config/schema.ts with the other kinds). Field names follow cert-manager.io/v1 where it
// has one (issuerRef, secretName, dnsNames, ipAddresses, uris, privateKey, duration,
// renewBefore, usages, acme.server/email/externalAccountBinding/solvers), so a Kubernetes user
// reads them without a manual; docs/certificates.md has the details.
import { Type } from '@sinclair/typebox';

const Strict = { additionalProperties: false } as const;
const Name = Type.String({ minLength: 1, maxLength: 253, pattern: '^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$', description: 'RFC 1123 name: lower-case letters, digits, - and .' });
// cert-manager writes durations as Go durations (2160h, 1h30m); GEP-2257 is the same subset.
const Duration = Type.String({ pattern: '^([0-9]{1,6}(h|m|s)){1,3}$', description: 'a duration such as 2160h, 24h, 90m or 30s' });

const SecretKeyRef = Type.Object({
  name: Name,
  key: Type.Optional(Type.String({ minLength: 1, description: 'the entry of the Secret (default "secret")' })),
}, Strict);

const Dns01Solver = Type.Object({
  exec: Type.Optional(Type.Object({
    command: Type.Array(Type.String({ minLength: 1 }), { minItems: 1, description: 'program and arguments, run without a shell; gets PORTCULLIS_ACME_ACTION (present|cleanup), _DOMAIN, _RECORD_NAME, _RECORD_VALUE in its environment' }),
    timeout: Type.Optional(Duration),
  }, Strict)),
  webhook: Type.Optional(Type.Object({
    url: Type.String({ minLength: 1, description: 'receives POST {action, domain, recordName, value}; any 2xx is success' }),
    timeout: Type.Optional(Duration),
  }, Strict)),
  propagationDelay: Type.Optional(Duration),
}, Strict);

const AcmeSolver = Type.Object({
  http01: Type.Optional(Type.Object({}, { ...Strict, description: 'answered by the gateway\'s own HTTP listeners on port 80 (GET /.well-known/acme-challenge/<token>)' })),
  tlsAlpn01: Type.Optional(Type.Object({}, { ...Strict, description: 'answered by the gateway\'s HTTPS listeners on port 443 (ALPN acme-tls/1)' })),
  dns01: Type.Optional(Dns01Solver),
}, Strict);

export const IssuerSpec = Type.Object({
  ca: Type.Optional(Type.Object({
    commonName: Type.Optional(Type.String({ minLength: 1, maxLength: 64, description: 'subject prefix of the root and intermediate (default "Portcullis Internal")' })),
    rootValidity: Type.Optional(Duration),
    intermediateValidity: Type.Optional(Duration),
    privateKey: Type.Optional(Type.Object({
      algorithm: Type.Optional(Type.Union([Type.Literal('ECDSA'), Type.Literal('RSA')])),
      size: Type.Optional(Type.Integer()),
    }, Strict)),
  }, { ...Strict, description: 'a built-in CA: a root and an intermediate that Portcullis creates and keeps in its state directory, signing short-lived leaf certificates' })),
  acme: Type.Optional(Type.Object({
    server: Type.String({ minLength: 1, description: 'ACME directory URL, e.g. https://acme-v02.api.letsencrypt.org/directory' }),
    email: Type.Optional(Type.String({ minLength: 3 })),
    caBundle: Type.Optional(Type.String({ minLength: 1, description: 'PEM (or base64 of PEM) CA certificates to trust for the ACME server\'s own HTTPS (private ACME CAs, Pebble)' })),
    externalAccountBinding: Type.Optional(Type.Object({
      keyID: Type.String({ minLength: 1 }),
      keySecretRef: SecretKeyRef,
    }, Strict)),
    solvers: Type.Array(AcmeSolver, { minItems: 1, maxItems: 3, description: 'challenge types in order of preference' }),
  }, Strict)),
  static: Type.Optional(Type.Object({
    certFile: Type.String({ minLength: 1, description: 'PEM chain, leaf first; relative to this file' }),
    keyFile: Type.String({ minLength: 1, description: 'PEM private key; relative to this file' }),
  }, Strict)),
}, Strict);

export const CertificateSpec = Type.Object({
  secretName: Name,
  issuerRef: Type.Object({
    name: Name,
    kind: Type.Optional(Type.Literal('Issuer')),
    group: Type.Optional(Type.Literal('portcullis.dev')),
  }, Strict),
  commonName: Type.Optional(Type.String({ minLength: 1, maxLength: 64 })),
  dnsNames: Type.Optional(Type.Array(Type.String({ minLength: 1, maxLength: 253 }), { maxItems: 100 })),
  ipAddresses: Type.Optional(Type.Array(Type.String({ minLength: 2, maxLength: 45 }), { maxItems: 100 })),
  uris: Type.Optional(Type.Array(Type.String({ minLength: 1, maxLength: 2048 }), { maxItems: 100 })),
  privateKey: Type.Optional(Type.Object({
    algorithm: Type.Optional(Type.Union([Type.Literal('ECDSA'), Type.Literal('RSA')], { description: 'default ECDSA' })),
    size: Type.Optional(Type.Integer({ description: 'ECDSA: 256 (default) or 384; RSA: 2048 (default), 3072 or 4096' })),
  }, Strict)),
  usages: Type.Optional(Type.Array(Type.Union([Type.Literal('server auth'), Type.Literal('client auth')]), { minItems: 1, maxItems: 2 })),
  duration: Type.Optional(Type.String({ pattern: '^([0-9]{1,6}(h|m|s)){1,3}$', description: 'requested lifetime (built-in CA; default 24h, at most 2160h). ACME and static certificates have the lifetime their CA gives them.' })),
  renewBefore: Type.Optional(Type.String({ pattern: '^([0-9]{1,6}(h|m|s)){1,3}$', description: 'renew this long before expiry (needs duration)' })),
  renewAtFraction: Type.Optional(Type.Number({ exclusiveMinimum: 0, exclusiveMaximum: 1, description: 'renew when this fraction of the lifetime has passed (default 2/3), minus a small random jitter' })),
}, Strict);
