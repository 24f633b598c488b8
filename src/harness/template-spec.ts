import { types } from 'node:util';
import type { MachineSpec } from '../core/provider.js';

/** Spec members each test sets for its own machine: a warm restore applies them, the template never has them. */
const PER_TEST = [
  'name',
  'signal',
  'timeoutMs',
  'files',
  'waitFor',
  'networks',
  'hostname',
] as const;

/** What a warm template is provisioned with, and the key under which its snapshot is shared. */
export interface TemplateSpec {
  /** The spec without its per-test members. */
  spec: MachineSpec;
  /** Equal for specs that make the same template: members in any order, objects compared by content. */
  key: string;
}

const ids = new WeakMap<object, number>();
let lastId = 0;

/** A stable text for `value`: plain data by content (keys sorted), anything else by identity. */
function canonical(value: unknown): string {
  if (value === undefined) return 'undefined';
  if (value === null || typeof value !== 'object') {
    if (typeof value === 'function' || typeof value === 'symbol') return identity(value);
    return typeof value === 'bigint' ? `${value}n` : JSON.stringify(value);
  }
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;
  if (types.isUint8Array(value)) return `bytes:${Buffer.from(value).toString('base64')}`;
  const proto = Object.getPrototypeOf(value);
  // A class instance (a stream, a client) has state JSON cannot see: only the same object is equal.
  if (proto !== Object.prototype && proto !== null) return identity(value);
  const entries = Object.entries(value)
    .filter(([, v]) => v !== undefined)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonical(v)}`).join(',')}}`;
}

function identity(value: object | symbol | ((...args: never[]) => unknown)): string {
  if (typeof value === 'symbol') return `symbol:${String(value)}`;
  let id = ids.get(value);
  if (id === undefined) {
    lastId += 1;
    id = lastId;
    ids.set(value, id);
  }
  return `#${id}`;
}

/**
 * Splits a test's spec into the template's spec and its sharing key. `scope` (the provider
 * instance, the run) is part of the key: a template serves only machines it could have provisioned.
 */
export function templateSpec(spec: MachineSpec, scope: readonly unknown[]): TemplateSpec {
  const template: MachineSpec = { ...spec };
  for (const member of PER_TEST) delete template[member];
  return { spec: template, key: canonical([...scope, template]) };
}
