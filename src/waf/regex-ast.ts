/**
 * The translated (JS) regex sources as syntax trees, for the load-time prefilter analyses
 * (requiredBytes in regex.ts, requiredLiterals in literals.ts). The parsing is regjsparser's (the
 * parser Babel and regexpu use), in the mode the patterns run in (flags `ms`: no `u`), so both
 * analyses read the pattern exactly as V8 does, escapes and Annex B quirks included.
 *
 * An analysis walks the tree with `walk`: it says what an atom (one matched piece) gives, how a
 * quantifier changes it, and how a sequence and a choice combine; `analyse` does the recursion.
 */
import regjsparser, { type AstNode, type CharacterClass, type Value } from 'regjsparser';

export type Node = AstNode<{ lookbehind: true; namedGroups: true }>;

/** The tree of a JS regex source; throws on a syntax error. */
export function parseRegex(source: string): Node {
  return regjsparser.parse(source, '', { lookbehind: true, namedGroups: true }) as Node;
}

export interface Analysis<I> {
  /** a zero-width piece: ^ $ \b \B and lookarounds */
  zeroWidth(): I;
  /** a piece that can be any character, or a backreference: nothing known */
  unknown(): I;
  /** a character written as itself or as an escape outside a class */
  value(v: Value): I;
  /** \d \w \s and their negations outside a class */
  classEscape(e: 'd' | 'D' | 'w' | 'W' | 's' | 'S'): I;
  characterClass(c: CharacterClass): I;
  quantified(atom: I, min: number, max: number): I;
  sequence(items: I[]): I;
  choice(alternatives: I[]): I;
}

/** A whole pattern: a choice of sequences (a lone piece is a sequence of one). */
export function analyse<I>(root: Node, a: Analysis<I>): I {
  return body([root], a);
}

/** The contents of the pattern or of a group: one choice, or one sequence. */
function body<I>(nodes: readonly Node[], a: Analysis<I>): I {
  if (nodes.length === 1 && nodes[0].type === 'disjunction') {
    return a.choice(nodes[0].body.map((x) => body([x as Node], a)));
  }
  if (nodes.length === 1 && nodes[0].type === 'alternative') return body(nodes[0].body as Node[], a);
  return a.sequence(nodes.map((x) => walk(x, a)));
}

function walk<I>(n: Node, a: Analysis<I>): I {
  switch (n.type) {
    case 'alternative': case 'disjunction': return body([n], a);
    case 'group':
      if (n.behavior === 'lookahead' || n.behavior === 'negativeLookahead' || n.behavior === 'lookbehind' || n.behavior === 'negativeLookbehind') return a.zeroWidth();
      return body(n.body as Node[], a);
    case 'quantifier': return a.quantified(walk(n.body[0] as Node, a), n.min, n.max ?? Infinity);
    case 'anchor': return a.zeroWidth();
    case 'dot': return a.unknown();
    case 'reference': return a.unknown();
    case 'value': return a.value(n);
    case 'characterClassEscape': return a.classEscape(n.value);
    case 'characterClass': return a.characterClass(n);
    default: throw new Error(`regex node ${n.type} not analysed`);
  }
}
