import test from 'ava';
import { startTestService } from './helpers/service.ts';

test('listPackages answers the sample pip processor packages, sorted ignoring case', async (t) => {
  const svc = await startTestService();
  try {
    const token = await svc.login('demo');
    const res = await svc.http.get('packageManager/listPackages', { searchParams: { name: 'sample_pip' }, headers: { 'x-session-token': token } });
    t.is(res.statusCode, 200);
    const names = (JSON.parse(res.body) as { packageName: string }[]).map((p) => p.packageName);
    t.deepEqual(names, ['numpy', 'pip', 'rasterio', 'requests', 'scipy', 'Shapely', 'wasdi']);
  } finally {
    await svc.close();
  }
});
