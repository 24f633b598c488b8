import { describe, expect, it } from 'vitest';
import { applyRyukDecision, decideRyuk } from '../../src/providers/docker/ryuk.js';

const image = 'testcontainers/ryuk:0.14.0';

describe('decideRyuk', () => {
  it('keeps Ryuk when its image is present', async () => {
    const decision = await decideRyuk({ image, exists: async () => true }, {});
    expect(decision).toMatchObject({ mode: 'ryuk', image });
  });

  it('keeps Ryuk when its image can be pulled', async () => {
    let pulled = '';
    const decision = await decideRyuk(
      {
        image,
        exists: async () => false,
        pull: async (ref) => {
          pulled = ref;
        },
      },
      {},
    );
    expect(pulled).toBe(image);
    expect(decision).toMatchObject({ mode: 'ryuk', reason: `${image} was pulled` });
  });

  it('falls back to testbed labels on an air-gapped engine, saying why', async () => {
    const decision = await decideRyuk(
      {
        image,
        exists: async () => false,
        pull: async () => {
          throw new Error('lookup registry-1.docker.io: no such host\nmore');
        },
      },
      {},
    );
    expect(decision.mode).toBe('testbed-labels');
    expect(decision.reason).toBe(
      `${image} is not present and cannot be pulled (lookup registry-1.docker.io: no such host)`,
    );
  });

  it('respects a user who disabled Ryuk', async () => {
    const decision = await decideRyuk(
      { image, exists: async () => true },
      { TESTCONTAINERS_RYUK_DISABLED: 'true' },
    );
    expect(decision.mode).toBe('testbed-labels');
  });

  it('without a pull, only reports what it would try', async () => {
    const decision = await decideRyuk({ image, exists: async () => false }, {});
    expect(decision).toMatchObject({ mode: 'testbed-labels' });
    expect(decision.reason).toMatch(/pull is tried when provisioning/);
  });
});

describe('applyRyukDecision', () => {
  it('sets TESTCONTAINERS_RYUK_DISABLED only when Ryuk cannot run', () => {
    const env: NodeJS.ProcessEnv = {};
    applyRyukDecision({ mode: 'ryuk', image, reason: '' }, env);
    expect(env.TESTCONTAINERS_RYUK_DISABLED).toBeUndefined();
    applyRyukDecision({ mode: 'testbed-labels', image, reason: '' }, env);
    expect(env.TESTCONTAINERS_RYUK_DISABLED).toBe('true');
  });
});
