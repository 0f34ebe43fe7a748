// Node's own HTTP/1.1 parser (llhttp), the very binding node:http parses requests with.
//
// Why an internal module: `_http_common` is not a documented API, but it is the only way to reach
// llhttp from JavaScript without a native addon or a second parser. Using it means the request
// parsing of the fast server (src/dataplane/h1/server.ts) is byte for byte the parsing node:http
// does: the same strictness against request smuggling (conflicting Content-Length and
// Transfer-Encoding, two Content-Lengths, bad bytes in header names and values, obs-fold, bare LF,
// data after `Connection: close`), the same maxHeaderSize accounting (done in Node's C++), the
// same error codes (HPE_...). A JavaScript parser of our own would be a second implementation to
// keep in step with llhttp's security fixes; this one gets them with every Node update.
//
// The price is that the binding's shape may change between Node versions. Node is pinned (the
// `node` dependency in package.json, DESIGN.md §2), and this module checks the shape it relies
// on at load time, so a Node that differs fails at start-up with a clear message instead of
// misparsing. `PORTCULLIS_HTTP1=node` selects node:http instead (see gateway.ts).
import { createRequire } from 'node:module';

export interface ParseError extends Error { code: string; reason?: string; bytesParsed?: number; rawPacket?: Buffer }

/** The parser object of Node's `http_parser` binding (node_http_parser.cc), as this server uses it. */
export interface LlhttpParser {
  initialize(type: number, resource: object, maxHeaderSize: number, lenientFlags: number): void;
  /** Bytes consumed, or the parse error (an Error with code HPE_...). */
  execute(data: Buffer): number | ParseError;
  /** At the end of input: an error if a message was cut short. */
  finish(): number | ParseError | undefined;
  close(): void;
  free(): void;
  remove(): void;
  getCurrentBuffer(): Buffer;
  [slot: number]: unknown;
}

interface ParserClass {
  new (): LlhttpParser;
  readonly REQUEST: number;
  readonly kOnMessageBegin: number;
  readonly kOnHeaders: number;
  readonly kOnHeadersComplete: number;
  readonly kOnBody: number;
  readonly kOnMessageComplete: number;
  readonly kOnExecute: number;
  readonly kLenientNone: number;
}

const common = createRequire(import.meta.url)('_http_common') as { HTTPParser?: ParserClass; methods?: string[] };
const P = common.HTTPParser;
if (typeof P !== 'function' || typeof P.prototype.execute !== 'function' || typeof P.prototype.initialize !== 'function' ||
    P.kOnMessageBegin !== 0 || P.kOnHeaders !== 1 || P.kOnHeadersComplete !== 2 || P.kOnBody !== 3 || P.kOnMessageComplete !== 4 ||
    P.kLenientNone !== 0 || !Array.isArray(common.methods) || common.methods.length !== 35 || common.methods[34] !== 'QUERY' || common.methods[1] !== 'GET') {
  throw new Error(`Node ${process.version}: its internal HTTP parser binding is not the one src/dataplane/h1 was written for; run the pinned Node (package.json) or set PORTCULLIS_HTTP1=node`);
}
export const HTTPParser: ParserClass = P;

export const K_ON_MESSAGE_BEGIN = 0;
export const K_ON_HEADERS = 1;
export const K_ON_HEADERS_COMPLETE = 2;
export const K_ON_BODY = 3;
export const K_ON_MESSAGE_COMPLETE = 4;
/** Strict: no lenient flag at all, as node:http without insecureHTTPParser. */
export const LENIENT_NONE = 0;

/**
 * llhttp's method numbers (HTTP_ALL_METHOD_MAP, what node:http indexes as `allMethods`): the
 * binding exports only `methods` (HTTP_METHOD_MAP), which equals this table for 0..33 and then
 * jumps to QUERY (46). Checked above and by a test that parses every method.
 */
export const METHODS: readonly string[] = [
  ...common.methods.slice(0, 34),
  'PRI', 'DESCRIBE', 'ANNOUNCE', 'SETUP', 'PLAY', 'PAUSE', 'TEARDOWN', 'GET_PARAMETER', 'SET_PARAMETER', 'REDIRECT', 'RECORD', 'FLUSH',
  'QUERY',
];
