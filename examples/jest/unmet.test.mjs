/**
 * @testbed-needs Custom(gpu)
 */

// No provider offers a GPU here: the file's tests are skipped and the reason is printed.
test('trains a model on a GPU', () => {
  throw new Error('not reached on this host');
});
