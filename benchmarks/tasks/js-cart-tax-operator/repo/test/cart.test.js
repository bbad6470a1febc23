'use strict';

const test = require('node:test');
const assert = require('node:assert');
const { Cart } = require('../lib/cart');

test('subtotal sums price times quantity', () => {
  const cart = new Cart().add('pen', 1.5, 2).add('pad', 3);
  assert.strictEqual(cart.subtotal, 6);
});

test('total adds the tax', () => {
  const cart = new Cart(0.2).add('book', 10);
  assert.strictEqual(cart.total, 12);
});
