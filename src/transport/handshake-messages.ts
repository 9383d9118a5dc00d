/**
 * What a client is told when a handshake fails for want of the secret, the same over UDP and TCP (the
 * CLI shows these lines as they are: each names the fix).
 */

/** The server refused the client's proof (REJECT over UDP, CLOSE AUTH_FAILED over TCP). */
export const SECRET_REFUSED = 'the server refused the secret: check --secret-file or FERRY_SECRET';

/** The server's ACCEPT did not prove the secret (or did not open under the handshake's keys). */
export const SERVER_PROOF_FAILED =
  'the server did not prove it knows the secret: check the address, and --secret-file or FERRY_SECRET on both sides';
