// Copies what this package shares with the browser package into src/shared: its types
// (crates/uptask-js/src/uptask.d.ts) and the Promise-that-is-the-task helper
// (crates/uptask-js/js/task.js). One source for both, so the two cannot drift apart.
import { copyFileSync, mkdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(dirname(fileURLToPath(import.meta.url)));
const browser = join(here, "..", "..", "crates", "uptask-js");
const shared = join(here, "src", "shared");
mkdirSync(shared, { recursive: true });
copyFileSync(join(browser, "src", "uptask.d.ts"), join(shared, "uptask.d.ts"));
copyFileSync(join(browser, "js", "task.js"), join(shared, "task.js"));
