import { describe, expect, it } from 'vitest';
import { create } from 'xmlbuilder2';
import { buildDomainXml, type DomainDefinition } from '../../src/providers/libvirt/domain-xml.js';
import { buildNetworkXml } from '../../src/providers/libvirt/network-xml.js';
import { readTestbedMetadata } from '../../src/providers/libvirt/testbed-metadata.js';

const hostile = `a'/><evil/>"&<x>`;

function definition(overrides: Partial<DomainDefinition> = {}): DomainDefinition {
  return {
    name: 'testbed-abcd1234-xyz',
    accelerator: 'tcg',
    memoryMiB: 256,
    vcpus: 1,
    kernel: '/cache/vmlinuz',
    initrd: '/cache/initrd.img',
    cmdline: 'console=ttyS0 quiet',
    disk: '/state/run/m/disk-0.qcow2',
    seed: '/state/run/m/seed.iso',
    serialLog: '/state/run/m/serial.log',
    sshHostPort: 40022,
    sshGuestPort: 22,
    networks: [],
    metadata: {
      runId: 'abcd1234',
      owner: { pid: 4242, startTime: 9999, host: `boot-1/pid:[4026531836]${hostile}` },
      createdAt: 1_700_000_000_000,
      paths: { disk: '/state/run/m/disk-0.qcow2' },
    },
    ...overrides,
  };
}

// biome-ignore lint/suspicious/noExplicitAny: the parsed XML is probed freely by each assertion.
type Loose = any;

function parse(xml: string): Loose {
  return create(xml).end({ format: 'object' });
}

describe('buildDomainXml', () => {
  it('describes a TCG guest with direct kernel boot, overlay, seed, serial log and maximum CPU', () => {
    const domain = parse(buildDomainXml(definition())).domain;
    expect(domain['@type']).toBe('qemu');
    expect(domain.name).toBe('testbed-abcd1234-xyz');
    expect(domain.memory).toEqual({ '@unit': 'MiB', '#': '256' });
    expect(domain.os.kernel).toBe('/cache/vmlinuz');
    expect(domain.os.initrd).toBe('/cache/initrd.img');
    expect(domain.os.cmdline).toBe('console=ttyS0 quiet');
    expect(domain.cpu['@mode']).toBe('maximum');
    const [disk, seed] = domain.devices.disk;
    expect(disk.source['@file']).toBe('/state/run/m/disk-0.qcow2');
    expect(disk.driver['@type']).toBe('qcow2');
    expect(seed.target).toEqual({ '@dev': 'vdb', '@bus': 'virtio' });
    expect(seed['@snapshot']).toBe('no');
    expect(seed).toHaveProperty('readonly');
    expect(domain.devices.serial.source['@path']).toBe('/state/run/m/serial.log');
  });

  it('forwards SSH on loopback only, with the user NIC at an explicit PCI slot', () => {
    const xml = buildDomainXml(definition());
    expect(xml).toContain('xmlns:qemu="http://libvirt.org/schemas/domain/qemu/1.0"');
    expect(xml).toContain('user,id=n0,restrict=on,hostfwd=tcp:127.0.0.1:40022-:22');
    expect(xml).toContain('virtio-net-pci,netdev=n0,bus=pci.0,addr=0x10');
  });

  it('forwards each asked guest port from its own loopback port, after SSH', () => {
    const xml = buildDomainXml(
      definition({
        forwards: [
          { guest: 8080, host: 41000 },
          { guest: 5432, host: 41001 },
        ],
      }),
    );
    expect(xml).toContain(
      'user,id=n0,restrict=on,hostfwd=tcp:127.0.0.1:40022-:22,hostfwd=tcp:127.0.0.1:41000-:8080,hostfwd=tcp:127.0.0.1:41001-:5432',
    );
  });

  it('lets the guest out (NAT, DNS) only when outbound is asked', () => {
    expect(buildDomainXml(definition({ outbound: true }))).toContain(
      'user,id=n0,hostfwd=tcp:127.0.0.1:40022-:22',
    );
  });

  it('uses type kvm with host-passthrough when KVM works', () => {
    const domain = parse(buildDomainXml(definition({ accelerator: 'kvm' }))).domain;
    expect(domain['@type']).toBe('kvm');
    expect(domain.cpu['@mode']).toBe('host-passthrough');
  });

  it('boots from the disk when there is no kernel', () => {
    const domain = parse(buildDomainXml(definition({ kernel: undefined }))).domain;
    expect(domain.os.boot['@dev']).toBe('hd');
    expect(domain.os.kernel).toBeUndefined();
  });

  it('puts isolated networks after the user NIC so the guest keeps eth0 for DHCP', () => {
    const domain = parse(buildDomainXml(definition({ networks: ['net-a', 'net-b'] }))).domain;
    const nics = domain.devices.interface;
    expect(nics.map((n: Loose) => n.source['@network'])).toEqual(['net-a', 'net-b']);
    expect(nics.map((n: Loose) => n.address['@slot'])).toEqual(['0x11', '0x12']);
  });

  it('escapes hostile strings: they come back verbatim and add no element', () => {
    const xml = buildDomainXml(
      definition({
        name: hostile,
        cmdline: hostile,
        disk: `/tmp/${hostile}`,
        networks: [hostile],
        metadata: { ...definition().metadata, paths: { disk: hostile } },
      }),
    );
    expect(xml).not.toContain('<evil');
    const dom = create(xml).node as Loose;
    const first = (tag: string) => dom.getElementsByTagName(tag).item(0);
    expect(dom.getElementsByTagName('evil').length).toBe(0);
    expect(first('name').textContent).toBe(hostile);
    expect(first('cmdline').textContent).toBe(hostile);
    expect(first('source').getAttribute('file')).toBe(`/tmp/${hostile}`);
    expect(first('interface').getElementsByTagName('source').item(0).getAttribute('network')).toBe(
      hostile,
    );
    expect(readTestbedMetadata(xml)?.paths.disk).toBe(hostile);
  });
});

