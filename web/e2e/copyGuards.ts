/**
 * The acceptance suite's own checks of a plan's copy (issue 21, point 2), written again in
 * TypeScript and independently of the server's `orchestrate/guards.rs`: a copy field may not
 * state a number, a month or a name the brief does not, carry markup or a link, repeat a word
 * right after itself, or stop short (on "...", a comma, or a word such as "to" or "and").
 *
 * "A name the brief does not state" is a capitalised word that is neither a word of the brief
 * (or a simple inflection of one: "Brews" from "brew", "Tins" from "tin") nor one of the
 * ordinary English words listed below. Nothing is fetched. Where the repository's own list of
 * ordinary words (assets/words/english.txt, SCOWL) is there, a capitalised word it has is
 * accepted too, and one it lacks is refused even at the start of a sentence ("Songy is a coffee
 * shop"); every word accepted only that way, or only for starting a sentence, is reported, so
 * a person can read what passed.
 */

import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

/** A brief's structured fields, as the New campaign form takes them. */
export interface BriefFacts {
  brand?: string;
  product: string;
  benefits: string[];
  offer?: string;
  audience: string;
  interests: string[];
}

/** Ordinary English words a headline may capitalise (lower case). Deliberately plain. */
export const ORDINARY_WORDS: ReadonlySet<string> = new Set(
  `a about above across act add after again against age ago all almost alone along already also always am
  amazing an and another any anyone anything anywhere are around as ask at available away back bag bags be
  beautiful because become been before begin being best better between big bit book both bottom box boxes
  bright bring build busy but buy by call can care carry catch change cheap choose city clean clear close
  come comfort comfortable complete cool could count create cup daily day days deal deals deliver delivery
  designed discover do does done down each early easy eat ease effortless end enjoy enough ever every
  everyone everything everywhere experience explore extra family far fast favorite favourite feel few find
  first fit for free fresh friend friends from fun get gift give glow go good great grow guaranteed happy
  has have healthy help here high home hot hour hours how i if in inside into is it its join just keep kind
  know last later learn less let life light like little live local long look love low made make makes many
  may me meet more morning mornings most move much must my need never new next night no not now of off
  offer offers on once one only open or order our out outside over own pack part perfect pick place plan
  plus premium price pure quality quick quiet rare ready real really right round run safe save say season
  see sentence set share shop shopping simple size small smart so some something space special start stay
  step still stop style summer sun sure take taste than that the their them then there these they thing
  things think this those through time to today together top treat true try turn two under until up us use
  value very want way ways we week weekend well what when where which while who why will win with without
  work world worth year years yes you your yours ad ads brand coffee tea bike bikes lamp lamps garden
  minute minutes second seconds now shipping ship ships ready unlimited welcome hello meet introducing
  new best-selling contact download subscribe sign up learn more shop order book apply quote get
  monday tuesday wednesday thursday friday saturday sunday ultimate elevate upgrade power powerful everyday
  inspired handmade crafted natural organic gentle strong wonderful delicious brilliant bold calm cozy
  sleek tiny smooth soft warm lead show enhance purpose boil`
    .split(/\s+/)
    .filter(Boolean),
);

/** Months (and their abbreviations): a date. "may" and "march" only next to a number. */
const MONTHS = new Set([
  'january', 'february', 'april', 'june', 'july', 'august', 'september', 'october', 'november', 'december',
  'jan', 'feb', 'apr', 'jun', 'jul', 'aug', 'sep', 'sept', 'oct', 'nov', 'dec',
]);

/** Words a cut-short phrase ends on (the list, and the few like them). */
export const DANGLING = new Set(['to', 'and', 'the', 'of', 'a', 'an', 'for', 'with', 'your', 'or', 'our', 'my', 'their', 'but', 'from', 'by', 'at', 'in', 'on']);

