// Config schemas, written once in TypeBox: they give the TypeScript types (Static<>), the
// precompiled Ajv validators (strict: unknown fields are rejected, like Caddy's strict decoding)
// and the JSON Schema that `portcullis schema` prints for YAML editors.
//
// Gateway API shapes follow gateway.networking.k8s.io/v1 (v1.6.1); see
// ../shared/reference/gateway-api.md. Portcullis's own kinds live in portcullis.dev/v1alpha1.
import { Type, type Static, type TSchema } from '@sinclair/typebox';
import { CertificateSpec, IssuerSpec } from '../certs/schema.ts';

export const GATEWAY_GROUP = 'gateway.networking.k8s.io';
export const PORTCULLIS_GROUP = 'portcullis.dev';
export const GATEWAY_API_VERSION = `${GATEWAY_GROUP}/v1`;
export const PORTCULLIS_API_VERSION = `${PORTCULLIS_GROUP}/v1alpha1`;

const Strict = { additionalProperties: false } as const;

// RFC 1123 subdomain, as Kubernetes names are.
const Name = Type.String({ minLength: 1, maxLength: 253, pattern: '^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$', description: 'RFC 1123 name: lower-case letters, digits, - and .' });
const SectionName = Type.String({ minLength: 1, maxLength: 253, pattern: '^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$' });
// Gateway API Hostname: exact or "*." wildcard prefix, no IPs, no port.
const Hostname = Type.String({ minLength: 1, maxLength: 253, pattern: '^(\\*\\.)?[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$', description: 'a DNS name, or *.suffix for a wildcard (no IPs, no port)' });
const Port = Type.Integer({ minimum: 1, maximum: 65535 });
// GEP-2257 duration
export const Duration = Type.String({ pattern: '^([0-9]{1,5}(h|m|s|ms)){1,4}$', description: 'GEP-2257 duration, e.g. 10s, 1m30s, 500ms' });
const Labels = Type.Record(Type.String(), Type.String());

export const Metadata = Type.Object({
  name: Name,
  namespace: Type.Optional(Name),
  labels: Type.Optional(Labels),
  annotations: Type.Optional(Labels),
  // Used for Gateway API route precedence ties (oldest wins). Off-cluster it is optional.
  creationTimestamp: Type.Optional(Type.String({ format: 'date-time' })),
  generation: Type.Optional(Type.Integer({ minimum: 0 })),
}, Strict);

const LabelSelector = Type.Object({
  matchLabels: Type.Optional(Labels),
  matchExpressions: Type.Optional(Type.Array(Type.Object({
    key: Type.String(),
    operator: Type.Union([Type.Literal('In'), Type.Literal('NotIn'), Type.Literal('Exists'), Type.Literal('DoesNotExist')]),
    values: Type.Optional(Type.Array(Type.String())),
  }, Strict))),
}, Strict);

const SecretObjectReference = Type.Object({
  group: Type.Optional(Type.String()),
  kind: Type.Optional(Type.String()),
  name: Name,
  namespace: Type.Optional(Name),
}, Strict);

// ---------------------------------------------------------------- GatewayClass
export const GatewayClassSpec = Type.Object({
  controllerName: Type.String({ minLength: 1 }),
  description: Type.Optional(Type.String({ maxLength: 64 })),
  parametersRef: Type.Optional(Type.Object({ group: Type.String(), kind: Type.String(), name: Name, namespace: Type.Optional(Name) }, Strict)),
}, Strict);

// ---------------------------------------------------------------- Gateway
const RouteGroupKind = Type.Object({ group: Type.Optional(Type.String()), kind: Type.String({ minLength: 1 }) }, Strict);

export const Listener = Type.Object({
  name: SectionName,
  hostname: Type.Optional(Hostname),
  port: Port,
  protocol: Type.String({ minLength: 1, description: 'HTTP, HTTPS, TLS, TCP or UDP' }),
  tls: Type.Optional(Type.Object({
    mode: Type.Optional(Type.Union([Type.Literal('Terminate'), Type.Literal('Passthrough')])),
    certificateRefs: Type.Optional(Type.Array(SecretObjectReference, { maxItems: 64 })),
    options: Type.Optional(Type.Record(Type.String(), Type.String())),
  }, Strict)),
  allowedRoutes: Type.Optional(Type.Object({
    namespaces: Type.Optional(Type.Object({
      from: Type.Optional(Type.Union([Type.Literal('Same'), Type.Literal('All'), Type.Literal('Selector')])),
      selector: Type.Optional(LabelSelector),
    }, Strict)),
    kinds: Type.Optional(Type.Array(RouteGroupKind, { maxItems: 8 })),
  }, Strict)),
}, Strict);

