import { readFileSync } from 'node:fs';

/** procenv also sends an x-request-id (a UUID); the references send one of the same length, so the bytes match. */
export const REQUEST_ID = '00000000-0000-4000-8000-000000000000';

/**
 * The answer a reference server sends, from its arguments `<bodyFile> <contentType> [<etag> <gzipFile>]`: the
 * bytes procenv answered, and with an ETag and a gzip file, what it answers to If-None-Match and gzip clients.
 */
export function referenceAnswer(script: string): { body: Buffer; contentType: string; etag?: string; gzipped?: Buffer } {
  const [bodyFile, contentType, etag, gzipFile] = process.argv.slice(2);
  if (!bodyFile || !contentType) {
    process.stderr.write(`usage: ${script} <bodyFile> <contentType> [<etag> <gzipFile>]\n`);
    process.exit(2);
  }
  return { body: readFileSync(bodyFile), contentType, ...(etag ? { etag } : {}), ...(gzipFile ? { gzipped: readFileSync(gzipFile) } : {}) };
}
