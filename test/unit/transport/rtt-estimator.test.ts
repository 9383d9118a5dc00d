import test from 'ava';
import { RttEstimator } from '../../../src/transport/udp/rtt-estimator.js';

test('before any sample the RTO is the initial one (bounded below by minRto)', (t) => {
  t.is(new RttEstimator(250, 30, 5000, 7).rtoMs, 250);
  t.is(new RttEstimator(10, 30, 5000, 7).rtoMs, 30);
});

test('samples follow RFC 6298: first sets srtt and rttvar = r/2, later ones smooth by 1/8 and 1/4', (t) => {
  const e = new RttEstimator(250, 1, 60_000, 1);
  e.sample(100);
  t.is(e.srttMs, 100);
  t.is(e.rttVarMs, 50);
  t.is(e.rtoMs, 100 + 200 + 1);
  e.sample(200);
  t.is(e.rttVarMs, 0.75 * 50 + 0.25 * 100);
  t.is(e.srttMs, 0.875 * 100 + 0.125 * 200);
  t.is(e.minRttMs, 100);
});

test('the RTO doubles on every expiry up to maxRto, and a sample ends the back-off', (t) => {
  const e = new RttEstimator(250, 100, 1000, 0);
  const seen = [e.rtoMs];
  for (let i = 0; i < 5; i++) {
    e.backOff();
    seen.push(e.rtoMs);
  }
  t.deepEqual(seen, [250, 500, 1000, 1000, 1000, 1000]);
  t.is(e.consecutiveTimeouts, 5);
  e.sample(10);
  t.is(e.rtoMs, 100, 'back to the (min-bounded) computed RTO');
  t.is(e.consecutiveTimeouts, 0);
});
