'use strict';

const { range } = require('./range');

/** Day numbers of a month, for the calendar grid: daysOfMonth(2024, 2) -> [1, ..., 29]. */
function daysOfMonth(year, month) {
  const last = new Date(Date.UTC(year, month, 0)).getUTCDate();
  return range(1, last);
}

module.exports = { daysOfMonth };
