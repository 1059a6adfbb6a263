// How a reviewer may type a character to pick it (the relabel picker's type-ahead): a reading in Latin letters.
// The glyph itself always matches too (typed with an input method); an alphabet without readings here is
// picked by its glyphs and label numbers.

const HIRAGANA = { "あ": "a", "い": "i", "う": "u", "え": "e", "お": "o", "か": "ka", "き": "ki", "く": "ku", "け": "ke", "こ": "ko", "さ": "sa", "し": "shi", "す": "su", "せ": "se", "そ": "so", "た": "ta", "ち": "chi", "つ": "tsu", "て": "te", "と": "to", "な": "na", "に": "ni", "ぬ": "nu", "ね": "ne", "の": "no", "は": "ha", "ひ": "hi", "ふ": "fu", "へ": "he", "ほ": "ho", "ま": "ma", "み": "mi", "む": "mu", "め": "me", "も": "mo", "や": "ya", "ゆ": "yu", "よ": "yo", "ら": "ra", "り": "ri", "る": "ru", "れ": "re", "ろ": "ro", "わ": "wa", "を": "wo", "ん": "n", "が": "ga", "ぎ": "gi", "ぐ": "gu", "げ": "ge", "ご": "go", "ざ": "za", "じ": "ji", "ず": "zu", "ぜ": "ze", "ぞ": "zo", "だ": "da", "ぢ": "di", "づ": "du", "で": "de", "ど": "do", "ば": "ba", "び": "bi", "ぶ": "bu", "べ": "be", "ぼ": "bo", "ぱ": "pa", "ぴ": "pi", "ぷ": "pu", "ぺ": "pe", "ぽ": "po" };
// Other spellings people type (Nihon-shiki, or the sound): they match as well.
const ALSO = { "し": "si", "ち": "ti", "つ": "tu", "ふ": "hu", "を": "o", "じ": "zi", "ぢ": "ji", "づ": "zu" };

/** The readings of `glyph` that type-ahead matches (lower case), possibly none. */
export function readingsOf(glyph) {
  return [HIRAGANA[glyph], ALSO[glyph]].filter(Boolean);
}

/** The reading shown beside a glyph in the picker, or "". */
export function readingOf(glyph) {
  return HIRAGANA[glyph] || "";
}
