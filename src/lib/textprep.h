/*
 * Text preprocessing for feedback stored and searched by the insights app: lowercase,
 * one space between words, URLs, e-mail addresses and numbers replaced by the tokens
 * [URL], [EMAIL] and [NUM], symbols and control characters removed, punctuation kept.
 * The result is the search/storage token text, not the input of sentiment scoring (which
 * needs the original case, emoticons and "!!!"). Pure: no I/O, no allocation.
 */
#ifndef CAIRN_LIB_TEXTPREP_H
#define CAIRN_LIB_TEXTPREP_H

#include <stddef.h>

/**
 * Output capacity (NUL included) that never truncates the preprocessing of len bytes:
 * 3 * len + 3, or SIZE_MAX when that overflows. The worst growth is a lone digit between
 * separators: "1 1" (3 bytes) becomes "[NUM] [NUM]" (11 bytes); every other rule grows a
 * byte by at most 1.5 times.
 */
size_t cn_text_preprocess_bound(size_t len);

/**
 * Preprocesses in[0..len) (UTF-8; ill-formed bytes are dropped) into out, which holds cap
 * bytes. Returns the length written; out is always NUL-terminated when cap > 0, and the
 * result is well-formed UTF-8 with no NUL inside.
 *
 * - Letters are lowercased with Unicode's simple case mapping ("ÉCOLE" -> "école");
 *   letters, marks and digits of every script are kept.
 * - Whitespace runs (Unicode White_Space) become one space; none at either end.
 * - "scheme://..." and "www...." words become [URL], a trailing sentence mark stays
 *   outside ("see https://x.org/a." -> "see [URL].").
 * - local@domain.tld becomes [EMAIL] (checked with cn_is_email).
 * - A standalone number, with "," or "." between digits, becomes [NUM]
 *   ("1,000", "3.14", "-5" -> "-[NUM]"); digits inside words stay ("mp3", "5th").
 * - Kept punctuation: . , ! ? ; : ' " ( ) - and all non-ASCII Unicode punctuation
 *   (« » ¿ …). Other ASCII marks, and symbols (emoji, currency, math), become a word
 *   break so that removing them joins no words ("and/or" -> "and or"); control and
 *   format characters are removed without a trace.
 * Tokens are the only uppercase ASCII and the only brackets in the output, so user text
 * cannot forge them ("[NUM]" typed in is "num"). When cap is too small the output stops
 * before the first item (character, token, or space plus what follows) that does not
 * fit: it is a prefix of the full result, never ending in a cut token or character.
 */
size_t cn_text_preprocess(const char *in, size_t len, char *out, size_t cap);

#endif
