import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import type { IgnoreRule } from '../../src/domain/audit-ignores.ts';
import type { FleetAudit, ProcessorAudit } from '../../src/services/audit.ts';
import { waitUntil } from '../helpers/cluster.ts';
import { startTestService, type TestService } from '../helpers/service.ts';

// The three sample processors (test/helpers/service.ts copies them), all owned by demo: sample_pip (public; numpy
// 1.24.4, requests 2.28.1, …), sample_oneshot (private; numpy 1.26.4, pandas 2.2.2, wasdi), sample_conda (public;
// numpy 1.21.5, gdal, python). No pip runs: the audit reads what packagesInfo.json says is installed.

const range = (name: string, events: Record<string, string>[]) => ({ package: { ecosystem: 'PyPI', name }, ranges: [{ type: 'ECOSYSTEM', events }] });

/** Made-up advisories on the sample packages (ids in 2099). */
const ADVISORIES: Record<string, unknown> = {
  'TEST-NUMPY-1.json': {
    id: 'TEST-NUMPY-1', aliases: ['CVE-2099-1001'], summary: 'numpy before 1.25.0 overflows', database_specific: { severity: 'HIGH' },
    affected: [range('NumPy', [{ introduced: '0' }, { fixed: '1.25.0' }])],
  },
  'TEST-NUMPY-2.json': {
    id: 'TEST-NUMPY-2', summary: 'numpy 1.26 before 1.26.5 reads past a buffer', database_specific: { severity: 'CRITICAL' },
    affected: [range('numpy', [{ introduced: '1.26.0' }, { fixed: '1.26.5' }])],
  },
  'TEST-REQ-1.json': {
    id: 'TEST-REQ-1', aliases: ['CVE-2099-2001'], summary: 'requests leaks a proxy header', database_specific: { severity: 'MODERATE' },
    affected: [range('requests', [{ introduced: '2.25' }, { fixed: '2.31.0' }])],
  },
  'TEST-REQ-2.json': {
    id: 'TEST-REQ-2', aliases: ['CVE-2099-2002'], summary: 'requests verifies certificates too late',
    severity: [{ type: 'CVSS_V3', score: 'CVSS:3.1/AV:N/AC:H/PR:N/UI:N/S:U/C:H/I:N/A:N' }],
    affected: [{ ...range('requests', [{ introduced: '2.31.0' }, { fixed: '2.32.0' }]), versions: ['2.28.1'] }],
  },
  'TEST-GO-1.json': { id: 'TEST-GO-1', summary: 'a Go module named like a Python package', affected: [{ package: { ecosystem: 'Go', name: 'Shapely' }, versions: ['1.8.5'] }] },
};

interface Setup {
  svc: TestService;
  dir: string;
  owner: string;
  stranger: string;
  admin: string;
  get<T = any>(path: string, token: string, searchParams?: Record<string, string>): Promise<{ status: number; body: T }>;
  post<T = any>(path: string, token: string, json: unknown): Promise<{ status: number; body: T }>;
  del<T = any>(path: string, token: string): Promise<{ status: number; body: T }>;
}

