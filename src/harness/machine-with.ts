import type {
  CapabilityInput,
  CapabilityString,
  SimpleCapabilityName,
} from '../core/capabilities.js';
import type {
  CloneOptions,
  CommandOptions,
  Endpoint,
  ExecFunction,
  FaultOptions,
  Machine,
  MachineConsole,
  MachineProcess,
  MachineSnapshot,
  RestoreOptions,
  SnapshotOptions,
  SshConnectionInfo,
  TransferOptions,
  WriteFileOptions,
} from '../core/provider.js';

type Guaranteed<N extends CapabilityString, Cap extends CapabilityString, Member> = [
  CapabilityString,
] extends [N]
  ? unknown
  : [Extract<N, Cap>] extends [never]
    ? unknown
    : Member;

/** The string form of a need given as a string or as an object (`{ kind: 'VmType', type: 'FullVirt' }`). */
export type NeedName<N> = N extends CapabilityString
  ? N
  : N extends { kind: 'VmType'; type: infer T extends string }
    ? `VmType(${T})` & CapabilityString
    : N extends { kind: 'Custom'; name: infer C extends string }
      ? `Custom(${C})`
      : N extends { kind: infer K extends SimpleCapabilityName }
        ? K
        : never;

/** The members `FileTransfer` guarantees. */
interface FileTransferMembers {
  copyTo(hostPath: string, guestPath: string, options?: TransferOptions): Promise<void>;
  copyFrom(guestPath: string, hostPath: string, options?: TransferOptions): Promise<void>;
  writeFile(
    guestPath: string,
    data: string | Uint8Array,
    options?: WriteFileOptions,
  ): Promise<void>;
  readFile(guestPath: string, options?: TransferOptions): Promise<Buffer>;
}

/** The members `PortForward` guarantees. */
interface PortForwardMembers {
  endpoint(guestPort: number): Endpoint;
  url(guestPort: number, path?: string, options?: { protocol?: string }): string;
}

/** The members `PowerControl` guarantees. */
interface PowerControlMembers {
  reboot(options?: FaultOptions): Promise<void>;
  crash(options?: FaultOptions): Promise<void>;
  start(options?: FaultOptions): Promise<void>;
}

/** The members `Snapshot` and `WarmSnapshot` guarantee: restores offer what their source offers. */
interface SnapshotMembers<Needs extends readonly CapabilityInput[]> {
  snapshot(
    options?: SnapshotOptions,
  ): Promise<MachineSnapshot & { restore(options?: RestoreOptions): Promise<MachineWith<Needs>> }>;
}

/**
 * A `Machine` whose optional members are typed as present when `needs` guarantee them:
 * `SerialConsole` -> `console`, `SshAccess` -> `ssh`, `Exec` -> `exec` and `spawn`, `CloneVm` ->
 * `clone`, `Snapshot` and `WarmSnapshot` -> `snapshot`, `FileTransfer` -> `copyTo`, `copyFrom`, `writeFile`,
 * `readFile`, `PortForward` -> `endpoint`, `url`, `PauseResume` -> `pause`, `resume`, `PowerControl` ->
 * `reboot`, `crash`, `start`.
 */
export type MachineWith<Needs extends readonly CapabilityInput[]> = MachineWithNames<
  NeedName<Needs[number]>,
  Needs
>;

type MachineWithNames<
  N extends CapabilityString,
  Needs extends readonly CapabilityInput[],
> = Machine &
  Guaranteed<N, 'SerialConsole', { readonly console: MachineConsole }> &
  Guaranteed<N, 'SshAccess', { readonly ssh: SshConnectionInfo }> &
  Guaranteed<
    N,
    'Exec',
    {
      exec: ExecFunction;
      spawn(command: string | readonly string[], options?: CommandOptions): MachineProcess;
    }
  > &
  Guaranteed<
    N,
    'CloneVm',
    // A clone comes from the same provider: it offers what its source offers.
    { clone(options?: CloneOptions): Promise<MachineWith<Needs>> }
  > &
  Guaranteed<N, 'Snapshot', SnapshotMembers<Needs>> &
  Guaranteed<N, 'WarmSnapshot', SnapshotMembers<Needs>> &
  Guaranteed<N, 'FileTransfer', FileTransferMembers> &
  Guaranteed<N, 'PortForward', PortForwardMembers> &
  Guaranteed<
    N,
    'PauseResume',
    { pause(options?: FaultOptions): Promise<void>; resume(options?: FaultOptions): Promise<void> }
  > &
  Guaranteed<N, 'PowerControl', PowerControlMembers>;
