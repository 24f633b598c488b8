import { writeFile } from 'node:fs/promises';
import { InvalidSpecError } from '../../core/errors.js';
import type { ForwardedPort } from '../../core/spec-schemas.js';
import { teardownDomain } from './teardown.js';
import type { Virsh } from './virsh.js';

/** The host ports a domain's user-mode NIC forwards: SSH, and each asked guest port. */
export interface DomainPorts {
  /** Host port forwarded to the guest's SSH port. */
  sshPort: number;
  /** Further guest ports and their host ports. */
  forwards: { guest: number; host: number }[];
}

/** What `createDomain` needs: where the XML goes, how ports are chosen, how the XML is written. */
export interface CreateDomainOptions {
  /** virsh bound to the domain's host. */
  virsh: Virsh;
  /** Domain name (for the teardown pushed on `undo`). */
  name: string;
  /** Where the XML is written for `virsh create` to read. */
  xmlPath: string;
  /** Guest ports to forward; a `host` there is kept, and its clash is the spec's error. */
  ports: readonly ForwardedPort[];
  /** Chooses a host port for SSH and for each port without a fixed one. */
  choosePort: () => Promise<number> | number;
  /** The domain XML for chosen ports. */
  xmlFor: (ports: DomainPorts) => string;
  /** Undo steps of the provision: the domain's teardown is pushed before it is created. */
  undo: (() => Promise<unknown>)[];
  /** Aborts the create. */
  signal?: AbortSignal | undefined;
}

/** QEMU's words when a `hostfwd` port is taken. */
const PORT_CLASH = /host ?forward|hostfwd|address already in use/i;
const PORT_ATTEMPTS = 5;

/** A host port the spec fixed is taken: choosing another would break what the spec asked. */
function fixedPortTaken(fixed: readonly ForwardedPort[], cause: unknown): InvalidSpecError {
  return new InvalidSpecError(
    fixed.map((p) => ({
      path: 'ports',
      message: `host port ${p.host} (for guest port ${p.guest}) may be taken on 127.0.0.1`,
    })),
    { cause, fix: 'Free that port, or leave out `host` so that a free port is chosen.' },
  );
}

/**
 * Creates a transient domain on ports chosen by `choosePort`; when another process took one
 * between choosing and binding (QEMU refuses to start), chooses again, up to 5 times. A fixed
 * port that is taken fails at once with the spec's error.
 */
export async function createDomain(options: CreateDomainOptions): Promise<DomainPorts> {
  const { virsh, name, xmlPath, ports } = options;
  options.undo.push(() => teardownDomain(virsh, name));
  for (let attempt = 1; ; attempt++) {
    const chosen: DomainPorts = { sshPort: await options.choosePort(), forwards: [] };
    for (const port of ports) {
      chosen.forwards.push({ guest: port.guest, host: port.host ?? (await options.choosePort()) });
    }
    await writeFile(xmlPath, options.xmlFor(chosen));
    try {
      await virsh.call(['create', xmlPath], {
        timeoutMs: 60_000,
        ...(options.signal ? { signal: options.signal } : {}),
      });
      return chosen;
    } catch (error) {
      if (!PORT_CLASH.test(error instanceof Error ? error.message : String(error))) throw error;
      const fixed = ports.filter((p) => p.host !== undefined);
      if (fixed.length > 0) throw fixedPortTaken(fixed, error);
      if (attempt >= PORT_ATTEMPTS) throw error;
    }
  }
}
