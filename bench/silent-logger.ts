/** A logger for the SDK's bundler and worker that drops everything: bench output stays the bench's. */
export const silentLogger = { log() {}, info() {}, warn() {}, error() {}, debug() {}, trace() {} };
