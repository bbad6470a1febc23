'use strict';

const { roundCents } = require('./money');

class Cart {
  constructor(taxRate = 0.2) {
    this.taxRate = taxRate;
    this.items = [];
  }

  add(name, price, quantity = 1) {
    if (quantity < 1) {
      throw new RangeError('quantity must be at least 1');
    }
    this.items.push({ name, price, quantity });
    return this;
  }

  get subtotal() {
    return roundCents(this.items.reduce((sum, item) => sum + item.price * item.quantity, 0));
  }

  /** The amount to pay: the subtotal plus tax at `taxRate`. */
  get total() {
    return roundCents(this.subtotal * (1 - this.taxRate));
  }
}

module.exports = { Cart };
