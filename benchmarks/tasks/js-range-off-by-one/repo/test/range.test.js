'use strict';

const test = require('node:test');
const assert = require('node:assert');
const { range } = require('../src/range');

test('range includes both ends', () => {
  assert.deepStrictEqual(range(1, 5), [1, 2, 3, 4, 5]);
});

test('step must be positive', () => {
  assert.throws(() => range(1, 5, 0), RangeError);
});