describe('testbed metadata', () => {
  it('round-trips through domain and network XML, owner host included', () => {
    const { metadata } = definition();
    expect(readTestbedMetadata(buildDomainXml(definition()))?.owner.host).toBe(metadata.owner.host);
    expect(readTestbedMetadata(buildDomainXml(definition()))).toEqual(metadata);
    expect(readTestbedMetadata(buildNetworkXml('testbed-abcd1234-net', metadata))).toEqual(
      metadata,
    );
  });

  it('reads what libvirt gives back, with its own prefix and extra elements', () => {
    const dumped = `<domain type='qemu'><name>x</name><metadata>
      <tb:resource xmlns:tb="urn:x-testbed:libvirt:1" run="zz99yy88" owner-pid="7" owner-start-time="8" created-at="9">
        <tb:path role="dir" value="/d"/></tb:resource></metadata></domain>`;
    expect(readTestbedMetadata(dumped)).toEqual({
      runId: 'zz99yy88',
      owner: { pid: 7, startTime: 8 },
      createdAt: 9,
      paths: { dir: '/d' },
    });
  });

  it('reads an object defined before hosts were recorded with no owner host', () => {
    const { metadata } = definition();
    const { host: _, ...hostless } = metadata.owner;
    const xml = buildDomainXml(definition({ metadata: { ...metadata, owner: hostless } }));
    expect(xml).not.toContain('owner-host');
    expect(readTestbedMetadata(xml)?.owner).toStrictEqual({ pid: 4242, startTime: 9999 });
  });

  it('is undefined for domains testbed did not make and for garbage', () => {
    expect(readTestbedMetadata('<domain><name>other</name></domain>')).toBeUndefined();
    expect(readTestbedMetadata('not xml <')).toBeUndefined();
  });
});

describe('buildNetworkXml', () => {
  it('has no forward and no ip: isolated, and the host gets no address', () => {
    const network = parse(buildNetworkXml('testbed-n', definition().metadata)).network;
    expect(network.name).toBe('testbed-n');
    expect(network.forward).toBeUndefined();
    expect(network.ip).toBeUndefined();
  });

  it('names its bridge when asked, so other providers can join it', () => {
    const network = parse(buildNetworkXml('testbed-n', definition().metadata, 'tb-abc')).network;
    expect(network.bridge).toMatchObject({ '@name': 'tb-abc', '@stp': 'off' });
  });
});
