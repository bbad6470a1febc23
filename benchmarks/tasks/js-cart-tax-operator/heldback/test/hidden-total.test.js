'use strict';

const test = require('node:test');
const assert = require('node:assert');
const { Cart } = require('../lib/cart');

test('totals at other tax rates', () => {
  assert.strictEqual(new Cart(0.07).add('a', 19.99).total, 21.39);
  assert.strictEqual(new Cart(0).add('a', 5, 3).total, 15);
  assert.strictEqual(new Cart().total, 0);
});
