// tus-js-client uploading one file through several servers in turn, one chunk each: every
// chunk is a new Upload resumed (HEAD, then PATCH) on the next server.
// node tus-alternate.mjs FILE CHUNK_BYTES BASE_URL... Prints one JSON line when done.
import fs from 'node:fs';
import * as tus from 'tus-js-client';

const [file, chunk, ...bases] = process.argv.slice(2);
const data = fs.readFileSync(file);
let path = null;
const rounds = [];

function once(base) {
  return new Promise((resolve, reject) => {
    const options = {
      endpoint: `${base}/files/`,
      uploadSize: data.length,
      chunkSize: Number(chunk),
      metadata: { filename: 'alternate.bin' },
      retryDelays: null,
      onError: reject,
      onSuccess: () => resolve(true),
      onChunkComplete: (_size, accepted, total) => {
        path = new URL(upload.url).pathname;
        if (accepted < total) upload.abort().then(() => resolve(false), reject);
      },
    };
    if (path) options.uploadUrl = `${base}${path}`;
    const upload = new tus.Upload(data, options);
    upload.start();
  });
}

for (let i = 0; ; i++) {
  const base = bases[i % bases.length];
  rounds.push(base);
  if (await once(base)) break;
  if (i > 1000) throw new Error('too many rounds');
}
console.log(JSON.stringify({ path, rounds }));
