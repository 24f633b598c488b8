import { HostUnreachableError } from '../../core/errors.js';
import { firstLine } from '../../core/first-line.js';
import { withTimeout } from '../../core/with-timeout.js';

/** The host a remote engine runs on, as errors name it. */
export interface EngineHost {
  /** `docker@host2`. */
  id: string;
  /** The endpoint from TESTBED_HOSTS. */
  uri: string;
  /** What to check when it does not answer. */
  setupHint: string;
}

/**
 * What a failure on a remote engine was: when the engine no longer answers a ping, a
 * `HostUnreachableError` naming the host (so the run sends its next machines elsewhere), with the
 * failure as its cause; otherwise the failure itself.
 */
export async function engineFailure(
  error: unknown,
  ping: () => Promise<unknown>,
  host: EngineHost,
  timeoutMs: number,
): Promise<unknown> {
  if (error instanceof HostUnreachableError) return error;
  const answer = await withTimeout(`${host.id}: ping`, timeoutMs, ping).then(
    () => undefined,
    (pingError: unknown) => pingError,
  );
  if (answer === undefined) return error;
  return new HostUnreachableError(
    host.id,
    host.uri,
    `its Docker engine stopped answering (${firstLine(answer)}); the failure was: ${firstLine(error)}`,
    { cause: error, fix: host.setupHint },
  );
}
