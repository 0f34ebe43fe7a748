/*
 * HTML5 tokenizer: a TypeScript port of libinjection's libinjection_html5.c
 * (v3.9.2, as bundled in ModSecurity v3). Not a full HTML5 parser: a small
 * state machine that yields tag names, attribute names/values, comments,
 * doctype and text, in the shape libinjection's XSS check needs.
 *
 * Copyright (c) 2012-2016 Nick Galbreath (original C), BSD-3-Clause,
 * see LICENSE-libinjection in this folder. Port for Portcullis.
 *
 * Input is a byte string (one code unit per byte, see sqli.ts toByteString).
 */

// token types (enum html5_type)
export const DATA_TEXT = 0;
export const TAG_NAME_OPEN = 1;
export const TAG_NAME_CLOSE = 2;
export const TAG_NAME_SELFCLOSE = 3;
export const TAG_DATA = 4;
export const TAG_CLOSE = 5;
export const ATTR_NAME = 6;
export const ATTR_VALUE = 7;
export const TAG_COMMENT = 8;
export const DOCTYPE = 9;

// start states (enum html5_flags)
export const DATA_STATE = 0;
export const VALUE_NO_QUOTE = 1;
export const VALUE_SINGLE_QUOTE = 2;
export const VALUE_DOUBLE_QUOTE = 3;
export const VALUE_BACK_QUOTE = 4;

const CHAR_EOF = -1;
const CHAR_BANG = 33;
const CHAR_DOUBLE = 34;
const CHAR_PERCENT = 37;
const CHAR_SINGLE = 39;
const CHAR_DASH = 45;
const CHAR_SLASH = 47;
const CHAR_LT = 60;
const CHAR_EQUALS = 61;
const CHAR_GT = 62;
const CHAR_QUESTION = 63;
const CHAR_RIGHTB = 93;
const CHAR_TICK = 96;

type StateFn = (hs: H5State) => boolean;

export class H5State {
  s = '';
  len = 0;
  pos = 0;
  isClose = false;
  state: StateFn = stateEof;
  tokenStart = 0;
  tokenLen = 0;
  tokenType = DATA_TEXT;

  init(s: string, flags: number): void {
    this.s = s;
    this.len = s.length;
    this.pos = 0;
    this.isClose = false;
    this.tokenStart = 0;
    this.tokenLen = 0;
    this.tokenType = DATA_TEXT;
    switch (flags) {
      case DATA_STATE: this.state = stateData; break;
      case VALUE_NO_QUOTE: this.state = stateBeforeAttributeName; break;
      case VALUE_SINGLE_QUOTE: this.state = stateAttributeValueSingleQuote; break;
      case VALUE_DOUBLE_QUOTE: this.state = stateAttributeValueDoubleQuote; break;
      case VALUE_BACK_QUOTE: this.state = stateAttributeValueBackQuote; break;
      default: this.state = stateEof;
    }
  }

  /** libinjection_h5_next: advance to the next token; false at the end */
  next(): boolean {
    return this.state(this);
  }
}

/** byte at i, 0 past the end (C: NUL terminator) */
function at(hs: H5State, i: number): number {
  return i < hs.len ? hs.s.charCodeAt(i) : 0;
}

const ONE_CHAR: string[] = [];
for (let i = 0; i < 256; i++) ONE_CHAR.push(String.fromCharCode(i));

/** memchr over the rest of the input (native indexOf on the byte string) */
function indexOfByte(hs: H5State, from: number, c: number): number {
  return hs.s.indexOf(ONE_CHAR[c]!, from);
}

/** C: strchr(" \t\n\v\f\r", ch) != NULL -- true for NUL too */
function isWhite(c: number): boolean {
  return c === 0x20 || (c >= 0x09 && c <= 0x0d) || c === 0;
}

function skipWhite(hs: H5State): number {
  while (hs.pos < hs.len) {
    const c = hs.s.charCodeAt(hs.pos);
    switch (c) {
      case 0x00:
      case 0x20:
      case 0x09:
      case 0x0a:
      case 0x0b:
      case 0x0c:
      case 0x0d:
        hs.pos += 1;
        break;
      default:
        // C returns a (signed) char here: byte 0xFF is -1, i.e. CHAR_EOF
        return c === 0xff ? CHAR_EOF : c;
    }
  }
  return CHAR_EOF;
}