const FrontendTls = Type.Object({
  validation: Type.Optional(Type.Object({
    caCertificateRefs: Type.Array(Type.Object({ group: Type.Optional(Type.String()), kind: Type.String({ minLength: 1 }), name: Name, namespace: Type.Optional(Name) }, Strict), { minItems: 1, maxItems: 16 }),
    mode: Type.Optional(Type.Union([Type.Literal('AllowValidOnly'), Type.Literal('AllowInsecureFallback')])),
  }, Strict)),
}, Strict);

export const GatewaySpec = Type.Object({
  gatewayClassName: Type.String({ minLength: 1 }),
  listeners: Type.Array(Listener, { minItems: 1, maxItems: 64 }),
  addresses: Type.Optional(Type.Array(Type.Object({
    type: Type.Optional(Type.String()),
    value: Type.String({ minLength: 1 }),
  }, Strict), { maxItems: 16 })),
  infrastructure: Type.Optional(Type.Object({
    labels: Type.Optional(Labels),
    annotations: Type.Optional(Labels),
  }, Strict)),
  // Gateway API v1.5 frontend TLS validation (client mTLS), per port because of HTTP/2 coalescing.
  tls: Type.Optional(Type.Object({
    frontend: Type.Optional(Type.Object({
      default: Type.Optional(FrontendTls),
      perPort: Type.Optional(Type.Array(Type.Object({ port: Port, tls: FrontendTls }, Strict), { maxItems: 64 })),
    }, Strict)),
    // Gateway API v1.5 (GEP-3155): the client certificate presented to backends that a
    // BackendTLSPolicy puts behind TLS (upstream mTLS). A kubernetes.io/tls Secret.
    backend: Type.Optional(Type.Object({ clientCertificateRef: Type.Optional(SecretObjectReference) }, Strict)),
  }, Strict)),
}, Strict);

// ---------------------------------------------------------------- HTTPRoute
export const ParentReference = Type.Object({
  group: Type.Optional(Type.String()),
  kind: Type.Optional(Type.String()),
  namespace: Type.Optional(Name),
  name: Name,
  sectionName: Type.Optional(SectionName),
  port: Type.Optional(Port),
}, Strict);

const HeaderName = Type.String({ minLength: 1, maxLength: 256, pattern: '^[A-Za-z0-9!#$%&\'*+\\-.^_`|~]+$' });
// A field value Node will write (RFC 9110 field-value: visible ASCII, SP, HTAB, obs-text): a CR,
// LF or other control byte is refused here, not met at request time as ERR_INVALID_CHAR.
const HeaderValue = Type.String({ maxLength: 4096, pattern: '^[\\t\\x20-\\x7e\\x80-\\xff]*$', description: 'no control characters (CR, LF, NUL ...): visible ASCII, space, tab, or bytes 0x80-0xFF' });
const HTTPHeader = Type.Object({ name: HeaderName, value: HeaderValue }, Strict);
const HeaderModifier = Type.Object({
  set: Type.Optional(Type.Array(HTTPHeader, { maxItems: 16 })),
  add: Type.Optional(Type.Array(HTTPHeader, { maxItems: 16 })),
  remove: Type.Optional(Type.Array(HeaderName, { maxItems: 16 })),
}, Strict);

const PathModifier = Type.Object({
  type: Type.Union([Type.Literal('ReplaceFullPath'), Type.Literal('ReplacePrefixMatch')]),
  replaceFullPath: Type.Optional(Type.String({ maxLength: 1024 })),
  replacePrefixMatch: Type.Optional(Type.String({ maxLength: 1024 })),
}, Strict);

export const BackendObjectReference = Type.Object({
  group: Type.Optional(Type.String()),
  kind: Type.Optional(Type.String()),
  name: Name,
  namespace: Type.Optional(Name),
  port: Type.Optional(Port),
}, Strict);

const HTTP_METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'CONNECT', 'OPTIONS', 'TRACE', 'PATCH'];
const CORSOrigin = Type.String({ minLength: 1, maxLength: 253, description: 'an origin, http(s)://host[:port]; the host may start with a "*." wildcard label (https://*.example.com); "*" alone allows every origin' });

const LocalObjectReference = Type.Object({ group: Type.String(), kind: Type.String({ minLength: 1 }), name: Name }, Strict);

