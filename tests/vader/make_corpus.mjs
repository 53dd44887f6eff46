// Parity corpus for src/lib/vader.c: generates sentences from a seeded PRNG (the same file on
// every run), scores each with the npm reference (vader-sentiment 1.1.3) and writes
//   text<TAB>neg<TAB>neu<TAB>pos<TAB>compound
// one per line. In text, backslash, tab, newline, carriage return and NUL are escaped as
// \\ \t \n \r \0; every other character (other white space included) is written as UTF-8.
//
//   node tests/vader/make_corpus.mjs OUT.tsv [COUNT=5000] [short]
//
// "short" keeps to texts of 5-20 words (the benchmark's load); otherwise about 2 % of the
// texts are long (up to 1 500 words). Used by tests/unit/test_vader.c and bench/vader.sh.
import {readFileSync, writeFileSync} from 'node:fs';
import {createRequire} from 'node:module';

const require = createRequire(import.meta.url);
const {SentimentIntensityAnalyzer} = require('vader-sentiment');

const [outPath, countArg, mode] = process.argv.slice(2);
if (!outPath) {
  console.error('usage: node make_corpus.mjs OUT.tsv [COUNT] [short]');
  process.exit(2);
}
const count = Number(countArg ?? 5000);
const short = mode === 'short';

// mulberry32: small, seeded, deterministic
let seed = 0x5eed1e55;
function random() {
  seed = (seed + 0x6d2b79f5) | 0;
  let t = seed;
  t = Math.imul(t ^ (t >>> 15), t | 1);
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
}
const int = (n) => Math.floor(random() * n);
const pick = (a) => a[int(a.length)];
const chance = (p) => random() < p;

