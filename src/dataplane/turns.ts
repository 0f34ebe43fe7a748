// Work batched per turn of the event loop, for the WAF's sake.
//
// Under load, many requests arrive in one turn of the event loop: libuv hands over every socket
// that became readable, and each gets its callback (31 requests per turn on average at 64
// connections on one process, bench/waf's GET). Handled one by one, each request runs the WAF
// engine and then the proxy code, so every transaction finds the engine's code and data evicted
// from the CPU caches by the proxy's (and the kernel's), and the proxy's by the engine's. Run as
// a batch, all the transactions of the turn go through the engine one after the other, then all
// the requests go upstream one after the other: each part keeps the caches it needs warm. The
// same holds for the answers: their outbound phases run together once the turn's answers are in.
//
// Measured on this project's machine (2 vCPUs), PL1 GET with a query, one process, 64
// connections, CPU per request: ~191-196 us one by one, ~170-178 us with the request side
// batched, ~150-176 us with the response side too (Portcullis without WAF: ~45 us); bench/waf's
// GET throughput went from 9.2x to 10.4x nginx + ModSecurity's (docs/waf-results.md, section 11).
// The rule results are the same:
// only the order in which the requests of one turn are worked through changes (they stay in
// arrival order), and each transaction is its own.
//
// The cost is a hop to the end of the turn (setImmediate: after the poll phase, no extra wait for
// I/O). With no other request in flight there is nothing to batch, so the callers run at once
// (see inFlight in http-handler.ts): at one connection, batching measured ~15 us slower per request.

/** A job's first stage; what it returns runs as the second stage, after every first stage of the batch. */
export type Staged = () => (() => void) | undefined;

let staged: Staged[] = [];

/**
 * Runs `first` at the end of this turn of the event loop, with every other job of the turn, in
 * the order they came; then each job's second stage, in the same order. Neither stage may throw:
 * a job handles its own errors (one that throws anyway is reported as uncaught, after the other
 * jobs of the batch have run).
 */
export function inTurn(first: Staged): void {
  staged.push(first);
  if (staged.length === 1) setImmediate(runStaged);
}

function runStaged(): void {
  const jobs = staged;
  staged = [];
  const second: Array<(() => void) | undefined> = new Array(jobs.length);
  let failure: unknown;
  for (let k = 0; k < jobs.length; k++) {
    try { second[k] = jobs[k](); } catch (err) { failure ??= err; }
  }
  for (let k = 0; k < jobs.length; k++) {
    const s = second[k];
    if (s !== undefined) { try { s(); } catch (err) { failure ??= err; } }
  }
  if (failure !== undefined) throw failure;
}

let waiting: Array<() => void> = [];

/** Resolves at the end of this turn of the event loop, in order with the others that wait for it. */
export function endOfTurn(): Promise<void> {
  return new Promise((resolve) => {
    waiting.push(resolve);
    if (waiting.length === 1) setImmediate(releaseWaiting);
  });
}

function releaseWaiting(): void {
  const w = waiting;
  waiting = [];
  for (let k = 0; k < w.length; k++) w[k]();
}