export const HTTPRouteFilter = Type.Object({
  type: Type.Union(['RequestHeaderModifier', 'ResponseHeaderModifier', 'RequestRedirect', 'URLRewrite', 'RequestMirror', 'CORS', 'ExtensionRef'].map((t) => Type.Literal(t))),
  requestHeaderModifier: Type.Optional(HeaderModifier),
  responseHeaderModifier: Type.Optional(HeaderModifier),
  requestRedirect: Type.Optional(Type.Object({
    scheme: Type.Optional(Type.Union([Type.Literal('http'), Type.Literal('https')])),
    hostname: Type.Optional(Hostname),
    path: Type.Optional(PathModifier),
    port: Type.Optional(Port),
    statusCode: Type.Optional(Type.Union([301, 302, 303, 307, 308].map((c) => Type.Literal(c)))),
  }, Strict)),
  urlRewrite: Type.Optional(Type.Object({ hostname: Type.Optional(Hostname), path: Type.Optional(PathModifier) }, Strict)),
  requestMirror: Type.Optional(Type.Object({
    backendRef: BackendObjectReference,
    percent: Type.Optional(Type.Integer({ minimum: 0, maximum: 100 })),
    fraction: Type.Optional(Type.Object({ numerator: Type.Integer({ minimum: 0 }), denominator: Type.Optional(Type.Integer({ minimum: 1 })) }, Strict)),
  }, Strict)),
  // Gateway API HTTPCORSFilter (v1.5). The origins' form is checked in src/config/cors.ts, where
  // a mistake gets a message that says what is wrong with it rather than a pattern.
  cors: Type.Optional(Type.Object({
    allowOrigins: Type.Optional(Type.Array(CORSOrigin, { maxItems: 64 })),
    allowCredentials: Type.Optional(Type.Boolean({ description: 'send Access-Control-Allow-Credentials: true (cookies and HTTP authentication on cross-origin requests)' })),
    allowMethods: Type.Optional(Type.Array(Type.Union([...HTTP_METHODS, '*'].map((m) => Type.Literal(m))), { maxItems: 9 })),
    allowHeaders: Type.Optional(Type.Array(HeaderName, { maxItems: 64 })),
    exposeHeaders: Type.Optional(Type.Array(HeaderName, { maxItems: 64 })),
    maxAge: Type.Optional(Type.Integer({ minimum: 1, maximum: 2147483647, description: 'seconds a browser may cache a preflight answer (default 5)' })),
  }, Strict)),
  extensionRef: Type.Optional(LocalObjectReference),
}, Strict);

export const HTTPRouteMatch = Type.Object({
  path: Type.Optional(Type.Object({
    type: Type.Optional(Type.Union([Type.Literal('Exact'), Type.Literal('PathPrefix'), Type.Literal('RegularExpression')])),
    value: Type.Optional(Type.String({ maxLength: 1024 })),
  }, Strict)),
  headers: Type.Optional(Type.Array(Type.Object({
    type: Type.Optional(Type.Union([Type.Literal('Exact'), Type.Literal('RegularExpression')])),
    name: HeaderName,
    value: Type.String({ maxLength: 4096 }),
  }, Strict), { maxItems: 16 })),
  queryParams: Type.Optional(Type.Array(Type.Object({
    type: Type.Optional(Type.Union([Type.Literal('Exact'), Type.Literal('RegularExpression')])),
    name: Type.String({ minLength: 1, maxLength: 256 }),
    value: Type.String({ maxLength: 1024 }),
  }, Strict), { maxItems: 16 })),
  method: Type.Optional(Type.Union(HTTP_METHODS.map((m) => Type.Literal(m)))),
}, Strict);

/** The fields of a Gateway API BackendRef (TLSRoute's as is; HTTPRoute's adds filters). */
const BACKEND_REF_FIELDS = {
  group: Type.Optional(Type.String()),
  kind: Type.Optional(Type.String()),
  name: Name,
  namespace: Type.Optional(Name),
  port: Type.Optional(Port),
  weight: Type.Optional(Type.Integer({ minimum: 0, maximum: 1000000 })),
};

export const HTTPBackendRef = Type.Object({
  ...BACKEND_REF_FIELDS,
  filters: Type.Optional(Type.Array(HTTPRouteFilter, { maxItems: 16 })),
}, Strict);

export const HTTPRouteRule = Type.Object({
  name: Type.Optional(SectionName),
  matches: Type.Optional(Type.Array(HTTPRouteMatch, { maxItems: 64 })),
  filters: Type.Optional(Type.Array(HTTPRouteFilter, { maxItems: 16 })),
  backendRefs: Type.Optional(Type.Array(HTTPBackendRef, { maxItems: 16 })),
  timeouts: Type.Optional(Type.Object({ request: Type.Optional(Duration), backendRequest: Type.Optional(Duration) }, Strict)),
  retry: Type.Optional(Type.Object({
    codes: Type.Optional(Type.Array(Type.Integer({ minimum: 400, maximum: 599 }))),
    attempts: Type.Optional(Type.Integer({ minimum: 0 })),
    backoff: Type.Optional(Duration),
  }, Strict)),
  sessionPersistence: Type.Optional(Type.Object({
    sessionName: Type.Optional(Type.String({ maxLength: 128 })),
    absoluteTimeout: Type.Optional(Duration),
    type: Type.Optional(Type.Union([Type.Literal('Cookie'), Type.Literal('Header')])),
    cookieConfig: Type.Optional(Type.Object({ lifetimeType: Type.Optional(Type.Union([Type.Literal('Session'), Type.Literal('Permanent')])) }, Strict)),
  }, Strict)),
}, Strict);