function stateEof(_hs: H5State): boolean {
  return false;
}

function stateData(hs: H5State): boolean {
  const idx = indexOfByte(hs, hs.pos, CHAR_LT);
  if (idx < 0) {
    hs.tokenStart = hs.pos;
    hs.tokenLen = hs.len - hs.pos;
    hs.tokenType = DATA_TEXT;
    hs.state = stateEof;
    if (hs.tokenLen === 0) return false;
  } else {
    hs.tokenStart = hs.pos;
    hs.tokenType = DATA_TEXT;
    hs.tokenLen = idx - hs.pos;
    hs.pos = idx + 1;
    hs.state = stateTagOpen;
    if (hs.tokenLen === 0) return stateTagOpen(hs);
  }
  return true;
}

function stateTagOpen(hs: H5State): boolean {
  if (hs.pos >= hs.len) return false;
  const c = hs.s.charCodeAt(hs.pos);
  if (c === CHAR_BANG) {
    hs.pos += 1;
    return stateMarkupDeclarationOpen(hs);
  } else if (c === CHAR_SLASH) {
    hs.pos += 1;
    hs.isClose = true;
    return stateEndTagOpen(hs);
  } else if (c === CHAR_QUESTION) {
    hs.pos += 1;
    return stateBogusComment(hs);
  } else if (c === CHAR_PERCENT) {
    // not in spec: IE <= 9 and Safari < 4.0.3 comment format
    hs.pos += 1;
    return stateBogusComment2(hs);
  } else if ((c >= 0x61 && c <= 0x7a) || (c >= 0x41 && c <= 0x5a)) {
    return stateTagName(hs);
  } else if (c === 0) {
    // IE-ism: NUL characters are ignored
    return stateTagName(hs);
  }
  if (hs.pos === 0) return stateData(hs);
  hs.tokenStart = hs.pos - 1;
  hs.tokenLen = 1;
  hs.tokenType = DATA_TEXT;
  hs.state = stateData;
  return true;
}

function stateEndTagOpen(hs: H5State): boolean {
  if (hs.pos >= hs.len) return false;
  const c = hs.s.charCodeAt(hs.pos);
  if (c === CHAR_GT) {
    return stateData(hs);
  } else if ((c >= 0x61 && c <= 0x7a) || (c >= 0x41 && c <= 0x5a)) {
    return stateTagName(hs);
  }
  hs.isClose = false;
  return stateBogusComment(hs);
}

function stateTagNameClose(hs: H5State): boolean {
  hs.isClose = false;
  hs.tokenStart = hs.pos;
  hs.tokenLen = 1;
  hs.tokenType = TAG_NAME_CLOSE;
  hs.pos += 1;
  hs.state = hs.pos < hs.len ? stateData : stateEof;
  return true;
}

function stateTagName(hs: H5State): boolean {
  let pos = hs.pos;
  const s = hs.s;
  while (pos < hs.len) {
    const c = s.charCodeAt(pos);
    if (c === 0) {
      // allow (and ignore) NULs in tag names
      pos += 1;
    } else if (isWhite(c)) {
      hs.tokenStart = hs.pos;
      hs.tokenLen = pos - hs.pos;
      hs.tokenType = TAG_NAME_OPEN;
      hs.pos = pos + 1;
      hs.state = stateBeforeAttributeName;
      return true;
    } else if (c === CHAR_SLASH) {
      hs.tokenStart = hs.pos;
      hs.tokenLen = pos - hs.pos;
      hs.tokenType = TAG_NAME_OPEN;
      hs.pos = pos + 1;
      hs.state = stateSelfClosingStartTag;
      return true;
    } else if (c === CHAR_GT) {
      hs.tokenStart = hs.pos;
      hs.tokenLen = pos - hs.pos;
      if (hs.isClose) {
        hs.pos = pos + 1;
        hs.isClose = false;
        hs.tokenType = TAG_CLOSE;
        hs.state = stateData;
      } else {
        hs.pos = pos;
        hs.tokenType = TAG_NAME_OPEN;
        hs.state = stateTagNameClose;
      }
      return true;
    } else {
      pos += 1;
    }
  }
  hs.tokenStart = hs.pos;
  hs.tokenLen = hs.len - hs.pos;
  hs.tokenType = TAG_NAME_OPEN;
  hs.state = stateEof;
  return true;
}

