import { create } from 'xmlbuilder2';
import { appendTestbedMetadata, type TestbedMetadata } from './testbed-metadata.js';

/**
 * XML of an isolated libvirt network: no `<forward>` (no NAT, no routing) and no `<ip>` (the host
 * has no address on the bridge and libvirt runs no DHCP), so only its guests talk to each other.
 * `bridge` names its Linux bridge, which other providers' networks can join (`SharedBridge`).
 */
export function buildNetworkXml(name: string, metadata: TestbedMetadata, bridge?: string): string {
  const root = create({ version: '1.0' }).ele('network');
  root.ele('name').txt(name);
  appendTestbedMetadata(root.ele('metadata'), metadata);
  root.ele('bridge', { ...(bridge ? { name: bridge } : {}), stp: 'off', delay: '0' });
  return root.end({ prettyPrint: true, headless: true });
}
