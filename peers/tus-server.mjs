// An independent tus 1.0 server (@tus/server with its file store), for interop tests and
// benchmarks: node tus-server.mjs PORT DIR. Prints its URL when it listens.
import http from 'node:http';
import { Server, EVENTS } from '@tus/server';
import { FileStore } from '@tus/file-store';

// Whoever started us may stop reading after the first line; that must not end the server.
process.stdout.on('error', () => {});

const port = Number(process.argv[2] ?? 1080);
const dir = process.argv[3] ?? './tus-files';
const tus = new Server({
  path: '/files',
  datastore: new FileStore({ directory: dir }),
  respectForwardedHeaders: false,
});
tus.on(EVENTS.POST_FINISH, (req, res, upload) => console.log(`finished ${upload.id} size=${upload.size}`));
const srv = http.createServer((req, res) => tus.handle(req, res));
srv.listen(port, '127.0.0.1', () => console.log(`tus server listening on http://127.0.0.1:${srv.address().port}/files`));
process.on('SIGTERM', () => srv.close(() => process.exit(0)));
