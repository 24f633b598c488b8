import { create } from 'xmlbuilder2';
import type { Accelerator } from './accelerator-probe.js';
import { appendTestbedMetadata, type TestbedMetadata } from './testbed-metadata.js';

const QEMU_NAMESPACE = 'http://libvirt.org/schemas/domain/qemu/1.0';

/** PCI slot of the user-mode NIC: explicit, or it collides with libvirt's own slot 2. */
const USER_NIC_SLOT = 0x10;

/** Everything needed to describe one testbed VM to libvirt. */
export interface DomainDefinition {
  /** Unique domain name. */
  name: string;
  /** `kvm` or `tcg` (libvirt domain type `qemu`). */
  accelerator: Accelerator;
  /** Memory in MiB. */
  memoryMiB: number;
  /** Virtual CPUs. */
  vcpus: number;
  /** Kernel for direct boot; without it the guest boots from its disk. */
  kernel?: string | undefined;
  /** Initrd for direct boot. */
  initrd?: string | undefined;
  /** Kernel command line for direct boot. */
  cmdline?: string | undefined;
  /** The qcow2 overlay the guest runs on. */
  disk: string;
  /** NoCloud seed image (label `cidata`), attached read-only as a second virtio disk. */
  seed: string;
  /** File the serial console is written to. */
  serialLog: string;
  /** Port on 127.0.0.1 forwarded to the guest's SSH port. */
  sshHostPort: number;
  /** SSH port inside the guest. */
  sshGuestPort: number;
  /** Further guest TCP ports, each forwarded from its host port on 127.0.0.1. */
  forwards?: readonly { guest: number; host: number }[];
  /** Let the guest open connections out (NAT and DNS); without it only forwarded ports work. */
  outbound?: boolean | undefined;
  /** Isolated libvirt networks to join, after the user-mode NIC (eth1, eth2, ...). */
  networks: readonly string[];
  /** MAC address of each network's NIC, by index; libvirt picks one where none is given. */
  macs?: readonly string[];
  /** What the reaper needs to find and remove the domain. */
  metadata: TestbedMetadata;
}

/** The user-mode `-netdev` value: SSH and the asked guest ports on 127.0.0.1. */
export function userNetdev(
  ports: Pick<DomainDefinition, 'sshHostPort' | 'sshGuestPort' | 'forwards' | 'outbound'>,
): string {
  const forwards = [
    { host: ports.sshHostPort, guest: ports.sshGuestPort },
    ...(ports.forwards ?? []),
  ].map(({ host, guest }) => `hostfwd=tcp:127.0.0.1:${host}-:${guest}`);
  // restrict=on: the guest reaches nothing but what is forwarded to it (no NAT, no DNS).
  return `user,id=n0,${ports.outbound ? '' : 'restrict=on,'}${forwards.join(',')}`;
}

function pciAddress(slot: number): Record<string, string> {
  return {
    type: 'pci',
    domain: '0x0000',
    bus: '0x00',
    slot: `0x${slot.toString(16).padStart(2, '0')}`,
    function: '0x0',
  };
}

/**
 * libvirt domain XML for a testbed VM. Every value goes through the XML builder, so user-supplied
 * strings are escaped. SSH and the asked guest ports reach the guest through QEMU user networking
 * with loopback-only `hostfwd`s (Debian's libvirt 9.0 has no passt, hence `<qemu:commandline>`).
 */
export function buildDomainXml(definition: DomainDefinition): string {
  const root = create({ version: '1.0' }).ele('domain', {
    type: definition.accelerator === 'kvm' ? 'kvm' : 'qemu',
    'xmlns:qemu': QEMU_NAMESPACE,
  });
  root.ele('name').txt(definition.name);
  appendTestbedMetadata(root.ele('metadata'), definition.metadata);
  root.ele('memory', { unit: 'MiB' }).txt(String(definition.memoryMiB));
  root.ele('vcpu').txt(String(definition.vcpus));

  const os = root.ele('os');
  os.ele('type', { arch: 'x86_64', machine: 'pc' }).txt('hvm');
  if (definition.kernel) {
    os.ele('kernel').txt(definition.kernel);
    if (definition.initrd) os.ele('initrd').txt(definition.initrd);
    if (definition.cmdline) os.ele('cmdline').txt(definition.cmdline);
  } else {
    os.ele('boot', { dev: 'hd' });
  }
  root.ele('features').ele('acpi');
  // TCG's default qemu64 CPU lacks RDRAND: SSH servers then stall waiting for entropy.
  root.ele('cpu', { mode: definition.accelerator === 'kvm' ? 'host-passthrough' : 'maximum' });
  root.ele('clock', { offset: 'utc' });
  root.ele('on_poweroff').txt('destroy');
  root.ele('on_reboot').txt('restart');
  root.ele('on_crash').txt('destroy');

  const devices = root.ele('devices');
  const disk = devices.ele('disk', { type: 'file', device: 'disk' });
  disk.ele('driver', { name: 'qemu', type: 'qcow2', discard: 'unmap' });
  disk.ele('source', { file: definition.disk });
  disk.ele('target', { dev: 'vda', bus: 'virtio' });
  // The seed is read-only and raw: external snapshots (clone) must leave it alone.
  const seed = devices.ele('disk', { type: 'file', device: 'disk', snapshot: 'no' });
  seed.ele('driver', { name: 'qemu', type: 'raw' });
  seed.ele('source', { file: definition.seed });
  seed.ele('target', { dev: 'vdb', bus: 'virtio' });
  seed.ele('readonly');
  definition.networks.forEach((network, index) => {
    const nic = devices.ele('interface', { type: 'network' });
    nic.ele('source', { network });
    const mac = definition.macs?.[index];
    if (mac) nic.ele('mac', { address: mac });
    nic.ele('model', { type: 'virtio' });
    // Slots after the user-mode NIC's keep it eth0, the one the guest configures by DHCP.
    nic.ele('address', pciAddress(USER_NIC_SLOT + 1 + index));
  });
  const serial = devices.ele('serial', { type: 'file' });
  serial.ele('source', { path: definition.serialLog, append: 'on' });
  serial.ele('target', { port: '0' });
  devices.ele('memballoon', { model: 'none' });

  const commandline = root.ele(QEMU_NAMESPACE, 'qemu:commandline');
  for (const value of [
    '-netdev',
    userNetdev(definition),
    '-device',
    `virtio-net-pci,netdev=n0,bus=pci.0,addr=0x${USER_NIC_SLOT.toString(16)}`,
  ]) {
    commandline.ele(QEMU_NAMESPACE, 'qemu:arg', { value });
  }
  return root.end({ prettyPrint: true, headless: true });
}
