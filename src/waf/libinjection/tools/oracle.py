#!/usr/bin/env python3
"""Differential oracle: runs the real libinjection (C, v3.9.2 as built into
ModSecurity 3.0.9's libmodsecurity.so.3) on inputs given as hex lines on
stdin and prints one JSON result per line. Dev-time only (see differential.ts).

    apt-get download libmodsecurity3 && dpkg-deb -x libmodsecurity3_*.deb x
    apt-get install libgeoip1 liblua5.3-0 libmaxminddb0 libfuzzy2 libyajl2
    LIBMODSECURITY=x/usr/lib/x86_64-linux-gnu/libmodsecurity.so.3 python3 oracle.py < hexlines
"""
import os
import ctypes, sys, json
lib = ctypes.CDLL(os.environ.get('LIBMODSECURITY', 'libmodsecurity.so.3'))
lib.libinjection_sqli_fingerprint.restype = ctypes.c_char_p
lib.libinjection_sqli_get_token.restype = ctypes.c_void_p
state = ctypes.create_string_buffer(8192)
fpbuf = ctypes.create_string_buffer(64)
FLAGS = [(1|8), (1|16), (2|8), (2|16), (4|16)]  # none/ansi none/mysql single/ansi single/mysql double/mysql
def tok(p):
    b = ctypes.string_at(p, 56)
    ln = int.from_bytes(b[8:16], 'little'); cnt = int.from_bytes(b[16:20], 'little', signed=True)
    t = chr(b[20]); so = b[21]; sc = b[22]
    val = b[23:55].split(b'\0')[0]
    return [t, val.decode('latin1'), so, sc, ln, cnt]
for line in sys.stdin:
    line = line.strip()
    s = bytes.fromhex(line)
    buf = ctypes.create_string_buffer(s, len(s) + 1)
    r = lib.libinjection_sqli(buf, len(s), fpbuf)
    out = {'sqli': bool(r), 'fp': fpbuf.value.decode('latin1') if r else ''}
    out['xss'] = bool(lib.libinjection_xss(buf, len(s)))
    ctx = []
    for f in FLAGS:
        lib.libinjection_sqli_init(state, buf, len(s), f)
        ctx.append(lib.libinjection_sqli_fingerprint(state, f).decode('latin1'))
    out['ctx'] = ctx
    lib.libinjection_sqli_init(state, buf, len(s), 1|8)
    toks = []
    while lib.libinjection_sqli_tokenize(state) == 1 and len(toks) < 200:
        toks.append(tok(lib.libinjection_sqli_get_token(state, 0)))
    out['tokens'] = toks
    lib.libinjection_sqli_init(state, buf, len(s), 1|8)
    n = lib.libinjection_sqli_fold(state)
    out['fold'] = [tok(lib.libinjection_sqli_get_token(state, i)) for i in range(n)]
    print(json.dumps(out))
