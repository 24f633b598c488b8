import { z } from 'zod';

/** What `startWatchdog` hands the detached watchdog process, as one JSON argument. */
export const watchdogArgsSchema = z.object({
  runId: z.string().regex(/^[a-z0-9-]+$/),
  owner: z.object({ pid: z.number().int().positive(), startTime: z.number().int().min(0) }),
  stateDir: z.string().min(1),
  pollMs: z.number().int().positive(),
  resweepDelaysMs: z.array(z.number().int().min(0)),
});

/** The watchdog's arguments. */
export type WatchdogArgs = z.infer<typeof watchdogArgsSchema>;
