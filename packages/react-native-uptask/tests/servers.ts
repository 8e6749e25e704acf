// Real servers on loopback for the tests over the engine: `uptask serve`, busboy (an
// independent multipart parser) and @tus/server, started from the repository's peers/.

import { type ChildProcess, spawn } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { existsSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";

export const ROOT = resolve(__dirname, "..", "..", "..");
const PEERS = join(ROOT, "peers");

/** A process that names where it listens (`pattern`'s group 1 is the port); `stop` kills it. */
export class Server {
  private constructor(
    private readonly child: ChildProcess,
    /** http://127.0.0.1:PORT */
    readonly url: string,
  ) {}

  static start(argv: string[], pattern: RegExp, cwd?: string): Promise<Server> {
    const [command, ...args] = argv;
    if (command === undefined) throw new Error("no command");
    const child = spawn(command, args, { cwd, stdio: ["ignore", "pipe", "pipe"] });
    return new Promise((done, fail) => {
      let seen = "";
      const timer = setTimeout(() => {
        child.kill("SIGKILL");
        fail(new Error(`${command} did not say where it listens within 30 s; it printed: ${seen}`));
      }, 30_000);
      const read = (chunk: Buffer) => {
        seen += chunk.toString();
        const found = pattern.exec(seen);
        if (found) {
          clearTimeout(timer);
          done(new Server(child, `http://127.0.0.1:${found[1]}`));
        }
      };
      // Both pipes are drained for the server's whole life, so it never blocks on them.
      child.stdout?.on("data", read);
      child.stderr?.on("data", read);
      child.on("exit", (code) => {
        clearTimeout(timer);
        fail(new Error(`${command} exited (${code}) before listening: ${seen}`));
      });
    });
  }

  stop(): void {
    this.child.kill("SIGKILL");
  }
}

function needPeer(module: string): void {
  if (!existsSync(join(PEERS, "node_modules", module))) {
    throw new Error(`${module} is not installed in peers/ (run \`npm install\` there)`);
  }
}

/** busboy behind peers/form-echo.mjs: answers what it parsed, with sha256 of each file. */
export function busboy(): Promise<Server> {
  needPeer("busboy");
  return Server.start(["node", "form-echo.mjs", "0"], /listening on (\d+)/, PEERS);
}

/** `uptask serve` storing in `dir`, with at most 4 MiB per request. */
export function serve(dir: string): Promise<Server> {
  const bin = process.env["UPTASK_BIN"] ?? join(ROOT, "target", "debug", "uptask");
  if (!existsSync(bin)) {
    throw new Error(`${bin} is missing: build it with \`cargo build -p uptask-cli\` or set UPTASK_BIN`);
  }
  const argv = [bin, "serve", "--addr", "127.0.0.1:0", "--dir", dir, "--max-size", "4MiB"];
  return Server.start(argv, /http:\/\/127\.0\.0\.1:(\d+)/);
}

/** @tus/server with its file store in `dir`; its creation URL is `url + "/files/"`. */
export function tusServer(dir: string): Promise<Server> {
  needPeer("@tus/server");
  return Server.start(["node", "tus-server.mjs", "0", dir], /http:\/\/127\.0\.0\.1:(\d+)\/files/, PEERS);
}

/** A fresh temporary directory. */
export function scratch(): string {
  return mkdtempSync(join(tmpdir(), "uptask-rn-"));
}

/** A file of `size` random bytes in `dir`, and its sha256. */
export function makeFile(dir: string, name: string, size: number): { path: string; sha256: string } {
  const data = randomBytes(size);
  const path = join(dir, name);
  writeFileSync(path, data);
  return { path, sha256: createHash("sha256").update(data).digest("hex") };
}

/** Fails loudly unless `p` settles within `ms`. */
export function within<T>(ms: number, what: string, p: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, fail) => {
    timer = setTimeout(() => fail(new Error(`${what}: not settled within ${ms} ms`)), ms);
  });
  return Promise.race([p, late]).finally(() => clearTimeout(timer));
}
