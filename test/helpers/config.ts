// YAML building blocks shared by the integration tests (each test writes the rest of its config).

/** A Gateway named `name` bound to 127.0.0.1 with one HTTP listener on `port`. */
export function gatewayYaml(port: number, name = 'gw'): string {
  return `apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: { name: ${name}, namespace: default }
spec:
  gatewayClassName: portcullis
  addresses: [{ type: IPAddress, value: 127.0.0.1 }]
  listeners: [{ name: http, protocol: HTTP, port: ${port} }]`;
}

/** A Backend with loopback endpoints on `ports`. */
export function backendYaml(name: string, ports: number[]): string {
  return `apiVersion: portcullis.dev/v1alpha1
kind: Backend
metadata: { name: ${name}, namespace: default }
spec: { endpoints: [${ports.map((p) => `{ address: 127.0.0.1, port: ${p} }`).join(', ')}] }`;
}
