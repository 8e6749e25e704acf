// tus-js-client uploading one file, for side-by-side benchmarks:
// node tus-upload.mjs FILE ENDPOINT [CHUNK_BYTES]. Prints one JSON line when done.
import fs from 'node:fs';
import * as tus from 'tus-js-client';

const [file, endpoint, chunk] = process.argv.slice(2);
const size = fs.statSync(file).size;
const started = performance.now();
let events = 0;
const upload = new tus.Upload(fs.createReadStream(file), {
  endpoint,
  uploadSize: size,
  chunkSize: chunk ? Number(chunk) : Infinity,
  metadata: { filename: 'bench.bin', filetype: 'application/octet-stream' },
  retryDelays: [0, 100],
  onProgress: () => { events++; },
  onError: (e) => { console.error(e.message); process.exit(1); },
  onSuccess: () => {
    const ms = performance.now() - started;
    console.log(JSON.stringify({ url: upload.url, bytes: size, ms: +ms.toFixed(1), progressEvents: events }));
  },
});
upload.start();