export const HTTPRouteSpec = Type.Object({
  parentRefs: Type.Optional(Type.Array(ParentReference, { maxItems: 32 })),
  hostnames: Type.Optional(Type.Array(Hostname, { maxItems: 16 })),
  rules: Type.Optional(Type.Array(HTTPRouteRule, { maxItems: 16 })),
}, Strict);

// ---------------------------------------------------------------- GRPCRoute
export const GRPCRouteMatch = Type.Object({
  method: Type.Optional(Type.Object({
    type: Type.Optional(Type.Union([Type.Literal('Exact'), Type.Literal('RegularExpression')])),
    service: Type.Optional(Type.String({ maxLength: 1024 })),
    method: Type.Optional(Type.String({ maxLength: 1024 })),
  }, Strict)),
  headers: Type.Optional(Type.Array(Type.Object({
    type: Type.Optional(Type.Union([Type.Literal('Exact'), Type.Literal('RegularExpression')])),
    name: HeaderName,
    value: Type.String({ maxLength: 4096 }),
  }, Strict), { maxItems: 16 })),
}, Strict);

export const GRPCRouteSpec = Type.Object({
  parentRefs: Type.Optional(Type.Array(ParentReference, { maxItems: 32 })),
  hostnames: Type.Optional(Type.Array(Hostname, { maxItems: 16 })),
  rules: Type.Optional(Type.Array(Type.Object({
    name: Type.Optional(SectionName),
    matches: Type.Optional(Type.Array(GRPCRouteMatch, { maxItems: 64 })),
    filters: Type.Optional(Type.Array(HTTPRouteFilter, { maxItems: 16 })),
    backendRefs: Type.Optional(Type.Array(HTTPBackendRef, { maxItems: 16 })),
  }, Strict), { maxItems: 16 })),
}, Strict);

// ---------------------------------------------------------------- TLSRoute
// SNI routing for TLS listeners in Passthrough mode (src/tls). v1 (Gateway API v1.5) requires
// hostnames and exactly one rule; v1alpha2 documents load too (checked in src/tls/semantic.ts).
export const TLSRouteSpec = Type.Object({
  parentRefs: Type.Optional(Type.Array(ParentReference, { maxItems: 32 })),
  hostnames: Type.Optional(Type.Array(Hostname, { maxItems: 1024, description: 'SNI names this route serves (exact or *.suffix)' })),
  rules: Type.Array(Type.Object({
    name: Type.Optional(SectionName),
    backendRefs: Type.Array(Type.Object(BACKEND_REF_FIELDS, Strict), { minItems: 1, maxItems: 16 }),
  }, Strict), { minItems: 1, maxItems: 16 }),
}, Strict);

// ---------------------------------------------------------------- ReferenceGrant, Namespace
export const ReferenceGrantSpec = Type.Object({
  from: Type.Array(Type.Object({ group: Type.String(), kind: Type.String({ minLength: 1 }), namespace: Name }, Strict), { minItems: 1, maxItems: 16 }),
  to: Type.Array(Type.Object({ group: Type.String(), kind: Type.String({ minLength: 1 }), name: Type.Optional(Name) }, Strict), { minItems: 1, maxItems: 16 }),
}, Strict);

// ---------------------------------------------------------------- portcullis.dev Backend
export const BackendSpec = Type.Object({
  endpoints: Type.Array(Type.Object({
    address: Type.String({ minLength: 1, maxLength: 253, description: 'IP address or hostname' }),
    port: Type.Optional(Port),
    weight: Type.Optional(Type.Integer({ minimum: 0, maximum: 1000000, description: 'relative share of traffic (default 1)' })),
  }, Strict), { minItems: 1, maxItems: 1024 }),
  appProtocol: Type.Optional(Type.Union([Type.Literal('http'), Type.Literal('h2c')], { description: 'how to speak to the endpoints: http (HTTP/1.1, default) or h2c (HTTP/2 cleartext, e.g. gRPC servers; behind a BackendTLSPolicy: HTTP/2 offered by ALPN). GRPCRoute backends always use HTTP/2.' })),
}, Strict);

