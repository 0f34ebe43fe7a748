import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import net from 'node:net';
import { freePort, holdCpusAwake, liveCount, processTree, sampleTree, start, stop, stopAll } from './procs.ts';

const alive = (pid: number) => fs.existsSync(`/proc/${pid}`) && !/^State:\s+Z/m.test(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));

test('a process tree: sampleTree sums over parent and child; stop() ends both', async () => {
  // a shell that starts a child sleep and waits: two processes in one group
  const s = start('tree', 'sh', ['-c', 'sleep 30 & echo started; wait']);
  await new Promise<void>((resolve) => { const t = setInterval(() => { if (s.output().includes('started')) { clearInterval(t); resolve(); } }, 20); });
  const pids = processTree(s.pid);
  assert.equal(pids.length, 2, `expected sh and sleep, got ${pids.join(',')}`);
  const sample = sampleTree(s.pid);
  assert.ok(sample.rssKb > 0 && sample.rssKb < 1024 * 1024, `rss ${sample.rssKb} kB`);
  assert.ok(sample.rssKb > sampleTree(pids[1]).rssKb, 'the sum is more than the child alone');
  await stop(s, 1000);
  assert.ok(pids.every((p) => !alive(p)), 'both processes are gone');
  assert.equal(liveCount(), 0);
});

test('stopAll ends a process that ignores SIGTERM (SIGKILL after the grace period)', async () => {
  const s = start('stubborn', 'sh', ['-c', "trap '' TERM; echo ready; while :; do sleep 0.1; done"]);
  await new Promise<void>((resolve) => { const t = setInterval(() => { if (s.output().includes('ready')) { clearInterval(t); resolve(); } }, 20); });
  const t0 = Date.now();
  await stopAll();
  assert.ok(!alive(s.pid));
  assert.ok(Date.now() - t0 >= 2500, 'it waited for the grace period before SIGKILL');
});

test('freePort returns a bindable loopback port outside the ephemeral range (never a connection\'s source port)', async () => {
  const [lo, hi] = fs.existsSync('/proc/sys/net/ipv4/ip_local_port_range')
    ? fs.readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/).map(Number)
    : [32768, 60999];
  for (let k = 0; k < 20; k++) {
    const p = await freePort();
    assert.ok(p > 0 && p < 65536, String(p));
    assert.ok(p < lo || p > hi, `${p} is in the ephemeral range ${lo}-${hi}`);
    await new Promise<void>((resolve, reject) => { const s = net.createServer(); s.once('error', reject); s.listen(p, '127.0.0.1', () => s.close(() => resolve())); });
  }
});

test('holdCpusAwake: the kernel\'s CPU latency target is 0 while held and back to what it was after close (or null when it cannot be written)', (t) => {
  const dev = '/dev/cpu_dma_latency';
  const read = () => fs.readFileSync(dev).readInt32LE(0);
  let canWrite = true;
  try { fs.accessSync(dev, fs.constants.W_OK); } catch { canWrite = false; }
  if (!canWrite) {
    assert.equal(holdCpusAwake(), null, 'no handle without write access');
    t.diagnostic('not root: only the null path was checked');
    return;
  }
  const before = read();
  const h = holdCpusAwake();
  assert.ok(h, 'a handle when the file is writable');
  try {
    assert.equal(read(), 0, 'held: 0 µs');
  } finally {
    h.close();
    h.close(); // twice is harmless
  }
  assert.equal(read(), before, 'released: what it was before');
});
