/*
 * Outgoing e-mail over SMTP (libcurl), for jobs such as password-reset messages. Sending
 * blocks: call it from a job that runs outside a transaction, never from a loop.
 *
 * Everything a message carries is treated as plain text: header values never hold a line
 * break (a subject is sent as RFC 2047 encoded words when it is not plain ASCII), the body
 * is text/plain UTF-8 with CRLF line ends, and values inserted into it by callers go
 * through cn_mail_append_value, which keeps each one on its line.
 */
#ifndef CAIRN_CORE_MAIL_H
#define CAIRN_CORE_MAIL_H

#include "core/config.h"
#include "core/json.h"

/** Reads mail.smtp_url and mail.from; call once at start-up, before any thread sends. */
void cn_mail_init(const cn_config_t *cfg);
void cn_mail_free(void);

/** 1 when mail.smtp_url is set. */
int cn_mail_configured(void);

/**
 * Appends value (a name or other text from the database) to a message body as plain
 * text: every character cn_text_char_forbidden refuses (line breaks, controls, bidi
 * overrides) and every malformed UTF-8 byte becomes U+FFFD, so a value stays on its line
 * and reads as what it is, also when it was stored before the schema refused such input.
 */
void cn_mail_append_value(cn_buf_t *b, const char *value);

/**
 * Writes the whole message (headers and body) into out. from and to must be e-mail
 * addresses (CN_EINVAL otherwise: nothing from them reaches a header unchecked). The
 * subject is cleaned like an inserted value and sent as-is when it is printable ASCII,
 * else as RFC 2047 "B" encoded words; the body is normalised to CRLF line ends, with the
 * same cleaning of every character but the line breaks and tab. date is an RFC 5322
 * date, id the Message-ID's local part.
 */
int cn_mail_format(cn_buf_t *out, const char *from, const char *to, const char *subject,
                   const char *text, const char *date, const char *id, cn_err_t *err);

/**
 * Sends a plain-text message (see cn_mail_format) to one address. Returns 0, or an error
 * with err naming what failed (the server's URL and credentials are never in it).
 */
int cn_mail_send(const char *to, const char *subject, const char *text, cn_err_t *err);

#endif
