// s3stack.js - the S3 side of porthole's tests (tests/e2e/s3.sh), in one
// process on loopback:
//   * s3rver, a real S3 protocol server, which checks no signature itself;
//   * a verifying front before it: every request's SigV4 signature is
//     recomputed with AWS's own signer (@smithy/signature-v4) from the
//     headers the request says it signed; a mismatch, a missing or wrong
//     x-amz-content-sha256, an unknown or expired access key, a wrong
//     session token or a stale date gets S3's 403 and never reaches s3rver;
//   * a stand-in for the ECS container credentials endpoint, answering in
//     AWS's documented JSON (AccessKeyId, SecretAccessKey, Token,
//     Expiration) with a new key each time, valid for --creds-ttl seconds.
// Usage: node s3stack.js --dir DIR --ready FILE [--bucket NAME]
//   [--creds-ttl SECONDS] [--creds-auth TOKEN] [--slow-part-ms MS]
// Writes {"front":PORT,"creds":PORT} to FILE when listening; logs one line
// per decision on stdout ("accept METHOD PATH AKID", "reject CODE ...",
// "creds AKID", "slow PUT ..." (each part of a key with "slow" in it waits
// --slow-part-ms, default 1000), "inject SlowDown ...": the first try of each part of a key
// with "flaky" in it gets S3's 503 SlowDown; one with "hugereply" gets a
// 64 MiB error, "hugereply cut" when the client hangs up first).  Static keys: AKIDTEST / secret-test (never expires) and
// AKIDSTALE / secret-stale (expired an hour ago).
'use strict';
const http = require('http');
const crypto = require('crypto');
const fs = require('fs');
const S3rver = require('s3rver');
const { SignatureV4 } = require('@smithy/signature-v4');
const { Sha256 } = require('@aws-crypto/sha256-js');

const args = {};
for (let i = 2; i < process.argv.length; i += 2)
  args[process.argv[i].replace(/^--/, '')] = process.argv[i + 1];
const bucket = args.bucket || 'porthole-test';
const credsTtl = Number(args['creds-ttl'] || 3600);

// AKID -> { secret, token, expires (ms since the epoch, 0: never) }
const keys = new Map([
  ['AKIDTEST', { secret: 'secret-test', token: null, expires: 0 }],
  ['AKIDSTALE', { secret: 'secret-stale', token: null, expires: Date.now() - 3600e3 }],
]);
let issued = 0;
const slowedDown = new Set();

function log(line) { process.stdout.write(line + '\n'); }

function s3error(res, status, code, message) {
  res.writeHead(status, { 'Content-Type': 'application/xml' });
  res.end(`<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${code}</Code>` +
    `<Message>${message}</Message></Error>`);
}

// "20261206T014500Z" -> Date
function amzDate(s) {
  const m = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(s || '');
  return m ? new Date(Date.UTC(+m[1], +m[2] - 1, +m[3], +m[4], +m[5], +m[6])) : null;
}

// The query as the signer wants it: names and values decoded ("k" alone: "").
function parseQuery(raw) {
  const q = {};
  if (!raw) return q;
  for (const part of raw.split('&')) {
    if (part === '') continue;
    const eq = part.indexOf('=');
    const k = decodeURIComponent(eq < 0 ? part : part.slice(0, eq));
    const v = eq < 0 ? '' : decodeURIComponent(part.slice(eq + 1));
    if (k in q) q[k] = [].concat(q[k], v); else q[k] = v;
  }
  return q;
}

async function verify(req, body) {
  const auth = req.headers.authorization || '';
  const m = /^AWS4-HMAC-SHA256 Credential=([^/]+)\/(\d{8})\/([^/]+)\/([^/]+)\/aws4_request, ?SignedHeaders=([a-z0-9;-]+), ?Signature=([0-9a-f]{64})$/.exec(auth);
  if (!m) return ['AccessDenied', 'no AWS4-HMAC-SHA256 Authorization header'];
  const [, akid, day, region, service, signedList, signature] = m;
  const key = keys.get(akid);
  if (!key) return ['InvalidAccessKeyId', `unknown access key ${akid}`];
  if (key.expires && key.expires <= Date.now())
    return ['ExpiredToken', `the credentials of ${akid} have expired`];
  if (service !== 's3') return ['SignatureDoesNotMatch', 'service is not s3'];
  const date = amzDate(req.headers['x-amz-date']);
  if (!date || Math.abs(date - Date.now()) > 15 * 60e3)
    return ['RequestTimeTooSkewed', 'x-amz-date missing or more than 15 minutes off'];
  if (req.headers['x-amz-date'].slice(0, 8) !== day)
    return ['SignatureDoesNotMatch', 'the credential scope is not the request date'];
  const sha = req.headers['x-amz-content-sha256'];
  if (!sha) return ['InvalidRequest', 'missing x-amz-content-sha256'];
  if (sha !== 'UNSIGNED-PAYLOAD' &&
      sha !== crypto.createHash('sha256').update(body).digest('hex'))
    return ['XAmzContentSHA256Mismatch', 'the body does not match x-amz-content-sha256'];
  if (key.token !== null && req.headers['x-amz-security-token'] !== key.token)
    return ['InvalidToken', 'missing or wrong x-amz-security-token'];
  const signed = signedList.split(';');
  for (const h of ['host', 'x-amz-date', 'x-amz-content-sha256'])
    if (!signed.includes(h)) return ['SignatureDoesNotMatch', `${h} is not signed`];
  if (key.token !== null && !signed.includes('x-amz-security-token'))
    return ['SignatureDoesNotMatch', 'x-amz-security-token is not signed'];
  const headers = {};
  for (const h of signed) {
    if (req.headers[h] === undefined) return ['SignatureDoesNotMatch', `signed header ${h} absent`];
    headers[h] = req.headers[h];
  }
  const url = req.url;
  const qi = url.indexOf('?');
  const request = {
    method: req.method, protocol: 'http:', hostname: 'x', headers,
    path: qi < 0 ? url : url.slice(0, qi),
    query: parseQuery(qi < 0 ? '' : url.slice(qi + 1)),
  };
  const signer = new SignatureV4({
    credentials: { accessKeyId: akid, secretAccessKey: key.secret,
      sessionToken: key.token || undefined },
    region, service: 's3', sha256: Sha256, uriEscapePath: false, applyChecksum: false,
  });
  const out = await signer.sign(request, { signingDate: date, signableHeaders: new Set(signed) });
  const want = /Signature=([0-9a-f]{64})/.exec(out.headers.authorization)[1];
  if (want !== signature)
    return ['SignatureDoesNotMatch', 'The request signature we calculated does not match the signature you provided'];
  return null;
}

