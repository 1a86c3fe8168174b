import type { ZxcvbnResult } from "@zxcvbn-ts/core";
import { AppError } from "../lib/errors";
import { RankedWords } from "./ranked-words";

export const PASSWORD_MIN = 8;
export const PASSWORD_MAX = 128;
const MIN_SCORE = 3; // zxcvbn: 0 too guessable … 4 very unguessable
/**
 * zxcvbn estimates only this many leading characters. Its matchers cost about the square of the
 * length: "p@ssw0rd" repeated to 128 characters took 6.7 s of CPU in Node, to 32 characters 0.36 s.
 * 32 characters that score 3 are a strong password whatever follows them; a longer password whose
 * first 32 are weak is refused, even if its rest is random. A user's name cut by the end still
 * counts as theirs (checkedPart); a dictionary word cut there is estimated as its fragment.
 */
export const PASSWORD_CHECKED_LENGTH = 32;

/** One zxcvbn estimate of `password`, with `userInputs` counted as guessable. */
type Estimate = (password: string, userInputs: string[]) => ZxcvbnResult;
let estimator: Promise<Estimate> | null = null;

/**
 * zxcvbn with its English and common word lists, imported on the first check in this isolate and
 * kept, held compactly (ranked-words.ts). An isolate that never checks a password (a Durable
 * Object's) never loads them. One that does (under `wrangler dev` the app's only isolate, rooms
 * included) holds the six lists in about ten objects each instead of zxcvbn's 400,000 in all.
 *
 * The language packages split each list into an array when their module loads. Once the lists
 * are indexed those arrays are emptied in place: nothing else imports these packages, and without
 * that their 207,000 strings would stay reachable from the modules for the isolate's life.
 */
function loadEstimator(): Promise<Estimate> {
  estimator ??= (async (): Promise<Estimate> => {
    const [core, common, en] = await Promise.all([
      import("@zxcvbn-ts/core"),
      import("@zxcvbn-ts/language-common"),
      import("@zxcvbn-ts/language-en"),
    ]);
    const lists: Record<string, string[]> = { ...common.dictionary, ...en.dictionary };
    const ranked = Object.entries(lists).map(([name, words]) => [name, RankedWords.from(words)] as const);

    const options = core.zxcvbnOptions;
    options.setOptions({ graphs: common.adjacencyGraphs, translations: en.translations });
    const installed = Object.fromEntries(ranked.map(([name, words]) => [name, words.asDictionary()]));
    options.rankedDictionaries = installed;
    const longest = Object.fromEntries(ranked.map(([name, words]) => [name, words.longest]));
    options.rankedDictionariesMaxWordSize = longest;
    for (const words of Object.values(lists)) words.length = 0; // last: a failed load is retried whole
    return (password, userInputs) => {
      // zxcvbn's own setOptions({ dictionary }) would now rebuild the lists from the emptied arrays
      // and let common passwords through: refuse to check rather than check against nothing.
      // The longest word of each list bounds what the matcher looks up: replaced sizes would hide words too.
      if (options.rankedDictionaries !== installed || options.rankedDictionariesMaxWordSize !== longest) {
        throw new Error("zxcvbn's word lists were replaced");
      }
      // The user's names: zxcvbn puts each check's list in place of the previous one's (an empty
      // array too), so names never carry over from one check to the next.
      return core.zxcvbn(password, userInputs);
    };
  })().catch((err: unknown) => {
    estimator = null; // the next check tries again
    throw err;
  });
  return estimator;
}

/**
 * What zxcvbn estimates: the password's first PASSWORD_CHECKED_LENGTH characters (zxcvbn's own
 * `maxLength` option is applied by `zxcvbnAsync` only), and the user's names, each name that runs
 * across that end also as its part before it: zxcvbn finds a name only whole, so a name cut
 * there would count as random characters and make the prefix look stronger than the password.
 */
function checkedPart(password: string, names: string[]): { text: string; names: string[] } {
  const end = PASSWORD_CHECKED_LENGTH;
  if (password.length <= end) return { text: password, names };
  const cutNames: string[] = [];
  for (const name of names) {
    const lower = name.toLowerCase();
    // Every place the name starts before the end and ends after it, leaving 3 or more characters before it.
    for (let at = Math.max(0, end - name.length + 1); at <= end - 3; at++) {
      if (password.slice(at, at + name.length).toLowerCase() === lower) cutNames.push(lower.slice(0, end - at));
    }
  }
  return { text: password.slice(0, end), names: [...names, ...cutNames] };
}

/**
 * Enforce the password policy: 8–128 characters, and not very common or easily guessed
 * (zxcvbn score ≥ 3 over the first PASSWORD_CHECKED_LENGTH characters, with the user's own names
 * counted as guessable). Rejects with `weak_password` whose message says why.
 */
export async function assertStrongPassword(password: string, userInputs: (string | undefined | null)[] = []): Promise<void> {
  if (password.length < PASSWORD_MIN || password.length > PASSWORD_MAX) {
    throw new AppError(400, "weak_password", `Password must be ${PASSWORD_MIN}–${PASSWORD_MAX} characters long`);
  }
  const estimate = await loadEstimator();
  const checked = checkedPart(
    password,
    userInputs.filter((s): s is string => !!s),
  );
  const result = estimate(checked.text, checked.names);
  if (result.score < MIN_SCORE) {
    const reason = result.feedback.warning || "This password is too easy to guess";
    throw new AppError(400, "weak_password", `Password is too weak: ${reason}`, {
      score: result.score,
      minScore: MIN_SCORE,
      warning: result.feedback.warning || null,
      suggestions: result.feedback.suggestions,
    });
  }
}
