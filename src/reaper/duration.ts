import { ConfigError } from '../core/errors.js';

const UNIT_MS: Record<string, number> = {
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
  w: 604_800_000,
};

/**
 * Parses a duration such as `90s`, `30m`, `1h`, `1h30m` or `2d` into milliseconds; a bare number
 * is refused because its unit would be a guess. `option` names the flag in the error.
 */
export function parseDuration(text: string, option = '--older-than'): number {
  const trimmed = text.trim().toLowerCase();
  const parts = [...trimmed.matchAll(/(\d+(?:\.\d+)?)(ms|s|m|h|d|w)/g)];
  const consumed = parts.map((p) => p[0]).join('');
  if (parts.length === 0 || consumed !== trimmed) {
    throw new ConfigError(
      [
        {
          path: option,
          message: `must be a duration such as 90s, 30m, 1h or 2d (got ${JSON.stringify(text)})`,
        },
      ],
      {
        subject: 'option',
        fix: `Pass a number followed by a unit (ms, s, m, h, d, w), e.g. ${option} 1h.`,
      },
    );
  }
  return parts.reduce(
    (sum, [, amount, unit]) => sum + Number(amount) * (UNIT_MS[unit ?? ''] ?? 0),
    0,
  );
}

/** Formats milliseconds as a short age: `45s`, `12m`, `3h05m`, `2d04h`. */
export function formatDuration(ms: number): string {
  const seconds = Math.max(0, Math.floor(ms / 1000));
  if (seconds < 60) return `${seconds}s`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 60) return `${minutes}m`;
  const hours = Math.floor(minutes / 60);
  if (hours < 24) return `${hours}h${String(minutes % 60).padStart(2, '0')}m`;
  return `${Math.floor(hours / 24)}d${String(hours % 24).padStart(2, '0')}h`;
}
