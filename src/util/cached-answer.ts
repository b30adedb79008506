import { createHash } from 'node:crypto';
import { brotliCompressSync, constants, gzipSync } from 'node:zlib';

export type ContentEncoding = 'br' | 'gzip';

/**
 * An answer kept ready for many requests: its bytes, a strong ETag taken from them, and its compressed forms, each
 * made once, on the first request that asks for it, and kept as long as the answer is. A request never compresses.
 */
export class CachedAnswer {
  readonly etag: string;
  private readonly encoded = new Map<ContentEncoding, Buffer>();

  constructor(readonly body: Buffer) {
    this.etag = `"${createHash('sha1').update(body).digest('base64url')}"`;
  }

  static of(text: string): CachedAnswer {
    return new CachedAnswer(Buffer.from(text));
  }

  /** The body in `encoding`, compressed at most once. */
  encodedAs(encoding: ContentEncoding): Buffer {
    let bytes = this.encoded.get(encoding);
    if (!bytes) {
      bytes = encoding === 'gzip'
        ? gzipSync(this.body, { level: 6 })
        // Quality 5 compresses an 89 KB list about as well as gzip -9 in a few milliseconds; 11 takes ~100 times longer.
        : brotliCompressSync(this.body, { params: { [constants.BROTLI_PARAM_QUALITY]: 5, [constants.BROTLI_PARAM_SIZE_HINT]: this.body.length } });
      this.encoded.set(encoding, bytes);
    }
    return bytes;
  }
}
