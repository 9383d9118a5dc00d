// The UDP endpoint's import path since before the transport had udp/ and tcp/ halves: the transfer
// engine and the tests import Endpoint from here (the class lives in udp/endpoint.ts).
export { Endpoint, type EndpointOptions } from './udp/endpoint.js';
