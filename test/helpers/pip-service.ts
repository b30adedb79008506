import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ConfigKey } from '../../src/config/schema.ts';
import type { Operation } from '../../src/domain/operation.ts';
import { cleanPipEnv, type TemplateVenv } from './pip-env.ts';
import { startTestService, type TestService } from './service.ts';
import { buildWheels, type WheelSpec } from './wheels.ts';

export const PIP_PROCESSOR = 'sample_pip';
export const PIP_PROCESSOR_ID = '5c1f4a8e-2b7d-4f3a-9e61-0d2c8b7a4f10';

export interface PipService extends TestService {
  wheels: string;
  token: string;
  venv: string;
  /** GET /operations/:id until it ends (or the deadline passes), as the owner. */
  waitFor(id: string, timeoutMs?: number): Promise<Operation>;
  get(path: string, searchParams?: Record<string, string>): Promise<{ status: number; body: any }>;
  update(updateCommand?: string): Promise<string>;
}

/**
 * A service whose pip processor (the sample_pip copy) has a real venv (a copy of the test file's template), with
 * pip pointed at a folder of wheels the test built (`--no-index --find-links`), a clean pip environment, and a
 * session of the processor's owner.
 */
export async function startPipService(template: TemplateVenv, wheels: readonly WheelSpec[], overrides: Partial<Record<ConfigKey, unknown>> = {}): Promise<PipService> {
  const dir = mkdtempSync(join(tmpdir(), 'procenv-wheels-'));
  await buildWheels(dir, wheels);
  const svc = await startTestService({ 'pip.noIndex': true, 'pip.findLinks': [dir], ...overrides }, { managerEnv: cleanPipEnv() });
  const close = svc.close.bind(svc);
  const venv = join(svc.catalog.folderOf(PIP_PROCESSOR), '.venv');
  await template.copyTo(venv);
  const token = await svc.login('demo');
  const headers = { 'x-session-token': token };
  const get = async (path: string, searchParams?: Record<string, string>) => {
    const res = await svc.http.get(path, { headers, ...(searchParams ? { searchParams } : {}) });
    return { status: res.statusCode, body: res.body ? JSON.parse(res.body) : undefined };
  };
  return Object.assign(svc, {
    wheels: dir,
    token,
    async close() {
      await close();
      rmSync(dir, { recursive: true, force: true });
    },
    venv,
    get,
    async update(updateCommand?: string) {
      const res = await svc.http.get('packageManager/environmentupdate', {
        headers, searchParams: { processorId: PIP_PROCESSOR_ID, workspace: '-', ...(updateCommand === undefined ? {} : { updateCommand }) },
      });
      if (res.statusCode !== 200) throw new Error(`environmentupdate answered ${res.statusCode}: ${res.body}`);
      return (JSON.parse(res.body) as { processObjId: string }).processObjId;
    },
    async waitFor(id: string, timeoutMs = 60_000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const { body } = await get(`operations/${id}`);
        if (['DONE', 'ERROR', 'STOPPED'].includes(body.status)) return body as Operation;
        if (Date.now() > deadline) throw new Error(`operation ${id} still ${body.status} after ${timeoutMs} ms`);
        await new Promise((r) => setTimeout(r, 100));
      }
    },
  });
}
