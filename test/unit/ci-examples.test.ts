import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';

// examples/ci/ must run the commands the README's CI section documents, in order: no drift.
const repo = resolve(import.meta.dirname, '../..');
const read = (path: string) => readFileSync(join(repo, path), 'utf8');

/** Command lines of a shell snippet: blank lines and full-line comments dropped. */
function commands(text: string): string[] {
  return text
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line !== '' && !line.startsWith('#'));
}

/** The first ```sh block of the README's `## CI` section. */
function readmeCiBlock(): string[] {
  const readme = read('README.md');
  const section = /^## CI\n([\s\S]*?)(?=^## )/m.exec(readme)?.[1];
  if (!section) throw new Error('README.md has no "## CI" section');
  const block = /```sh\n([\s\S]*?)```/.exec(section)?.[1];
  if (!block) throw new Error('the CI section of README.md has no ```sh block');
  return commands(block);
}

interface Step {
  run?: string;
  uses?: string;
  if?: string;
  with?: Record<string, string>;
}

function githubSteps(): Step[] {
  const workflow = parse(read('examples/ci/github-actions.yml')) as {
    jobs: Record<string, { steps: Step[] }>;
  };
  return Object.values(workflow.jobs).flatMap((job) => job.steps);
}

describe('examples/ci', () => {
  it('the GitHub Actions workflow runs exactly the README CI commands', () => {
    const lines = githubSteps().flatMap((step) => (step.run ? commands(step.run) : []));
    expect(lines).toEqual(readmeCiBlock());
  });

  it('the GitHub Actions workflow gc runs always and uploads the failed serial logs', () => {
    const steps = githubSteps();
    expect(steps.at(-1)).toMatchObject({ if: 'always()', run: 'npx testbed gc' });
    const upload = steps.find((s) => s.uses?.startsWith('actions/upload-artifact@'));
    expect(upload?.if).toBe('failure()');
    expect(upload?.with?.path).toContain('~/.cache/testbed/runs/*/failed/');
    // The upload comes before the always-run gc, which would remove what it uploads.
    expect(steps.indexOf(upload as Step)).toBeLessThan(steps.length - 1);
  });

  it('the GitLab CI job runs exactly the README CI commands, gc in after_script', () => {
    const config = parse(read('examples/ci/gitlab-ci.yml')) as Record<
      string,
      {
        before_script: string[];
        script: string[];
        after_script: string[];
        variables: Record<string, string>;
        artifacts: { when: string; paths: string[] };
      }
    >;
    const job = config.e2e;
    if (!job) throw new Error('examples/ci/gitlab-ci.yml has no e2e job');
    const lines = [...job.before_script, ...job.script, ...job.after_script].flatMap(commands);
    expect(lines).toEqual(readmeCiBlock());
    expect(job.after_script).toEqual(['npx testbed gc']);
    expect(job.artifacts.when).toBe('on_failure');
    // GitLab uploads only files in the project, so the state directory is put there.
    const stateDir = job.variables.TESTBED_STATE_DIR ?? '';
    expect(stateDir).toMatch(/^\$CI_PROJECT_DIR\//);
    const relative = stateDir.replace('$CI_PROJECT_DIR/', '');
    expect(job.artifacts.paths).toContain(`${relative}/*/failed/`);
  });
});
