'use strict';

/**
 * Whole numbers from `start` to `end`, both included: range(1, 5) -> [1, 2, 3, 4, 5].
 * A `step` other than 1 counts by that step; an `end` below `start` gives an empty list.
 */
function range(start, end, step = 1) {
  if (step <= 0) {
    throw new RangeError('step must be positive');
  }
  const out = [];
  for (let n = start; n < end; n += step) {
    out.push(n);
  }
  return out;
}

module.exports = { range };
