import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { REQUESTS, jsonOrder, luaString, wrkLua } from './requests.ts';

test('the JSON body is about 2 KB of valid JSON, and the request set is a bare GET, a GET with a query, a JSON POST and a form POST', () => {
  const j = jsonOrder();
  assert.ok(j.length >= 2000 && j.length < 2200, String(j.length));
  assert.equal(typeof JSON.parse(j), 'object');
  assert.deepEqual(REQUESTS.map((r) => `${r.key} ${r.method}`), ['min GET', 'get GET', 'json POST', 'form POST']);
  assert.match(REQUESTS[1].path, /\?.+=.+&/);
});

test('luaString escapes quotes, backslashes, control and non-ASCII bytes', () => {
  assert.equal(luaString('a"b\\c'), '"a\\034b\\092c"');
  assert.equal(luaString('x\r\ny'), '"x\\013\\010y"');
  assert.equal(luaString('é'), '"\\195\\169"');
  assert.equal(luaString('[[ ]] plain'), '"[[ ]] plain"');
});

const WRK = ['/usr/bin/wrk', '/usr/local/bin/wrk'].find((p) => fs.existsSync(p));

test('wrk sends exactly the request of each script (method, path, headers, body)', { skip: WRK ? false : 'wrk not installed (scripts/install-bench-tools.sh)' }, async () => {
  const seen = new Map<string, { method: string; url: string; headers: http.IncomingHttpHeaders; body: string }>();
  const srv = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const key = req.headers['x-which'] as string;
      if (!seen.has(key)) seen.set(key, { method: req.method!, url: req.url!, headers: req.headers, body: Buffer.concat(chunks).toString('utf8') });
      res.end('ok');
    });
  });
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const port = (srv.address() as { port: number }).port;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'waf-lua-'));
  try {
    for (const r of REQUESTS) {
      // a body with every awkward character, to check the escaping end to end
      const req = { ...r, headers: [...r.headers, ['X-Which', r.key]] as Array<[string, string]>, body: r.body ? r.body + '"\\ é\n' : '' };
      const file = path.join(dir, `${r.key}.lua`);
      fs.writeFileSync(file, wrkLua(req));
      // asynchronously: the server above runs on this event loop
      const w = await new Promise<{ code: number | null; out: string }>((resolve) => {
        execFile(WRK!, ['-t1', '-c1', '-d1s', '-s', file, `http://127.0.0.1:${port}`], { encoding: 'utf8', timeout: 20_000 }, (err, stdout, stderr) => {
          resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, out: `${stdout}${stderr}` });
        });
      });
      assert.equal(w.code, 0, w.out);
      assert.doesNotMatch(w.out, /error|Non-2xx/i, w.out);
      const got = seen.get(r.key);
      assert.ok(got, `no request with X-Which: ${r.key} arrived:\n${w.out}`);
      assert.equal(got.method, r.method);
      assert.equal(got.url, r.path);
      for (const [k, v] of r.headers) assert.equal(got.headers[k.toLowerCase()], v, k);
      assert.equal(got.body, req.body);
      if (r.body) assert.equal(got.headers['content-length'], String(Buffer.byteLength(req.body)));
    }
  } finally {
    srv.closeAllConnections();
    srv.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('--vary: every request wrk sends is a new client\'s (own User-Agent and path or query values), names and the rest unchanged', { skip: WRK ? false : 'wrk not installed (scripts/install-bench-tools.sh)' }, async () => {
  const seen: Array<{ url: string; ua: string | undefined; method: string; body: string; accept: string | undefined }> = [];
  const srv = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      seen.push({ url: req.url!, ua: req.headers['user-agent'], method: req.method!, body: Buffer.concat(chunks).toString('utf8'), accept: req.headers.accept });
      res.end('ok');
    });
  });
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const port = (srv.address() as { port: number }).port;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'waf-lua-'));
  try {
    for (const r of REQUESTS.filter((x) => x.key === 'get' || x.key === 'min' || x.key === 'form')) {
      seen.length = 0;
      const file = path.join(dir, `${r.key}.lua`);
      fs.writeFileSync(file, wrkLua(r, { vary: true }));
      const w = await new Promise<{ code: number | null; out: string }>((resolve) => {
        // two threads: their requests must not repeat each other's either
        execFile(WRK!, ['-t2', '-c2', '-d1s', '-s', file, `http://127.0.0.1:${port}`], { encoding: 'utf8', timeout: 20_000 }, (err, stdout, stderr) => {
          resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, out: `${stdout}${stderr}` });
        });
      });
      assert.equal(w.code, 0, w.out);
      assert.ok(seen.length > 20, `${r.key}: ${seen.length} requests`);
      assert.equal(new Set(seen.map((s) => s.url)).size, seen.length, `${r.key}: every path is new`);
      const ua = r.headers.find(([k]) => k === 'User-Agent')?.[1];
      if (ua) {
        assert.equal(new Set(seen.map((s) => s.ua)).size, seen.length, `${r.key}: every User-Agent is new`);
        for (const s of seen) assert.ok(s.ua!.startsWith(`${ua} client/`), s.ua);
      }
      const want = new URL(r.path, 'http://x');
      for (const s of seen) {
        const got = new URL(s.url, 'http://x');
        assert.equal(s.method, r.method);
        assert.equal(s.body, r.body, 'the body is the same');
        assert.equal(s.accept, r.headers.find(([k]) => k === 'Accept')?.[1], 'the other headers are the same');
        if (want.search) {
          assert.equal(got.pathname, want.pathname);
          assert.deepEqual([...got.searchParams.keys()], [...want.searchParams.keys()], 'the same argument names');
          for (const [k, v] of want.searchParams) assert.ok(got.searchParams.get(k)!.startsWith(v) && got.searchParams.get(k) !== v, `${k}=${got.searchParams.get(k)}`);
        } else assert.match(got.pathname, new RegExp(`^${want.pathname.replace(/\/$/, '')}/\\d+-\\d+$`));
      }
    }
  } finally {
    srv.closeAllConnections();
    srv.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
