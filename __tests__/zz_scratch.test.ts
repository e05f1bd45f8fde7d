import { scheduleSync, schedule } from '../lib/scheduler';
import { redirectAddonForSource } from './reference/naive-scheduler';
import { generateCorpus } from '../bench/generate';
import { computeLengthBins, type SequenceSet } from '../lib/io/sequences';
redirectAddonForSource();
function gen(M: number, K: number, B: number, seed: number): SequenceSet {
  const c = generateCorpus({ numSequences: M, numGroups: K, shortFraction: 0.3, seed });
  const { bin } = computeLengthBins(c.docLength, c.tokens, B);
  return { offsets: c.offsets, group: c.group, bin, tokens: c.tokens, numGroups: K, numBins: B };
}
test('timing', async () => {
  for (const M of [6000, 50000, 200000]) {
    let t0 = Date.now(); const set = gen(M, 32, 8, 1); const tg = Date.now() - t0;
    t0 = Date.now();
    const calls: any[] = [];
    const r = await schedule(set, { onProgress: (p) => calls.push(p) });
    console.log(M, 'gen', tg, 'sched', Date.now() - t0, calls.length, JSON.stringify(calls.slice(0, 2)), JSON.stringify(calls.slice(-2)), r.tokens, r.order.length);
  }
});