// ---------------------------------------------------------------- portcullis.dev BackendTrafficPolicy
// How traffic reaches a Backend's endpoints: load balancing, health, retries, circuit breaking,
// connection settings. Field names follow Envoy Gateway's BackendTrafficPolicy where it has one,
// so a user of Envoy Gateway reads it without a manual. Attached by targetRefs to Backends.
const TargetRef = Type.Object({ group: Type.String(), kind: Type.String({ minLength: 1 }), name: Name, sectionName: Type.Optional(SectionName) }, Strict);
export const BackendTrafficPolicySpec = Type.Object({
  targetRefs: Type.Array(TargetRef, { minItems: 1, maxItems: 16 }),
  loadBalancer: Type.Optional(Type.Object({
    type: Type.Union([Type.Literal('RoundRobin'), Type.Literal('Random'), Type.Literal('LeastRequest'), Type.Literal('ConsistentHash')]),
    consistentHash: Type.Optional(Type.Object({
      type: Type.Union([Type.Literal('SourceIP'), Type.Literal('Header'), Type.Literal('Cookie')]),
      header: Type.Optional(Type.Object({ name: HeaderName }, Strict)),
      cookie: Type.Optional(Type.Object({ name: Type.String({ minLength: 1, maxLength: 256 }) }, Strict)),
      algorithm: Type.Optional(Type.Union([Type.Literal('Maglev'), Type.Literal('RingHash')], { description: 'default Maglev' })),
    }, Strict)),
  }, Strict)),
  healthCheck: Type.Optional(Type.Object({
    active: Type.Optional(Type.Object({
      type: Type.Union([Type.Literal('HTTP'), Type.Literal('TCP')]),
      interval: Type.Optional(Duration),
      timeout: Type.Optional(Duration),
      healthyThreshold: Type.Optional(Type.Integer({ minimum: 1 })),
      unhealthyThreshold: Type.Optional(Type.Integer({ minimum: 1 })),
      http: Type.Optional(Type.Object({
        path: Type.String({ minLength: 1, pattern: '^/' }),
        method: Type.Optional(Type.String()),
        hostname: Type.Optional(Type.String()),
        expectedStatuses: Type.Optional(Type.Array(Type.Integer({ minimum: 100, maximum: 599 }))),
      }, Strict)),
    }, Strict)),
    passive: Type.Optional(Type.Object({
      consecutive5XxErrors: Type.Optional(Type.Integer({ minimum: 0 })),
      consecutiveLocalOriginFailures: Type.Optional(Type.Integer({ minimum: 0 })),
      interval: Type.Optional(Duration),
      baseEjectionTime: Type.Optional(Duration),
      maxEjectionTime: Type.Optional(Duration),
      maxEjectionPercent: Type.Optional(Type.Integer({ minimum: 0, maximum: 100 })),
    }, Strict)),
    panicThreshold: Type.Optional(Type.Integer({ minimum: 0, maximum: 100, description: 'percent of healthy endpoints below which all are used (default 50)' })),
  }, Strict)),
  retry: Type.Optional(Type.Object({
    numRetries: Type.Optional(Type.Integer({ minimum: 0, maximum: 10 })),
    retryOn: Type.Optional(Type.Object({
      triggers: Type.Optional(Type.Array(Type.Union(['connect-failure', 'reset', 'gateway-error', 'per-try-timeout', 'retriable-status-codes'].map((t) => Type.Literal(t))))),
      httpStatusCodes: Type.Optional(Type.Array(Type.Integer({ minimum: 400, maximum: 599 }))),
    }, Strict)),
    perRetry: Type.Optional(Type.Object({
      backOff: Type.Optional(Type.Object({ baseInterval: Type.Optional(Duration), maxInterval: Type.Optional(Duration) }, Strict)),
      timeout: Type.Optional(Duration),
    }, Strict)),
    budgetPercent: Type.Optional(Type.Integer({ minimum: 0, maximum: 100 })),
  }, Strict)),
  circuitBreaker: Type.Optional(Type.Object({
    maxConnections: Type.Optional(Type.Integer({ minimum: 1 })),
    maxPendingRequests: Type.Optional(Type.Integer({ minimum: 1 })),
    maxParallelRequests: Type.Optional(Type.Integer({ minimum: 1 })),
    maxParallelRetries: Type.Optional(Type.Integer({ minimum: 1 })),
  }, Strict)),
  timeout: Type.Optional(Type.Object({
    connect: Type.Optional(Duration),
    idle: Type.Optional(Duration),
  }, Strict)),
}, Strict);

// ---------------------------------------------------------------- BackendTLSPolicy (Gateway API v1, since v1.4)
// TLS from the gateway to a Backend: SNI and the name verified (validation.hostname), the trust
// anchors (caCertificateRefs XOR wellKnownCACertificates), optional subjectAltNames that replace
// the hostname check. See docs/backend-tls.md.
export const BackendTLSPolicySpec = Type.Object({
  targetRefs: Type.Array(TargetRef, { minItems: 1, maxItems: 16 }),
  validation: Type.Object({
    caCertificateRefs: Type.Optional(Type.Array(LocalObjectReference, { maxItems: 8, description: 'ConfigMaps (or Secrets) with a PEM bundle under ca.crt' })),
    wellKnownCACertificates: Type.Optional(Type.Literal('System', { description: "trust Node's bundled public roots" })),
    hostname: Type.String({ minLength: 1, maxLength: 253, pattern: '^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$', description: 'sent as SNI and, without subjectAltNames, the name the certificate must carry' }),
    subjectAltNames: Type.Optional(Type.Array(Type.Object({
      type: Type.Union([Type.Literal('Hostname'), Type.Literal('URI')]),
      hostname: Type.Optional(Hostname),
      uri: Type.Optional(Type.String({ minLength: 1, maxLength: 253, description: 'an absolute URI, e.g. a SPIFFE ID spiffe://example.org/ns/prod/sa/api' })),
    }, Strict), { maxItems: 5 })),
  }, Strict),
  options: Type.Optional(Type.Record(Type.String(), Type.String(), { description: 'portcullis.dev/min-tls-version: TLSv1.2 (default) or TLSv1.3' })),
}, Strict);

