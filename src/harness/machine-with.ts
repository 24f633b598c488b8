import type { CapabilityString } from '../core/capabilities.js';
import type {
  ExecOptions,
  ExecResult,
  Machine,
  MachineConsole,
  MachineSnapshot,
  SshConnectionInfo,
} from '../core/provider.js';

type Guaranteed<N extends CapabilityString, Cap extends CapabilityString, Member> = [
  CapabilityString,
] extends [N]
  ? unknown
  : [Extract<N, Cap>] extends [never]
    ? unknown
    : Member;

/**
 * A `Machine` whose optional members are typed as present when `needs` guarantee them:
 * `SerialConsole` -> `console`, `SshAccess` -> `ssh`, `Exec` -> `exec`, `CloneVm` -> `clone`,
 * `Snapshot` -> `snapshot`.
 */
export type MachineWith<Needs extends readonly CapabilityString[]> = Machine &
  Guaranteed<Needs[number], 'SerialConsole', { readonly console: MachineConsole }> &
  Guaranteed<Needs[number], 'SshAccess', { readonly ssh: SshConnectionInfo }> &
  Guaranteed<
    Needs[number],
    'Exec',
    { exec(command: string | readonly string[], options?: ExecOptions): Promise<ExecResult> }
  > &
  Guaranteed<
    Needs[number],
    'CloneVm',
    { clone(options?: { name?: string; signal?: AbortSignal }): Promise<Machine> }
  > &
  Guaranteed<Needs[number], 'Snapshot', { snapshot(): Promise<MachineSnapshot> }>;
