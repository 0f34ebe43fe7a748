import { inspect } from 'node:util';

const REDACTED = '[redacted]';

/**
 * A value that must never be printed: String(), template literals, JSON.stringify, util.inspect
 * and console.log all show `[redacted]`. Call `reveal()` at the single place the value is used.
 */
export class Secret<T = string> {
  readonly #value: T;
  constructor(value: T) {
    this.#value = value;
  }
  reveal(): T {
    return this.#value;
  }
  toString(): string {
    return REDACTED;
  }
  toJSON(): string {
    return REDACTED;
  }
  [Symbol.toPrimitive](): string {
    return REDACTED;
  }
  [inspect.custom](): string {
    return REDACTED;
  }
}

export function isSecret(v: unknown): v is Secret<unknown> {
  return v instanceof Secret;
}
