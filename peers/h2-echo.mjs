// An HTTP/2 multipart echo server on Node's own http2 module (an independent HTTP/2 stack),
// parsing with busboy.
//
//   node h2-echo.mjs PORT               cleartext HTTP/2 with prior knowledge (h2c)
//   node h2-echo.mjs PORT CERT KEY      TLS, offering h2 and http/1.1 by ALPN
//
// POST: answers JSON {httpVersion, files[], fields[], bytesReceived}, each file with its field
// name, filename, size and sha256 as busboy parsed it. ?stall=1 reads nothing and never
// answers (the client's flow-control window fills). ?early=413 answers 413 at once, unread.
// ?big=N answers 200 with N MiB of zeros.
// The first stdout line names the port.
import fs from 'node:fs';
import http2 from 'node:http2';
import crypto from 'node:crypto';
import busboy from 'busboy';

process.stdout.on('error', () => {});

function handle(req, res) {
  const url = new URL(req.url, 'http://peer');
  if (url.searchParams.has('stall')) {
    req.pause();
    return;
  }
  const big = Number(url.searchParams.get('big') ?? 0);
  if (big) {
    // A hostile answer: `big` MiB of body, more than a client should hold.
    res.writeHead(200, { 'content-type': 'application/octet-stream' });
    const mib = Buffer.alloc(1 << 20);
    let left = big;
    const more = () => {
      while (left > 0) {
        left -= 1;
        if (!res.write(mib)) { res.once('drain', more); return; }
      }
      res.end();
    };
    more();
    return;
  }
  const early = url.searchParams.get('early');
  if (early) {
    res.writeHead(Number(early), { 'content-type': 'text/plain' });
    res.end('refused early\n');
    return;
  }
  const record = { httpVersion: req.httpVersion, files: [], fields: [], bytesReceived: 0 };
  req.on('data', (chunk) => { record.bytesReceived += chunk.length; });
  const parser = busboy({ headers: req.headers, defParamCharset: 'utf8' });
  parser.on('field', (name, value) => record.fields.push({ name, value }));
  parser.on('file', (name, stream, info) => {
    const hash = crypto.createHash('sha256');
    let size = 0;
    stream.on('data', (d) => { size += d.length; hash.update(d); });
    stream.on('end', () => record.files.push({ name, filename: info.filename, size, sha256: hash.digest('hex') }));
  });
  parser.on('error', (e) => { res.writeHead(400, { 'content-type': 'application/json' }); res.end(JSON.stringify({ error: e.message })); });
  parser.on('close', () => { res.writeHead(200, { 'content-type': 'application/json' }); res.end(JSON.stringify(record)); });
  req.pipe(parser);
}

const [port = '0', cert, key] = process.argv.slice(2);
const server = cert
  ? http2.createSecureServer({ cert: fs.readFileSync(cert), key: fs.readFileSync(key), allowHTTP1: true }, handle)
  : http2.createServer(handle);
server.listen(Number(port), '127.0.0.1', () => console.log(`h2 echo listening on port ${server.address().port}`));
process.on('SIGTERM', () => process.exit(0));