function stateBeforeAttributeName(hs: H5State): boolean {
  const c = skipWhite(hs);
  switch (c) {
    case CHAR_EOF:
      return false;
    case CHAR_SLASH:
      hs.pos += 1;
      return stateSelfClosingStartTag(hs);
    case CHAR_GT:
      hs.state = stateData;
      hs.tokenStart = hs.pos;
      hs.tokenLen = 1;
      hs.tokenType = TAG_NAME_CLOSE;
      hs.pos += 1;
      return true;
    default:
      return stateAttributeName(hs);
  }
}

function stateAttributeName(hs: H5State): boolean {
  let pos = hs.pos + 1;
  const s = hs.s;
  while (pos < hs.len) {
    const c = s.charCodeAt(pos);
    if (isWhite(c)) {
      hs.tokenStart = hs.pos;
      hs.tokenLen = pos - hs.pos;
      hs.tokenType = ATTR_NAME;
      hs.state = stateAfterAttributeName;
      hs.pos = pos + 1;
      return true;
    } else if (c === CHAR_SLASH) {
      hs.tokenStart = hs.pos;
      hs.tokenLen = pos - hs.pos;
      hs.tokenType = ATTR_NAME;
      hs.state = stateSelfClosingStartTag;
      hs.pos = pos + 1;
      return true;
    } else if (c === CHAR_EQUALS) {
      hs.tokenStart = hs.pos;
      hs.tokenLen = pos - hs.pos;
      hs.tokenType = ATTR_NAME;
      hs.state = stateBeforeAttributeValue;
      hs.pos = pos + 1;
      return true;
    } else if (c === CHAR_GT) {
      hs.tokenStart = hs.pos;
      hs.tokenLen = pos - hs.pos;
      hs.tokenType = ATTR_NAME;
      hs.state = stateTagNameClose;
      hs.pos = pos;
      return true;
    } else {
      pos += 1;
    }
  }
  hs.tokenStart = hs.pos;
  hs.tokenLen = hs.len - hs.pos;
  hs.tokenType = ATTR_NAME;
  hs.state = stateEof;
  hs.pos = hs.len;
  return true;
}

function stateAfterAttributeName(hs: H5State): boolean {
  const c = skipWhite(hs);
  switch (c) {
    case CHAR_EOF:
      return false;
    case CHAR_SLASH:
      hs.pos += 1;
      return stateSelfClosingStartTag(hs);
    case CHAR_EQUALS:
      hs.pos += 1;
      return stateBeforeAttributeValue(hs);
    case CHAR_GT:
      return stateTagNameClose(hs);
    default:
      return stateAttributeName(hs);
  }
}

function stateBeforeAttributeValue(hs: H5State): boolean {
  const c = skipWhite(hs);
  if (c === CHAR_EOF) {
    hs.state = stateEof;
    return false;
  }
  if (c === CHAR_DOUBLE) return stateAttributeValueDoubleQuote(hs);
  if (c === CHAR_SINGLE) return stateAttributeValueSingleQuote(hs);
  if (c === CHAR_TICK) return stateAttributeValueBackQuote(hs); // non-standard IE
  return stateAttributeValueNoQuote(hs);
}

function stateAttributeValueQuote(hs: H5State, qchar: number): boolean {
  // skip the opening quote, except when starting in a value state (pos 0)
  if (hs.pos > 0) hs.pos += 1;
  const idx = indexOfByte(hs, hs.pos, qchar);
  if (idx < 0) {
    hs.tokenStart = hs.pos;
    hs.tokenLen = hs.len - hs.pos;
    hs.tokenType = ATTR_VALUE;
    hs.state = stateEof;
  } else {
    hs.tokenStart = hs.pos;
    hs.tokenLen = idx - hs.pos;
    hs.tokenType = ATTR_VALUE;
    hs.state = stateAfterAttributeValueQuoted;
    hs.pos += hs.tokenLen + 1;
  }
  return true;
}

