// An "app" that uploads a file with tus and is killed (SIGKILL, as a phone's OS kills an app)
// once 30 % has gone: node --import tsx killed-app.ts URL FILE RESUME_STORE
import * as napi from "./napi/index";
import { engineOf } from "../src/bindings";
import { makeUploadFile } from "../src/upload";

const [url, filePath, resumeStore] = process.argv.slice(2);
if (!url || !filePath || !resumeStore) {
  console.error("usage: killed-app.ts URL FILE RESUME_STORE");
  process.exit(2);
}
const uploadFile = makeUploadFile(engineOf(napi));
// The N-API runtime's callbacks do not hold Node's event loop open (an app's JS thread is
// always open): without this, Node would exit while the upload runs.
setInterval(() => {}, 1000);
const task = uploadFile({ url, filePath, name: "file", protocol: "tus", resumeStore });
task.onProgressUpdate((p) => {
  if (p.progress >= 30) process.kill(process.pid, "SIGKILL");
});
task.then(
  () => {
    console.error("killed-app: the upload ended before 30 % was heard of");
    process.exit(3);
  },
  (e: Error) => {
    console.error(`killed-app: ${e.message}`);
    process.exit(4);
  },
);
