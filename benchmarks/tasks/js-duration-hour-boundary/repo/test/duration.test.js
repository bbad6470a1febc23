'use strict';

const test = require('node:test');
const assert = require('node:assert');
const { formatDuration, renderPlaylist } = require('../src/index');

test('short videos show minutes and seconds', () => {
  assert.strictEqual(formatDuration(5), '0:05');
  assert.strictEqual(formatDuration(90), '1:30');
  assert.strictEqual(formatDuration(754.9), '12:34');
});

test('long videos show hours', () => {
  assert.strictEqual(formatDuration(3725), '1:02:05');
  assert.strictEqual(formatDuration(36610), '10:10:10');
});

test('negative lengths are refused', () => {
  assert.throws(() => formatDuration(-1), RangeError);
});

test('the playlist shows each length and the total', () => {
  const view = renderPlaylist([{ title: 'intro', seconds: 95 }, { title: 'talk', seconds: 2710 }]);
  assert.deepStrictEqual(view.rows, ['intro  1:35', 'talk  45:10']);
  assert.strictEqual(view.total, '46:45');
});