function stateAttributeValueDoubleQuote(hs: H5State): boolean {
  return stateAttributeValueQuote(hs, CHAR_DOUBLE);
}

function stateAttributeValueSingleQuote(hs: H5State): boolean {
  return stateAttributeValueQuote(hs, CHAR_SINGLE);
}

function stateAttributeValueBackQuote(hs: H5State): boolean {
  return stateAttributeValueQuote(hs, CHAR_TICK);
}

function stateAttributeValueNoQuote(hs: H5State): boolean {
  let pos = hs.pos;
  const s = hs.s;
  while (pos < hs.len) {
    const c = s.charCodeAt(pos);
    if (isWhite(c)) {
      hs.tokenType = ATTR_VALUE;
      hs.tokenStart = hs.pos;
      hs.tokenLen = pos - hs.pos;
      hs.pos = pos + 1;
      hs.state = stateBeforeAttributeName;
      return true;
    } else if (c === CHAR_GT) {
      hs.tokenType = ATTR_VALUE;
      hs.tokenStart = hs.pos;
      hs.tokenLen = pos - hs.pos;
      hs.pos = pos;
      hs.state = stateTagNameClose;
      return true;
    }
    pos += 1;
  }
  hs.state = stateEof;
  hs.tokenStart = hs.pos;
  hs.tokenLen = hs.len - hs.pos;
  hs.tokenType = ATTR_VALUE;
  return true;
}

function stateAfterAttributeValueQuoted(hs: H5State): boolean {
  if (hs.pos >= hs.len) return false;
  const c = hs.s.charCodeAt(hs.pos);
  if (isWhite(c)) {
    hs.pos += 1;
    return stateBeforeAttributeName(hs);
  } else if (c === CHAR_SLASH) {
    hs.pos += 1;
    return stateSelfClosingStartTag(hs);
  } else if (c === CHAR_GT) {
    hs.tokenStart = hs.pos;
    hs.tokenLen = 1;
    hs.tokenType = TAG_NAME_CLOSE;
    hs.pos += 1;
    hs.state = stateData;
    return true;
  }
  return stateBeforeAttributeName(hs);
}

function stateSelfClosingStartTag(hs: H5State): boolean {
  if (hs.pos >= hs.len) return false;
  const c = hs.s.charCodeAt(hs.pos);
  if (c === CHAR_GT) {
    hs.tokenStart = hs.pos - 1;
    hs.tokenLen = 2;
    hs.tokenType = TAG_NAME_SELFCLOSE;
    hs.state = stateData;
    hs.pos += 1;
    return true;
  }
  return stateBeforeAttributeName(hs);
}

function stateBogusComment(hs: H5State): boolean {
  const idx = indexOfByte(hs, hs.pos, CHAR_GT);
  if (idx < 0) {
    hs.tokenStart = hs.pos;
    hs.tokenLen = hs.len - hs.pos;
    hs.pos = hs.len;
    hs.state = stateEof;
  } else {
    hs.tokenStart = hs.pos;
    hs.tokenLen = idx - hs.pos;
    hs.pos = idx + 1;
    hs.state = stateData;
  }
  hs.tokenType = TAG_COMMENT;
  return true;
}

/** <% ... %> */
function stateBogusComment2(hs: H5State): boolean {
  let pos = hs.pos;
  for (;;) {
    const idx = indexOfByte(hs, pos, CHAR_PERCENT);
    if (idx < 0 || idx + 1 >= hs.len) {
      hs.tokenStart = hs.pos;
      hs.tokenLen = hs.len - hs.pos;
      hs.pos = hs.len;
      hs.tokenType = TAG_COMMENT;
      hs.state = stateEof;
      return true;
    }
    if (hs.s.charCodeAt(idx + 1) !== CHAR_GT) {
      pos = idx + 1;
      continue;
    }
    hs.tokenStart = hs.pos;
    hs.tokenLen = idx - hs.pos;
    hs.pos = idx + 2;
    hs.state = stateData;
    hs.tokenType = TAG_COMMENT;
    return true;
  }
}

