import test from 'ava';
import { SAMPLES, allOperations, assertError, endpointPath, hashTree, json, rawGet, serviceFor, tokenHeader } from './support.ts';

/**
 * Bad input answers 4xx with `{ error: { code, message } }`, never a 500 or a crash: each row runs against its own
 * service, then a good request proves the service still serves, the processors folder is hashed before and after,
 * and the store must hold no operation. Paths are sent byte for byte (see rawGet); values are written the way an
 * attacker would put them in a URL.
 */
interface BadInput {
  title: string;
  path: string;
  status: number;
  /** The error code; undefined only where Node's HTTP parser answers before the application (431). */
  code?: string;
  /** Added to (or replacing) the owner's session header. */
  headers?: Record<string, string>;
  method?: string;
  /** Node's parser refuses the request and closes the connection: a reset before the answer counts as refused. */
  orReset?: boolean;
}

const PIP = SAMPLES.pip;
const update = (command: string) => `/packageManager/environmentupdate?processorId=${PIP.id}&workspace=-&updateCommand=${command}`;
const BAD_COMMAND = { status: 400, code: 'INVALID_UPDATE_COMMAND' } as const;
const NOT_ACCESSIBLE = { status: 403, code: 'PROCESSOR_NOT_ACCESSIBLE' } as const;

