import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { retargetSavedDomainXml } from '../../src/providers/libvirt/saved-domain-xml.js';
import { readTestbedMetadata } from '../../src/providers/libvirt/testbed-metadata.js';

// The XML of a `virsh save` of a tiny-vm machine (libvirt 9.0), as save-image-dumpxml prints it.
const saved = readFileSync(new URL('./fixtures/saved-domain.xml', import.meta.url), 'utf8');
const target = {
  name: 'testbed-run00002-new-xyz789',
  keepUuid: false,
  disk: '/state/run00002/new/disk-0.qcow2',
  serialLog: '/state/run00002/new/serial.log',
  seed: '/templates/abc/seed.iso',
  netdev: 'user,id=n0,restrict=on,hostfwd=tcp:127.0.0.1:40001-:22',
  metadata: {
    runId: 'run00002',
    owner: { pid: 42, startTime: 7 },
    createdAt: 1,
    paths: { dir: '/state/run00002/new' },
  },
};

describe('retargetSavedDomainXml', () => {
  it('changes name, UUID, system disk, seed, logs, ports and metadata, and nothing the guest sees', () => {
    const xml = retargetSavedDomainXml(saved, target);
    expect(xml).toContain('<name>testbed-run00002-new-xyz789</name>');
    expect(xml).not.toContain('<uuid>');
    expect(xml).toContain('file="/state/run00002/new/disk-0.qcow2"');
    expect(xml.match(/\/state\/run00002\/new\/serial\.log/g)).toHaveLength(2);
    expect(xml).toContain('hostfwd=tcp:127.0.0.1:40001-:22');
    expect(xml).not.toContain('35361');
    // The seed is the template's own copy (a stored template outlives the run that made it).
    expect(xml).toContain('file="/templates/abc/seed.iso"');
    expect(xml).not.toContain('/var/cache/testbed/runs/run00001/testbed-run00001-abc123/seed.iso');
    // Every device address stays as saved.
    for (const slot of ['0x02', '0x03', '0x01']) expect(xml).toContain(`slot="${slot}"`);
    expect(xml).toContain('virtio-net-pci,netdev=n0,bus=pci.0,addr=0x10');
    expect(readTestbedMetadata(xml)).toMatchObject({
      runId: 'run00002',
      paths: { dir: '/state/run00002/new' },
    });
  });

  it('keeps the UUID when the source resumes as itself', () => {
    expect(retargetSavedDomainXml(saved, { ...target, keepUuid: true })).toContain(
      '<uuid>2d59aa6b-07c2-4c78-b26f-af95bd73703c</uuid>',
    );
  });

  it('names what is missing in an XML that is not a testbed domain', () => {
    expect(() => retargetSavedDomainXml('<domain><name>x</name></domain>', target)).toThrow(
      /<devices>/,
    );
  });
});