// ---------------------------------------------------------------- portcullis.dev ClientTrafficPolicy
// How the gateway treats the client side of a Gateway's connections (Envoy Gateway's name and
// shape): which proxies in front of it are trusted to report the client address.
export const ClientTrafficPolicySpec = Type.Object({
  targetRefs: Type.Array(TargetRef, { minItems: 1, maxItems: 16 }),
  clientIPDetection: Type.Optional(Type.Object({
    xForwardedFor: Type.Optional(Type.Object({
      trustedCIDRs: Type.Array(Type.String({ minLength: 2, description: 'an IPv4 or IPv6 CIDR, e.g. 10.0.0.0/8' }), { minItems: 1, maxItems: 256 }),
    }, Strict)),
  }, Strict)),
  headers: Type.Optional(Type.Object({
    forwarded: Type.Optional(Type.Boolean({ description: 'also send the RFC 7239 Forwarded header (default false)' })),
    xForwardedClientCert: Type.Optional(Type.Object({
      mode: Type.Union([Type.Literal('Sanitize'), Type.Literal('SanitizeSet')], { description: 'Sanitize (default): drop it; SanitizeSet: replace it with the verified client certificate' }),
    }, Strict)),
  }, Strict)),
  // HTTP Strict Transport Security (RFC 6797) on the Gateway's HTTPS listeners only (docs/tls.md).
  hsts: Type.Optional(Type.Object({
    maxAge: Type.Integer({ minimum: 0, maximum: 2 ** 31 - 1, description: 'seconds browsers remember to use HTTPS only (31536000 = 1 year; 0 tells them to forget)' }),
    includeSubDomains: Type.Optional(Type.Boolean({ description: 'also every subdomain of the host (default false)' })),
    preload: Type.Optional(Type.Boolean({ description: 'ask for the browsers\' preload list (default false): needs maxAge >= 31536000 and includeSubDomains' })),
  }, Strict)),
}, Strict);

// ---------------------------------------------------------------- portcullis.dev WafPolicy
// The WAF (src/waf: SecLang, runs the OWASP CRS v4 unchanged) on a Gateway, an HTTPRoute, or one
// rule of a route (sectionName = the rule's name). The most specific policy applies.
export const WafPolicySpec = Type.Object({
  targetRefs: Type.Array(TargetRef, { minItems: 1, maxItems: 16 }),
  ruleSet: Type.Object({
    crsDir: Type.Optional(Type.String({ minLength: 1, description: 'an OWASP CRS directory (crs-setup.conf(.example) + rules/); relative to this file' })),
    files: Type.Optional(Type.Array(Type.String({ minLength: 1 }), { description: 'more SecLang files, loaded after the CRS; relative to this file' })),
    directives: Type.Optional(Type.String({ description: 'inline SecLang loaded last' })),
  }, Strict),
  paranoiaLevel: Type.Optional(Type.Integer({ minimum: 1, maximum: 4, description: 'CRS blocking paranoia level (default 1)' })),
  detectionParanoiaLevel: Type.Optional(Type.Integer({ minimum: 1, maximum: 4 })),
  rememberVerdicts: Type.Optional(Type.Boolean({ description: 'remember across requests which argument, header and cookie names and non-secret header values (Host, User-Agent, Accept...) the rules found clean, and skip them from then on (default true; docs/waf.md)' })),
  anomalyThreshold: Type.Optional(Type.Object({
    inbound: Type.Optional(Type.Integer({ minimum: 1 })),
    outbound: Type.Optional(Type.Integer({ minimum: 1 })),
  }, Strict)),
  mode: Type.Optional(Type.Union([Type.Literal('Block'), Type.Literal('DetectionOnly')], { description: 'Block (default): matches over the threshold get 403; DetectionOnly: log only' })),
  exclusions: Type.Optional(Type.Array(Type.Object({
    ruleIds: Type.Optional(Type.Array(Type.Integer({ minimum: 1 }))),
    tags: Type.Optional(Type.Array(Type.String({ minLength: 1 }))),
    targets: Type.Optional(Type.Array(Type.String({ minLength: 1, description: 'e.g. ARGS:password, REQUEST_COOKIES:/^sess/' }))),
  }, Strict), { maxItems: 256 })),
  requestBody: Type.Optional(Type.Object({
    inspect: Type.Optional(Type.Boolean({ description: 'inspect request bodies (default true); they are buffered up to the limit' })),
    limit: Type.Optional(Type.Integer({ minimum: 1024, maximum: 64 * 1024 * 1024, description: 'bytes (default 1 MiB); larger bodies are refused with 413' })),
  }, Strict)),
  responseBody: Type.Optional(Type.Object({
    inspect: Type.Optional(Type.Boolean({ description: 'inspect response bodies with the outbound rules (default false): a response of one of mimeTypes is held until its first `limit` bytes are in' })),
    limit: Type.Optional(Type.Integer({ minimum: 1024, maximum: 16 * 1024 * 1024, description: 'bytes inspected (default 512 KiB, as ModSecurity); the rest of a larger body is not inspected (ProcessPartial)' })),
    mimeTypes: Type.Optional(Type.Array(Type.String({ minLength: 3, pattern: '^[A-Za-z0-9!#$&^_.+-]+/[A-Za-z0-9!#$&^_.+-]+$' }), { minItems: 1, maxItems: 32, description: 'Content-Types whose bodies are inspected (default text/plain, text/html, text/xml, application/json)' })),
  }, Strict)),
}, Strict);