function stateMarkupDeclarationOpen(hs: H5State): boolean {
  const remaining = hs.len - hs.pos;
  const p = hs.pos;
  const s = hs.s;
  if (remaining >= 7) {
    let doctype = true;
    const D = 'DOCTYPE';
    for (let i = 0; i < 7; i++) {
      let c = s.charCodeAt(p + i);
      if (c >= 0x61 && c <= 0x7a) c -= 0x20;
      if (c !== D.charCodeAt(i)) {
        doctype = false;
        break;
      }
    }
    if (doctype) return stateDoctype(hs);
    if (s.startsWith('[CDATA[', p)) {
      // upper case required
      hs.pos += 7;
      return stateCdata(hs);
    }
  }
  if (remaining >= 2 && s.charCodeAt(p) === CHAR_DASH && s.charCodeAt(p + 1) === CHAR_DASH) {
    hs.pos += 2;
    return stateComment(hs);
  }
  return stateBogusComment(hs);
}

/** comments end at EOF, "-->" or "-!>" (NULs after the first '-' are skipped) */
function stateComment(hs: H5State): boolean {
  let pos = hs.pos;
  const end = hs.len;
  const s = hs.s;
  for (;;) {
    const idx = indexOfByte(hs, pos, CHAR_DASH);
    // nothing found, or fewer than 3 chars left
    if (idx < 0 || idx > hs.len - 3) {
      hs.state = stateEof;
      hs.tokenStart = hs.pos;
      hs.tokenLen = hs.len - hs.pos;
      hs.tokenType = TAG_COMMENT;
      return true;
    }
    let offset = 1;
    while (idx + offset < end && s.charCodeAt(idx + offset) === 0) offset += 1;
    if (idx + offset === end) {
      hs.state = stateEof;
      hs.tokenStart = hs.pos;
      hs.tokenLen = hs.len - hs.pos;
      hs.tokenType = TAG_COMMENT;
      return true;
    }
    let c = s.charCodeAt(idx + offset);
    if (c !== CHAR_DASH && c !== CHAR_BANG) {
      pos = idx + 1;
      continue;
    }
    offset += 1;
    if (idx + offset === end) {
      hs.state = stateEof;
      hs.tokenStart = hs.pos;
      hs.tokenLen = hs.len - hs.pos;
      hs.tokenType = TAG_COMMENT;
      return true;
    }
    c = s.charCodeAt(idx + offset);
    if (c !== CHAR_GT) {
      pos = idx + 1;
      continue;
    }
    offset += 1;
    hs.tokenStart = hs.pos;
    hs.tokenLen = idx - hs.pos;
    hs.pos = idx + offset;
    hs.state = stateData;
    hs.tokenType = TAG_COMMENT;
    return true;
  }
}

function stateCdata(hs: H5State): boolean {
  let pos = hs.pos;
  for (;;) {
    const idx = indexOfByte(hs, pos, CHAR_RIGHTB);
    if (idx < 0 || idx > hs.len - 3) {
      hs.state = stateEof;
      hs.tokenStart = hs.pos;
      hs.tokenLen = hs.len - hs.pos;
      hs.tokenType = DATA_TEXT;
      return true;
    } else if (at(hs, idx + 1) === CHAR_RIGHTB && at(hs, idx + 2) === CHAR_GT) {
      hs.state = stateData;
      hs.tokenStart = hs.pos;
      hs.tokenLen = idx - hs.pos;
      hs.pos = idx + 3;
      hs.tokenType = DATA_TEXT;
      return true;
    }
    pos = idx + 1;
  }
}

function stateDoctype(hs: H5State): boolean {
  hs.tokenStart = hs.pos;
  hs.tokenType = DOCTYPE;
  const idx = indexOfByte(hs, hs.pos, CHAR_GT);
  if (idx < 0) {
    hs.state = stateEof;
    hs.tokenLen = hs.len - hs.pos;
  } else {
    hs.state = stateData;
    hs.tokenLen = idx - hs.pos;
    hs.pos = idx + 1;
  }
  return true;
}
