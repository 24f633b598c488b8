/** Timing of one benchmark: each run's wall time in ms. */
export interface Measurement {
  name: string;
  samples: number[];
}

/** Runs `work` `runs` times one after another and records each run's wall time. */
export async function measure(
  name: string,
  runs: number,
  work: () => Promise<unknown>,
): Promise<Measurement> {
  const samples: number[] = [];
  for (let i = 0; i < runs; i++) {
    const started = performance.now();
    await work();
    samples.push(performance.now() - started);
  }
  return { name, samples };
}

/**
 * Runs each of `works` once per round, round after round, and records each one's wall times:
 * copies beside the raw tool they are compared with see the same load on a busy host, where
 * measuring one after the other lets a load spike land on one side only.
 */
export async function measureInterleaved(
  runs: number,
  works: Record<string, () => Promise<unknown>>,
): Promise<Measurement[]> {
  const rows = Object.keys(works).map((name) => ({ name, samples: [] as number[] }));
  for (let i = 0; i < runs; i++) {
    for (const row of rows) {
      const started = performance.now();
      await works[row.name]?.();
      row.samples.push(performance.now() - started);
    }
  }
  return rows;
}

/** Formats measurements as a table: runs, min, median, max in ms. */
export function formatTable(rows: readonly Measurement[]): string {
  const stats = rows.map((row) => {
    const sorted = [...row.samples].sort((a, b) => a - b);
    const median = sorted[Math.floor(sorted.length / 2)] ?? Number.NaN;
    return [
      row.name,
      String(sorted.length),
      (sorted[0] ?? Number.NaN).toFixed(0),
      median.toFixed(0),
      (sorted.at(-1) ?? Number.NaN).toFixed(0),
    ];
  });
  const header = ['benchmark', 'runs', 'min ms', 'median ms', 'max ms'];
  const widths = header.map((h, i) => Math.max(h.length, ...stats.map((s) => (s[i] ?? '').length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => (i === 0 ? c.padEnd(widths[i] ?? 0) : c.padStart(widths[i] ?? 0)))
      .join('  ');
  return [line(header), line(widths.map((w) => '-'.repeat(w))), ...stats.map(line)].join('\n');
}