// ---------------------------------------------------------------- portcullis.dev Issuer, Certificate
// Certificate lifecycle, shaped like cert-manager's (cert-manager.io/v1) so Kubernetes users
// recognise it; see docs/certificates.md. Semantics live in src/certs/config.ts.
// (the spec schemas are in src/certs/schema.ts)

// ---------------------------------------------------------------- documents
function doc<K extends string, S extends TSchema>(apiVersion: string, kind: K, spec: S) {
  return Type.Object({
    apiVersion: Type.Literal(apiVersion),
    kind: Type.Literal(kind),
    metadata: Metadata,
    spec,
    // Status is written by Portcullis, never read: accepted so that `kubectl get -o yaml` output loads.
    status: Type.Optional(Type.Unknown()),
  }, { ...Strict, title: kind });
}

export const GatewayClassDoc = doc(GATEWAY_API_VERSION, 'GatewayClass', GatewayClassSpec);
export const GatewayDoc = doc(GATEWAY_API_VERSION, 'Gateway', GatewaySpec);
export const HTTPRouteDoc = doc(GATEWAY_API_VERSION, 'HTTPRoute', HTTPRouteSpec);
export const GRPCRouteDoc = doc(GATEWAY_API_VERSION, 'GRPCRoute', GRPCRouteSpec);
export const TLSRouteDoc = doc(GATEWAY_API_VERSION, 'TLSRoute', TLSRouteSpec);
export const ReferenceGrantDoc = doc(`${GATEWAY_GROUP}/v1beta1`, 'ReferenceGrant', ReferenceGrantSpec);
export const NamespaceDoc = Type.Object({
  apiVersion: Type.Literal('v1'),
  kind: Type.Literal('Namespace'),
  metadata: Metadata,
  spec: Type.Optional(Type.Object({}, Strict)),
  status: Type.Optional(Type.Unknown()),
}, { ...Strict, title: 'Namespace' });
export const BackendDoc = doc(PORTCULLIS_API_VERSION, 'Backend', BackendSpec);
// A Kubernetes Secret of type kubernetes.io/tls: what listener certificateRefs point at.
// `data` is base64 as in Kubernetes; `stringData` takes the PEM as is.
export const ConfigMapDoc = Type.Object({
  apiVersion: Type.Literal('v1'),
  kind: Type.Literal('ConfigMap'),
  metadata: Metadata,
  data: Type.Optional(Type.Record(Type.String(), Type.String())),
}, { ...Strict, title: 'ConfigMap' });
export const SecretDoc = Type.Object({
  apiVersion: Type.Literal('v1'),
  kind: Type.Literal('Secret'),
  metadata: Metadata,
  type: Type.Optional(Type.String()),
  data: Type.Optional(Type.Record(Type.String(), Type.String())),
  stringData: Type.Optional(Type.Record(Type.String(), Type.String())),
}, { ...Strict, title: 'Secret' });
export const BackendTrafficPolicyDoc = doc(PORTCULLIS_API_VERSION, 'BackendTrafficPolicy', BackendTrafficPolicySpec);
export const ClientTrafficPolicyDoc = doc(PORTCULLIS_API_VERSION, 'ClientTrafficPolicy', ClientTrafficPolicySpec);
export const WafPolicyDoc = doc(PORTCULLIS_API_VERSION, 'WafPolicy', WafPolicySpec);
export const BackendTLSPolicyDoc = doc(GATEWAY_API_VERSION, 'BackendTLSPolicy', BackendTLSPolicySpec);
export const IssuerDoc = doc(PORTCULLIS_API_VERSION, 'Issuer', IssuerSpec);
export const CertificateDoc = doc(PORTCULLIS_API_VERSION, 'Certificate', CertificateSpec);

