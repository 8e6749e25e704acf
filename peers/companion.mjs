// Uppy's Companion as its users run it standalone (configured by COMPANION_* variables), on an
// S3-compatible store, bound to 127.0.0.1 on a free port; it prints its URL on a line of its own once it listens.
// Usage: node companion.mjs ENDPOINT BUCKET [PREFIX] [CHECKSUMS]
//   with AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY set. CHECKSUMS "sdk-default" leaves the AWS
//   SDK's default flexible checksums on: Companion 6.2.2 then presigns every part with the
//   CRC32 of an empty body, which a store checking it refuses (BadDigest).
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const [endpoint, bucket, prefix = '', checksums = 'when-required'] = process.argv.slice(2);
if (!endpoint || !bucket) {
  console.error('usage: node companion.mjs ENDPOINT BUCKET [PREFIX] [CHECKSUMS]');
  process.exit(2);
}
Object.assign(process.env, {
  COMPANION_SECRET: 'peer-secret',
  COMPANION_PREAUTH_SECRET: 'peer-preauth-secret',
  // Where Companion may send files it fetches itself; the S3 routes do not use it.
  COMPANION_UPLOAD_URLS: '^http://127\\.0\\.0\\.1:',
  COMPANION_DOMAIN: '127.0.0.1',
  COMPANION_PROTOCOL: 'http',
  COMPANION_DATADIR: mkdtempSync(join(tmpdir(), 'companion-')),
  COMPANION_CLIENT_ORIGINS: 'true',
  COMPANION_AWS_KEY: process.env.AWS_ACCESS_KEY_ID,
  COMPANION_AWS_SECRET: process.env.AWS_SECRET_ACCESS_KEY,
  COMPANION_AWS_BUCKET: bucket,
  COMPANION_AWS_ENDPOINT: endpoint,
  COMPANION_AWS_REGION: process.env.AWS_REGION || 'us-east-1',
  COMPANION_AWS_FORCE_PATH_STYLE: 'true',
  COMPANION_AWS_PREFIX: prefix,
});
if (checksums === 'when-required') process.env.AWS_REQUEST_CHECKSUM_CALCULATION = 'WHEN_REQUIRED';

// Imported once the environment is set: the standalone reads some of it on import.
const companion = await import('@uppy/companion');
const { default: standalone } = await import('@uppy/companion/standalone');
const { app } = standalone();
const server = app.listen(0, '127.0.0.1', () => {
  console.log(`http://127.0.0.1:${server.address().port}`);
});
companion.socket(server);
