'use strict';
// Loader with one actionable error when the binary is missing (watcher index.js pattern).
const path = require('node:path');
const candidates = [
  path.join(__dirname, 'build', 'Release', 'slowshake_capture.node'),
  path.join(__dirname, 'build', 'Debug', 'slowshake_capture.node'),
];
let lastErr;
for (const p of candidates) {
  try {
    module.exports = require(p);
    return;
  } catch (err) {
    lastErr = err;
    if (err && err.code !== 'MODULE_NOT_FOUND') break;
  }
}
const e = new Error(
  'slowshake-capture: the native capture addon is not built (' + (lastErr && lastErr.message.split('\n')[0]) + '). ' +
  'Install libpcap and the eBPF toolchain (Debian: apt-get install libpcap-dev clang llvm libbpf-dev, or scripts/install.sh) and run: npm rebuild slowshake-capture',
);
e.code = 'SLOWSHAKE_ERR_NO_ADDON';
throw e;
