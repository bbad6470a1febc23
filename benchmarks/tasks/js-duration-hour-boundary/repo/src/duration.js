'use strict';

const pad = (n) => String(n).padStart(2, '0');

/**
 * A length in seconds as the player shows it: m:ss under an hour, h:mm:ss from one hour on.
 * formatDuration(90) -> '1:30', formatDuration(3725) -> '1:02:05'. Fractions of a second are dropped.
 */
function formatDuration(totalSeconds) {
  if (!Number.isFinite(totalSeconds) || totalSeconds < 0) {
    throw new RangeError('a duration is a non-negative number of seconds');
  }
  const seconds = Math.floor(totalSeconds);
  const hours = Math.floor(seconds / 3600);
  const minutes = Math.floor((seconds % 3600) / 60);
  const secs = seconds % 60;
  if (seconds > 3600) {
    return `${hours}:${pad(minutes)}:${pad(secs)}`;
  }
  return `${Math.floor(seconds / 60)}:${pad(secs)}`;
}

module.exports = { formatDuration };
