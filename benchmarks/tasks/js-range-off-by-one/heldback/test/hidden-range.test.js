'use strict';

const test = require('node:test');
const assert = require('node:assert');
const { range, daysOfMonth } = require('../src/index');

test('steps and empty ranges', () => {
  assert.deepStrictEqual(range(0, 10, 5), [0, 5, 10]);
  assert.deepStrictEqual(range(3, 3), [3]);
  assert.deepStrictEqual(range(5, 1), []);
});

test('calendar months end on their last day', () => {
  assert.strictEqual(daysOfMonth(2024, 2).length, 29);
  assert.strictEqual(daysOfMonth(2023, 12).at(-1), 31);
});
