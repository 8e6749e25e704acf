// A multipart/form-data echo server built on busboy, an independent parser.
//
//   node form-echo.mjs [PORT]     (0 or nothing: a free port; the first stdout line names it)
//
// POST any path: answers JSON {headers, fields[], files[], aborted, bytesReceived}, where each
// file has its field name, filename, mimeType, size and sha256 as busboy parsed them.
// ?slow_ms=N pauses N ms after each received chunk. ?discard=1 only counts bytes.
// GET /log: the last 20 requests, including ones the client aborted.
import http from 'node:http';
import crypto from 'node:crypto';
import busboy from 'busboy';

const log = [];

function reply(res, status, value) {
  if (res.writableEnded) return;
  res.statusCode = status;
  res.setHeader('content-type', 'application/json');
  res.end(JSON.stringify(value));
}

const server = http.createServer((req, res) => {
  const url = new URL(req.url, 'http://peer');
  res.setHeader('access-control-allow-origin', req.headers.origin ?? '*');
  res.setHeader('access-control-allow-methods', 'GET, POST, PUT, OPTIONS');
  res.setHeader('access-control-allow-headers', req.headers['access-control-request-headers'] ?? '*');
  res.setHeader('access-control-expose-headers', '*');
  if (req.method === 'OPTIONS') { res.statusCode = 204; res.end(); return; }
  if (req.method === 'GET' && url.pathname === '/log') { reply(res, 200, log.slice(-20)); return; }
  if (req.method === 'GET') { res.end('ok\n'); return; }

  const record = { path: url.pathname, headers: req.headers, fields: [], files: [], aborted: false, bytesReceived: 0 };
  log.push(record);
  const slow = Number(url.searchParams.get('slow_ms') ?? 0);
  req.on('data', (chunk) => {
    record.bytesReceived += chunk.length;
    if (slow) { req.pause(); setTimeout(() => req.resume(), slow); }
  });
  req.on('close', () => { if (!req.complete) record.aborted = true; });
  if (url.searchParams.has('discard')) {
    req.on('end', () => reply(res, 200, { bytesReceived: record.bytesReceived }));
    req.resume();
    return;
  }
  let parser;
  try {
    parser = busboy({ headers: req.headers, preservePath: true, defParamCharset: 'utf8', limits: { fileSize: Infinity, fields: Infinity, parts: Infinity } });
  } catch (e) {
    reply(res, 400, { error: e.message });
    return;
  }
  parser.on('field', (name, value, info) => record.fields.push({ name, value, mimeType: info.mimeType }));
  parser.on('file', (name, stream, info) => {
    const hash = crypto.createHash('sha256');
    let size = 0;
    stream.on('data', (d) => { size += d.length; hash.update(d); });
    stream.on('end', () => record.files.push({ name, filename: info.filename, mimeType: info.mimeType, size, sha256: hash.digest('hex') }));
  });
  parser.on('error', (e) => { record.error = e.message; reply(res, 400, record); });
  parser.on('close', () => reply(res, 200, record));
  req.pipe(parser);
});

server.listen(Number(process.argv[2] ?? 0), '127.0.0.1', () => {
  console.log(`form-echo listening on ${server.address().port}`);
});
process.on('SIGTERM', () => server.close(() => process.exit(0)));
