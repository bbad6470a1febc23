'use strict';

module.exports = { ...require('./range'), ...require('./days') };
