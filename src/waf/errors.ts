/** Errors raised while loading a SecLang rule set. Stable codes, file:line in the message. */
export class WafParseError extends Error {
  readonly code = 'PCS_ERR_WAF_PARSE';
  readonly file: string;
  readonly line: number;
  constructor(file: string, line: number, message: string) {
    super(`${file}:${line}: ${message}`);
    this.name = 'WafParseError';
    this.file = file;
    this.line = line;
  }
}

/** A rule that parsed but cannot be compiled (bad regex, unknown operator, missing data file...). */
export class WafCompileError extends Error {
  readonly code = 'PCS_ERR_WAF_COMPILE';
  readonly file: string;
  readonly line: number;
  constructor(file: string, line: number, message: string) {
    super(`${file}:${line}: ${message}`);
    this.name = 'WafCompileError';
    this.file = file;
    this.line = line;
  }
}
