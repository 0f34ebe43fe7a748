/**
 * Aho-Corasick multi-pattern matcher for @pm / @pmFromFile (case-insensitive, ASCII folding,
 * as ModSecurity does). Built once at load; matching is one pass over the input.
 */
export class AhoCorasick {
  private readonly next: Array<Map<number, number>> = [new Map()];
  private readonly fail: Int32Array;
  /** length of the longest pattern ending at a node (0 = none), via output links */
  private readonly out: Int32Array;
  readonly size: number;

  constructor(patterns: string[]) {
    const outLen: number[] = [0];
    for (const p of patterns) {
      if (p.length === 0) continue;
      let s = 0;
      for (let i = 0; i < p.length; i++) {
        const c = fold(p.charCodeAt(i));
        let t = this.next[s].get(c);
        if (t === undefined) {
          t = this.next.length;
          this.next.push(new Map());
          outLen.push(0);
          this.next[s].set(c, t);
        }
        s = t;
      }
      if (outLen[s] === 0 || p.length < outLen[s]) outLen[s] = p.length;
    }
    this.size = this.next.length;
    this.fail = new Int32Array(this.size);
    this.out = Int32Array.from(outLen);
    const queue: number[] = [];
    for (const t of this.next[0].values()) { this.fail[t] = 0; queue.push(t); }
    for (let qi = 0; qi < queue.length; qi++) {
      const s = queue[qi];
      for (const [c, t] of this.next[s]) {
        let f = this.fail[s];
        while (f !== 0 && !this.next[f].has(c)) f = this.fail[f];
        const ft = this.next[f].get(c);
        this.fail[t] = ft !== undefined && ft !== t ? ft : 0;
        if (this.out[t] === 0 && this.out[this.fail[t]] !== 0) this.out[t] = this.out[this.fail[t]];
        queue.push(t);
      }
    }
  }

  /** Returns the first matched phrase (as it appears in the input), or null. */
  match(input: string): string | null {
    let s = 0;
    for (let i = 0; i < input.length; i++) {
      const c = fold(input.charCodeAt(i));
      let t = this.next[s].get(c);
      while (t === undefined && s !== 0) {
        s = this.fail[s];
        t = this.next[s].get(c);
      }
      s = t ?? 0;
      const len = this.out[s];
      if (len !== 0) return input.slice(i + 1 - len, i + 1);
    }
    return null;
  }
}

function fold(c: number): number {
  return c >= 65 && c <= 90 ? c + 32 : c;
}
