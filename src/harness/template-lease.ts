import type { Report } from './destroy-quietly.js';
import { WarmTemplates } from './warm-templates.js';

/** A holder's use of a `WarmTemplates`: the last holder's `release` destroys the snapshots. */
export interface TemplateLease {
  /** The templates to restore from. */
  readonly templates: WarmTemplates;
  /** Gives the lease back; the snapshots go once no holder is left. Idempotent. */
  release(report: Report): Promise<void>;
}

// A global slot, not a module variable: the module may be loaded twice (Vite's runner and Node).
const SLOT = Symbol.for('testbed.warmTemplates');
type Shared = { templates: WarmTemplates; holders: number };
type Slot = { [SLOT]?: Shared };

/** A lease on templates of one's own: releasing it destroys them. */
export function ownTemplates(): TemplateLease {
  return leaseOf({ templates: new WarmTemplates(), holders: 1 }, () => {});
}

/**
 * A lease on this process's shared templates, so every `testbedTest` of a worker restores from
 * the same template for the same spec; the snapshots are destroyed when the last lease is given back.
 */
export function sharedTemplates(): TemplateLease {
  const slot = globalThis as Slot;
  let shared = slot[SLOT];
  if (shared) shared.holders += 1;
  else {
    shared = { templates: new WarmTemplates(), holders: 1 };
    slot[SLOT] = shared;
  }
  const held = shared;
  return leaseOf(held, () => {
    if (slot[SLOT] === held) delete slot[SLOT];
  });
}

function leaseOf(shared: Shared, forget: () => void): TemplateLease {
  let released = false;
  return {
    templates: shared.templates,
    async release(report) {
      if (released) return;
      released = true;
      shared.holders -= 1;
      if (shared.holders > 0) return;
      forget();
      await shared.templates.destroyAll(report);
    },
  };
}