const BAD_INPUTS: BadInput[] = [
  // Shell injection in the command (commands run without a shell, and the name is validated anyway).
  { title: 'a command with "; rm -rf /"', path: update('addPackage/numpy%3Brm%20-rf%20%2F'), ...BAD_COMMAND },
  { title: 'a command with $(id)', path: update('addPackage/%24(id)/'), ...BAD_COMMAND },
  { title: 'a command with backticks', path: update('addPackage/%60id%60/'), ...BAD_COMMAND },
  { title: 'a command with a pipe', path: update('addPackage/numpy%7Ccat%20%2Fetc%2Fpasswd/'), ...BAD_COMMAND },
  { title: 'a command with &&', path: update('addPackage/numpy%26%26id/'), ...BAD_COMMAND },
  { title: 'a command with a newline', path: update('addPackage/numpy%0AremovePackage/pip/'), ...BAD_COMMAND },
  { title: 'a command with a NUL byte', path: update('addPackage/numpy%00/'), ...BAD_COMMAND },
  // Option injection: anything pip could read as an option.
  { title: 'a --index-url option as the package', path: update('addPackage/--index-url=http://x/'), ...BAD_COMMAND },
  { title: 'an encoded --index-url option as the package', path: update('addPackage%2F--index-url%3Dhttp%3A%2F%2Fx%2F'), ...BAD_COMMAND },
  { title: 'a -e option as the package', path: update('addPackage/-e/'), ...BAD_COMMAND },
  { title: 'an option as the version', path: update('addPackage/numpy/--pre/'), ...BAD_COMMAND },
  // URLs and paths instead of names.
  { title: 'a git+https URL as the package', path: update('addPackage/git%2Bhttps://github.com/x/y.git/'), ...BAD_COMMAND },
  { title: 'an encoded http URL as the package', path: update('addPackage/http:%2F%2Fx'), ...BAD_COMMAND },
  { title: 'a ../../etc path as the package', path: update('addPackage/..%2F..%2Fetc/'), ...BAD_COMMAND },
  { title: 'a double-encoded ../../etc path as the package', path: update('addPackage/..%252F..%252Fetc/'), ...BAD_COMMAND },
  { title: 'a ./pkg path as the package', path: update('addPackage/.%2Fpkg/'), ...BAD_COMMAND },
  { title: 'a .. package name', path: update('addPackage/../'), ...BAD_COMMAND },
  // Path traversal in processor names and ids (WASDI answers unknown names 403).
  { title: 'listPackages?name=../etc', path: '/packageManager/listPackages?name=../etc', ...NOT_ACCESSIBLE },
  { title: 'listPackages?name=..%2F..', path: '/packageManager/listPackages?name=..%2F..', ...NOT_ACCESSIBLE },
  { title: 'listPackages?name=%2Fetc%2Fpasswd', path: '/packageManager/listPackages?name=%2Fetc%2Fpasswd', ...NOT_ACCESSIBLE },
  { title: 'listPackages?name=a%00b', path: '/packageManager/listPackages?name=a%00b', ...NOT_ACCESSIBLE },
  { title: 'managerVersion?name=../sample_pip', path: '/packageManager/managerVersion?name=..%2Fsample_pip', ...NOT_ACCESSIBLE },
  { title: 'environmentActions?name=sample_pip/../../etc', path: '/packageManager/environmentActions?name=sample_pip%2F..%2F..%2Fetc', ...NOT_ACCESSIBLE },
  { title: 'reset of a ../ processor id', path: '/packageManager/reset?processorId=..%2F..%2Fetc&workspace=-', status: 403, code: 'PROCESSOR_NOT_WRITABLE' },
  // Actions outside the whitelist, and malformed commands.
  { title: 'the getPackage action', path: update('getPackage/x/'), ...BAD_COMMAND },
  { title: 'the installPackage action', path: update('installPackage/x/'), ...BAD_COMMAND },
  { title: 'AddPackage (wrong case)', path: update('AddPackage/x/'), ...BAD_COMMAND },
  { title: 'an action without a package', path: update('addPackage'), ...BAD_COMMAND },
  { title: 'removePackage with a version', path: update('removePackage/numpy/1.0/'), ...BAD_COMMAND },
  { title: 'removePackage with a name==version', path: update('removePackage/numpy%3D%3D1.0/'), ...BAD_COMMAND },
  { title: 'too many parts', path: update('addPackage/numpy/1.0/extra/'), ...BAD_COMMAND },
  { title: 'an empty package', path: update('addPackage//'), ...BAD_COMMAND },
  { title: 'an empty version', path: update('addPackage/numpy//'), ...BAD_COMMAND },
  { title: 'a blank command', path: update('%20%20'), ...BAD_COMMAND },
  { title: 'a non-ASCII package name', path: update('addPackage/n%C3%BCmpy/'), ...BAD_COMMAND },
  { title: 'version 1.0;rm', path: update('addPackage/numpy/1.0%3Brm/'), ...BAD_COMMAND },
  { title: 'version >=1.0', path: update('addPackage/numpy/%3E%3D1.0/'), ...BAD_COMMAND },
  { title: 'version 1..0', path: update('addPackage/numpy/1..0/'), ...BAD_COMMAND },
  { title: 'a name>=version pin', path: update('addPackage/numpy%3E%3D1.0/'), ...BAD_COMMAND },
  // Missing and repeated parameters.
  { title: 'a missing processorId', path: '/packageManager/environmentupdate?workspace=-&updateCommand=addPackage/numpy/', status: 400, code: 'MISSING_PARAMETER' },
  { title: 'an empty processorId', path: '/packageManager/environmentupdate?processorId=&workspace=-', status: 400, code: 'MISSING_PARAMETER' },
  { title: 'an unknown processorId', path: '/packageManager/environmentupdate?processorId=nope&workspace=-&updateCommand=addPackage/numpy/', status: 400, code: 'PROCESSOR_NOT_FOUND' },
  { title: 'processorId twice', path: `/packageManager/environmentupdate?processorId=${PIP.id}&processorId=${PIP.id}&workspace=-`, status: 400, code: 'REPEATED_PARAMETER' },
  { title: 'updateCommand twice', path: `${update('addPackage/numpy/')}&updateCommand=removePackage/pip/`, status: 400, code: 'REPEATED_PARAMETER' },
  { title: 'name twice', path: '/packageManager/listPackages?name=sample_pip&name=sample_conda', status: 400, code: 'REPEATED_PARAMETER' },
  { title: 'processorId twice on reset', path: `/packageManager/reset?processorId=${PIP.id}&processorId=x&workspace=-`, status: 400, code: 'REPEATED_PARAMETER' },
  // Huge values.
  { title: 'a 10 KB name', path: `/packageManager/listPackages?name=${'a'.repeat(10_240)}`, status: 400, code: 'PARAMETER_TOO_LONG' },
  { title: 'a 600-character command', path: update(`addPackage/${'a'.repeat(588)}/`), ...BAD_COMMAND },
  { title: 'a 2 KB command', path: update(`addPackage/${'a'.repeat(2048)}/`), status: 400, code: 'PARAMETER_TOO_LONG' },
  // Node's parser limits the request line and headers to 16 KB and answers 431 before the application sees it. It
  // then closes the socket while the rest of the request is still arriving, and the kernel may turn that into a
  // reset that overtakes the 431: either way the request never reached procenv.
  { title: 'a 100 KB query string', path: `/packageManager/listPackages?name=sample_pip&pad=${'x'.repeat(100 * 1024)}`, status: 431, orReset: true },
  // Bad encodings.
  { title: 'a truncated UTF-8 escape (%E0%A4%A) as the command', path: update('%E0%A4%A'), ...BAD_COMMAND },
  { title: 'an invalid escape (%ZZ) as the command', path: update('addPackage/%ZZ/'), ...BAD_COMMAND },
  { title: 'overlong UTF-8 for "../" as the command', path: update('addPackage/%C0%AE%C0%AE%C0%AF/'), ...BAD_COMMAND },
  { title: 'an invalid escape (%ZZ) as the name', path: '/packageManager/listPackages?name=%ZZ', ...NOT_ACCESSIBLE },
  { title: 'overlong UTF-8 for "../" as the name', path: '/packageManager/listPackages?name=%C0%AE%C0%AE%C0%AFetc', ...NOT_ACCESSIBLE },
  // Sessions, routes and methods.
  { title: 'a 300-character token', path: endpointPath('listPackages', PIP), headers: { 'x-session-token': 't'.repeat(300) }, status: 401, code: 'UNAUTHENTICATED' },
  // A node-to-node key on a service that has none configured is refused, even next to a valid session.
  { title: 'a cluster key on a node without one', path: update('addPackage/numpy/'), headers: { 'x-procenv-cluster-key': 'k'.repeat(32), 'x-procenv-user': 'demo' }, status: 401, code: 'UNAUTHENTICATED' },
  { title: 'an empty token', path: endpointPath('listPackages', PIP), headers: { 'x-session-token': '' }, status: 401, code: 'UNAUTHENTICATED' },
  { title: 'an unknown endpoint', path: '/packageManager/executeCommand?command=id', status: 404, code: 'ROUTE_NOT_FOUND' },
  { title: 'a traversal in the route', path: '/packageManager/../../etc/passwd', status: 404, code: 'ROUTE_NOT_FOUND' },
  { title: 'a DELETE', path: endpointPath('reset', PIP), method: 'DELETE', status: 405, code: 'METHOD_NOT_ALLOWED' },
];

