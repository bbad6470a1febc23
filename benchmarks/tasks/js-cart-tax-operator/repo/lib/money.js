'use strict';

/** Round to whole cents (amounts are numbers of euros). */
function roundCents(amount) {
  return Math.round(amount * 100) / 100;
}

module.exports = { roundCents };
