import { cac } from 'cac';
import { CAPABILITY_NAMES } from '../core/capabilities.js';
import { CONFIG_VARIABLES } from '../core/config.js';
import { isTestbedError } from '../core/errors.js';
import { LibvirtProvider } from '../providers/libvirt/index.js';
import { VmBackendRegistry } from '../registry.js';
import type { CliIo } from './cli-io.js';
import { collectDoctorReport } from './doctor-report.js';
import { registerGcCommand } from './gc-command.js';
import { assessHostAccess, gatherHostFacts } from './host-access.js';
import { registerImagesCommand } from './images-command.js';
import { registerLsCommand } from './ls-command.js';
import { renderDoctorJson, renderDoctorText } from './render-doctor.js';
import { registerSetupHostCommand } from './setup-host-command.js';

const defaultIo: CliIo = {
  stdout: (text) => process.stdout.write(text),
  stderr: (text) => process.stderr.write(text),
};

function splitList(value: unknown): string[] {
  if (value === undefined || value === true) return [];
  return (Array.isArray(value) ? value : [value]).flatMap((v) =>
    String(v)
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean),
  );
}

/**
 * Lets libvirt boot its KVM probe guest before discovery, so the report's accelerator is proven
 * rather than provisional (discovery's health checks never boot a guest). Problems surface in
 * the report itself.
 */
async function verifyAccelerator(registry: VmBackendRegistry): Promise<void> {
  const libvirt = registry.get('libvirt');
  if (!(libvirt instanceof LibvirtProvider) || !(await libvirt.isAvailable())) return;
  await libvirt.verifyAccelerator(AbortSignal.timeout(120_000)).catch(() => undefined);
}

const ENVIRONMENT_HELP = `Environment:
${Object.values(CONFIG_VARIABLES)
  .map((names) => `  ${names.join(', ')}`)
  .join('\n')}

Capabilities: ${CAPABILITY_NAMES.join(', ')}, Custom(<name>)`;

/** Runs the `testbed` command line with `argv` (without node and script); resolves to the exit code. */
export async function main(argv: readonly string[], io: CliIo = defaultIo): Promise<number> {
  const cli = cac('testbed');
  let exitCode = 0;
  let action: Promise<void> | undefined;

  cli
    .command(
      'doctor',
      'Discover backends on this host, check their health and show which one is selected',
    )
    .option('--json', 'Print the report as JSON')
    .option('--needs <capabilities>', 'Comma-separated needs, e.g. SerialConsole,CloneVm')
    .example('testbed doctor --needs SerialConsole')
    .example("testbed doctor --json --needs 'VmType(Container)'")
    .action((options: { json?: boolean; needs?: unknown }) => {
      action = (async () => {
        const registry = VmBackendRegistry.withDefaults();
        await verifyAccelerator(registry);
        const report = await collectDoctorReport(registry, splitList(options.needs), {
          access: assessHostAccess(gatherHostFacts()),
        });
        io.stdout(options.json ? renderDoctorJson(report) : renderDoctorText(report));
        exitCode = report.healthy && (report.needs.length === 0 || report.selected) ? 0 : 1;
      })();
    });

  const runAction = (work: () => Promise<number>) => {
    action = work().then((code) => {
      exitCode = code;
    });
  };
  registerLsCommand(cli, io, runAction);
  registerGcCommand(cli, io, runAction);
  registerImagesCommand(cli, io, runAction);
  registerSetupHostCommand(cli, runAction);

  // cac prints help with console.info; render it through `io` instead so it can be captured.
  cli.help((sections) => {
    const all = [...sections, { body: ENVIRONMENT_HELP }];
    io.stdout(`${all.map((s) => (s.title ? `${s.title}:\n${s.body}` : s.body)).join('\n\n')}\n`);
    return [];
  });
  cli.version('0.1.0');

  try {
    cli.parse(['node', 'testbed', ...argv], { run: false });
    if (!cli.matchedCommand && cli.args.length > 0) {
      io.stderr(
        `Unknown command '${cli.args[0]}'. Run \`testbed --help\` for the list of commands.\n`,
      );
      return 2;
    }
    if (!cli.matchedCommand && !cli.options.help && !cli.options.version) {
      cli.outputHelp();
      return 0;
    }
    await cli.runMatchedCommand();
    await action;
    return exitCode;
  } catch (error) {
    if (isTestbedError(error)) {
      io.stderr(`testbed: ${error.message}\n`);
      return 1;
    }
    if (error instanceof Error && error.name === 'CACError') {
      io.stderr(`testbed: ${error.message}. Run \`testbed --help\`.\n`);
      return 2;
    }
    throw error;
  }
}