async function main() {
  const s3 = new S3rver({ port: 0, address: '127.0.0.1', silent: true,
    directory: args.dir, configureBuckets: [{ name: bucket }] });
  const s3addr = await s3.run();
  const s3port = s3addr.port;

  const front = http.createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', async () => {
      const body = Buffer.concat(chunks);
      let bad;
      try { bad = await verify(req, body); } catch (e) { bad = ['AccessDenied', String(e)]; }
      const akid = (/Credential=([^/]+)/.exec(req.headers.authorization || '') || [])[1] || '-';
      if (bad) {
        log(`reject ${bad[0]} ${req.method} ${req.url} ${akid}`);
        return s3error(res, 403, bad[0], bad[1]);
      }
      // A hostile error reply: 64 MiB for keys with "hugereply" in them.
      if (req.url.includes('hugereply')) {
        const chunk = Buffer.alloc(65536, 'x');
        let left = 1024;
        log(`inject hugereply ${req.method} ${req.url} ${akid}`);
        res.writeHead(400, { 'Content-Type': 'application/xml' });
        res.write('<Error><Code>Huge</Code><Message>');
        res.on('close', () => log(left > 0 ? `hugereply cut with ${left} chunks left` : 'hugereply sent'));
        const pump = () => {
          while (left > 0) {
            left--;
            if (!res.write(chunk)) return res.once('drain', pump);
          }
          res.end('</Message></Error>');
        };
        return pump();
      }
      // S3's "slow down", once per part, for keys with "flaky" in them.
      const pn = /[?&]partNumber=(\d+)/.exec(req.url);
      if (req.method === 'PUT' && pn && req.url.includes('flaky')) {
        const id = req.url.split('?')[0] + '#' + pn[1];
        if (!slowedDown.has(id)) {
          slowedDown.add(id);
          log(`inject SlowDown ${req.method} ${req.url} ${akid}`);
          return s3error(res, 503, 'SlowDown', 'Please reduce your request rate.');
        }
      }
      log(`accept ${req.method} ${req.url} ${akid}`);
      // A slow S3: each part of a key with "slow" in it waits --slow-part-ms (1000).
      if (req.method === 'PUT' && pn && req.url.includes('slow')) {
        log(`slow ${req.method} ${req.url}`);
        await new Promise((ok) => setTimeout(ok, Number(args['slow-part-ms'] || 1000)));
      }
      // Verified here; s3rver knows one account of its own and checks no
      // V4 signature: it is told that account's key.
      const headers = Object.assign({}, req.headers, {
        authorization: req.headers.authorization.replace(/Credential=[^/]+/, 'Credential=S3RVER'),
      });
      const up = http.request({ host: '127.0.0.1', port: s3port, method: req.method,
        path: req.url, headers }, (ur) => {
        res.writeHead(ur.statusCode, ur.headers);
        ur.pipe(res);
      });
      up.on('error', (e) => s3error(res, 502, 'BadGateway', String(e)));
      up.end(body);
    });
  });
  await new Promise((ok) => front.listen(0, '127.0.0.1', ok));

  const creds = http.createServer((req, res) => {
    if (args['creds-auth'] && req.headers.authorization !== args['creds-auth']) {
      log('creds refused: wrong Authorization');
      res.writeHead(401); return res.end('{"message":"unauthorized"}');
    }
    issued++;
    const akid = `ASIATEST${issued}`;
    const k = { secret: crypto.randomBytes(20).toString('hex'),
      token: crypto.randomBytes(40).toString('base64'),
      expires: Date.now() + credsTtl * 1000 };
    keys.set(akid, k);
    log(`creds ${akid}`);
    res.writeHead(200, { 'Content-Type': 'application/json' });
    res.end(JSON.stringify({
      RoleArn: 'arn:aws:iam::123456789012:role/porthole-relay',
      AccessKeyId: akid, SecretAccessKey: k.secret, Token: k.token,
      Expiration: new Date(k.expires).toISOString().replace(/\.\d{3}Z$/, 'Z'),
    }));
  });
  await new Promise((ok) => creds.listen(0, '127.0.0.1', ok));

  fs.writeFileSync(args.ready + '.tmp', JSON.stringify({
    front: front.address().port, creds: creds.address().port, s3rver: s3port }));
  fs.renameSync(args.ready + '.tmp', args.ready);
  log(`ready front ${front.address().port} creds ${creds.address().port} s3rver ${s3port}`);
}

main().catch((e) => { console.error(e); process.exit(1); });