/** Markup characters (the list). */
const MARKUP = /[<>{}[\]|*#_`~^\\=@]/;
const LINK = /https?:|www\.|:\/\/|\.(com|net|org|io|co\.uk|de|fr|jp)\b/i;

/** Runs of letters (apostrophes inside words kept), as the words of a text. */
export function wordsOf(text: string): string[] {
  return text
    .split(/[^\p{L}'’]+/u)
    .map((w) => w.replace(/^['’]+|['’]+$/g, ''))
    .filter(Boolean);
}

/** Runs of digits. */
export function numbersOf(text: string): string[] {
  return text.match(/\d+/g) ?? [];
}

/** The brief's texts: what a phrase may state. */
export function briefTexts(b: BriefFacts): string[] {
  return [b.brand ?? '', b.product, ...b.benefits, b.offer ?? '', b.audience, ...b.interests].filter(Boolean);
}

/** The ordinary words of the repository's own word list (assets/words/english.txt), when present. */
let repoWords: Set<string> | null | undefined;
function repositoryWords(): Set<string> | null {
  if (repoWords === undefined) {
    const path = join(__dirname, '..', '..', 'assets', 'words', 'english.txt');
    repoWords = existsSync(path) ? new Set(readFileSync(path, 'utf8').split('\n').map((w) => w.trim()).filter(Boolean)) : null;
  }
  return repoWords;
}

/** Forms a word may be an inflection of: "brews" → "brew", "freshly" → "fresh", "tins" → "tin". */
function stems(lower: string): string[] {
  const base = lower.split(/['’]/)[0];
  const out = [lower, base];
  const cut = (suffix: string, add = '') => {
    if (base.length > suffix.length + 2 && base.endsWith(suffix)) out.push(base.slice(0, -suffix.length) + add);
  };
  cut('s');
  cut('es');
  cut('ies', 'y');
  cut('ed');
  cut('ed', 'e');
  cut('d');
  cut('ing');
  cut('ing', 'e');
  cut('ly');
  cut('er');
  cut('er', 'e');
  cut('est');
  out.push(`${base}s`, `${base}es`);
  return out;
}

export interface Verdict {
  /** What breaks a rule: the field fails. */
  problems: string[];
  /** Capitalised words that passed only by a relaxation (sentence start, or the repository's word list). */
  notes: string[];
}

/** The facts a brief allows: its words and numbers. */
export class Facts {
  readonly words = new Set<string>();
  readonly numbers = new Set<string>();

  constructor(brief: BriefFacts) {
    for (const t of briefTexts(brief)) {
      for (const w of wordsOf(t)) this.words.add(w.toLowerCase());
      for (const n of numbersOf(t)) this.numbers.add(n);
    }
  }

  /** A word of the brief or one of the test's ordinary words (or an inflection of either). */
  knows(word: string): boolean {
    const lower = word.toLowerCase();
    if (lower === 'i') return true;
    return stems(lower).some((s) => this.words.has(s) || ORDINARY_WORDS.has(s));
  }

  /**
   * Checks one copy field; `field` names it in the messages. With `maxChars` (the platform's
   * limit for the field), a field that fills its limit exactly without ending a sentence was cut
   * there.
   */
  check(field: string, text: unknown, maxChars?: number): Verdict {
    const problems: string[] = [];
    const notes: string[] = [];
    const say = (what: string) => problems.push(`${field}: ${what} in ${JSON.stringify(text)}`);
    if (typeof text !== 'string' || text.trim() === '') {
      say('empty or not a string');
      return { problems, notes };
    }
    const m = MARKUP.exec(text);
    if (m) say(`markup character \`${m[0]}\``);
    const link = LINK.exec(text);
    if (link) say(`a link (\`${link[0]}\`)`);
    for (const n of numbersOf(text)) if (!this.numbers.has(n)) say(`the number ${n} is not in the brief`);
    const words = wordsOf(text);
    words.forEach((w, i) => {
      const lower = w.toLowerCase();
      if (this.words.has(lower)) return;
      if (MONTHS.has(lower)) say(`the month \`${w}\` is not in the brief`);
      if ((lower === 'may' || lower === 'march') && i > 0) {
        const re = new RegExp(`\\d\\s*${w}|${w}\\s*\\d`);
        if (re.test(text)) say(`the date \`${w}\` is not in the brief`);
      }
    });
    for (let i = 1; i < words.length; i++) {
      if (words[i].toLowerCase() === words[i - 1].toLowerCase()) say(`the word \`${words[i]}\` twice in a row`);
    }
    const trimmed = text.trim();
    if (/(\.\.\.|…|,|;|:|-|–)$/.test(trimmed)) say('ends cut short (on "...", a comma or a dash)');
    const last = wordsOf(trimmed.replace(/[.!?"”)]+$/, '')).pop();
    const endsOnWord = last !== undefined && new RegExp(`${last}[.!?"”)]*$`).test(trimmed);
    if (endsOnWord && DANGLING.has(last.toLowerCase())) say(`ends on the dangling word \`${last}\``);
    const opened = (trimmed.match(/[(“]/g) ?? []).length;
    const closed = (trimmed.match(/[)”]/g) ?? []).length;
    if (opened > closed) say('ends cut short (a bracket or quote left open)');
    if (maxChars !== undefined && [...trimmed].length >= maxChars && !/[.!?]["”)]?$/.test(trimmed)) {
      say(`fills its limit of ${maxChars} characters and stops mid-sentence (cut short)`);
    }
    // Capitalised words: of the brief, ordinary, or else at a sentence's start (reported).
    const re = /\p{L}[\p{L}'’]*/gu;
    for (let m2 = re.exec(text); m2; m2 = re.exec(text)) {
      const w = m2[0].replace(/['’]+$/, '');
      if (!/\p{Lu}/u.test(w) || this.knows(w)) continue;
      const before = text.slice(0, m2.index).trimEnd();
      const sentenceStart = before === '' || /[.!?]["”)]?$/.test(before);
      const repo = repositoryWords();
      const inRepo = repo !== null && stems(w.toLowerCase()).some((s) => repo.has(s));
      if (repo && !inRepo) say(`the capitalised word \`${w}\` is in neither the brief nor any list of ordinary words`);
      else if (sentenceStart) notes.push(`${field}: \`${w}\` starts a sentence and is not in the test's word list${inRepo ? ' (the repository word list has it)' : ''}`);
      else if (inRepo) notes.push(`${field}: \`${w}\` is not in the test's word list; accepted as the repository's word list has it`);
      else say(`the capitalised word \`${w}\` is in neither the brief nor the ordinary words`);
    }
    return { problems, notes };
  }
}
