'use strict';

const test = require('node:test');
const assert = require('node:assert');
const { formatDuration, renderPlaylist } = require('../src/index');

test('whole hours show as hours', () => {
  assert.strictEqual(formatDuration(3600), '1:00:00');
  assert.strictEqual(formatDuration(3600.5), '1:00:00');
  assert.strictEqual(formatDuration(7200), '2:00:00');
  assert.strictEqual(formatDuration(3599), '59:59');
});

test('a playlist that adds up to an hour', () => {
  const view = renderPlaylist([{ title: 'a', seconds: 1800 }, { title: 'b', seconds: 1800 }]);
  assert.strictEqual(view.total, '1:00:00');
  assert.deepStrictEqual(renderPlaylist([{ title: 'film', seconds: 3600 }]).rows, ['film  1:00:00']);
});
