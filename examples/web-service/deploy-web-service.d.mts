import type { Machine } from 'testbed';

/** Deploys the site to `machine` and resolves once HTTP on guest port 8080 answers 200. */
export function deployWebService(machine: Machine, greeting: string): Promise<void>;
