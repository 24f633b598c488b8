/** `libvirt 9.0.0, QEMU 7.2.22` from `virsh version`'s output (pure); `?` for what it does not say. */
export function describeVirshVersion(output: string): string {
  const libvirt = /Using library: libvirt ([\d.]+)/.exec(output)?.[1];
  const qemu = /Running hypervisor: QEMU ([\d.]+)/.exec(output)?.[1];
  return `libvirt ${libvirt ?? '?'}, QEMU ${qemu ?? '?'}`;
}
