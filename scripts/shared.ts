// Where ../shared is (the OWASP CRS, its regression corpus, waf-eval.mjs): beside the checkout, as
// in CI (a clean clone with ../shared next to it); a git worktree kept elsewhere has none there,
// and then the development machine's /work/shared is used. One place for every test, script and
// benchmark that reads it.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const beside = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', 'shared');

export const SHARED = [beside, '/work/shared'].find((d) => fs.existsSync(d)) ?? beside;
export const CRS_DIR = path.join(SHARED, 'waf', 'crs-v4.28.0');
export const CRS_CORPUS = path.join(SHARED, 'waf', 'corpus', 'crs-v4.28.0-tests.jsonl');
export const CORPUS_DIR = path.join(SHARED, 'waf', 'corpus');
export const WAF_EVAL = path.join(SHARED, 'tools', 'waf-eval.mjs');
