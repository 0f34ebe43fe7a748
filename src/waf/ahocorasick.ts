/**
 * Aho-Corasick multi-pattern matcher for @pm / @pmFromFile (case-insensitive, ASCII folding,
 * as ModSecurity does). Built once at load into a flat DFA over the bytes that occur in the
 * patterns (every other byte goes back to the root), so matching is one table lookup per byte.
 */
export class AhoCorasick {
  private readonly alpha = new Uint8Array(256); // byte -> alphabet index (0 = not in any pattern)
  private readonly width: number;
  private readonly delta: Uint16Array | Int32Array; // node * width + symbol -> next node (16-bit when it fits: half the cache footprint)
  private readonly out: Int32Array; // length of a pattern ending at the node (0 = none)
  readonly size: number;

  constructor(patterns: string[]) {
    let symbols = 1;
    for (const p of patterns) {
      for (let i = 0; i < p.length; i++) {
        const c = fold(p.charCodeAt(i) & 0xff);
        if (this.alpha[c] === 0) this.alpha[c] = symbols++;
      }
    }
    for (let c = 65; c <= 90; c++) this.alpha[c] = this.alpha[c + 32];
    this.width = symbols;
    // trie
    const next: Array<Map<number, number>> = [new Map()];
    const outLen: number[] = [0];
    for (const p of patterns) {
      if (p.length === 0) continue;
      let s = 0;
      for (let i = 0; i < p.length; i++) {
        const sym = this.alpha[fold(p.charCodeAt(i) & 0xff)];
        let t = next[s].get(sym);
        if (t === undefined) { t = next.length; next.push(new Map()); outLen.push(0); next[s].set(sym, t); }
        s = t;
      }
      if (outLen[s] === 0 || p.length < outLen[s]) outLen[s] = p.length;
    }
    const n = next.length;
    this.size = n;
    const fail = new Int32Array(n);
    this.out = Int32Array.from(outLen);
    const delta = n < 65536 ? new Uint16Array(n * this.width) : new Int32Array(n * this.width);
    this.delta = delta;
    // BFS: delta(s, a) = goto(s, a) if defined else delta(fail(s), a)
    const queue: number[] = [];
    for (let a = 1; a < this.width; a++) {
      const t = next[0].get(a) ?? 0;
      this.delta[a] = t;
      if (t !== 0) { fail[t] = 0; queue.push(t); }
    }
    for (let qi = 0; qi < queue.length; qi++) {
      const s = queue[qi];
      if (this.out[s] === 0 && this.out[fail[s]] !== 0) this.out[s] = this.out[fail[s]];
      for (let a = 1; a < this.width; a++) {
        const t = next[s].get(a);
        if (t !== undefined) {
          fail[t] = this.delta[fail[s] * this.width + a];
          this.delta[s * this.width + a] = t;
          queue.push(t);
        } else {
          this.delta[s * this.width + a] = this.delta[fail[s] * this.width + a];
        }
      }
    }
  }

  /** Returns the first matched phrase (as it appears in the input), or null. */
  match(input: string): string | null {
    const { alpha, delta, out, width } = this;
    let s = 0;
    for (let i = 0; i < input.length; i++) {
      const sym = alpha[input.charCodeAt(i) & 0xff];
      s = sym === 0 ? 0 : delta[s * width + sym];
      if (out[s] !== 0) return input.slice(i + 1 - out[s], i + 1);
    }
    return null;
  }
}

function fold(c: number): number {
  return c >= 65 && c <= 90 ? c + 32 : c;
}