const lexiconText = readFileSync(require.resolve('vader-sentiment/vader_lexicon.txt'), 'utf8');
const lexicon = lexiconText.split('\n').filter(Boolean).map((l) => l.split('\t')[0]);
const lexiconWords = lexicon.filter((w) => /^[a-z][a-z'-]*$/.test(w));
const lexiconOther = lexicon.filter((w) => !/^[a-z][a-z'-]*$/.test(w)); // emoticons, slang, ...

const neutral = (
  'the a an book movie film it was is are be I you we they he she food service today ' +
  'tomorrow place and or to for with my your our at of in on this that these those here there ' +
  'kind sort least very just enough cut mustard hand mouth kiss death yeah right bad ass shit ' +
  'bomb never so this but BUT But however although though i me phone app update battery screen ' +
  'day night week staff price delivery order table room hotel car trip team game match'
).split(' ');
const boosters = (
  'absolutely amazingly awfully completely considerably decidedly deeply effing enormously ' +
  'entirely especially exceptionally extremely fabulously flipping flippin fricking frickin ' +
  'frigging friggin fully fucking greatly hella highly hugely incredibly intensely majorly more ' +
  'most particularly purely quite really remarkably so substantially thoroughly totally ' +
  'tremendously uber unbelievably unusually utterly very almost barely hardly kinda kindof ' +
  'kind-of less little marginally occasionally partly scarcely slightly somewhat sorta sortof ' +
  'sort-of'
).split(' ');
const phrases = [
  'just enough', 'kind of', 'sort of', 'Kind of', 'KIND OF', 'at least', 'very least', 'least',
  'the shit', 'the bomb', 'bad ass', 'yeah right', 'cut the mustard', 'kiss of death',
  'hand to mouth', 'never so', 'never this', 'never so very', 'without doubt', 'not so',
  'not very', "isn't very", 'never', 'no', 'not', 'uh-uh', 'uhuh', 'nope', 'nothing', 'none',
  'despite', 'rarely', 'seldom', 'without', 'but', 'BUT', 'But', 'but,', 'but.', 'so this',
  'this is', 'the least', 'at least not', 'not the least', 'kind of the', 'sort of kind of',
];
const negations = (
  "aint arent cannot cant couldnt darent didnt doesnt ain't aren't can't couldn't daren't " +
  "didn't doesn't dont hadnt hasnt havent isnt mightnt mustnt neither don't hadn't hasn't " +
  "haven't isn't mightn't mustn't neednt needn't never none nope nor not nothing nowhere " +
  "oughtnt shant shouldnt uhuh wasnt werent oughtn't shan't shouldn't uh-uh wasn't weren't " +
  "without wont wouldnt won't wouldn't rarely seldom despite couldn't've it'sn't DON'T Not"
).split(' ');
const unicode = [
  '😀', '😂', '❤️', '👍', '🙁', '💔', 'café', 'naïve', 'ÉCOLE', 'été', 'é', 'ß', 'ſ', '日本語',
  'привет', 'ΣΟΦΙΑ', 'İyi', '\u212Aind', '\u212Aiss', 'GOO\u212A', 'ñ!', 'x\u200By', '\u0085',
  '→', '€5', '\0', '…', 'good…', '“good”', 'don’t', '😀good', 'good😀', ':-Þ', ':Þ', '\u00a0',
];
const other = [
  '42', '3.14', '1,000', '2nd', '100%', '$5', '#1', 'https://example.com/good?x=1&y=bad',
  'www.awful.org', '@user', '#happy', '#great!', 'e-mail', 'co-op', 'x', 'I', 'a', '.', '!',
  '?', '-', '--', '...', '!?', '(', ')', '"', "'", '&', '*', 'O_o', 'o.O', ':D', ':d', ':P',
  ';D', '=D', 'XD', 'xD', 'lol', 'LOL', 'lmao', 'ok', 'OK', 'fav', 'sob', 'd:', 'd=', 'muah',
];
const prefixes = ['.', '!', '?', ',', ';', ':', '-', "'", '"', '!!', '!!!', '??', '???', '?!?',
  '!?!', '?!?!', '!?!?', '...', '(', '*', '#', '@', '!!!!', "''", '""'];
const suffixes = prefixes.concat([')', '.)', "'s", '!?', '?!', '....', ',', ',', '.', '.', '!']);
const spaces = [' ', ' ', ' ', ' ', ' ', '  ', '\t', '\n', '\r\n', '\u00a0', '\u3000', '\u2003',
  '\u2028', '\v', '\f', '\ufeff', ' \u200b'];
const endings = ['', '', '', '.', '!', '!!', '!!!', '!!!!', '!!!!!', '?', '??', '???', '????',
  '?!', '!?', '?!?', ' :)', ' :(', ' !', ' ?', ' ??', '...', ' lol', ' 😀'];

function caseOf(w) {
  const r = random();
  if (r < 0.7) return w;
  if (r < 0.85) return w.toUpperCase();
  if (r < 0.95) return w.charAt(0).toUpperCase() + w.slice(1);
  return [...w].map((c) => (chance(0.5) ? c.toUpperCase() : c.toLowerCase())).join('');
}

function token() {
  const r = random();
  let w;
  if (r < 0.3) w = pick(lexiconWords);
  else if (r < 0.36) w = pick(lexiconOther);
  else if (r < 0.6) w = pick(neutral);
  else if (r < 0.7) w = pick(boosters);
  else if (r < 0.78) w = pick(phrases);
  else if (r < 0.86) w = pick(negations);
  else if (r < 0.92) w = pick(other);
  else w = pick(unicode);
  w = caseOf(w);
  if (chance(0.12)) w = pick(prefixes) + w;
  if (chance(0.2)) w = w + pick(suffixes);
  return w;
}

function sentence() {
  let n = 5 + int(16);
  if (!short) {
    const r = random();
    if (r < 0.1) n = int(5);
    else if (r < 0.12) n = 100 + int(1400);
  }
  let s = chance(0.05) ? pick(spaces) : '';
  for (let i = 0; i < n; i++) s += (i ? pick(spaces) : '') + token();
  s += pick(endings);
  if (chance(0.05)) s += pick(spaces);
  return s;
}

// Hand-written cases first: one per rule, so they are in the corpus whatever the PRNG does.
const fixed = [
  '', ' ', '!!!', '??', 'a', 'é', '😀', 'good', 'GOOD', 'Good', 'not good', 'never good',
  'The book was good.', 'The book was kind of good.', 'The book was KIND OF good.',
  'The book was sort of good.', 'it was just enough fun', 'I am never so happy',
  'I am never this happy', 'I am never so very happy', 'this was without doubt good',
  'without a doubt, good', 'It is the least bad option', 'At least it is not bad',
  'at least good', 'very least good', 'least good', 'he is the shit', 'that was the bomb',
  'this is one bad ass car', 'oh yeah right great', 'it does not cut the mustard',
  'it was the kiss of death', 'living hand to mouth badly', 'good but bad', 'good BUT bad',
  'good But bad', 'GOOD but bad', 'good, but bad', 'but good', 'good but', 'good!', 'good!!',
  'good!!!', 'good!!!!', 'good!!!!!', 'good?', 'good??', 'good???', 'good????', 'good?!?',
  'good...', '(good)', "'good'", ':) :D :( :-Þ', 'VADER is VERY SMART, handsome, and FUNNY!!!',
  "Today only kinda sux! But I'll get by, lol", 'so good', 'this good', 'it is so this good',
  'x y so good', 'really REALLY good', 'ALL CAPS ONLY GOOD', 'not ALL CAPS GOOD', 'GOOD good',
  "isn't good", "ISN'T good", "doesn't really like it", 'nothing is great', 'kind', 'kind of',
  'of kind good', '\u212Aind of good', 'go\u212Ad good', 'good\u00a0bad', 'good\u3000bad',
  'good\u200bbad', 'good\u0085bad', 'good\0bad', 'good \0 bad', 'ok ok ok fav fav lol lol', 'hate hate hate?!?!',
];

const lines = [];
const total = Math.max(count, fixed.length);
const escape = (s) => s.replace(/[\\\t\n\r\0]/g, (c) => ({'\\': '\\\\', '\t': '\\t', '\n': '\\n',
  '\r': '\\r', '\0': '\\0'})[c]);
for (let i = 0; i < total; i++) {
  const text = i < fixed.length && !short ? fixed[i] : sentence();
  const s = SentimentIntensityAnalyzer.polarity_scores(text);
  lines.push(`${escape(text)}\t${s.neg}\t${s.neu}\t${s.pos}\t${s.compound}`);
}
writeFileSync(outPath, lines.join('\n') + '\n');
