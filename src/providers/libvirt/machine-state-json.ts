import { types } from 'node:util';
import type { LibvirtMachineState } from './libvirt-machine.js';

type Pattern = LibvirtMachineState['readiness']['readyPattern'];
type StoredPattern = string | null | { regexp: string; flags: string };

/** A machine's state as JSON: a template's `state.json`, a standby's offer. RegExps survive. */
export function stateToJson<T extends Pick<LibvirtMachineState, 'readiness'>>(state: T): string {
  const { readyPattern } = state.readiness;
  const stored: StoredPattern = types.isRegExp(readyPattern)
    ? { regexp: readyPattern.source, flags: readyPattern.flags }
    : readyPattern;
  return JSON.stringify({ ...state, readiness: { ...state.readiness, readyPattern: stored } });
}

/** The state `stateToJson` wrote. */
export function stateFromJson<T extends Pick<LibvirtMachineState, 'readiness'>>(text: string): T {
  const parsed = JSON.parse(text) as T & {
    readiness: { readyPattern: StoredPattern; cloudInit: boolean };
  };
  const stored = parsed.readiness.readyPattern;
  const readyPattern: Pattern =
    stored !== null && typeof stored === 'object'
      ? new RegExp(stored.regexp, stored.flags)
      : stored;
  return { ...parsed, readiness: { ...parsed.readiness, readyPattern } };
}
