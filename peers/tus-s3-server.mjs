// @tus/server on @tus/s3-store, the Node anchor of the server benchmark:
// node tus-s3-server.mjs PORT ENDPOINT BUCKET PART_BYTES (keys from AWS_ACCESS_KEY_ID and
// AWS_SECRET_ACCESS_KEY). Prints its URL when it listens.
import http from 'node:http';
import { Server } from '@tus/server';
import { S3Store } from '@tus/s3-store';

process.stdout.on('error', () => {});

const [port, endpoint, bucket, part] = process.argv.slice(2);
const store = new S3Store({
  partSize: Number(part),
  s3ClientConfig: {
    bucket,
    endpoint,
    region: 'us-east-1',
    forcePathStyle: true,
    credentials: {
      accessKeyId: process.env.AWS_ACCESS_KEY_ID,
      secretAccessKey: process.env.AWS_SECRET_ACCESS_KEY,
    },
  },
});
const tus = new Server({ path: '/files', datastore: store, respectForwardedHeaders: false });
const srv = http.createServer((req, res) => tus.handle(req, res));
srv.listen(Number(port), '127.0.0.1', () => console.log(`tus server listening on http://127.0.0.1:${srv.address().port}/files`));
process.on('SIGTERM', () => srv.close(() => process.exit(0)));
