/**
 * A processor as WASDI stores it (`processors` collection), reduced to the fields procenv uses.
 * Types map to package managers as reference §7.4.
 */
export interface Processor {
  processorId: string;
  name: string;
  type: string;
  userId: string;
  /** WASDI stores 0/1; procenv keeps a boolean and writes 0/1 back. */
  isPublic: boolean;
  /** Optional interpreter for pip environments (issue: "a processor may name another interpreter"). */
  python?: string;
  /** Where the registration came from: a processor.json in the processors folder, or the store itself. */
  source?: 'folder' | 'store';
}

export type ManagerKind = 'pip' | 'conda';

const managerByType: Record<string, ManagerKind> = {
  ubuntu_python37_snap: 'pip',
  python_pip_2: 'pip',
  python_pip_2_ubuntu_20: 'pip',
  python312: 'pip',
  pip_oneshot: 'pip',
  conda: 'conda',
};

/** The package manager of a processor type, or undefined when the type has none (reference §7.4). */
export function managerKindOf(type: string): ManagerKind | undefined {
  return Object.hasOwn(managerByType, type) ? managerByType[type] : undefined;
}

/** Processor names are folder names: a conservative set so that no name can leave the processors folder. */
export const PROCESSOR_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/;

export function isValidProcessorName(name: string): boolean {
  return PROCESSOR_NAME.test(name) && !name.includes('..');
}

/** Reads WASDI's `isPublic` (0/1, true/false, "0"/"1"); anything else is undefined. */
export function parseIsPublic(value: unknown): boolean | undefined {
  if (value === true || value === 1 || value === '1' || value === 'true') return true;
  if (value === false || value === 0 || value === '0' || value === 'false') return false;
  return undefined;
}

/** `python3` or `python3.X`: names looked up on procenv's own PATH, which the operator controls. */
const VERSIONED_PYTHON = /^python3(\.\d{1,2})?$/;

/**
 * Whether a processor's `python` may create its environment: the configured interpreter (`pip.python`), one of
 * `pip.allowedPythons`, or a bare `python3`/`python3.X` name. Anything else (a path into the processor folder, any
 * other binary) is named by a tenant and never run.
 */
export function isAllowedPython(python: string, configured: string, allowed: readonly string[]): boolean {
  return python === configured || allowed.includes(python) || VERSIONED_PYTHON.test(python);
}
