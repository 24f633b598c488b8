import { create } from 'xmlbuilder2';
import type { XMLBuilder } from 'xmlbuilder2/lib/interfaces.js';
import type { RunOwner } from '../../core/run-context.js';

/** XML namespace of the `<metadata>` testbed writes into its libvirt domains and networks. */
export const TESTBED_NAMESPACE = 'urn:x-testbed:libvirt:1';

/** What testbed records in a libvirt object so the reaper can find and remove it. */
export interface TestbedMetadata {
  /** Run that created the object. */
  runId: string;
  /** Process that owns the run. */
  owner: RunOwner;
  /** Creation time, ms since the epoch. */
  createdAt: number;
  /** Host files created for the object (overlay, seed, key, log); removed with it. */
  paths: Record<string, string>;
}

/** Appends `<testbed:resource>` holding `metadata` to a `<metadata>` element. */
export function appendTestbedMetadata(parent: XMLBuilder, metadata: TestbedMetadata): void {
  const resource = parent.ele(TESTBED_NAMESPACE, 'testbed:resource', {
    run: metadata.runId,
    'owner-pid': String(metadata.owner.pid),
    'owner-start-time': String(metadata.owner.startTime),
    ...(metadata.owner.host ? { 'owner-host': metadata.owner.host } : {}),
    'created-at': String(metadata.createdAt),
  });
  for (const [role, path] of Object.entries(metadata.paths)) {
    resource.ele(TESTBED_NAMESPACE, 'testbed:path', { role, value: path });
  }
}

/** The few DOM members used to read metadata back (the project compiles without the DOM lib). */
interface XmlElement {
  getAttribute(name: string): string | null;
  getElementsByTagNameNS(
    namespace: string,
    localName: string,
  ): { length: number; item(index: number): XmlElement | null };
}

/** Reads testbed's metadata back from a domain or network XML (`virsh dumpxml`); undefined if absent. */
export function readTestbedMetadata(xml: string): TestbedMetadata | undefined {
  let document: XmlElement;
  try {
    document = create(xml).node as unknown as XmlElement;
  } catch {
    return undefined;
  }
  const resource = document.getElementsByTagNameNS(TESTBED_NAMESPACE, 'resource').item(0);
  const runId = resource?.getAttribute('run');
  if (!resource || !runId) return undefined;
  const paths: Record<string, string> = {};
  const pathElements = resource.getElementsByTagNameNS(TESTBED_NAMESPACE, 'path');
  for (let i = 0; i < pathElements.length; i++) {
    const element = pathElements.item(i);
    const role = element?.getAttribute('role');
    const value = element?.getAttribute('value');
    if (role && value) paths[role] = value;
  }
  const number = (name: string) => Number(resource.getAttribute(name) ?? 0) || 0;
  const owner: RunOwner = { pid: number('owner-pid'), startTime: number('owner-start-time') };
  // Objects defined before hosts were recorded carry none: the reaper then probes the pid here.
  const host = resource.getAttribute('owner-host');
  if (host) owner.host = host;
  return {
    runId,
    owner,
    createdAt: number('created-at'),
    paths,
  };
}
