// biome-ignore lint/complexity/useRegexLiterals: the `v` flag needs an ES2024 target in a literal (tsc); workerd has it.
const RGI_EMOJI = new RegExp("^\\p{RGI_Emoji}$", "v");

/**
 * The emoji `text` names, fully qualified, or null when it is not exactly one RGI emoji (ZWJ
 * sequences, skin tones, flags and keycaps included; text, digits and two emojis are not). A
 * symbol sent without its emoji presentation selector (`❤` for `❤️`) is taken as the emoji, so
 * both spell the same reaction.
 */
export function toEmoji(text: string): string | null {
  if (text.length === 0 || text.length > 64) return null;
  if (RGI_EMOJI.test(text)) return text;
  const qualified = `${text}\uFE0F`;
  return RGI_EMOJI.test(qualified) ? qualified : null;
}
