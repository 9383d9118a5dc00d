// The wire layer's surface: packet layout, codec, control bodies. Pure encode/decode, no I/O.
export * from './packet-layout.js';
export * from './packet-codec.js';
export * from './control-bodies.js';
export * from './sequence.js';
