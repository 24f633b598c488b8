import type { CapabilityString } from '../core/capabilities.js';
import type {
  CommandOptions,
  Endpoint,
  ExecFunction,
  Machine,
  MachineConsole,
  MachineProcess,
  MachineSnapshot,
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

/**
 * A `Machine` whose optional members are typed as present when `needs` guarantee them:
 * `SerialConsole` -> `console`, `SshAccess` -> `ssh`, `Exec` -> `exec` and `spawn`, `CloneVm` ->
 * `clone`, `Snapshot` -> `snapshot`, `FileTransfer` -> `copyTo`, `copyFrom`, `writeFile`,
 * `readFile`, `PortForward` -> `endpoint`, `url`.
 */
export type MachineWith<Needs extends readonly CapabilityString[]> = Machine &
  Guaranteed<Needs[number], 'SerialConsole', { readonly console: MachineConsole }> &
  Guaranteed<Needs[number], 'SshAccess', { readonly ssh: SshConnectionInfo }> &
  Guaranteed<
    Needs[number],
    'Exec',
    {
      exec: ExecFunction;
      spawn(command: string | readonly string[], options?: CommandOptions): MachineProcess;
    }
  > &
  Guaranteed<
    Needs[number],
    'CloneVm',
    { clone(options?: { name?: string; signal?: AbortSignal }): Promise<Machine> }
  > &
  Guaranteed<Needs[number], 'Snapshot', { snapshot(): Promise<MachineSnapshot> }> &
  Guaranteed<Needs[number], 'FileTransfer', FileTransferMembers> &
  Guaranteed<Needs[number], 'PortForward', PortForwardMembers>;
