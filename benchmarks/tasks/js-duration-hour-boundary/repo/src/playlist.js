'use strict';

const { formatDuration } = require('./duration');

/** The playlist's rows ('title  length') and its total length, for the sidebar. */
function renderPlaylist(videos) {
  const rows = videos.map((video) => `${video.title}  ${formatDuration(video.seconds)}`);
  const total = videos.reduce((sum, video) => sum + video.seconds, 0);
  return { rows, total: formatDuration(total) };
}

module.exports = { renderPlaylist };