for (const input of BAD_INPUTS) {
  test(`${input.title} answers ${input.status}${input.code ? ` ${input.code}` : ''} and changes nothing`, async (t) => {
    const svc = await serviceFor(t);
    const token = await svc.login('demo');
    const before = hashTree(svc.config.processorsDir);

    const res = await rawGet(svc, input.path, { ...tokenHeader(token), ...input.headers }, input.method).catch((err: NodeJS.ErrnoException) => {
      if (input.orReset && err.code === 'ECONNRESET') return undefined;
      throw err;
    });
    if (res) {
      if (input.code) assertError(t, res, input.status, input.code);
      else t.is(res.status, input.status);
      t.true(res.status >= 400 && res.status < 500);
    }

    const good = await rawGet(svc, endpointPath('listPackages', PIP), tokenHeader(token));
    t.is(good.status, 200, 'the service still serves');
    t.is(json<unknown[]>(good).length, 7);
    t.is(hashTree(svc.config.processorsDir), before, 'the processors folder is unchanged');
    t.deepEqual(await allOperations(svc), [], 'no operation is recorded');
  });
}

/** Valid forms a client sends (WASDI's web client does not URL-encode): each is accepted and stored canonically. */
const ACCEPTED: { title: string; processor: { name: string; id: string }; command: string; stored: string }[] = [
  { title: 'a URL-encoded command', processor: PIP, command: 'addPackage%2Fnumpy%2F', stored: 'addPackage/numpy/' },
  { title: 'a command without the trailing slash', processor: PIP, command: 'addPackage/numpy', stored: 'addPackage/numpy/' },
  { title: 'a command with a version', processor: PIP, command: 'addPackage/numpy/1.26.4/', stored: 'addPackage/numpy/1.26.4/' },
  { title: 'a name==version command', processor: PIP, command: 'addPackage/numpy==1.26.4/', stored: 'addPackage/numpy/1.26.4/' },
  { title: 'an upgrade with a version', processor: PIP, command: 'upgradePackage/numpy/2.0.2/', stored: 'upgradePackage/numpy/2.0.2/' },
  { title: 'a removal', processor: PIP, command: 'removePackage/opencv-python/', stored: 'removePackage/opencv-python/' },
  { title: 'pip extras', processor: PIP, command: 'addPackage/requests[socks]/', stored: 'addPackage/requests[socks]/' },
  { title: 'pip extras, encoded', processor: PIP, command: 'addPackage/requests%5Bsocks,security%5D/2.32.3/', stored: 'addPackage/requests[socks,security]/2.32.3/' },
  { title: 'a dotted, dashed, underscored name', processor: PIP, command: 'addPackage/zope.interface_x-y/', stored: 'addPackage/zope.interface_x-y/' },
  { title: 'a pre-release version', processor: PIP, command: 'addPackage/numpy/2.1.0rc1/', stored: 'addPackage/numpy/2.1.0rc1/' },
  { title: 'conda _libgcc_mutex on the conda sample', processor: SAMPLES.conda, command: 'addPackage/_libgcc_mutex/0.1/', stored: 'addPackage/_libgcc_mutex/0.1/' },
  { title: 'a conda version with letters', processor: SAMPLES.conda, command: 'addPackage/openssl/1.1.1w/', stored: 'addPackage/openssl/1.1.1w/' },
  // WASDI's client puts the command in the URL unencoded: "+" arrives as a space and is read back as "+".
  { title: 'a local version with an unencoded +', processor: PIP, command: 'addPackage/torch/2.1.0+cpu/', stored: 'addPackage/torch/2.1.0+cpu/' },
];

for (const form of ACCEPTED) {
  test(`${form.title} is accepted (200) and stored as ${form.stored}`, async (t) => {
    const svc = await serviceFor(t);
    const token = await svc.login('demo');
    const before = hashTree(svc.config.processorsDir);
    const res = await rawGet(svc, `/packageManager/environmentupdate?processorId=${form.processor.id}&workspace=-&updateCommand=${form.command}`, tokenHeader(token));
    t.is(res.status, 200, res.body.slice(0, 300));
    const operations = await allOperations(svc);
    t.is(operations.length, 1);
    t.is(operations[0]!.processObjId, json<{ processObjId: string }>(res).processObjId);
    t.deepEqual(operations[0]!.commands, [form.stored]);
    t.is(hashTree(svc.config.processorsDir), before, 'queuing changes no file');
  });
}

test('the bad-input table has at least 30 rows', (t) => {
  t.true(BAD_INPUTS.length >= 30, `${BAD_INPUTS.length} rows`);
  t.is(new Set(BAD_INPUTS.map((i) => i.title)).size, BAD_INPUTS.length, 'titles are unique');
});
