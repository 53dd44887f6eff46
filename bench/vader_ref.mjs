// The reference side of bench/vader.sh: the npm vader-sentiment 1.1.3 scoring the texts of a
// corpus made by tests/vader/make_corpus.mjs, on one thread: once untimed (JIT warm-up and
// checksum), then until ROUNDS passes or SECONDS elapse, whichever comes first. Prints the
// same lines as bench-vader; its CPU time is the whole process's (GC threads included).
//
//   node bench/vader_ref.mjs CORPUS.tsv [ROUNDS=50] [SECONDS=5]
import {readFileSync} from 'node:fs';
import {createRequire} from 'node:module';

const require = createRequire(import.meta.url);
const {SentimentIntensityAnalyzer} = require('vader-sentiment');

const [path, roundsArg, secondsArg] = process.argv.slice(2);
const maxRounds = Number(roundsArg ?? 50);
const maxSeconds = Number(secondsArg ?? 5);
const unescape = (s) =>
  s.replace(/\\(.)/g, (_, c) => ({t: '\t', n: '\n', r: '\r', 0: '\0'})[c] ?? c);
const texts = readFileSync(path, 'utf8')
  .split('\n')
  .filter((l) => l.length > 0)
  .map((l) => unescape(l.split('\t')[0]));
const bytes = texts.reduce((n, t) => n + Buffer.byteLength(t), 0);

// untimed first pass: warms the JIT up and gives the checksum to compare with bench-vader's
let checksum = 0;
for (const t of texts) checksum += SentimentIntensityAnalyzer.polarity_scores(t).compound;

let scored = 0;
let elapsed = 0;
const start = process.hrtime.bigint();
const cpuStart = process.cpuUsage();
for (let round = 0; round < maxRounds && elapsed < maxSeconds; round++) {
  for (let i = 0; i < texts.length && elapsed < maxSeconds; i++) {
    SentimentIntensityAnalyzer.polarity_scores(texts[i]);
    scored++;
    if (i % 64 === 0) elapsed = Number(process.hrtime.bigint() - start) / 1e9;
  }
}
elapsed = Number(process.hrtime.bigint() - start) / 1e9;
const cpuUsed = process.cpuUsage(cpuStart);
const cpu = (cpuUsed.user + cpuUsed.system) / 1e6; // the whole process: GC threads included
const avg = (bytes / texts.length).toFixed(1);
console.log(`texts: ${texts.length} (${avg} bytes on average), scored: ${scored}, ` +
  `seconds: ${elapsed.toFixed(3)} (cpu ${cpu.toFixed(3)})`);
console.log(`checksum: ${checksum.toFixed(4)}`);
console.log(`texts/s: ${Math.round(scored / elapsed)}`);
console.log(`texts/cpu-s: ${Math.round(scored / cpu)}`);
