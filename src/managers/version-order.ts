import { compare, valid } from '@renovatebot/pep440';

/**
 * PEP 440 order, from a maintained implementation (renovate's) rather than a hand-made one: negative, 0 or positive;
 * undefined when either version is not a PEP 440 version (pip's legacy versions, conda's `1.1.1w`).
 */
export function pep440Order(a: string, b: string): number | undefined {
  return valid(a) && valid(b) ? compare(a, b) : undefined;
}