async function setup(t: { teardown(fn: () => unknown): void }, withDatabase = true): Promise<Setup> {
  const dir = mkdtempSync(join(tmpdir(), 'procenv-audit-osv-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  for (const [file, doc] of Object.entries(ADVISORIES)) writeFileSync(join(dir, file), JSON.stringify(doc));
  const svc = await startTestService(withDatabase ? { advisories: dir } : {}, { worker: false });
  t.teardown(() => svc.close());
  await svc.advisories?.ready();
  const answer = (res: { statusCode: number; body: string }) => ({ status: res.statusCode, body: res.body ? JSON.parse(res.body) : undefined });
  const headers = (token: string) => ({ 'x-session-token': token });
  return {
    svc, dir,
    owner: await svc.login('demo'), stranger: await svc.login('stranger'), admin: await svc.login('root', { admin: true }),
    get: async (path, token, searchParams = {}) => answer(await svc.http.get(path, { headers: headers(token), searchParams })),
    post: async (path, token, json) => answer(await svc.http.post(path, { headers: headers(token), json })),
    del: async (path, token) => answer(await svc.http.delete(path, { headers: headers(token) })),
  };
}

/** A finding as [package, version, advisory ids, fixedVersion]. */
const brief = (findings: ProcessorAudit['findings']) => findings.map((f) => [f.package, f.version, f.advisories.map((a) => a.id), f.fixedVersion]);
const byProcessor = (audit: FleetAudit) => Object.fromEntries(audit.processors.map((p) => [p.processor, brief(p.findings)]));
const inAnHour = () => new Date(Date.now() + 3_600_000).toISOString();

test('without a configured database both audits answer 200 with no findings and say so', async (t) => {
  const { get, owner } = await setup(t, false);
  t.deepEqual((await get('audit', owner)).body, { database: { configured: false }, processors: [], totals: { processors: 0, packages: 0, advisories: 0 } });
  const one = await get('processors/sample_pip/audit', owner);
  t.is(one.status, 200);
  t.deepEqual(one.body, { processor: 'sample_pip', manager: 'pip', database: { configured: false }, findings: [] });
});

test('a processor\'s audit and the fleet\'s list the affected packages with their advisories and the security target, for the processors the caller can read', async (t) => {
  const { svc, get, owner, stranger, admin } = await setup(t);
  const pip = await get<ProcessorAudit>('processors/sample_pip/audit', owner);
  t.is(pip.status, 200);
  t.like(pip.body.database, { configured: true, source: 'folder', loading: false, advisories: 4, packages: 2, files: 5, skippedCount: 0 });
  t.true((pip.body.database as { loadedAt: number }).loadedAt > 0);
  t.deepEqual(brief(pip.body.findings), [
    ['numpy', '1.24.4', ['TEST-NUMPY-1'], '1.25.0'],
    // 2.31.0 fixes TEST-REQ-1 but TEST-REQ-2 affects it; 2.32.0 clears both.
    ['requests', '2.28.1', ['TEST-REQ-1', 'TEST-REQ-2'], '2.32.0'],
  ], 'Shapely 1.8.5 is named by a Go advisory only');
  t.deepEqual(pip.body.findings[1]!.advisories[1], {
    id: 'TEST-REQ-2', aliases: ['CVE-2099-2002'], summary: 'requests verifies certificates too late',
    severity: 'CVSS:3.1/AV:N/AC:H/PR:N/UI:N/S:U/C:H/I:N/A:N', fixed: ['2.32.0'],
  });
  t.like(pip.body.findings[0]!.advisories[0], { aliases: ['CVE-2099-1001'], severity: 'HIGH', fixed: ['1.25.0'] });

  const fleet = (await get<FleetAudit>('audit', owner)).body;
  t.deepEqual(byProcessor(fleet), {
    sample_conda: [['numpy', '1.21.5', ['TEST-NUMPY-1'], '1.25.0']],
    sample_oneshot: [['numpy', '1.26.4', ['TEST-NUMPY-2'], '1.26.5']],
    sample_pip: brief(pip.body.findings),
  });
  t.deepEqual(fleet.processors.map((p) => [p.processor, p.type, p.manager]), [['sample_conda', 'conda', 'conda'], ['sample_oneshot', 'pip_oneshot', 'pip'], ['sample_pip', 'python_pip_2', 'pip']]);
  t.deepEqual(fleet.totals, { processors: 3, packages: 4, advisories: 4 });
  t.deepEqual((await get<FleetAudit>('audit', admin)).body.processors.map((p) => p.processor), ['sample_conda', 'sample_oneshot', 'sample_pip']);

  // The private processor is not audited for someone who cannot read it, and its own audit answers as the rest of the API.
  const theirs = (await get<FleetAudit>('audit', stranger)).body;
  t.deepEqual(theirs.processors.map((p) => p.processor), ['sample_conda', 'sample_pip']);
  t.deepEqual(theirs.totals, { processors: 2, packages: 3, advisories: 3 });
  const refused = await get('processors/sample_oneshot/audit', stranger);
  t.is(refused.status, 403);
  t.is(refused.body.error.code, 'PROCESSOR_NOT_ACCESSIBLE');
  t.is((await get('audit', stranger, { processor: 'sample_oneshot' })).body.processors.length, 0);
  t.is((await get('processors/nope/audit', owner)).status, 403, 'an unknown processor as an unreadable one');

  // Filters.
  t.deepEqual(byProcessor((await get<FleetAudit>('audit', owner, { severity: 'critical' })).body), { sample_oneshot: [['numpy', '1.26.4', ['TEST-NUMPY-2'], '1.26.5']] });
  t.deepEqual(byProcessor((await get<FleetAudit>('audit', owner, { severity: 'MEDIUM', processor: 'sample_pip' })).body), { sample_pip: [['requests', '2.28.1', ['TEST-REQ-1'], '2.32.0']] }, 'MEDIUM is MODERATE; a CVSS vector has no level');
  t.deepEqual(Object.keys(byProcessor((await get<FleetAudit>('audit', owner, { package: 'REQUESTS' })).body)), ['sample_pip']);
  t.deepEqual(brief((await get<ProcessorAudit>('processors/sample_pip/audit', owner, { package: 'NumPy' })).body.findings), [['numpy', '1.24.4', ['TEST-NUMPY-1'], '1.25.0']]);
  for (const [path, params] of [['audit', { severity: 'urgent' }], ['audit', { ignored: 'maybe' }], ['processors/sample_pip/audit', { package: 'x'.repeat(201) }]] as const) {
    const bad = await get(path, owner, params);
    t.is(bad.status, 400, JSON.stringify(params));
    t.is(bad.body.error.code, 'INVALID_PARAMETER');
  }
  t.is((await svc.http.get('audit')).statusCode, 401);

  // The service's own callers (batches): no permission check, the same findings and targets.
  t.deepEqual(brief(await svc.audit.auditProcessor('sample_oneshot')), [['numpy', '1.26.4', ['TEST-NUMPY-2'], '1.26.5']]);
  t.deepEqual(await svc.audit.securityTarget('requests', '2.28.1'), { advisories: ['TEST-REQ-1', 'TEST-REQ-2'], version: '2.32.0' });
  t.deepEqual(await svc.audit.securityTarget('requests', '2.32.0'), { advisories: [] });
});

test('ignore rules hide an advisory (by id or alias) where they apply, ?ignored=true shows it marked, and an expired rule hides nothing', async (t) => {
  const { svc, get, post, del, owner, admin } = await setup(t);
  const requests = async (params: Record<string, string> = {}) => (await get<ProcessorAudit>('processors/sample_pip/audit', owner, params)).body.findings.find((f) => f.package === 'requests');

  const made = await post<IgnoreRule>('audit/ignores', owner, { advisory: 'CVE-2099-2002', processor: 'sample_pip', reason: 'no certificates verified in this processor', expiresAt: inAnHour() });
  t.is(made.status, 201, JSON.stringify(made.body));
  t.like(made.body, { advisory: 'CVE-2099-2002', processor: 'sample_pip', reason: 'no certificates verified in this processor', userId: 'demo' });
  t.regex(made.body.id, /^[0-9a-f-]{36}$/);
  t.true(Math.abs(made.body.createdAt - Date.now()) < 60_000);

  // Hidden by its alias; the security target no longer has to clear it.
  t.deepEqual(brief([(await requests())!]), [['requests', '2.28.1', ['TEST-REQ-1'], '2.31.0']]);
  const shown = (await requests({ ignored: 'true' }))!;
  t.deepEqual(shown.advisories.map((a) => [a.id, a.ignoredBy?.id]), [['TEST-REQ-1', undefined], ['TEST-REQ-2', made.body.id]]);
  t.is(shown.fixedVersion, '2.31.0');
  t.deepEqual(await svc.audit.securityTarget('requests', '2.28.1', 'sample_pip'), { advisories: ['TEST-REQ-1'], version: '2.31.0' });
  t.deepEqual(await svc.audit.securityTarget('requests', '2.28.1'), { advisories: ['TEST-REQ-1', 'TEST-REQ-2'], version: '2.32.0' }, 'another processor is not covered');

  // A rule for every processor, narrowed to a package (any spelling): hides numpy's advisory everywhere.
  const everywhere = await post<IgnoreRule>('audit/ignores', admin, { advisory: 'TEST-NUMPY-1', package: 'NumPy', reason: 'not reachable in WASDI processors', expiresAt: inAnHour() });
  t.is(everywhere.status, 201);
  t.deepEqual(byProcessor((await get<FleetAudit>('audit', owner)).body), {
    sample_oneshot: [['numpy', '1.26.4', ['TEST-NUMPY-2'], '1.26.5']],
    sample_pip: [['requests', '2.28.1', ['TEST-REQ-1'], '2.31.0']],
  });
  t.deepEqual(Object.keys(byProcessor((await get<FleetAudit>('audit', owner, { ignored: 'true' })).body)), ['sample_conda', 'sample_oneshot', 'sample_pip']);
  t.deepEqual((await svc.audit.auditProcessor('sample_conda')), [], 'internal callers get the rules applied too');

  // One that expires in a moment: hides now, and by itself no longer once past.
  const brief1 = await post<IgnoreRule>('audit/ignores', owner, { advisory: 'TEST-NUMPY-2', processor: 'sample_oneshot', reason: 'patched by hand until the upgrade', expiresAt: new Date(Date.now() + 1500).toISOString() });
  t.is(brief1.status, 201);
  t.deepEqual((await get<ProcessorAudit>('processors/sample_oneshot/audit', owner)).body.findings, []);
  const back = await waitUntil('the expired rule stops hiding', async () => {
    const findings = (await get<ProcessorAudit>('processors/sample_oneshot/audit', owner)).body.findings;
    return findings.length > 0 && findings;
  }, 10_000, 200);
  t.deepEqual(brief(back), [['numpy', '1.26.4', ['TEST-NUMPY-2'], '1.26.5']]);
  const listed = (await get<(IgnoreRule & { active: boolean })[]>('audit/ignores', owner)).body;
  t.deepEqual(listed.map((r) => [r.id, r.active]), [[made.body.id, true], [everywhere.body.id, true], [brief1.body.id, false]]);

  // Removed: the advisory is back.
  t.is((await del(`audit/ignores/${made.body.id}`, owner)).status, 204);
  t.deepEqual((await requests())!.advisories.map((a) => a.id), ['TEST-REQ-1', 'TEST-REQ-2']);
  const again = await del(`audit/ignores/${made.body.id}`, owner);
  t.is(again.status, 404);
  t.is(again.body.error.code, 'IGNORE_RULE_NOT_FOUND');

  // The rules are in the store, not in memory.
  t.deepEqual((await svc.store.listIgnoreRules()).map((r) => r.id), [everywhere.body.id, brief1.body.id]);
});

test('who may make, see and remove ignore rules', async (t) => {
  const { get, post, del, owner, stranger, admin } = await setup(t);
  const rule = (extra: Record<string, unknown>) => ({ advisory: 'TEST-NUMPY-1', reason: 'reviewed', expiresAt: inAnHour(), ...extra });
  const refusal = async (token: string, body: unknown, status: number, code: string) => {
    const res = await post('audit/ignores', token, body);
    t.is(res.status, status, JSON.stringify(body));
    t.is(res.body.error.code, code, JSON.stringify(body));
  };
  await refusal(owner, rule({}), 403, 'ADMIN_ONLY');
  await refusal(stranger, rule({ processor: 'sample_pip' }), 403, 'PROCESSOR_NOT_WRITABLE');
  await refusal(stranger, rule({ processor: 'sample_oneshot' }), 403, 'PROCESSOR_NOT_ACCESSIBLE');
  await refusal(owner, rule({ processor: 'no_such_processor' }), 403, 'PROCESSOR_NOT_ACCESSIBLE');

  const onPip = (await post<IgnoreRule>('audit/ignores', owner, rule({ processor: 'sample_pip' }))).body;
  const onOneshot = (await post<IgnoreRule>('audit/ignores', owner, rule({ processor: 'sample_oneshot', advisory: 'TEST-NUMPY-2' }))).body;
  const global = (await post<IgnoreRule>('audit/ignores', admin, rule({}))).body;
  const ids = async (token: string) => (await get<IgnoreRule[]>('audit/ignores', token)).body.map((r) => r.id);
  t.deepEqual(await ids(owner), [onPip.id, onOneshot.id, global.id]);
  t.deepEqual(await ids(stranger), [onPip.id, global.id], 'not the rule of a processor the stranger cannot read');
  t.deepEqual(await ids(admin), [onPip.id, onOneshot.id, global.id]);

  const removal = async (token: string, id: string, status: number, code?: string) => {
    const res = await del(`audit/ignores/${id}`, token);
    t.is(res.status, status, id);
    if (code) t.is(res.body.error.code, code);
  };
  await removal(stranger, onPip.id, 403, 'PROCESSOR_NOT_WRITABLE');
  await removal(stranger, onOneshot.id, 404, 'IGNORE_RULE_NOT_FOUND');
  await removal(owner, global.id, 403, 'ADMIN_ONLY');
  await removal(owner, 'not-a-rule', 404, 'IGNORE_RULE_NOT_FOUND');
  await removal(owner, onPip.id, 204);
  await removal(admin, onOneshot.id, 204);
  await removal(admin, global.id, 204);
  t.deepEqual(await ids(admin), []);
});

test('a bad ignore rule is a 400 saying what is wrong, never a 500', async (t) => {
  const { svc, post, owner } = await setup(t);
  const good = { advisory: 'TEST-NUMPY-1', processor: 'sample_pip', reason: 'reviewed', expiresAt: inAnHour() };
  const cases: [string, unknown, RegExp][] = [
    ['an unknown field', { ...good, severity: 'LOW' }, /unknown field "severity"/],
    ['an advisory that is not a string', { ...good, advisory: 7 }, /"advisory"/],
    ['an advisory with a slash', { ...good, advisory: '../x' }, /"advisory"/],
    ['no reason', { ...good, reason: undefined }, /"reason"/],
    ['an empty reason', { ...good, reason: '   ' }, /"reason"/],
    ['a reason too long', { ...good, reason: 'x'.repeat(501) }, /1 to 500 characters/],
    ['a package that is not a name', { ...good, package: 'numpy; rm -rf /' }, /"package"/],
    ['a processor that is not a name', { ...good, processor: '../etc' }, /"processor"/],
    ['no expiry', { ...good, expiresAt: undefined }, /"expiresAt" must be an ISO 8601/],
    ['an expiry that is not ISO 8601', { ...good, expiresAt: 'next tuesday' }, /"expiresAt" must be an ISO 8601/],
    ['an expiry in ms', { ...good, expiresAt: Date.now() + 60_000 }, /"expiresAt" must be an ISO 8601/],
    ['a time without its zone', { ...good, expiresAt: '2099-01-01T00:00:00' }, /"expiresAt" must be an ISO 8601/],
    ['an impossible date', { ...good, expiresAt: '2030-02-31T99:00:00Z' }, /"expiresAt" must be an ISO 8601/],
    ['an expiry in the past', { ...good, expiresAt: '2020-01-01T00:00:00Z' }, /not in the future/],
    ['an expiry too far ahead', { ...good, expiresAt: '2099-01-01' }, /days ahead/],
    ['an array', [good], /not a JSON object|not an object/],
  ];
  for (const [what, body, message] of cases) {
    const res = await post('audit/ignores', owner, body);
    t.is(res.status, 400, what);
    t.is(res.body?.error?.code, 'INVALID_BODY', what);
    t.regex(res.body?.error?.message ?? '', message, what);
  }
  const raw = async (body: string, contentType: string) => {
    const res = await svc.http.post('audit/ignores', { headers: { 'x-session-token': owner, 'content-type': contentType }, body });
    return { status: res.statusCode, code: (JSON.parse(res.body) as { error: { code: string } }).error.code };
  };
  t.deepEqual(await raw('{"advisory": ', 'application/json'), { status: 400, code: 'INVALID_BODY' });
  t.deepEqual(await raw('advisory=x', 'text/plain'), { status: 400, code: 'INVALID_BODY' });
  t.deepEqual(await raw(JSON.stringify({ ...good, reason: 'x'.repeat(20_000) }), 'application/json'), { status: 413, code: 'ENTITY_TOO_LARGE' });
  t.is((await svc.http.post('audit/ignores', { json: good })).statusCode, 401);
  t.deepEqual(await svc.store.listIgnoreRules(), [], 'nothing was stored');
});

test('the service reloads its database when a file is added, and reports a malformed one by name', async (t) => {
  const { dir, get, owner } = await setup(t);
  t.deepEqual((await get<ProcessorAudit>('processors/sample_oneshot/audit', owner, { package: 'pandas' })).body.findings, []);
  writeFileSync(join(dir, 'TEST-PANDAS-1.json'), JSON.stringify({ id: 'TEST-PANDAS-1', summary: 'pandas 2.2.2 only', affected: [{ package: { ecosystem: 'PyPI', name: 'pandas' }, versions: ['2.2.2'] }] }));
  writeFileSync(join(dir, 'half-written.json'), '{"id": "TEST-');
  const audit = await waitUntil('the new advisory is audited', async () => {
    const body = (await get<ProcessorAudit>('processors/sample_oneshot/audit', owner, { package: 'pandas' })).body;
    return body.findings.length > 0 && body;
  });
  t.deepEqual(brief(audit.findings), [['pandas', '2.2.2', ['TEST-PANDAS-1'], undefined]], 'no fixed version known');
  t.like(audit.database, { advisories: 5, skippedCount: 1, skipped: [{ file: 'half-written.json', reason: 'not valid JSON' }] });
});
