// GRPCRoute with a real gRPC server and client (@grpc/grpc-js): service/method matching, h2c to
// the upstream, trailers (grpc-status) relayed, gRPC statuses for gateway errors.
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { freePort, startGateway, tmpDir, type GatewayProc } from './helpers/cli.ts';
import { backendYaml, gatewayYaml } from './helpers/config.ts';

const json = { serialize: (v: unknown) => Buffer.from(JSON.stringify(v)), deserialize: (b: Buffer) => JSON.parse(b.toString()) };
const method = (path: string) => ({ path, requestStream: false, responseStream: false, requestSerialize: json.serialize, requestDeserialize: json.deserialize, responseSerialize: json.serialize, responseDeserialize: json.deserialize });

async function grpcServer(name: string): Promise<{ port: number; server: grpc.Server }> {
  const server = new grpc.Server();
  server.addService({ SayHello: method('/helloworld.Greeter/SayHello'), Fail: method('/helloworld.Greeter/Fail') } as grpc.ServiceDefinition, {
    SayHello: (call: grpc.ServerUnaryCall<{ name: string }, unknown>, cb: grpc.sendUnaryData<unknown>) => cb(null, { message: `hello ${call.request.name}`, from: name, authority: call.getPath() }),
    Fail: (_call: unknown, cb: grpc.sendUnaryData<unknown>) => cb({ code: grpc.status.FAILED_PRECONDITION, details: 'nope' } as grpc.ServiceError),
  });
  const port = await new Promise<number>((resolve, reject) => server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p))));
  return { port, server };
}

let gw: GatewayProc, port: number, client: grpc.Client;
const servers: grpc.Server[] = [];
before(async () => {
  const a = await grpcServer('greeter-a');
  const b = await grpcServer('greeter-b');
  servers.push(a.server, b.server);
  port = await freePort();
  const dir = tmpDir();
  fs.writeFileSync(path.join(dir, 'c.yaml'), `${gatewayYaml(port)}
---
apiVersion: gateway.networking.k8s.io/v1
kind: GRPCRoute
metadata: { name: greeter, namespace: default }
spec:
  parentRefs: [{ name: gw }]
  rules:
    - matches: [{ method: { service: helloworld.Greeter, method: SayHello }, headers: [{ name: x-canary, value: "yes" }] }]
      backendRefs: [{ group: portcullis.dev, kind: Backend, name: greeter-b }]
    - matches: [{ method: { service: helloworld.Greeter } }]
      backendRefs: [{ group: portcullis.dev, kind: Backend, name: greeter-a }]
---
${backendYaml('greeter-a', [a.port])}
---
${backendYaml('greeter-b', [b.port])}
`);
  gw = await startGateway(dir);
  client = new grpc.Client(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
});
after(async () => { client?.close(); await gw?.stop(); for (const s of servers) s.forceShutdown(); });

function call(path: string, req: unknown, md: Record<string, string> = {}): Promise<{ err: grpc.ServiceError | null; res: any }> {
  const meta = new grpc.Metadata();
  for (const [k, v] of Object.entries(md)) meta.set(k, v);
  return new Promise((resolve) => client.makeUnaryRequest(path, json.serialize, json.deserialize, req, meta, (err, res) => resolve({ err, res })));
}

test('GRPCRouteHeaderMatching: service/method and header matches pick the backend', async () => {
  const plain = await call('/helloworld.Greeter/SayHello', { name: 'ada' });
  assert.equal(plain.err, null);
  assert.deepEqual([plain.res.message, plain.res.from], ['hello ada', 'greeter-a']);
  const canary = await call('/helloworld.Greeter/SayHello', { name: 'bob' }, { 'x-canary': 'yes' });
  assert.equal(canary.res.from, 'greeter-b');
});

test('upstream gRPC status in trailers reaches the client', async () => {
  const r = await call('/helloworld.Greeter/Fail', {});
  assert.equal(r.err?.code, grpc.status.FAILED_PRECONDITION);
  assert.equal(r.err?.details, 'nope');
});

test('no matching GRPCRoute: UNIMPLEMENTED, not an HTTP 404', async () => {
  const r = await call('/other.Service/Do', {});
  assert.equal(r.err?.code, grpc.status.UNIMPLEMENTED);
});
