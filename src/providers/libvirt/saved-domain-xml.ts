import { create } from 'xmlbuilder2';
import type { XMLBuilder } from 'xmlbuilder2/lib/interfaces.js';
import { ProvisionError } from '../../core/errors.js';
import {
  appendTestbedMetadata,
  TESTBED_NAMESPACE,
  type TestbedMetadata,
} from './testbed-metadata.js';

const QEMU_NAMESPACE = 'http://libvirt.org/schemas/domain/qemu/1.0';

/** What changes when a saved domain comes back as another machine (or as itself on a new layer). */
export interface SavedDomainTarget {
  /** The domain's name. */
  name: string;
  /** Keep the saved UUID (the source resuming as itself); otherwise libvirt assigns a new one. */
  keepUuid: boolean;
  /** The overlay the guest's system disk (`vda`) now writes to. */
  disk: string;
  /** File the serial console is written to. */
  serialLog: string;
  /** The NoCloud seed (`vdb`) the guest read at boot: a stored template keeps its own copy. */
  seed: string;
  /** The user-mode `-netdev` value, with this machine's forwarded ports. */
  netdev: string;
  /** The reaper's record, naming this machine's run and files. */
  metadata: TestbedMetadata;
}

/** The element members read here (the project compiles without the DOM lib). */
interface XmlElement {
  namespaceURI: string | null;
  getAttribute(name: string): string | null;
}

function element(node: XMLBuilder): XmlElement {
  return node.node as unknown as XmlElement;
}

function child(parent: XMLBuilder, name: string): XMLBuilder | undefined {
  return parent.find((node) => node.node.nodeName === name, false, false);
}

/** An attribute of `parent`'s first `name` child. */
function attribute(parent: XMLBuilder, name: string, attributeName: string): string | null {
  const found = child(parent, name);
  return found ? element(found).getAttribute(attributeName) : null;
}

function required(found: XMLBuilder | undefined, what: string): XMLBuilder {
  if (found) return found;
  throw new ProvisionError(`The saved domain XML has no ${what}.`, {
    fix: 'Take the snapshot again from a machine testbed provisioned.',
  });
}

function setText(element: XMLBuilder, text: string): void {
  for (const node of [...element.node.childNodes]) element.node.removeChild(node);
  element.txt(text);
}

/**
 * The domain XML a save image restores, changed for `target`: name, UUID, system disk, console
 * log, forwarded ports and testbed's metadata. Every device and address stays as saved, since the
 * guest's memory holds their state.
 */
export function retargetSavedDomainXml(xml: string, target: SavedDomainTarget): string {
  const document = create(xml);
  const domain = document.root();
  setText(required(child(domain, 'name'), '<name>'), target.name);
  if (!target.keepUuid) child(domain, 'uuid')?.remove();

  const metadata = child(domain, 'metadata') ?? domain.ele('metadata');
  metadata.find((node) => element(node).namespaceURI === TESTBED_NAMESPACE, false, false)?.remove();
  appendTestbedMetadata(metadata, target.metadata);

  const devices = required(child(domain, 'devices'), '<devices>');
  const system = required(
    devices.find(
      (node) => node.node.nodeName === 'disk' && attribute(node, 'target', 'dev') === 'vda',
      false,
      false,
    ),
    'system disk (vda)',
  );
  required(child(system, 'source'), 'system disk source').att('file', target.disk);
  // The chain below the new overlay is probed anew: the saved one named the old overlay.
  child(system, 'backingStore')?.remove();
  const seed = devices.find(
    (node) => node.node.nodeName === 'disk' && attribute(node, 'target', 'dev') === 'vdb',
    false,
    false,
  );
  if (seed) required(child(seed, 'source'), 'seed disk source').att('file', target.seed);
  for (const log of ['serial', 'console']) {
    const device = devices.find((node) => node.node.nodeName === log, false, false);
    if (device) required(child(device, 'source'), `${log} source`).att('path', target.serialLog);
  }

  const commandline = required(
    domain.find((node) => element(node).namespaceURI === QEMU_NAMESPACE, false, false),
    '<qemu:commandline>',
  );
  const args = commandline.filter(() => true, false, false);
  const netdev = args.findIndex((arg) => element(arg).getAttribute('value') === '-netdev');
  required(args[netdev + 1], 'user-mode -netdev argument').att('value', target.netdev);
  return document.end({ headless: true });
}
