import { mkdirSync, mkdtempSync, readdirSync, renameSync, rmSync, statSync, utimesSync } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { normaliseProjectName, projectOfFile } from './pip-index.ts';

/** A package at one version, as generations name them. */
export interface Pin {
  name: string;
  version: string;
}

function pinKey(name: string, version: string): string {
  return `${normaliseProjectName(name)}==${version.toLowerCase()}`;
}

/** `name==version` of a distribution file (`app-1.0-py3-none-any.whl`, `app-1.0.tar.gz`), or undefined. */
export function pinOfFile(file: string): string | undefined {
  const project = projectOfFile(file);
  if (!project) return undefined;
  if (file.endsWith('.whl')) {
    const version = file.split('-')[1];
    return version ? pinKey(project, version) : undefined;
  }
  const match = /^(.+?)-(v?\d[^-]*?)\.(tar\.gz|tgz|tar\.bz2|tbz|tar\.xz|txz|tar|zip)$/i.exec(file);
  return match ? pinKey(project, match[2]!) : undefined;
}

/**
 * The distributions (wheels, or sdists where the index has no wheel) of every version a generation holds, kept
 * in one folder of procenv's data folder: shared by every processor (a file is kept once, whoever needed it),
 * filled in the background after each new generation, and bounded by size (the files used longest ago go first).
 * A restore installs from it first, so a version that left the index, or an index that cannot be reached, does
 * not stop it.
 */
export class WheelCache {
  private index?: Map<string, string>;
  private size = 0;

  constructor(readonly dir: string, readonly maxBytes: number, private readonly log?: Logger) {}

  /** The files by pin, read from the folder once and kept up to date by this process. */
  private files(): Map<string, string> {
    if (this.index) return this.index;
    mkdirSync(this.dir, { recursive: true });
    const index = new Map<string, string>();
    let size = 0;
    for (const file of readdirSync(this.dir)) {
      const pin = pinOfFile(file);
      if (!pin) continue;
      const st = statSync(join(this.dir, file), { throwIfNoEntry: false });
      if (!st?.isFile()) continue;
      index.set(pin, file);
      size += st.size;
    }
    this.size = size;
    this.index = index;
    return index;
  }

  has(pin: Pin): boolean {
    return this.files().has(pinKey(pin.name, pin.version));
  }

  /** The pins of `pins` the cache does not hold. */
  missing(pins: readonly Pin[]): Pin[] {
    return pins.filter((p) => !this.has(p));
  }

  /** Marks the files of `pins` as used now, so that eviction takes others first. */
  touch(pins: readonly Pin[]): void {
    const now = new Date();
    for (const p of pins) {
      const file = this.files().get(pinKey(p.name, p.version));
      if (file) {
        try {
          utimesSync(join(this.dir, file), now, now);
        } catch {
          this.index = undefined; // gone by another hand: read the folder again next time
        }
      }
    }
  }

  /** A fresh folder inside the cache's own for one download (moved in by `adopt`, so a half download is never seen). */
  stagingFolder(): string {
    this.files();
    return mkdtempSync(join(this.dir, '.download-'));
  }

  /** Moves the downloaded files of `staging` into the cache, then keeps the cache within its size. */
  adopt(staging: string): number {
    const index = this.files();
    let added = 0;
    try {
      for (const file of readdirSync(staging)) {
        const pin = pinOfFile(file);
        if (!pin || index.has(pin)) continue;
        const st = statSync(join(staging, file), { throwIfNoEntry: false });
        if (!st?.isFile()) continue;
        renameSync(join(staging, file), join(this.dir, file));
        index.set(pin, file);
        this.size += st.size;
        added++;
      }
    } finally {
      rmSync(staging, { recursive: true, force: true });
    }
    this.evict();
    return added;
  }

  /** Bytes held now. */
  bytes(): number {
    this.files();
    return this.size;
  }

  /** Removes the files used longest ago until the cache is within `maxBytes`. */
  private evict(): void {
    if (this.size <= this.maxBytes) return;
    const entries = [...this.files()].map(([pin, file]) => {
      const st = statSync(join(this.dir, file), { throwIfNoEntry: false });
      return { pin, file, size: st?.size ?? 0, used: st?.mtimeMs ?? 0 };
    }).sort((a, b) => a.used - b.used);
    for (const e of entries) {
      if (this.size <= this.maxBytes) break;
      rmSync(join(this.dir, e.file), { force: true });
      this.index!.delete(e.pin);
      this.size -= e.size;
      this.log?.info({ file: e.file, bytes: e.size }, 'wheel cache: evicted');
    }
  }
}
