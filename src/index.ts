export type {
  CapabilityInput,
  CapabilityString,
  SimpleCapabilityName,
  VmCapability,
  VmType,
} from './core/capabilities.js';
export {
  CAPABILITY_NAMES,
  capabilityEquals,
  capabilitySchema,
  formatCapability,
  missingCapabilities,
  needsSchema,
  parseCapability,
  parseNeeds,
  SIMPLE_CAPABILITIES,
  VM_TYPES,
} from './core/capabilities.js';
export type { TestbedConfig } from './core/config.js';
export { CONFIG_VARIABLES, loadConfig } from './core/config.js';
export type {
  FileTransferFailure,
  ProviderMismatch,
  TestbedErrorCode,
  TestbedErrorOptions,
  ValidationProblem,
} from './core/errors.js';
export {
  AbortedError,
  CommandFailedError,
  ConfigError,
  DuplicateProviderError,
  FaultFailedError,
  FileTransferError,
  HostStorageError,
  HostUnreachableError,
  ImageBuildError,
  ImageNotFoundError,
  InvalidCapabilityError,
  InvalidOptionsError,
  InvalidSpecError,
  isTestbedError,
  MachineGoneError,
  NoMatchingProviderError,
  NoSuchCwdOrUserError,
  NotOnNetworkError,
  PortNotForwardedError,
  PrepareFailedError,
  ProviderUnavailableError,
  ProvisionError,
  QemuCannotReachError,
  SshAuthRefusedError,
  TestbedError,
  TimeoutError,
  UnsupportedOperationError,
  WaitTimeoutError,
  WatchdogError,
} from './core/errors.js';
export type { LinkFault, MachineFault } from './core/faults.js';
export { injectFault, injectLinkFault } from './core/faults.js';
export type { HostBackend, HostEntry, HostEntryResult, HostTransport } from './core/hosts.js';
export { hostListSchema, parseHostEntry } from './core/hosts.js';
export { PendingHostProvider } from './core/pending-host-provider.js';
export type { PlacementCandidate, PlacementState } from './core/placement.js';
export { compareFreeCapacity, freeShare } from './core/placement.js';
export { demandOf, PlacementLedger } from './core/placement-ledger.js';
export type {
  CloneOptions,
  CommandOptions,
  Endpoint,
  ExecFunction,
  ExecOptions,
  ExecResult,
  FaultOptions,
  FileSpec,
  Machine,
  MachineConsole,
  MachineDescriptor,
  MachineNetwork,
  MachineProcess,
  MachineSnapshot,
  MachineSpec,
  OwnedResource,
  PortSpec,
  PrepareSpec,
  ProviderCapacity,
  ProviderHealth,
  ProvisionerOptions,
  RemovalReport,
  Resources,
  RestoreOptions,
  SnapshotOptions,
  SshConnectionInfo,
  TransferOptions,
  VmBackendProvider,
  VmProvisioner,
  WaitCheck,
  WaitForOptions,
  WaitStrategy,
  WaitUntilOptions,
  WarmTemplateOptions,
  WriteFileOptions,
} from './core/provider.js';
export type { Ranking, RankingCandidate } from './core/ranking.js';
export { rankProviders } from './core/ranking.js';
export type { ProviderStatus, RegistryOptions, Selection } from './core/registry.js';
export { ProviderRegistry } from './core/registry.js';
export type { RunContext, RunOwner } from './core/run-context.js';
export { createRunContext, currentHost, isOwnerAlive } from './core/run-context.js';
export type { UserData } from './images/cloud-user-data.js';
export type { EnsuredImage } from './images/ensure-image.js';
export { buildImage, ensureImage } from './images/ensure-image.js';
export type { ImageOptions } from './images/image-options.js';
export type { CachedImage, ImageListing } from './images/list-images.js';
export { listImages } from './images/list-images.js';
export type { NoCloudSeedOptions } from './images/nocloud-seed.js';
export { createNoCloudSeed } from './images/nocloud-seed.js';
export { removeImage } from './images/remove-image.js';
export type { ReadySignal, VmImage } from './images/resolve-vm-image.js';
export { resolveVmImage } from './images/resolve-vm-image.js';
export type {
  PruneTemplatesOptions,
  TemplateEntry,
  TemplateFingerprint,
  TemplateMeta,
  TemplatePruneDecision,
} from './images/template-store.js';
export { listTemplates, pruneTemplates } from './images/template-store.js';
export type { VmImageManifest } from './images/vm-image-manifest.js';
export type {
  DefaultImage,
  DockerMachine,
  DockerNetwork,
  DockerProviderOptions,
  DockerProvisioner,
  DockerSpec,
  RyukDecision,
} from './providers/docker/index.js';
export { DockerProvider } from './providers/docker/index.js';
export type { RemoteDockerProviderOptions } from './providers/docker/remote-provider.js';
export { RemoteDockerProvider } from './providers/docker/remote-provider.js';
export type { LibvirtMachineSpec, LibvirtProviderOptions } from './providers/libvirt/index.js';
export { LibvirtProvider } from './providers/libvirt/index.js';
export type { RemoteLibvirtProviderOptions } from './providers/libvirt/remote-provider.js';
export { RemoteLibvirtProvider } from './providers/libvirt/remote-provider.js';
export type { Watchdog, WatchdogOptions } from './reaper/start-watchdog.js';
export { startWatchdog } from './reaper/start-watchdog.js';
export type { SweepOptions, SweepReport } from './reaper/sweep-dead-runs.js';
export { sweepDeadRuns } from './reaper/sweep-dead-runs.js';
export type { DefaultRegistryOptions } from './registry.js';
export { VmBackendRegistry } from './registry.js';
export type { SshKeyPair } from './ssh/generate-ssh-key-pair.js';
export { generateSshKeyPair } from './ssh/generate-ssh-key-pair.js';
export { sshExec } from './ssh/ssh-exec.js';
export type { SshTarget } from './ssh/ssh-target.js';
export { waitForSsh } from './ssh/wait-for-ssh.js';
export type { TestbedRunOptions } from './testbed-run.js';
export { TestbedRun } from './testbed-run.js';
export type { AllWaitStrategy, CommandWaitOptions, HttpWaitOptions } from './wait/wait.js';
export { Wait } from './wait/wait.js';
export { waitUntil } from './wait/wait-until.js';
