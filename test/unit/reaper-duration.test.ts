import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../src/core/errors.js';
import { formatDuration, parseDuration } from '../../src/reaper/duration.js';

describe('parseDuration', () => {
  it.each([
    ['500ms', 500],
    ['90s', 90_000],
    ['30m', 1_800_000],
    ['1h', 3_600_000],
    ['1h30m', 5_400_000],
    [' 2D ', 172_800_000],
    ['1w', 604_800_000],
    ['1.5h', 5_400_000],
  ])('reads %j as %d ms', (text, ms) => {
    expect(parseDuration(text)).toBe(ms);
  });

  it.each(['', '10', 'h', '1 h', '1x', '-1h', '1h junk'])(
    'refuses %j with an error naming the option and the accepted form',
    (text) => {
      const error = (() => {
        try {
          parseDuration(text, '--older-than');
        } catch (e) {
          return e;
        }
      })();
      expect(error).toBeInstanceOf(ConfigError);
      expect((error as ConfigError).message).toContain('--older-than');
      expect((error as ConfigError).message).toContain('1h');
      expect((error as ConfigError).code).toBe('TESTBED_INVALID_CONFIG');
    },
  );
});

describe('formatDuration', () => {
  it.each([
    [0, '0s'],
    [45_000, '45s'],
    [12 * 60_000, '12m'],
    [3 * 3_600_000 + 5 * 60_000, '3h05m'],
    [2 * 86_400_000 + 4 * 3_600_000, '2d04h'],
    [-5, '0s'],
  ])('formats %d ms as %s', (ms, text) => {
    expect(formatDuration(ms)).toBe(text);
  });
});