/** Every kind Portcullis reads, keyed by `apiVersion kind`. One place to add a kind. */
export const KINDS = {
  GatewayClass: { apiVersions: [GATEWAY_API_VERSION], schema: GatewayClassDoc },
  Gateway: { apiVersions: [GATEWAY_API_VERSION], schema: GatewayDoc },
  HTTPRoute: { apiVersions: [GATEWAY_API_VERSION], schema: HTTPRouteDoc },
  GRPCRoute: { apiVersions: [GATEWAY_API_VERSION], schema: GRPCRouteDoc },
  // TLSRoute is v1 since Gateway API v1.5; v1alpha2 (and v1alpha3) are what older configs use.
  TLSRoute: { apiVersions: [GATEWAY_API_VERSION, `${GATEWAY_GROUP}/v1alpha2`, `${GATEWAY_GROUP}/v1alpha3`], schema: TLSRouteDoc },
  // ReferenceGrant is v1 since Gateway API v1.5; v1beta1 is still served.
  ReferenceGrant: { apiVersions: [`${GATEWAY_GROUP}/v1beta1`, GATEWAY_API_VERSION], schema: ReferenceGrantDoc },
  Namespace: { apiVersions: ['v1'], schema: NamespaceDoc },
  Secret: { apiVersions: ['v1'], schema: SecretDoc },
  ConfigMap: { apiVersions: ['v1'], schema: ConfigMapDoc },
  Backend: { apiVersions: [PORTCULLIS_API_VERSION], schema: BackendDoc },
  BackendTrafficPolicy: { apiVersions: [PORTCULLIS_API_VERSION], schema: BackendTrafficPolicyDoc },
  ClientTrafficPolicy: { apiVersions: [PORTCULLIS_API_VERSION], schema: ClientTrafficPolicyDoc },
  WafPolicy: { apiVersions: [PORTCULLIS_API_VERSION], schema: WafPolicyDoc },
  // v1 since Gateway API v1.4; v1alpha3 is the same shape.
  BackendTLSPolicy: { apiVersions: [GATEWAY_API_VERSION, `${GATEWAY_GROUP}/v1alpha3`], schema: BackendTLSPolicyDoc },
  Issuer: { apiVersions: [PORTCULLIS_API_VERSION], schema: IssuerDoc },
  Certificate: { apiVersions: [PORTCULLIS_API_VERSION], schema: CertificateDoc },
} as const satisfies Record<string, { apiVersions: readonly string[]; schema: TSchema }>;
export type KindName = keyof typeof KINDS;

export type MetadataT = Static<typeof Metadata>;
export type GatewayClassT = Static<typeof GatewayClassDoc>;
export type GatewayT = Static<typeof GatewayDoc>;
export type ListenerT = Static<typeof Listener>;
export type HTTPRouteT = Static<typeof HTTPRouteDoc>;
export type GRPCRouteT = Static<typeof GRPCRouteDoc>;
export type TLSRouteT = Static<typeof TLSRouteDoc>;
export type HTTPRouteRuleT = Static<typeof HTTPRouteRule>;
export type HTTPRouteMatchT = Static<typeof HTTPRouteMatch>;
export type HTTPRouteFilterT = Static<typeof HTTPRouteFilter>;
export type HTTPBackendRefT = Static<typeof HTTPBackendRef>;
export type ParentReferenceT = Static<typeof ParentReference>;
export type ReferenceGrantT = Static<typeof ReferenceGrantDoc>;
export type NamespaceT = Static<typeof NamespaceDoc>;
export type BackendT = Static<typeof BackendDoc>;
export type SecretT = Static<typeof SecretDoc>;
export type ConfigMapT = Static<typeof ConfigMapDoc>;
export type BackendTrafficPolicyT = Static<typeof BackendTrafficPolicyDoc>;
export type ClientTrafficPolicyT = Static<typeof ClientTrafficPolicyDoc>;
export type WafPolicyT = Static<typeof WafPolicyDoc>;
export type BackendTLSPolicyT = Static<typeof BackendTLSPolicyDoc>;
export type IssuerT = Static<typeof IssuerDoc>;
export type CertificateT = Static<typeof CertificateDoc>;

/**
 * The JSON Schema a YAML editor uses (yaml-language-server, VS Code's YAML extension): one
 * document is any of the kinds, chosen by `kind` so that completion inside `spec` works.
 */
export function editorJsonSchema(): Record<string, unknown> {
  const defs: Record<string, unknown> = {};
  const branches: unknown[] = [];
  for (const [kind, k] of Object.entries(KINDS)) {
    const schema = structuredClone(k.schema) as Record<string, any>;
    schema.properties.apiVersion = { type: 'string', enum: [...k.apiVersions] };
    defs[kind] = schema;
    branches.push({ if: { properties: { kind: { const: kind } }, required: ['kind'] }, then: { $ref: `#/$defs/${kind}` } });
  }
  return {
    $schema: 'https://json-schema.org/draft/2020-12/schema',
    $id: 'https://portcullis.dev/schemas/config.json',
    title: 'Portcullis configuration document',
    type: 'object',
    required: ['apiVersion', 'kind', 'metadata'],
    properties: { kind: { enum: Object.keys(KINDS) } },
    allOf: branches,
    $defs: defs,
  };
}
