import { execFile } from 'node:child_process';
import { createReadStream } from 'node:fs';
import { readdir } from 'node:fs/promises';
import { createServer } from 'node:http';
import { createServer as createNetServer, type AddressInfo, type Socket } from 'node:net';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { cleanPipEnv, PYTHON } from './pip-env.ts';

const run = promisify(execFile);

/**
 * Writes a small pure-Python wheel as a wheel builder would (PEP 427): `<module>/__init__.py` with `__version__`,
 * and `<dist>.dist-info/` with METADATA, WHEEL and a RECORD holding each file's sha256. No setuptools, no network.
 */
const BUILD_WHEEL = `
import base64, hashlib, json, os, re, sys, zipfile
out_dir, name, version, requires = sys.argv[1], sys.argv[2], sys.argv[3], json.loads(sys.argv[4])
dist = re.sub(r"[-_.]+", "_", name)
module = dist.lower()
info = f"{dist}-{version}.dist-info"
metadata = f"Metadata-Version: 2.1\\nName: {name}\\nVersion: {version}\\nSummary: test package {name}\\n"
metadata += "".join(f"Requires-Dist: {r}\\n" for r in requires)
files = {
    f"{module}/__init__.py": f"__version__ = {version!r}\\n",
    f"{info}/METADATA": metadata,
    f"{info}/WHEEL": "Wheel-Version: 1.0\\nGenerator: procenv-tests\\nRoot-Is-Purelib: true\\nTag: py3-none-any\\n",
    f"{info}/top_level.txt": f"{module}\\n",
}
def digest(data):
    return "sha256=" + base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
record = "".join(f"{p},{digest(c.encode())},{len(c.encode())}\\n" for p, c in files.items()) + f"{info}/RECORD,,\\n"
files[f"{info}/RECORD"] = record
path = os.path.join(out_dir, f"{dist}-{version}-py3-none-any.whl")
with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
    for p, c in files.items():
        zf.writestr(p, c)
print(path)
`;

/** A wheel to build: name, version, and optionally its dependencies (`Requires-Dist`, e.g. `["gen-dep>=1.0"]`). */
export type WheelSpec = readonly [name: string, version: string, requires?: readonly string[]];

/** Builds each wheel into `dir`, one after the other. */
export async function buildWheels(dir: string, wheels: readonly WheelSpec[]): Promise<void> {
  for (const [name, version, requires] of wheels) await buildWheel(dir, name, version, requires ? { requires: [...requires] } : {});
}

/** Builds `<dir>/<name>-<version>-py3-none-any.whl` and answers its path. */
export async function buildWheel(dir: string, name: string, version: string, options: { requires?: string[] } = {}): Promise<string> {
  const { stdout } = await run(PYTHON, ['-c', BUILD_WHEEL, dir, name, version, JSON.stringify(options.requires ?? [])], { env: cleanPipEnv() });
  return stdout.trim();
}

/** PEP 503 name normalisation, as the index and pip apply it. */
export function normaliseName(name: string): string {
  return name.toLowerCase().replace(/[-_.]+/g, '-');
}

export interface IndexServer {
  /** The simple index root, `http://127.0.0.1:<port>/simple` (no trailing slash). */
  url: string;
  /** Paths requested so far, in order. */
  requests: string[];
  close(): Promise<void>;
}

/**
 * A PEP 503 simple index on 127.0.0.1:0 over the wheels in `dir` (read at each request, so tests may add files):
 * `/simple/<normalised>/` lists a project's files (404 when it has none), `/files/<file>` serves one.
 */
export async function startIndexServer(dir: string): Promise<IndexServer> {
  const requests: string[] = [];
  const server = createServer((req, res) => {
    const path = new URL(req.url ?? '/', 'http://127.0.0.1').pathname;
    requests.push(path);
    void (async () => {
      const files = (await readdir(dir)).filter((f) => f.endsWith('.whl') || f.endsWith('.tar.gz'));
      const project = /^\/simple\/([^/]+)\/$/.exec(path);
      if (project) {
        const wanted = project[1]!;
        const mine = files.filter((f) => normaliseName(f.split('-')[0]!) === wanted);
        if (mine.length === 0 || wanted !== normaliseName(wanted)) {
          res.writeHead(404).end('not found');
          return;
        }
        const links = mine.map((f) => `<a href="/files/${encodeURIComponent(f)}">${f}</a><br/>`).join('\n');
        res.writeHead(200, { 'content-type': 'text/html' }).end(`<!DOCTYPE html><html><body>\n${links}\n</body></html>`);
        return;
      }
      const file = /^\/files\/([^/]+)$/.exec(path);
      if (file && files.includes(decodeURIComponent(file[1]!))) {
        res.writeHead(200, { 'content-type': 'application/octet-stream' });
        createReadStream(join(dir, decodeURIComponent(file[1]!))).pipe(res);
        return;
      }
      res.writeHead(404).end('not found');
    })().catch(() => res.writeHead(500).end());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/simple`,
    requests,
    close: () => new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    }),
  };
}

export interface SilentServer {
  url: string;
  /** Connections accepted so far. */
  connections: number;
  close(): Promise<void>;
}

/**
 * A server on 127.0.0.1:0 that accepts connections and never answers: an index that hangs, for timeout and
 * cancel tests (pip waits on it until it is killed).
 */
export async function startSilentServer(): Promise<SilentServer> {
  const sockets = new Set<Socket>();
  const state = { connections: 0 };
  const server = createNetServer((socket) => {
    state.connections++;
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => undefined);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/simple`,
    get connections() {
      return state.connections;
    },
    close: () => new Promise<void>((resolve) => {
      for (const s of sockets) s.destroy();
      server.close(() => resolve());
    }),
  };
}
