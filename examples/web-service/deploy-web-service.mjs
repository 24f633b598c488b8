/**
 * The example web service, deployed the same way into a VM or a container: copy the site in,
 * write its config, start busybox httpd on port 8080, and wait until it answers.
 */
import { fileURLToPath } from 'node:url';
import { Wait } from 'testbed';

const site = fileURLToPath(new URL('./site', import.meta.url));

/** Deploys the site to `machine` and resolves once HTTP on guest port 8080 answers 200. */
export async function deployWebService(machine, greeting) {
  await machine.copyTo(site, '/srv/site');
  await machine.writeFile('/srv/site/config.txt', `greeting=${greeting}\n`);
  const started = await machine.exec(['httpd', '-p', '8080', '-h', '/srv/site']);
  if (started.exitCode !== 0) throw new Error(`httpd did not start: ${started.stderr}`);
  await machine.waitUntil(Wait.forHttp(8080, '/cgi-bin/hello'), { timeoutMs: 60_000 });
}
